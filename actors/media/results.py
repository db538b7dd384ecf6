"""What the decoders produce, and the limits they enforce: shared by the image and the video pipelines.

They refuse an input with :class:`kernel.errors.MediaRejected` (the job ends ``failed`` with its reason).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kernel.config import Settings
from kernel.errors import MediaRejected, Rejection


class Role(enum.StrEnum):
    THUMBNAIL = "thumbnail"
    POSTER = "poster"
    VIDEO = "video"
    FRAME = "frame"
    """A frame sampled for the embedder: kept private, not a public variant."""


@dataclass(frozen=True, slots=True)
class Rendition:
    """One output file, written to the job's scratch directory."""

    role: Role
    path: Path
    suffix: str
    content_type: str
    width: int
    height: int
    t_s: float | None = None
    """Frames: where in the video the frame was taken."""
    duration_s: float | None = None


@dataclass(frozen=True, slots=True)
class Processed:
    renditions: list[Rendition]
    placeholder: dict[str, Any]
    probe: dict[str, Any]
    """What the decoder learned about the input (dimensions, codecs, duration): kept with the variants."""


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """The settings the decoders need, as one picklable value handed to decoder processes."""

    max_pixels: int
    max_duration_s: float
    max_frames: int
    max_fps: float
    thumbnail_widths: tuple[int, ...]
    x264_preset: str
    x264_crf: int

    @classmethod
    def from_settings(cls, settings: Settings) -> MediaLimits:
        return cls(
            max_pixels=settings.media_max_pixels,
            max_duration_s=settings.media_max_duration_s,
            max_frames=settings.media_max_frames,
            max_fps=settings.media_max_fps,
            thumbnail_widths=settings.media_thumbnail_width_list,
            x264_preset=settings.media_x264_preset,
            x264_crf=settings.media_x264_crf,
        )


def check_pixels(width: int, height: int, limits: MediaLimits) -> None:
    """The decompression-bomb check: called on header dimensions, before any pixel is decoded."""
    if width <= 0 or height <= 0:
        raise MediaRejected(Rejection.CORRUPT, f"declared dimensions {width}x{height} are invalid")
    if width * height > limits.max_pixels:
        raise MediaRejected(
            Rejection.TOO_LARGE,
            f"{width}x{height} is {width * height / 1e6:.0f} megapixels; "
            f"the limit is {limits.max_pixels / 1e6:.0f}",
        )


def check_duration(duration_s: float, limits: MediaLimits) -> None:
    if duration_s > limits.max_duration_s:
        raise MediaRejected(
            Rejection.TOO_LONG,
            f"the video lasts {duration_s:.1f} s; the limit is {limits.max_duration_s:g} s",
        )
