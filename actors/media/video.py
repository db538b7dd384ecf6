"""Video: probe, poster, thumbnails, an H.264/AAC MP4 for playback, and frames for the embedder.

One pass over the input with PyAV: every decoded picture is scaled to at most 720p and encoded with
libx264, the audio is resampled to 48 kHz stereo and encoded to AAC, the poster is taken on the way
and keyframes (at most one a second) are kept for the embedder. The MP4 is written with
``+faststart`` (the index first), so players start before the download ends.

Limits are checked on the header before decoding (declared size, duration and frame rate), and
again while decoding, since a container can lie: every frame counts against a budget of what the
declared duration at the declared rate makes, and a frame's time is checked against the duration
limit (a frame without a usable timestamp gets one estimated from the rate; a video with more than a
few such frames is refused). PyAV always decodes a little while it opens a file (FFmpeg's
``find_stream_info``), so that decoding is bounded too: only the allowed containers are probed, a
small amount of the file is read, and the decoders refuse pictures over the pixel limit before
allocating them. All of it runs in a child process under a memory limit (:mod:`actors.media.isolation`).
Codecs run single-threaded: parallelism comes from the pool (one job per core), so the thread count
stays honest and CPU time tracks wall time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.container
from PIL import Image

from actors.media.results import (
    MediaLimits,
    Processed,
    Rendition,
    Role,
    check_duration,
    check_pixels,
)
from actors.media.stills import THUMB_SUFFIX, THUMB_TYPE, placeholder, render_thumbnails, save_still
from kernel.errors import MediaRejected, Rejection

MAX_SHORT_SIDE = 720
"""Playback copies are at most 720p: the short side is scaled down to this, never up."""
AUDIO_RATE = 48_000
AAC_FRAME = 1024
FRAME_SAMPLE_WIDTH = 512
"""Sampled frames are stored this wide at most: plenty for an image embedder (CLIP sees 224 px)."""
SAMPLE_EVERY_S = 1.0
POSTER_AT_S = 1.0
"""The poster is the first frame at or after this time, or the last one before it (a short clip)."""
CONTAINERS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm"
"""The demuxers FFmpeg may use (the MP4/MOV and Matroska/WebM families): a file that sniffed as video
but probes as anything else is refused rather than handed to one of FFmpeg's hundreds of demuxers."""
PROBE_BYTES = 1_000_000
PROBE_US = 1_000_000
"""How much of the file (bytes, microseconds) FFmpeg may read and decode to fill in stream details
when it opens it; its defaults are five times more. MP4 and Matroska declare them in headers."""
FRAME_SLACK = 1.5
FRAME_SLACK_COUNT = 30
"""The frame budget is the declared duration times the declared rate, times this slack plus this
many frames: rounding, variable frame rates and a short last GOP stay well inside it."""
UNTIMED_TOLERANCE = 8
"""Frames without a usable timestamp (missing, or not after the previous frame's) that a video may
have, as a recorder's glitch; more, and its timing — hence its duration check — is meaningless."""

Progress = Callable[[float], None]


def playback_size(width: int, height: int) -> tuple[int, int]:
    """Scale so the short side is at most 720, keeping the aspect; even sides (4:2:0 chroma)."""
    return _even(width, height, min(1.0, MAX_SHORT_SIDE / min(width, height)))


def playback_size_within(width: int, height: int, max_width: int) -> tuple[int, int]:
    return _even(width, height, min(1.0, max_width / width))


def _even(width: int, height: int, scale: float) -> tuple[int, int]:
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def declared_duration(path: Path, limits: MediaLimits) -> float | None:
    """The duration a container declares in its header, or ``None`` if it cannot be read or says
    nothing. Cheap (a header read): the upload check."""
    try:
        with _open(path, limits) as container:
            return _duration(container)
    except MediaRejected:
        return None


def _duration(container: av.container.InputContainer) -> float | None:
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000
    spans = [float(s.duration * s.time_base) for s in container.streams if s.duration and s.time_base]
    return max(spans) if spans else None


def _why(exc: Exception) -> str:
    """FFmpeg's reason without the file name (a server path is no business of the uploader's)."""
    return str(getattr(exc, "strerror", None) or type(exc).__name__)


def _open(source: Path, limits: MediaLimits) -> av.container.InputContainer:
    try:
        return av.open(
            str(source),
            # Given to the decoders FFmpeg opens while probing, too: no oversized picture is decoded.
            options=_decoder_options(limits),
            container_options={
                "format_whitelist": CONTAINERS,
                "protocol_whitelist": "file",
                "probesize": str(PROBE_BYTES),
                "analyzeduration": str(PROBE_US),
            },
            metadata_errors="replace",
        )
    except (av.FFmpegError, OSError) as exc:
        raise MediaRejected(Rejection.CORRUPT, f"cannot read the container ({_why(exc)})") from None


def _decoder_options(limits: MediaLimits) -> dict[str, str]:
    return {"max_pixels": str(limits.max_pixels), "threads": "1"}


def _frame_rate(stream: av.VideoStream, limits: MediaLimits) -> float | None:
    """The declared average frame rate, refused when absurd; ``None`` if the file declares none."""
    rate = stream.average_rate
    if rate is None or rate <= 0:
        return None
    if rate > limits.max_fps:
        raise MediaRejected(
            Rejection.CORRUPT,
            f"the video declares {float(rate):g} frames a second; the limit is {limits.max_fps:g}",
        )
    return float(rate)


def frame_budget(duration_s: float | None, fps: float | None, limits: MediaLimits) -> int:
    """The most frames a video may decode: what it declares, with slack, under the global cap. A
    video that declares no duration or rate is budgeted at the limits."""
    seconds = duration_s if duration_s is not None else limits.max_duration_s
    declared = seconds * (fps if fps is not None else limits.max_fps)
    return min(limits.max_frames, math.ceil(declared * FRAME_SLACK) + FRAME_SLACK_COUNT)


def process_video(source: Path, out_dir: Path, limits: MediaLimits, report: Progress) -> Processed:
    with _open(source, limits) as container:
        if not container.streams.video:
            raise MediaRejected(Rejection.UNSUPPORTED, "the file has no video stream")
        video_in = container.streams.video[0]
        if video_in.codec_context is None:
            raise MediaRejected(
                Rejection.UNSUPPORTED, f"no decoder for the video codec {video_in.codec_tag!r}"
            )
        check_pixels(video_in.codec_context.width, video_in.codec_context.height, limits)
        duration = _duration(container)
        if duration is not None:
            check_duration(duration, limits)
        fps = _frame_rate(video_in, limits)
        video_in.codec_context.options = _decoder_options(limits)
        audio_in = container.streams.audio[0] if container.streams.audio else None
        if audio_in is not None and audio_in.codec_context is None:
            audio_in = None  # an undecodable audio track: keep the picture, drop the sound
        transcode = _Transcode(video_in, audio_in, out_dir, limits, duration, fps, report)
        try:
            transcode.run(container)
        except av.FFmpegError as exc:
            raise MediaRejected(Rejection.CORRUPT, f"decoding failed ({_why(exc)})") from None
        finally:
            transcode.close()
        return transcode.result(container)


class _Transcode:
    """The state of the one pass over the input (outputs, poster, samples, progress)."""

    def __init__(
        self,
        video_in: av.VideoStream,
        audio_in: av.AudioStream | None,
        out_dir: Path,
        limits: MediaLimits,
        duration: float | None,
        fps: float | None,
        report: Progress,
    ) -> None:
        self.video_in, self.audio_in = video_in, audio_in
        self.out_dir, self.limits, self.duration, self.report = out_dir, limits, duration, report
        self.frame_budget = frame_budget(duration, fps, limits)
        self.frame_interval_s = 1 / (fps or 30.0)
        """What an untimed frame's time is estimated to follow its predecessor's by."""
        self.width, self.height = playback_size(video_in.codec_context.width, video_in.codec_context.height)
        self.path = out_dir / "video.mp4"
        self.output = av.open(str(self.path), "w", format="mp4", options={"movflags": "+faststart"})
        rate = Fraction(fps).limit_denominator(1001) if fps is not None else Fraction(30)
        self.video_out = self.output.add_stream(
            "libx264", rate=rate, options={"preset": limits.x264_preset, "crf": str(limits.x264_crf)}
        )
        self.video_out.width, self.video_out.height, self.video_out.pix_fmt = (
            self.width,
            self.height,
            "yuv420p",
        )
        self.video_out.codec_context.time_base = video_in.time_base or Fraction(1, 90_000)  # MPEG's clock
        self.video_out.codec_context.thread_count = 1
        self.audio_out: av.AudioStream | None = None
        if audio_in is not None:
            self.audio_out = self.output.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
            self.resampler = av.AudioResampler("fltp", "stereo", AUDIO_RATE, frame_size=AAC_FRAME)
            self.samples = 0
        self.frames = 0
        self.untimed = 0
        self.last_t: float | None = None
        self.next_pts = 0
        self.poster: Image.Image | None = None
        self.poster_t = 0.0
        self.sample_size = playback_size_within(self.width, self.height, FRAME_SAMPLE_WIDTH)
        self.sampled: list[Rendition] = []
        self.closed = False

    def run(self, container: av.container.InputContainer) -> None:
        streams = [s for s in (self.video_in, self.audio_in) if s is not None]
        for packet in container.demux(*streams):
            for frame in packet.decode():
                if isinstance(frame, av.VideoFrame):
                    self._video(frame)
                elif isinstance(frame, av.AudioFrame):
                    self._audio(frame)
        self._audio(None)
        for stream in (self.video_out, self.audio_out):
            if stream is not None:
                self.output.mux(stream.encode(None))

    def _video(self, frame: av.VideoFrame) -> None:
        if self.frames >= self.frame_budget:
            raise MediaRejected(
                Rejection.TOO_LONG, f"the video has more than the {self.frame_budget} frames it declares"
            )
        t = self._time_of(frame)
        check_duration(t, self.limits)
        if self.poster is None or self.poster_t < POSTER_AT_S <= t:
            self.poster, self.poster_t = frame.to_image(width=self.width, height=self.height), t
        if frame.key_frame and (not self.sampled or t >= (self.sampled[-1].t_s or 0.0) + SAMPLE_EVERY_S):
            self.sampled.append(self._save_sample(t, frame))
        scaled = frame.reformat(self.width, self.height, format="yuv420p")
        if scaled.pts is None or scaled.pts < self.next_pts:
            scaled.pts = self.next_pts  # missing or non-increasing timestamps: x264 needs increasing ones
        self.next_pts = scaled.pts + 1
        self.output.mux(self.video_out.encode(scaled))
        self.frames += 1
        self.last_t = t
        if self.duration:
            self.report(min(0.95, t / self.duration))

    def _time_of(self, frame: av.VideoFrame) -> float:
        """The frame's timestamp; if it has none, or one not after the last frame's, an estimate
        one frame interval on (and too many of those refuse the video)."""
        if frame.time is not None and (self.last_t is None or frame.time > self.last_t):
            return float(frame.time)
        self.untimed += 1
        if self.untimed > UNTIMED_TOLERANCE:
            raise MediaRejected(Rejection.CORRUPT, "too many frames have no usable timestamp")
        return (self.last_t or 0.0) + self.frame_interval_s

    def _audio(self, frame: av.AudioFrame | None) -> None:
        if self.audio_out is None:
            return
        if frame is not None and frame.time is not None:
            check_duration(float(frame.time), self.limits)
        for resampled in self.resampler.resample(frame):
            resampled.pts = self.samples
            resampled.time_base = Fraction(1, AUDIO_RATE)
            self.samples += resampled.samples
            self.output.mux(self.audio_out.encode(resampled))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.output.close()

    def result(self, container: av.container.InputContainer) -> Processed:
        self.close()
        poster = self.poster
        if poster is None or self.last_t is None:
            raise MediaRejected(Rejection.CORRUPT, "no picture could be decoded")
        duration = self.last_t if self.duration is None else self.duration
        poster_path = self.out_dir / f"poster{THUMB_SUFFIX}"
        save_still(poster, poster_path)
        renditions = [
            Rendition(
                Role.VIDEO, self.path, ".mp4", "video/mp4", self.width, self.height, duration_s=duration
            ),
            Rendition(Role.POSTER, poster_path, THUMB_SUFFIX, THUMB_TYPE, poster.width, poster.height),
            *render_thumbnails(poster, self.limits.thumbnail_widths, self.out_dir),
            *self.sampled,
        ]
        return Processed(renditions, placeholder(poster), self._probe(container, duration))

    def _save_sample(self, t: float, frame: av.VideoFrame) -> Rendition:
        """Written at once, small: a long video must not pile full-size frames up in memory."""
        width, height = self.sample_size
        path = self.out_dir / f"frame-{t:.3f}.jpg"
        frame.to_image(width=width, height=height).save(path, "JPEG", quality=85)
        return Rendition(Role.FRAME, path, ".jpg", "image/jpeg", width, height, t_s=round(t, 3))

    def _probe(self, container: av.container.InputContainer, duration: float) -> dict[str, Any]:
        video = self.video_in.codec_context
        probe: dict[str, Any] = {
            "container": container.format.name,
            "duration_s": round(duration, 3),
            "video": {
                "codec": video.name,
                "width": video.width,
                "height": video.height,
                "fps": float(self.video_in.average_rate) if self.video_in.average_rate else None,
            },
        }
        if self.audio_in is not None:
            audio = self.audio_in.codec_context
            probe["audio"] = {
                "codec": audio.name,
                "sample_rate": audio.sample_rate,
                "channels": audio.layout.nb_channels,
            }
        return probe
