"""Media over HTTP: uploads (direct and resumable), status, and the processed files.

Routes (``Authorization: Bearer <session token>`` on all but the files)::

    POST  /media                  the whole file as the body → 202 {media_id, status: "queued"}
    POST  /media/uploads          Upload-Length: N → 201 {upload_id, offset: 0}; Location: the upload
    HEAD  /media/uploads/{id}     → Upload-Offset / Upload-Length: where to continue
    GET   /media/uploads/{id}     the same as JSON
    PATCH /media/uploads/{id}     Upload-Offset: k, body = bytes from k on (PUT is accepted too)
                                  → 204 with the new Upload-Offset, or 202 {media_id, ...} on the last byte
    GET   /media/{id}             the owner's view: state, progress, reason, variants (none once removed)
    GET   /media/files/{key}      a processed file; public, immutable, byte ranges (206)

The resumable protocol is a small subset of tus: a client that loses its connection asks for the
offset and sends the rest. Bytes are written to the staging file as they arrive, so whatever reached
us before a disconnect counts. Reads of the offset and writes take the upload's lock, so the offset a
client learns is final (a dead request still writing finishes first).

The two routes that receive bodies are served at the ASGI level, in front of Quart: Quart reads a
request body into a buffer as fast as the network delivers it, whatever the handler consumes, so a
large upload onto a slow disk would pile up in memory. Here the body is read only as fast as it is
written: hypercorn's bounded queue then pushes back to TCP. Processed files are public: their keys
are 256-bit content hashes of metadata-free renditions, unguessable until shared. A file is served
only while a media item that is not removed holds it (one indexed query): the moment a post is
deleted, its files answer 404, though their bytes stay until the media janitor deletes them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import trio
from quart import Response, jsonify, request
from quart_trio import QuartTrio

from actors.media.intake import Intake
from actors.media.service import FILES_URL_PREFIX, MediaService
from actors.media.sniff import HEAD_BYTES
from edges.asgi_types import ASGIApp, Receive, Scope, Send, from_framework
from edges.http.errors import answer
from kernel.errors import (
    BlobMissing,
    DomainError,
    Invalid,
    MediaRejected,
    NotFound,
    OffsetMismatch,
    Rejection,
    Unauthenticated,
)
from services.accounts import Accounts
from stores.media import MediaRecord

JsonAnswer = tuple[int, dict[str, Any], dict[str, str]]
"""Status, JSON body, extra headers: what a body-receiving route answers."""

IMMUTABLE = "public, max-age=31536000, immutable"
CONTENT_TYPES = {".webp": "image/webp", ".jpg": "image/jpeg", ".mp4": "video/mp4"}
_UPLOAD_PATH = re.compile(r"^/media/uploads/([0-9a-fA-F-]{36})$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(Exception):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The byte range ``[start, stop)`` a ``Range`` header asks for, or ``None`` for the whole file.

    One range only (a multi-range or malformed header is ignored, as RFC 9110 allows); a range
    that starts past the end raises :class:`RangeNotSatisfiable` (416).
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if first == "":  # a suffix: the last N bytes
        length = int(last)
        if length == 0:
            raise RangeNotSatisfiable
        return max(0, size - length), size
    start = int(first)
    stop = size if last == "" else min(size, int(last) + 1)
    if start >= size or stop <= start:
        raise RangeNotSatisfiable
    return start, stop


class MediaRoutes:
    """The media routes, each a named method over the media service and the accounts that sign
    requests in; :func:`register_media_routes` mounts them."""

    def __init__(self, media: MediaService, accounts: Accounts) -> None:
        self._media = media
        self._intake = media.intake
        self._accounts = accounts

    # ------------------------------------------------------------------ shared checks

    async def signed_in_user(self, authorization: str) -> int:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("send Authorization: Bearer <session token>")
        return (await self._accounts.resume(token)).user.id

    async def own_upload(self, user_id: int, upload_id: str) -> tuple[int, int, int | None]:
        """(length, offset, media_id) of the user's upload; 404 for anyone else's."""
        upload = await self._media.store.get_upload(upload_id)
        if upload is None or upload.owner_id != user_id:
            raise NotFound("no such upload")
        if upload.media_id is not None:
            return upload.length, upload.length, upload.media_id
        path = await self._intake.staging_path(upload.id)
        try:
            offset = (await trio.Path(path).stat()).st_size
        except FileNotFoundError:
            offset = 0
        return upload.length, offset, None

    def _too_large(self, limit: int) -> MediaRejected:
        return MediaRejected(Rejection.TOO_LARGE, f"the limit is {limit} bytes")

    # ------------------------------------------------------------------ Quart routes

    async def create_upload(self) -> Any:
        user_id = await self.signed_in_user(request.headers.get("Authorization", ""))
        try:
            length = int(request.headers.get("Upload-Length", ""))
        except ValueError:
            raise Invalid("send Upload-Length: <total bytes>") from None
        if length <= 0:
            raise Invalid("Upload-Length must be positive")
        if length > self._intake.max_bytes:
            raise self._too_large(self._intake.max_bytes)
        upload = await self._media.store.create_upload(user_id, length)
        location = f"/media/uploads/{upload.id}"
        body = {"upload_id": upload.id, "offset": 0, "length": length, "location": location}
        return jsonify(body), 201, {"Location": location, "Upload-Offset": "0"}

    async def upload_offset(self, upload_id: str) -> Any:
        user_id = await self.signed_in_user(request.headers.get("Authorization", ""))
        async with self._intake.upload_locks.hold(upload_id):
            length, offset, media_id = await self.own_upload(user_id, upload_id)
        headers = {"Upload-Offset": str(offset), "Upload-Length": str(length), "Cache-Control": "no-store"}
        body = {"upload_id": upload_id, "offset": offset, "length": length, "media_id": media_id}
        return jsonify(body), 200, headers

    async def media_status(self, media_id: int) -> Any:
        user_id = await self.signed_in_user(request.headers.get("Authorization", ""))
        record = await self._media.store.get_media(media_id)
        if record is None or record.owner_id != user_id:
            raise NotFound("no such media")
        return jsonify(_status(record)), 200, {"Cache-Control": "no-store"}

    async def media_file(self, key: str) -> Any:
        """A processed file: public, immutable, revalidated by ETag, served in byte ranges."""
        content_type = CONTENT_TYPES.get(Path(key).suffix)
        if content_type is None or not await self._media.store.holds_file(key):
            raise NotFound("no such file")
        try:
            size = await self._media.blobs.public.size(key)
        except BlobMissing:
            raise NotFound("no such file") from None
        headers = _file_headers(key)
        if headers["ETag"] in request.headers.get("If-None-Match", ""):
            return Response(b"", 304, headers)
        try:
            span = parse_range(request.headers.get("Range"), size)
        except RangeNotSatisfiable:
            return Response(b"", 416, {**headers, "Content-Range": f"bytes */{size}"})
        start, stop = span or (0, size)
        headers["Content-Length"] = str(stop - start)
        if span is not None:
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        status = 206 if span is not None else 200
        if request.method == "HEAD":
            response = Response(b"", status, headers, content_type=content_type)
            response.headers["Content-Length"] = headers["Content-Length"]  # Quart set it from b""
            return response
        chunks = self._media.blobs.public.read_range(key, start, stop)
        return Response(chunks, status, headers, content_type=content_type)

    # ------------------------------------------------------------------ body-receiving routes (ASGI)

    async def post_media(self, scope: Scope, receive: Receive) -> JsonAnswer:
        user_id = await self.signed_in_user(_header(scope, "authorization"))
        declared = _header(scope, "content-length")
        if declared.isdigit() and int(declared) > self._intake.max_bytes:
            raise self._too_large(self._intake.max_bytes)
        staged = await self._intake.staging_path()
        try:
            complete = await _receive_into(receive, staged, 0, self._intake.max_bytes, append=False)
        except BaseException:
            await trio.Path(staged).unlink(missing_ok=True)
            raise
        if not complete:
            await trio.Path(staged).unlink(missing_ok=True)
            raise _Disconnected
        record = await self._intake.accept(user_id, staged)
        return 202, {"media_id": record.id, "status": str(record.state)}, {}

    async def patch_upload(self, scope: Scope, receive: Receive, upload_id: str) -> JsonAnswer:
        user_id = await self.signed_in_user(_header(scope, "authorization"))
        async with self._intake.upload_locks.hold(upload_id):
            length, offset, media_id = await self.own_upload(user_id, upload_id)
            if media_id is not None:
                return 200, {"media_id": media_id, "status": "queued", "offset": length}, {}
            if _header(scope, "upload-offset") != str(offset):
                raise OffsetMismatch(offset)
            staged = await self._intake.staging_path(upload_id)
            if not await _receive_into(receive, staged, offset, length, append=True):
                raise _Disconnected  # what arrived is kept: the client asks for the offset and goes on
            offset = (await trio.Path(staged).stat()).st_size
            if offset < length:
                return 204, {}, {"Upload-Offset": str(offset)}
            record = await self._intake.accept(user_id, staged, upload_id=upload_id)
        body = {"media_id": record.id, "status": str(record.state), "offset": length}
        return 202, body, {"Upload-Offset": str(length)}

    def body_route(self, scope: Scope, receive: Receive) -> Callable[[], Awaitable[JsonAnswer]] | None:
        """The body-receiving route ``scope`` asks for, if it is one."""
        if scope["type"] != "http":
            return None
        method, path = scope["method"], scope["path"]
        if method == "POST" and path == "/media":
            return lambda: self.post_media(scope, receive)
        if method in ("PATCH", "PUT") and (match := _UPLOAD_PATH.match(path)):
            return lambda: self.patch_upload(scope, receive, match.group(1).lower())
        return None

    def in_front_of(self, app: ASGIApp) -> ASGIApp:
        """``app`` with the body-receiving routes served before it (see the module docstring)."""

        async def media_asgi(scope: Scope, receive: Receive, send: Send) -> None:
            route = self.body_route(scope, receive)
            if route is None:
                await app(scope, receive, send)
                return
            try:
                status, body, headers = await route()
            except DomainError as error:
                status, body, headers = answer(error)
            except _Disconnected:
                return  # nobody to answer
            await _send_json(send, status, body, headers)

        return media_asgi


def register_media_routes(app: QuartTrio, media: MediaService, accounts: Accounts) -> None:
    """Mount the media routes on ``app`` (the body-receiving ones in front of it, see above)."""
    routes = MediaRoutes(media, accounts)
    app.add_url_rule("/media/uploads", view_func=routes.create_upload, methods=["POST"])
    app.add_url_rule("/media/uploads/<upload_id>", view_func=routes.upload_offset, methods=["GET", "HEAD"])
    app.add_url_rule("/media/<int:media_id>", view_func=routes.media_status, methods=["GET"])
    app.add_url_rule(f"{FILES_URL_PREFIX}/<key>", view_func=routes.media_file, methods=["GET", "HEAD"])
    # Quart's documented way to add ASGI middleware is to replace ``asgi_app``; its declared type
    # is a bound method of Quart's own TypedDict signature, which no wrapper can match.
    app.asgi_app = routes.in_front_of(from_framework(app.asgi_app))  # type: ignore[method-assign,assignment]


def _file_headers(key: str) -> dict[str, str]:
    return {
        "Cache-Control": IMMUTABLE,
        "ETag": f'"{Path(key).stem}"',
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
    }


class _Disconnected(Exception):
    """The client went away before the body ended."""


def _status(record: MediaRecord) -> dict[str, Any]:
    return {
        "media_id": record.id,
        "kind": str(record.kind),
        "state": str(record.state),
        "progress": record.progress,
        "reason": record.reason,
        "variants": record.variants,
        "original": {"bytes": record.original_bytes, "sha256": record.original_key},
    }


def _header(scope: Scope, name: str) -> str:
    wanted = name.encode()
    for key, value in scope["headers"]:
        if key.lower() == wanted:
            return value.decode("latin-1")
    return ""


async def _receive_into(receive: Receive, path: Path, offset: int, limit: int, *, append: bool) -> bool:
    """Write the request body to ``path`` as it arrives; True if it ended, False on a disconnect.

    Reading only after each write completes is the back-pressure: hypercorn stops reading the
    socket while its small queue towards us is full. Bytes beyond ``limit`` are refused with 413;
    a body whose first bytes are no format we take, with 415 as soon as they are in.
    """
    written = offset
    head = b"" if offset == 0 else None  # the file's first bytes, until they have been checked
    async with await trio.open_file(path, "ab" if append else "wb") as f:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return False
            body = message.get("body", b"")
            if written + len(body) > limit:
                raise MediaRejected(Rejection.TOO_LARGE, f"the limit for this upload is {limit} bytes")
            more = message.get("more_body", False)
            if head is not None:
                head += body[: HEAD_BYTES - len(head)]
                if len(head) >= HEAD_BYTES:  # fewer (a tiny first chunk): judged once staged
                    Intake.kind_of(head)
                    head = None
            if body:
                await f.write(body)
                written += len(body)
            if not more:
                return True


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
    payload = json.dumps(body).encode() if body or status != 204 else b""
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if payload:
        raw_headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})
