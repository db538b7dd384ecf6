"""What an upload is, judged by its first bytes (never by its name or its Content-Type header).

Clients lie or guess about types; magic numbers do not. Only the containers our decoders handle are
recognised: anything else is refused at upload, before it takes a job slot. A recognised header is
no promise that the rest decodes: the job finds that out.
"""

from __future__ import annotations

from stores.media import MediaKind

HEAD_BYTES = 32
"""How many leading bytes :func:`sniff` needs."""

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"avif", b"avis"}
"""ISO-BMFF brands of still images (HEIC, AVIF): same box format as MP4, but not video, and our
image decoder cannot read them."""


def sniff(head: bytes) -> MediaKind | None:
    """The kind of media these leading bytes start, or ``None`` if we do not take it."""
    if head.startswith(b"\xff\xd8\xff"):  # JPEG
        return MediaKind.IMAGE
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return MediaKind.IMAGE
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return MediaKind.IMAGE
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return MediaKind.IMAGE
    if head[4:8] == b"ftyp":  # MP4, MOV, M4V, 3GP...
        return None if head[8:12] in _HEIF_BRANDS else MediaKind.VIDEO
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):  # QuickTime files without an ftyp box
        return MediaKind.VIDEO
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # Matroska / WebM
        return MediaKind.VIDEO
    return None
