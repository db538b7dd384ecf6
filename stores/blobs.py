"""Blob storage for media: a ``BlobStore`` interface and its local-directory implementation.

Blobs are **content-addressed**: a blob's key is the SHA-256 of its bytes (plus a type suffix such as
``.webp``), so a key never names two contents. That makes every served file immutable (caches may keep
it forever), makes a retried job's re-upload of the same output harmless, and lets identical uploads
share storage.

The interface is shaped for an S3-compatible store too: ``put_file`` streams a local file up (a
multipart upload there), ``read_range`` is a ranged GET, ``local_copy`` downloads to a scratch file for
the decoders (PyAV wants a seekable file), ``url`` may become a presigned or CDN URL, and
``delete_if_older`` a HEAD (its Last-Modified) and a DELETE. Only the local store exists today.

Deleting a shared content address has one race: a new upload of the same content writes the blob
*before* its database row says it holds it, so a collector that found the key unused a moment
earlier could delete what the new row is about to refer to. ``delete_if_older`` closes it: a blob
written (or rewritten: every put replaces it) within the grace period is kept for a later sweep.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import trio

from kernel.errors import BlobMissing

READ_CHUNK = 256 * 1024
"""Bytes read per step when hashing or serving: large enough to keep thread hops rare."""

_KEY = re.compile(r"^[0-9a-f]{64}(\.[a-z0-9]{1,5})?$")


@dataclass(frozen=True, slots=True)
class Blob:
    key: str
    size: int


class BlobStore(Protocol):
    async def put_file(self, source: Path, suffix: str = "") -> Blob:
        """Store ``source``'s bytes under ``sha256 + suffix``; the source file is consumed."""

    async def size(self, key: str) -> int:
        """The blob's length in bytes; raises :class:`BlobMissing`."""

    def read_range(self, key: str, start: int, stop: int) -> AsyncIterator[bytes]:
        """Bytes ``[start, stop)`` of the blob, in chunks."""

    def local_copy(self, key: str) -> AbstractAsyncContextManager[Path]:
        """A readable local file with the blob's bytes, valid inside the block."""

    def url(self, key: str) -> str:
        """Where clients fetch the blob."""

    async def delete_if_older(self, key: str, age_s: float) -> bool:
        """Delete the blob unless it was written less than ``age_s`` ago (see the module
        docstring); True when it is gone (deleted now, or missing already)."""


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks (call it in a worker thread: it is disk and CPU work)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class LocalBlobStore:
    """Blobs as files under ``root/ab/<key>`` (two-level fan-out keeps directories small)."""

    def __init__(self, root: Path, url_prefix: str) -> None:
        self.root = root
        self._url_prefix = url_prefix.rstrip("/")

    def path_of(self, key: str) -> Path:
        if not _KEY.match(key):
            raise BlobMissing(key)  # also what stops a path traversal: keys are hex and a suffix
        return self.root / key[:2] / key

    async def put_file(self, source: Path, suffix: str = "") -> Blob:
        return await trio.to_thread.run_sync(self._put_file, source, suffix)

    def _put_file(self, source: Path, suffix: str) -> Blob:
        key = sha256_file(source) + suffix
        dest = self.path_of(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        size = source.stat().st_size
        source.chmod(0o644)
        os.utime(source)  # its time is the put's: what delete_if_older's grace counts from
        # Atomic: a reader sees the whole blob or none. Same content, so replacing an existing one is harmless.
        os.replace(source, dest)
        return Blob(key, size)

    async def size(self, key: str) -> int:
        try:
            return (await trio.Path(self.path_of(key)).stat()).st_size
        except FileNotFoundError:
            raise BlobMissing(key) from None

    async def read_range(self, key: str, start: int, stop: int) -> AsyncIterator[bytes]:
        try:
            f = await trio.open_file(self.path_of(key), "rb")
        except FileNotFoundError:
            raise BlobMissing(key) from None
        async with f:
            await f.seek(start)
            remaining = stop - start
            while remaining > 0:
                chunk = await f.read(min(READ_CHUNK, remaining))
                if not chunk:
                    return
                remaining -= len(chunk)
                yield chunk

    @asynccontextmanager
    async def local_copy(self, key: str) -> AsyncIterator[Path]:
        path = self.path_of(key)
        if not await trio.Path(path).exists():
            raise BlobMissing(key)
        yield path

    def url(self, key: str) -> str:
        return f"{self._url_prefix}/{key}"

    async def delete_if_older(self, key: str, age_s: float) -> bool:
        return await trio.to_thread.run_sync(self._delete_if_older, key, age_s)

    def _delete_if_older(self, key: str, age_s: float) -> bool:
        path = self.path_of(key)
        # Moved aside first, so the file judged is the file deleted: a put of the same content
        # landing meanwhile makes a new file, which stays. A fresh one is put back (same bytes).
        doomed = path.with_name(f"{key}.{uuid.uuid4().hex}.deleting")
        try:
            os.rename(path, doomed)
        except FileNotFoundError:
            return True
        if time.time() - doomed.stat().st_mtime < age_s:
            os.replace(doomed, path)
            return False
        doomed.unlink()
        return True


@dataclass(frozen=True, slots=True)
class MediaBlobs:
    """The two stores media needs: what is never served, and what is served to anyone with the URL."""

    private: BlobStore
    """Originals (they carry EXIF: GPS, camera serials) and frames sampled for the embedder."""
    public: BlobStore
    """Processed variants, metadata stripped. Keys are 256-bit content hashes: unguessable URLs."""

    @classmethod
    def local(cls, root: Path, public_url_prefix: str) -> MediaBlobs:
        return cls(
            private=LocalBlobStore(root / "private", public_url_prefix),
            public=LocalBlobStore(root / "public", public_url_prefix),
        )
