"""Real media for the media tests and the benchmark, made on the spot from scikit-image's photographs.

Nothing is downloaded: the photos ship inside scikit-image; videos are encoded here with PyAV (a
panning crop of a photo plus a sine tone, so the decoder sees real motion and real audio).
"""

from __future__ import annotations

import io
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image
from skimage import data

ORIENTATION_TAG = 0x0112
GPS_IFD_TAG = 0x8825


def photo_jpeg(
    name: str = "chelsea", *, orientation: int | None = None, size: tuple[int, int] | None = None
) -> bytes:
    """A scikit-image photograph as JPEG, optionally resized and with EXIF (orientation, a GPS block)."""
    image = Image.fromarray(getattr(data, name)()).convert("RGB")
    if size is not None:
        image = image.resize(size, Image.Resampling.BICUBIC)
    exif = Image.Exif()
    exif[0x010F] = "Viora Test Camera"  # Make
    exif.get_ifd(GPS_IFD_TAG)[2] = (48.0, 51.0, 24.0)  # GPSLatitude: what must never be served back
    if orientation is not None:
        exif[ORIENTATION_TAG] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def photo_png(name: str = "coffee") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(getattr(data, name)()).save(buffer, "PNG")
    return buffer.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG whose header declares ``width x height`` pixels with a few bytes of data: a
    decompression bomb (decoding it would allocate ~30 GB) that a header check must refuse."""

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 4096))
        + png_chunk(b"IEND", b"")
    )


def video_mp4(
    path: Path,
    *,
    seconds: float = 2.0,
    size: tuple[int, int] = (320, 240),
    fps: int = 30,
    audio: bool = True,
    video: bool = True,
    audio_seconds: float | None = None,
    photo: str = "astronaut",
    preset: str = "ultrafast",
) -> Path:
    """An H.264 (+ AAC) MP4 panning across a photograph, a keyframe every second; the sound lasts
    ``audio_seconds`` if given (tracks of different lengths), else as long as the picture."""
    width, height = size
    source = np.asarray(
        Image.fromarray(getattr(data, photo)())
        .convert("RGB")
        .resize((width * 2, height), Image.Resampling.BILINEAR)
    )
    with av.open(str(path), "w") as out:
        video_stream = None
        if video:
            video_stream = out.add_stream("libx264", rate=fps, options={"preset": preset})
            video_stream.width, video_stream.height, video_stream.pix_fmt = width, height, "yuv420p"
            video_stream.codec_context.gop_size = fps
        audio_stream = out.add_stream("aac", rate=48_000, layout="stereo") if audio else None
        frames = round(seconds * fps)
        for i in range(frames if video_stream is not None else 0):
            x = (i * width) // max(1, frames)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(source[:, x : x + width]), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(video_stream.encode(frame))
        if audio_stream is not None:
            for start in range(0, round((audio_seconds or seconds) * 48_000), 1024):
                t = np.arange(start, start + 1024) / 48_000
                tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
                frame = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
                frame.sample_rate, frame.pts, frame.time_base = 48_000, start, Fraction(1, 48_000)
                out.mux(audio_stream.encode(frame))
        for stream in (video_stream, audio_stream):
            if stream is not None:
                out.mux(stream.encode(None))
    return path


# --- hostile inputs ------------------------------------------------------------------------


def png_with_junk_exif() -> bytes:
    """A valid PNG with an ``eXIf`` chunk of junk before its pixels (Pillow's ``getexif`` raises
    ``SyntaxError`` on it)."""
    png = photo_png("coffee")
    at = png.index(b"IDAT") - 4
    return png[:at] + png_chunk(b"eXIf", b"this is no TIFF header" * 4) + png[at:]


def garbage_after(magic: bytes, size: int = 20_000) -> bytes:
    """A valid magic number followed by noise: passes the upload sniff, decodes to nothing."""
    return magic + np.random.default_rng(7).integers(0, 256, size, dtype=np.uint8).tobytes()


def huge_frame_mp4(path: Path, side: int = 8400) -> Path:
    """One black H.264 frame of ``side`` x ``side`` pixels (71 megapixels at 8400): a few hundred
    kilobytes on disk, a decompression bomb for a decoder that does not check first."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = side, side, "yuv420p"
        frame = av.VideoFrame(side, side, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.pts = 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def absurd_rate_mkv(path: Path, rate: int = 100_000) -> Path:
    """A VP8 Matroska file that claims ``rate`` frames a second."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libvpx", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(30):
            frame = av.VideoFrame(64, 64, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.pts, frame.time_base = i, Fraction(1, rate)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def untimed_mp4(path: Path) -> Path:
    """An MP4 whose samples all last zero ticks (``stts`` deltas of 0): every frame has the same
    timestamp, so a duration check on timestamps never trips."""
    data = bytearray(video_mp4(path, seconds=1.0, audio=False).read_bytes())
    at = data.index(b"stts")
    (entries,) = struct.unpack_from(">I", data, at + 8)
    for k in range(entries):
        struct.pack_into(">I", data, at + 16 + 8 * k, 0)
    path.write_bytes(bytes(data))
    return path
