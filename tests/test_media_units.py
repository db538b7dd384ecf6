"""Pure pieces of the media pipeline: content sniffing and byte-range parsing."""

from __future__ import annotations

import pytest
from media_samples import photo_jpeg, photo_png, png_bomb

from actors.media.sniff import HEAD_BYTES, sniff
from edges.http.media import RangeNotSatisfiable, parse_range
from stores.media import MediaKind


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (photo_jpeg()[:HEAD_BYTES], MediaKind.IMAGE),
        (photo_png()[:HEAD_BYTES], MediaKind.IMAGE),
        (png_bomb()[:HEAD_BYTES], MediaKind.IMAGE),
        (b"GIF89a" + bytes(26), MediaKind.IMAGE),
        (b"RIFF\0\0\0\0WEBPVP8 ", MediaKind.IMAGE),
        (b"\0\0\0\x20ftypisom\0\0\0\0", MediaKind.VIDEO),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", MediaKind.VIDEO),
        (b"\0\0\0\x18ftypheic\0\0\0\0", None),  # HEIC stills: same boxes as MP4, not a video
        (b"%PDF-1.7", None),
        (b"", None),
    ],
)
def test_sniff_judges_by_magic_bytes(head: bytes, kind: MediaKind | None) -> None:
    assert sniff(head) == kind


@pytest.mark.parametrize(
    ("header", "span"),
    [
        (None, None),
        ("bytes=0-99", (0, 100)),
        ("bytes=100-", (100, 1000)),
        ("bytes=-10", (990, 1000)),
        ("bytes=-5000", (0, 1000)),
        ("bytes=900-5000", (900, 1000)),
        ("bytes=0-1,5-6", None),  # multi-range: served whole
        ("items=0-1", None),
        ("bytes=-", None),
    ],
)
def test_parse_range(header: str | None, span: tuple[int, int] | None) -> None:
    assert parse_range(header, 1000) == span


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=2000-3000", "bytes=-0", "bytes=5-4"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 1000)
