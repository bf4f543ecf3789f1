"""The only module that opens media files.

Everything PyAV (FFmpeg) can demux is accepted. Audio becomes 16 kHz mono float32 and video
frames are placed on a 25 fps analysis timeline by their timestamps. Both streams share one
time origin (the earliest stream start in the container), so an audio stream that starts
200 ms after the video is 200 ms late on the timeline, whatever the source frame rate.

Video is streamed frame by frame (memory stays bounded for long files); audio is decoded in
packets and held as one float32 array (16 kHz mono: 230 MB per hour of media).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Iterator

import av
from av.video.reformatter import VideoReformatter
import numpy as np

from .constants import SAMPLE_RATE, VIDEO_FPS

av.logging.set_level(av.logging.PANIC)  # FFmpeg chatter would break the one-line error rule

DEFAULT_MAX_HEIGHT = 480  # px: frames are downscaled to this height for face tracking


class MediaError(Exception):
    """A file that cannot be analysed; str(error) is a one-line message for the user."""


@dataclass(frozen=True)
class MediaInfo:
    """What a container holds. Times are seconds on the analysis timeline (origin = 0)."""

    path: str
    duration_s: float
    has_audio: bool
    has_video: bool
    origin_s: float  # container time of timeline zero
    audio_start_s: float | None = None
    video_start_s: float | None = None
    video_fps: float | None = None  # nominal source rate (informative only)
    width: int | None = None
    height: int | None = None
    audio_rate: int | None = None
    audio_channels: int | None = None
    format_name: str = ""

    @property
    def n_frames(self) -> int:
        """Length of the 25 fps analysis timeline."""
        return int(math.ceil(self.duration_s * VIDEO_FPS - 1e-6))


@dataclass
class AudioClip:
    """samples: (N,) float32 at SAMPLE_RATE; sample 0 is timeline zero (leading gap = zeros)."""

    samples: np.ndarray
    sample_rate: int = SAMPLE_RATE
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        assert self.samples.ndim == 1 and self.samples.dtype == np.float32, self.samples.shape
        assert self.sample_rate == SAMPLE_RATE

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def _check_path(path: str | os.PathLike) -> str:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise MediaError(f"{path}: no such file")
    if os.path.isdir(path):
        raise MediaError(f"{path}: is a directory, not a media file")
    if os.path.getsize(path) == 0:
        raise MediaError(f"{path}: file is empty (0 bytes)")
    return path


def _open(path: str) -> av.container.InputContainer:
    try:
        return av.open(path, mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as e:
        raise MediaError(f"{path}: not a readable media file ({_ffmpeg_reason(e)})") from None
    except (UnicodeDecodeError, ValueError, OSError) as e:
        raise MediaError(f"{path}: not a readable media file ({e})") from None


def _ffmpeg_reason(e: Exception) -> str:
    msg = getattr(e, "strerror", None) or str(e)
    return str(msg).splitlines()[0][:200]


def _stream_start(stream: av.stream.Stream) -> float | None:
    if stream.start_time is None or stream.time_base is None:
        return None
    return float(stream.start_time * stream.time_base)


def _stream_duration(stream: av.stream.Stream) -> float | None:
    if stream.duration is None or stream.time_base is None:
        return None
    return float(stream.duration * stream.time_base)


def _decodable(stream: av.stream.Stream) -> bool:
    try:
        return stream.codec_context is not None and stream.codec_context.name is not None
    except Exception:  # noqa: BLE001 - PyAV raises assorted errors for unknown codecs
        return False


def probe(path: str | os.PathLike) -> MediaInfo:
    """Read the container header (no decoding). Raises MediaError for unusable files."""
    path = _check_path(path)
    with _open(path) as c:
        v = next((s for s in c.streams.video if _decodable(s)), None)
        a = next((s for s in c.streams.audio if _decodable(s)), None)
        if v is None and a is None:
            kinds = sorted({s.type for s in c.streams}) or ["none"]
            raise MediaError(f"{path}: no decodable audio or video stream (streams: {', '.join(kinds)})")
        starts = {k: _stream_start(s) for k, s in (("a", a), ("v", v)) if s is not None}
        known = [t for t in starts.values() if t is not None]
        origin = min(known) if known else 0.0
        ends = []
        for s, t0 in ((a, starts.get("a")), (v, starts.get("v"))):
            d = _stream_duration(s) if s is not None else None
            if d is not None:
                ends.append((t0 or origin) - origin + d)
        if not ends and c.duration:
            ends.append(c.duration / 1e6)
        rate = float(v.average_rate) if v is not None and v.average_rate else None
        return MediaInfo(
            path=path,
            duration_s=max(ends) if ends else 0.0,
            has_audio=a is not None,
            has_video=v is not None,
            origin_s=origin,
            audio_start_s=(starts["a"] - origin) if starts.get("a") is not None else (0.0 if a else None),
            video_start_s=(starts["v"] - origin) if starts.get("v") is not None else (0.0 if v else None),
            video_fps=rate,
            width=v.codec_context.width if v is not None else None,
            height=v.codec_context.height if v is not None else None,
            audio_rate=a.codec_context.sample_rate if a is not None else None,
            audio_channels=a.codec_context.channels if a is not None else None,
            format_name=c.format.name,
        )


def load_audio(path: str | os.PathLike, info: MediaInfo | None = None,
               max_duration_s: float | None = None) -> AudioClip | None:
    """Decode the first audio stream to 16 kHz mono float32 placed on the timeline.

    Returns None for a file without audio. A stream that breaks off mid-way keeps what was
    decoded and says so in `warnings`.
    """
    info = info or probe(path)
    if not info.has_audio:
        return None
    chunks: list[np.ndarray] = []
    warnings: list[str] = []
    first_time: float | None = None
    n = 0
    limit = None if max_duration_s is None else int(max_duration_s * SAMPLE_RATE)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    with _open(info.path) as c:
        stream = c.streams.audio[0]
        stream.thread_type = "AUTO"
        try:
            for frame in c.decode(stream):
                if first_time is None and frame.time is not None:
                    first_time = float(frame.time)
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
                    n += len(chunks[-1])
                if limit is not None and n >= limit:
                    break
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except (av.error.FFmpegError, ValueError) as e:
            warnings.append(f"audio stream broke off after {n / SAMPLE_RATE:.2f} s ({_ffmpeg_reason(e)})")
    if not chunks:
        if warnings:
            raise MediaError(f"{info.path}: audio stream could not be decoded ({warnings[0]})")
        return AudioClip(np.zeros(0, np.float32), warnings=["audio stream is empty"])
    samples = np.concatenate(chunks).astype(np.float32, copy=False)
    start = (first_time if first_time is not None else info.origin_s + (info.audio_start_s or 0.0))
    lead = int(round((start - info.origin_s) * SAMPLE_RATE))
    if lead > 0:
        samples = np.concatenate([np.zeros(lead, np.float32), samples])
    elif lead < 0:
        samples = samples[-lead:]
    if limit is not None:
        samples = samples[:limit]
    np.clip(samples, -1.0, 1.0, out=samples)
    return AudioClip(np.ascontiguousarray(samples), warnings=warnings)


def _scaled_size(width: int, height: int, max_height: int) -> tuple[int, int]:
    if height <= max_height:
        return width, height
    scale = max_height / height
    return max(2, int(round(width * scale / 2)) * 2), max_height


class _RgbConverter:
    """frame -> rgb (H, W, 3) uint8 at `size` (W, H), reusing one swscale context.

    frame.to_ndarray(format=...) builds a new swscale context for every frame: at 360x288 that
    costs ~1.5 ms a frame, three times the H.264 decode itself.
    """

    def __init__(self, size: tuple[int, int]):
        self.width, self.height = size
        self._reformatter = VideoReformatter()

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        out = self._reformatter.reformat(frame, format="rgb24", width=self.width, height=self.height)
        img = out.to_ndarray()
        assert img.shape == (self.height, self.width, 3), img.shape
        return img


def iter_video_frames(path: str | os.PathLike, info: MediaInfo | None = None,
                      max_height: int = DEFAULT_MAX_HEIGHT,
                      max_duration_s: float | None = None,
                      warnings: list[str] | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (timeline_index, rgb (H, W, 3) uint8) on the 25 fps timeline, in order.

    Each analysis frame k (time k/25 s) takes the source frame whose timestamp is nearest,
    so 24/29.97/50/60 fps and variable-frame-rate sources stay aligned. Indices without any
    source frame (before the video starts) are skipped: callers mask them, never shift.
    """
    info = info or probe(path)
    if not info.has_video:
        return
    n_max = info.n_frames if max_duration_s is None else int(max_duration_s * VIDEO_FPS)
    with _open(info.path) as c:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        size = _scaled_size(stream.codec_context.width, stream.codec_context.height, max_height)
        to_rgb = _RgbConverter(size)
        nominal = 1.0 / float(stream.average_rate) if stream.average_rate else 1.0 / VIDEO_FPS
        prev_img: np.ndarray | None = None
        prev_t = 0.0
        k = 0  # next timeline index to emit
        try:
            for frame in c.decode(stream):
                t = (float(frame.time) - info.origin_s) if frame.time is not None else prev_t + nominal
                img = to_rgb(frame)
                if prev_img is None:
                    k = max(0, int(math.ceil(t * VIDEO_FPS - 0.5)))  # first slot nearest to t
                else:
                    mid = 0.5 * (prev_t + t)
                    while k < n_max and k / VIDEO_FPS < mid:
                        yield k, prev_img
                        k += 1
                if k >= n_max:
                    break
                prev_img, prev_t = img, t
        except (av.error.FFmpegError, ValueError) as e:
            if warnings is not None:
                warnings.append(f"video stream broke off at {prev_t:.2f} s ({_ffmpeg_reason(e)})")
        if prev_img is not None:
            end = min(n_max, int(math.floor((prev_t + nominal) * VIDEO_FPS + 0.5)))
            while k < max(end, k + 1) and k < n_max:
                yield k, prev_img
                k += 1


def read_frames(path: str | os.PathLike, indices: list[int], info: MediaInfo | None = None,
                max_height: int = DEFAULT_MAX_HEIGHT) -> dict[int, np.ndarray]:
    """Frames at the given 25 fps timeline indices -> {index: rgb (H, W, 3) uint8}.

    For the few key frames of a report: each index seeks to the key frame before it and decodes
    forward to the source frame whose timestamp is nearest to k / 25 s (the rule of
    iter_video_frames), so the cost does not grow with the position in the file. Indices the
    video does not cover are absent from the result.
    """
    info = info or probe(path)
    wanted = sorted({int(k) for k in indices if 0 <= k < max(info.n_frames, 1)})
    if not wanted or not info.has_video:
        return {}
    out: dict[int, np.ndarray] = {}
    with _open(info.path) as c:
        stream = c.streams.video[0]
        to_rgb = _RgbConverter(_scaled_size(stream.codec_context.width, stream.codec_context.height, max_height))
        for k in wanted:
            frame = _nearest_frame(c, stream, info.origin_s + k / VIDEO_FPS)
            if frame is not None:
                out[k] = to_rgb(frame)
    return out


SEEK_MARGIN_S = 1.0  # s: seek this far before the target so the frame just before it is decoded too


def _nearest_frame(c: av.container.InputContainer, stream: av.stream.Stream, t: float) -> av.VideoFrame | None:
    """The decoded frame whose container time is nearest to t (None: no frame decodes)."""
    assert stream.time_base is not None
    try:
        c.seek(max(0, int((t - SEEK_MARGIN_S) / stream.time_base)), stream=stream, backward=True)
        best, best_d = None, math.inf
        for frame in c.decode(stream):
            if frame.time is None:
                continue
            d = abs(float(frame.time) - t)
            if d < best_d:
                best, best_d = frame, d
            if float(frame.time) > t:
                break
        return best
    except (av.error.FFmpegError, ValueError):
        return None


HASH_CHUNK_BYTES = 1 << 20  # read this much at a time when hashing a file


@dataclass(frozen=True)
class FileFacts:
    """What an evidence report states about the file itself: size in bytes, hex SHA-256 of its
    bytes, container format and one line per stream (e.g. "video: h264 256x256 25 fps")."""

    path: str
    size: int
    sha256: str
    format_name: str
    streams: list[str]


def _stream_line(s: av.stream.Stream) -> str:
    try:
        cc = s.codec_context
        codec = cc.name if cc is not None and cc.name else "unknown codec"
    except Exception:  # noqa: BLE001 - PyAV raises assorted errors for unknown codecs
        cc, codec = None, "unknown codec"
    parts = [f"{s.type}: {codec}"]
    if s.type == "video" and cc is not None and cc.width:
        parts.append(f"{cc.width}x{cc.height}")
        if s.average_rate:
            parts.append(f"{float(s.average_rate):.3g} fps")
    elif s.type == "audio" and cc is not None and cc.sample_rate:
        parts.append(f"{cc.sample_rate} Hz, {cc.channels} channel{'s' if cc.channels != 1 else ''}")
    d = _stream_duration(s)
    if d is not None:
        parts.append(f"{d:.2f} s")
    return " ".join(parts[:1]) + (" " + ", ".join(parts[1:]) if len(parts) > 1 else "")


def file_facts(path: str | os.PathLike) -> FileFacts:
    """Size, SHA-256 and streams of a media file (hashes the whole file). Raises MediaError."""
    import hashlib

    path = _check_path(path)
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(HASH_CHUNK_BYTES), b""):
                h.update(chunk)
        size = os.path.getsize(path)
    except OSError as e:
        raise MediaError(f"{path}: cannot be read ({e.strerror or e})") from None
    with _open(path) as c:
        streams = [_stream_line(s) for s in c.streams]
        fmt = c.format.name
    return FileFacts(path, size, h.hexdigest(), fmt, streams)
