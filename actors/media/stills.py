"""Still images: decode with the orientation applied, thumbnails, and a tiny placeholder.

Pillow rather than PyAV for stills, for three reasons that matter here: ``Image.open`` parses only the
header, so the decompression-bomb check sees the declared size before a pixel is decoded; ``draft``
lets the JPEG decoder scale by 1/2, 1/4 or 1/8 in the DCT domain (a 12-megapixel photo needed at 1080
wide decodes at a quarter of the cost); and ``ImageOps.exif_transpose`` applies EXIF orientation,
which FFmpeg's image decoders ignore. Only the four formats we take may parse an upload, and any
exception one raises is the file's fault (it runs in a decoder process: see
:mod:`actors.media.isolation`). Outputs are written without EXIF/XMP: metadata (GPS position, camera serial)
is stripped by never copying it.
"""

from __future__ import annotations

import base64
import io
import math
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError, features

from actors.media.results import (
    MediaLimits,
    Processed,
    Rendition,
    Role,
    check_pixels,
)
from kernel.errors import MediaRejected, Rejection

READABLE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
"""The only Pillow plugins allowed to parse an upload (Pillow would otherwise try all of its own)."""
PLACEHOLDER_WIDTH = 16
WEBP = features.check("webp")
"""Thumbnails are WebP when this Pillow has libwebp; JPEG is the fallback."""
THUMB_SUFFIX, THUMB_TYPE = (".webp", "image/webp") if WEBP else (".jpg", "image/jpeg")

Progress = Callable[[float], None]


def save_still(image: Image.Image, path: Path, *, quality: int = 80) -> None:
    """Encode in the thumbnail format; no ``exif``/``xmp`` arguments, so no metadata is written."""
    if WEBP:
        image.save(path, "WEBP", quality=quality, method=4)
    else:
        image.convert("RGB").save(path, "JPEG", quality=quality, optimize=True, progressive=True)


def render_thumbnails(image: Image.Image, widths: tuple[int, ...], out_dir: Path) -> list[Rendition]:
    """One thumbnail per width, never wider than the image (so a small image yields fewer).

    Largest first, each scaled from the previous one: the big reduction is done once.
    """
    renditions = []
    source = image
    for width in sorted({min(w, image.width) for w in widths}, reverse=True):
        height = max(1, round(image.height * width / image.width))
        if (width, height) != source.size:
            source = source.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
        path = out_dir / f"thumb-{width}{THUMB_SUFFIX}"
        save_still(source, path)
        renditions.append(Rendition(Role.THUMBNAIL, path, THUMB_SUFFIX, THUMB_TYPE, width, height))
    return sorted(renditions, key=lambda r: r.width)


def placeholder(image: Image.Image) -> dict[str, Any]:
    """What a feed shows before the thumbnail arrives: the mean colour and a 16-pixel-wide preview
    inlined as a data URI (a few hundred bytes; blurred by the browser's upscaling)."""
    rgb = image.convert("RGB")
    r, g, b = rgb.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))  # type: ignore[misc]
    tiny = rgb.copy()
    tiny.thumbnail((PLACEHOLDER_WIDTH, PLACEHOLDER_WIDTH), Image.Resampling.BOX)
    buffer = io.BytesIO()
    tiny.save(buffer, "WEBP" if WEBP else "JPEG", quality=40)
    data = base64.b64encode(buffer.getvalue()).decode()
    return {
        "color": f"#{r:02x}{g:02x}{b:02x}",
        "width": tiny.width,
        "height": tiny.height,
        "data_uri": f"data:{THUMB_TYPE};base64,{data}",
    }


ORIENTATION_TAG = 0x0112
SWAPS_AXES = {5, 6, 7, 8}
"""EXIF orientations that turn the image by 90 degrees (width and height trade places)."""


def _decoded(path: Path, limits: MediaLimits) -> tuple[Image.Image, dict[str, Any]]:
    """Open, check the declared size, then decode (at a reduced scale where JPEG allows it) and
    apply the EXIF orientation. Returns the image and what we learned of the original."""
    try:
        image = Image.open(path, formats=READABLE_FORMATS)
    except UnidentifiedImageError:
        # Intake saw an image signature, so a header Pillow cannot parse is a damaged one.
        raise MediaRejected(Rejection.CORRUPT, "the image header cannot be parsed") from None
    except Image.DecompressionBombError as exc:
        raise MediaRejected(Rejection.TOO_LARGE, str(exc)) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaRejected(Rejection.CORRUPT, f"unreadable image header ({exc})") from None
    with image:
        check_pixels(image.width, image.height, limits)
        width, height = image.size
        try:
            orientation = image.getexif().get(ORIENTATION_TAG, 1)
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
            raise MediaRejected(Rejection.CORRUPT, f"the EXIF metadata is malformed ({exc})") from None
        if orientation in SWAPS_AXES:
            width, height = height, width
        probe = {"format": str(image.format).lower(), "width": width, "height": height}
        # The widest thumbnail must still fit after orientation, so both axes keep that much.
        scale = min(1.0, max(limits.thumbnail_widths) / min(width, height))
        image.draft("RGB", (math.ceil(image.width * scale), math.ceil(image.height * scale)))
        try:
            image.load()
            oriented = ImageOps.exif_transpose(image)
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise MediaRejected(Rejection.CORRUPT, f"the image is truncated or corrupt ({exc})") from None
        has_alpha = oriented.mode in ("RGBA", "LA", "PA") or "transparency" in oriented.info
        return oriented.convert("RGBA" if has_alpha else "RGB"), probe


def process_image(source: Path, out_dir: Path, limits: MediaLimits, report: Progress) -> Processed:
    image, probe = _decoded(source, limits)
    report(0.5)
    thumbs = render_thumbnails(image, limits.thumbnail_widths, out_dir)
    return Processed(thumbs, placeholder(image), probe)
