"""The only module that opens media files.

Everything PyAV (FFmpeg) can demux is accepted. Audio becomes 16 kHz mono float32 and video
frames are placed on a 25 fps analysis timeline by their timestamps.

The timeline is what really decodes. `probe` reads every packet once (no decoding, except the
first frame of each stream) and measures each stream's real extent: first decoded timestamp,
last packet end, packet count. Durations and start times written in headers (container or
stream) are hints, reported in warnings when they disagree, never allocations or loop bounds.
Timeline zero sits on the video's frame grid: the video starts on a whole 40 ms slot and the
audio is placed against it to the sample, so MP4, Matroska, MPEG-TS, FLV and MPEG-PS give the
same alignment whatever start offsets and AAC priming each container keeps.

Video is streamed frame by frame (memory stays bounded for long files); audio is decoded in
packets into one preallocated float32 array (16 kHz mono: 230 MB per hour of media).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Iterator

import av
import av.logging
from av.video.reformatter import VideoReformatter
import numpy as np

from .constants import SAMPLE_RATE, VIDEO_FPS

# No Python log callback: FFmpeg would call it from codec threads, and a callback waiting for
# the GIL while a codec is being freed deadlocks (seen on bit-flipped files). None installs
# PyAV's C no-op callback, which also keeps FFmpeg chatter off stderr (one-line error rule).
av.logging.set_level(None)

DEFAULT_MAX_HEIGHT = 480  # px: frames are downscaled to this height for face tracking
MIN_AUDIO_RATE_HZ = 1_000  # a header rate below this is not a recording (a 1 Hz WAV would resample 16000x)
MAX_AUDIO_RATE_HZ = 768_000
MAX_FRAME_HOLD_S = 0.1  # s: a decoded frame fills timeline slots at most this far from its timestamp
MAX_PACKET_GAP_S = 10.0  # s: a jump between packet timestamps beyond this ends a stream's usable run
MIN_DECODED_SHARE = 0.25  # below this share of a stream's packets decoded: an error, not a warning
WARN_DECODED_SHARE = 0.98  # below this: a warning with the share
MAX_DECODE_ERRORS = 200  # corrupt packets skipped before a stream is given up
FIRST_FRAME_PACKETS = 64  # packets fed to a decoder in probe to find a stream's first frame time
CLAIM_TOLERANCE_S = 1.0  # s: a header duration this far from the real extent earns a warning
AUDIO_SLACK_S = 1.0  # s: audio decoded past its last packet's end is kept up to this (missing packet durations)
MIN_GAP_FOR_SEEK_S = 2.0
CLEAN_BLOCK = 1 << 20  # samples cleaned of NaN and clipped per step
MAX_PRIMING_S = 0.1  # s: audio this little ahead of the first frame starts with the frame (decoder priming)
MAX_AUDIO_LEAD_S = 10.0  # s: audio starting later than this after the video starts the timeline itself  # s: video this far before the timeline start is skipped by seeking


class MediaError(Exception):
    """A file that cannot be analysed; str(error) is a one-line message for the user."""


@dataclass(frozen=True)
class StreamExtent:
    """What one stream really holds, in container seconds (from its packets, not its header)."""

    index: int
    start_s: float  # timestamp of its first decoded frame (first packet when none decodes in probe)
    end_s: float  # end of its last packet within the usable run
    packets: int  # packets in the usable run
    header_frames: int = 0  # packet count the container index claims (0: none)
    dropped_packets: int = 0  # packets outside the usable run (timestamp jumps)
    first_packet_s: float | None = None  # earliest packet timestamp of the run (<= start_s when priming is dropped)
    last_packet_s: float | None = None  # latest packet timestamp of the run
    rotation: int = 0  # video: degrees counter-clockwise from the first frame's display matrix

    @property
    def duration_s(self) -> float:
        return max(0.0, self.end_s - self.start_s)


@dataclass(frozen=True)
class AudioStreamInfo:
    extent: StreamExtent
    rate: int
    channels: int
    codec: str
    language: str = ""


@dataclass(frozen=True)
class MediaInfo:
    """What a container holds. Times are seconds on the analysis timeline (origin = 0)."""

    path: str
    duration_s: float  # real length of the timeline (from the packets)
    has_audio: bool
    has_video: bool
    origin_s: float  # container time of timeline zero
    audio_start_s: float | None = None
    video_start_s: float | None = None
    video_fps: float | None = None  # measured: packets per second of the video's real extent
    width: int | None = None  # display size (pixel aspect ratio and rotation applied)
    height: int | None = None
    audio_rate: int | None = None
    audio_channels: int | None = None
    format_name: str = ""
    claimed_duration_s: float | None = None  # header hint (None: absent or not finite)
    audio_end_s: float | None = None
    video_end_s: float | None = None
    video_packets: int = 0
    video_header_frames: int = 0
    video_index: int | None = None  # container stream index of the video used
    audio_index: int | None = None  # container stream index of the audio used (see with_audio_stream)
    audio_streams: tuple[AudioStreamInfo, ...] = ()
    rotation: int = 0  # degrees counter-clockwise the picture must be turned for display
    pixel_aspect: float = 1.0
    notes: tuple[str, ...] = ()  # header claims that disagree with the packets (for warnings)

    @property
    def n_frames(self) -> int:
        """Length of the 25 fps analysis timeline."""
        return int(math.ceil(self.duration_s * VIDEO_FPS - 1e-6))

    @property
    def overlap_s(self) -> float:
        """Seconds where both audio and video have data (0 when a stream is missing)."""
        if not (self.has_audio and self.has_video):
            return 0.0
        return max(0.0, min(self.audio_end_s or 0.0, self.video_end_s or 0.0)
                   - max(self.audio_start_s or 0.0, self.video_start_s or 0.0))


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
    return (str(msg).splitlines() or [""])[0][:200]


def _decodable(stream: av.stream.Stream) -> bool:
    try:
        return stream.codec_context is not None and stream.codec_context.name is not None
    except Exception:  # noqa: BLE001 - PyAV raises assorted errors for unknown codecs
        return False


def _is_picture(stream: av.stream.Stream) -> bool:
    """Cover art and other attached stills are not video."""
    try:
        flags = int(stream.disposition)
    except (TypeError, ValueError):
        return False
    return bool(flags & (int(av.stream.Disposition.attached_pic) | int(av.stream.Disposition.still_image)))


def _finite(x: float | None) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


class _Run:
    """Packet times of one stream -> its longest run without a jump over MAX_PACKET_GAP_S."""

    def __init__(self) -> None:
        self.best = (0, math.inf, -math.inf, -math.inf)  # (packets, start, end, last time) of the best run
        self.cur = [0, math.inf, -math.inf, -math.inf]
        self.total = 0
        self.last_t: float | None = None

    def add(self, t: float, end: float) -> None:
        self.total += 1
        if self.last_t is not None and abs(t - self.last_t) > MAX_PACKET_GAP_S:
            self._close()
            self.cur = [0, math.inf, -math.inf, -math.inf]
        self.cur[0] += 1
        self.cur[1], self.cur[2], self.cur[3] = min(self.cur[1], t), max(self.cur[2], end), max(self.cur[3], t)
        self.last_t = t

    def _close(self) -> None:
        if self.cur[0] > self.best[0]:
            self.best = tuple(self.cur)

    def result(self) -> tuple[int, float, float, float]:
        self._close()
        return self.best


def _scan(path: str, c: av.container.InputContainer, streams: list[av.stream.Stream]) -> dict[int, StreamExtent]:
    """One pass over the packets of `streams` -> their real extents (container seconds).

    Each stream's decoder sees packets until its first frame appears, so start_s is the first
    decoded timestamp (MP4 drops AAC priming by edit list, other containers keep it).
    """
    runs = {s.index: _Run() for s in streams}
    first: dict[int, float] = {}
    rotation: dict[int, int] = {}
    fed = {s.index: 0 for s in streams}
    for s in streams:
        s.thread_type = "SLICE"
    try:
        for pkt in c.demux(streams):
            ts = pkt.pts if pkt.pts is not None else pkt.dts
            if ts is None or pkt.time_base is None or pkt.size == 0:
                continue
            i = pkt.stream.index
            t = float(ts * pkt.time_base)
            dur = float(pkt.duration * pkt.time_base) if pkt.duration else 0.0
            if not math.isfinite(t):
                continue
            runs[i].add(t, t + max(0.0, dur))
            if i not in first and fed[i] < FIRST_FRAME_PACKETS:
                fed[i] += 1
                try:
                    frames = pkt.stream.codec_context.decode(pkt)
                except (av.error.FFmpegError, ValueError):
                    frames = []
                times = [float(f.time) for f in frames if f.time is not None]
                if times:
                    first[i] = min(times)
                    rotation[i] = _frame_rotation(frames[0])
    except (av.error.FFmpegError, ValueError, OSError):
        pass  # a damaged tail: what came before is the file's real content
    out = {}
    for s in streams:
        n, t0, t1, t_last = runs[s.index].result()
        if n == 0:
            continue
        start = first.get(s.index, t0)
        if not (t0 - MAX_FRAME_HOLD_S <= start <= t1):
            start = t0
        out[s.index] = StreamExtent(s.index, start, max(t1, start), n, max(0, int(s.frames or 0)),
                                    runs[s.index].total - n, t0, t_last, rotation.get(s.index, 0))
    return out


def _claimed_duration(c: av.container.InputContainer) -> float | None:
    d = c.duration
    return None if d is None else _finite(d / 1e6)


def _frame_rotation(frame) -> int:
    """Display rotation of a video frame (degrees counter-clockwise, a multiple of 90; 0 for audio)."""
    try:
        r = float(getattr(frame, "rotation", 0) or 0)
    except (TypeError, ValueError):
        return 0
    return (int(round(r / 90.0)) * 90) % 360 if math.isfinite(r) else 0


def _pixel_aspect(stream: av.stream.Stream) -> float:
    sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
    try:
        r = float(sar) if sar else 1.0
    except (ZeroDivisionError, TypeError, ValueError):
        r = 1.0
    return r if 0.1 <= r <= 10.0 else 1.0


def _grid_origin(a0: float | None, v0: float | None) -> float:
    """Container time of timeline zero, on the video's frame grid (the video starts on a whole
    40 ms slot and audio is placed against it to the sample).

    Audio that starts before the video is kept (zero moves back by whole slots). Audio that
    starts up to MAX_AUDIO_LEAD_S after the video is padded with silence; later than that, the
    timeline starts with the audio (video without sound is not analysed, nothing is padded).
    """
    if v0 is None:
        return a0 or 0.0
    if a0 is None:
        return v0
    slots = (a0 - v0) * VIDEO_FPS
    if slots > MAX_AUDIO_LEAD_S * VIDEO_FPS:
        return v0 + math.floor(slots + 1e-6) / VIDEO_FPS
    if slots >= -MAX_PRIMING_S * VIDEO_FPS:
        return v0  # audio a few ms ahead of the picture is codec priming (AAC 1024 samples), cut
    return v0 - math.ceil(-slots - 1e-6) / VIDEO_FPS


def probe(path: str | os.PathLike) -> MediaInfo:
    """Read the packets once (no full decode) -> MediaInfo. Raises MediaError for unusable files."""
    path = _check_path(path)
    with _open(path) as c:
        videos = [s for s in c.streams.video if _decodable(s) and not _is_picture(s)]
        audios = [s for s in c.streams.audio if _decodable(s)]
        if not videos and not audios:
            kinds = sorted({s.type for s in c.streams}) or ["none"]
            pics = " (only a still picture)" if any(_is_picture(s) for s in c.streams.video) else ""
            raise MediaError(f"{path}: no decodable audio or video stream{pics} (streams: {', '.join(kinds)})")
        for a in audios:
            rate = a.codec_context.sample_rate or 0
            if not (MIN_AUDIO_RATE_HZ <= rate <= MAX_AUDIO_RATE_HZ):
                raise MediaError(f"{path}: audio sample rate {rate} Hz is not a recording rate "
                                 f"({MIN_AUDIO_RATE_HZ}-{MAX_AUDIO_RATE_HZ} Hz); the header is damaged or forged")
        v = videos[0] if videos else None
        extents = _scan(path, c, ([v] if v is not None else []) + audios)
        claimed = _claimed_duration(c)
        fmt = c.format.name
        ve = extents.get(v.index) if v is not None else None
        rotation, aspect, size = 0, 1.0, (None, None)
        if ve is not None:
            rotation, aspect = ve.rotation, _pixel_aspect(v)
            w, h = int(round(v.codec_context.width * aspect)), v.codec_context.height
            size = (h, w) if rotation in (90, 270) else (w, h)
        a_list = tuple(AudioStreamInfo(extents[a.index], a.codec_context.sample_rate, a.codec_context.channels or 1,
                                       a.codec_context.name or "", str(a.metadata.get("language", "")))
                       for a in audios if a.index in extents)
        for kind, declared, ext in [("video", v, ve)] + [("audio", a, extents.get(a.index)) for a in audios]:
            _check_packets(path, kind, int(declared.frames or 0) if declared is not None else 0, ext)
    if ve is None and not a_list:
        raise MediaError(f"{path}: no audio or video packets could be read (truncated or corrupt file)")
    return _info(path, ve, a_list, claimed, fmt, rotation, aspect, size)


def _info(path: str, ve: StreamExtent | None, audios: tuple[AudioStreamInfo, ...], claimed: float | None,
          fmt: str, rotation: int, aspect: float, size: tuple[int | None, int | None],
          audio_index: int | None = None) -> MediaInfo:
    a = next((s for s in audios if s.extent.index == audio_index), audios[0] if audios else None)
    ae = a.extent if a is not None else None
    origin = _grid_origin(ae.start_s if ae else None, ve.start_s if ve else None)
    if ve is not None and ae is not None and ae.end_s > ve.start_s and ve.end_s > ae.start_s:
        end = max(ae.end_s, min(ve.end_s, ae.end_s + MAX_FRAME_HOLD_S))  # video past the audio is not used
    else:
        end = max(e.end_s for e in (ae, ve) if e is not None)
    duration = max(0.0, end - origin)
    notes = []
    if claimed is not None and abs(claimed - duration) > max(CLAIM_TOLERANCE_S, 0.1 * duration):
        notes.append(f"the container header claims {claimed:.6g} s; {duration:.2f} s of media was found")
    fps = None
    if ve is not None:
        span = (ve.last_packet_s or ve.end_s) - (ve.first_packet_s if ve.first_packet_s is not None else ve.start_s)
        fps = (ve.packets - 1) / span if ve.packets > 1 and span > 0 else 0.0
    return MediaInfo(
        path=path, duration_s=duration, has_audio=ae is not None, has_video=ve is not None, origin_s=origin,
        audio_start_s=(ae.start_s - origin) if ae else None,
        video_start_s=(ve.start_s - origin) if ve else None,
        video_fps=fps, width=size[0], height=size[1],
        audio_rate=a.rate if a else None, audio_channels=a.channels if a else None, format_name=fmt,
        claimed_duration_s=claimed,
        audio_end_s=(ae.end_s - origin) if ae else None, video_end_s=(ve.end_s - origin) if ve else None,
        video_packets=ve.packets if ve else 0, video_header_frames=ve.header_frames if ve else 0,
        video_index=ve.index if ve else None, audio_index=ae.index if ae else None, audio_streams=audios,
        rotation=rotation, pixel_aspect=aspect, notes=tuple(notes))


def with_audio_stream(info: MediaInfo, index: int) -> MediaInfo:
    """The same file with another of its audio streams on the timeline (index: container stream index)."""
    assert any(a.extent.index == index for a in info.audio_streams), (index, info.audio_streams)
    ve = None
    if info.has_video:
        ve = StreamExtent(info.video_index, info.video_start_s + info.origin_s, info.video_end_s + info.origin_s,
                          info.video_packets, info.video_header_frames, 0, info.video_start_s + info.origin_s,
                          info.video_start_s + info.origin_s + (info.video_packets - 1) / info.video_fps
                          if info.video_fps else None, info.rotation)
    return _info(info.path, ve, info.audio_streams, info.claimed_duration_s, info.format_name, info.rotation,
                 info.pixel_aspect, (info.width, info.height), audio_index=index)


def check_overlap(info: MediaInfo) -> None:
    """Raise MediaError when the file has audio and video that never play at the same time."""
    if info.has_audio and info.has_video and info.overlap_s <= 0:
        raise MediaError(
            f"{info.path}: audio and video do not overlap (audio {info.audio_start_s:.2f}-{info.audio_end_s:.2f} s, "
            f"video {info.video_start_s:.2f}-{info.video_end_s:.2f} s)")


def _check_packets(path: str, kind: str, declared: int, ext: StreamExtent | None) -> None:
    """MediaError when the container's index lists packets the file no longer holds (truncation):
    fewer than MIN_DECODED_SHARE of them can be read. (The share decoded is warned about later.)"""
    found = ext.packets if ext is not None else 0
    if declared > 0 and found < MIN_DECODED_SHARE * declared:
        raise MediaError(f"{path}: only {100 * found / declared:.0f} % of the {kind} is in the file "
                         f"({found} of the {declared} packets its index lists): the file is truncated")


def _share_warning(path: str, kind: str, done: float, total: float, unit: str, why: str) -> str | None:
    """A warning when a stream decoded only partly; MediaError when too little of it decodes."""
    if total <= 0:
        return None
    share = min(1.0, done / total)
    if share >= WARN_DECODED_SHARE:
        return None
    msg = (f"only {100 * share:.0f} % of the {kind} decoded ({done:.0f} of {total:.0f} {unit}; "
           f"{why})")
    if share < MIN_DECODED_SHARE:
        raise MediaError(f"{path}: {msg}")
    return msg


def _audio_stream(c: av.container.InputContainer, index: int) -> av.stream.Stream:
    return next(s for s in c.streams.audio if s.index == index)


def load_audio(path: str | os.PathLike, info: MediaInfo | None = None,
               max_duration_s: float | None = None) -> AudioClip | None:
    """Decode the audio stream `info.audio_index` to 16 kHz mono float32 placed on the timeline.

    Returns None for a file without audio. Corrupt packets are skipped; a stream that decodes
    only partly keeps what was decoded and says so in `warnings` (MediaError below
    MIN_DECODED_SHARE of its packets).
    """
    info = info or probe(path)
    if not info.has_audio:
        return None
    ext = next(a.extent for a in info.audio_streams if a.extent.index == info.audio_index)
    t_end = ext.end_s - info.origin_s + AUDIO_SLACK_S
    if max_duration_s is not None:
        t_end = min(t_end, max_duration_s)
    cap = max(0, int(math.ceil(t_end * SAMPLE_RATE)))
    out = np.zeros(cap, np.float32)
    lead = int(round(((info.audio_start_s or 0.0)) * SAMPLE_RATE))  # first decoded frame's slot
    pos, n_packets, errors = lead, 0, 0
    warnings: list[str] = []
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    t_lo = min(ext.start_s, ext.first_packet_s if ext.first_packet_s is not None else ext.start_s) - AUDIO_SLACK_S
    t_hi = ext.end_s + AUDIO_SLACK_S
    with _open(info.path) as c:
        stream = _audio_stream(c, info.audio_index)
        try:
            for pkt in c.demux(stream):
                if pkt.size == 0:
                    continue
                t = float(pkt.pts * pkt.time_base) if pkt.pts is not None and pkt.time_base else None
                if t is not None and not (t_lo <= t <= t_hi):
                    continue  # outside the stream's usable run (a timestamp jump)
                try:
                    frames = stream.codec_context.decode(pkt)
                except (av.error.FFmpegError, ValueError):
                    errors += 1
                    if errors > MAX_DECODE_ERRORS:
                        break
                    continue
                n_packets += 1
                for frame in frames:
                    pos = _put(out, pos, resampler.resample(frame))
                if pos >= cap:
                    break
            pos = _put(out, pos, resampler.resample(None))
        except (av.error.FFmpegError, ValueError, OSError) as e:
            warnings.append(f"audio stream broke off after {max(0, pos - lead) / SAMPLE_RATE:.2f} s "
                            f"({_ffmpeg_reason(e)})")
    if n_packets == 0:
        raise MediaError(f"{info.path}: audio stream could not be decoded"
                         + (f" ({warnings[0]})" if warnings else ""))
    why = f"{errors} corrupt packets skipped" if errors else "the file is truncated or corrupt"
    total = max(ext.packets, ext.header_frames) if max_duration_s is None else 0
    w = _share_warning(info.path, "audio", n_packets, total, "packets", why)
    if w:
        warnings.append(w)
    samples = out[:max(0, min(pos, cap))]
    for k in range(0, len(samples), CLEAN_BLOCK):  # in blocks: whole-array temporaries double a long call's memory
        block = samples[k:k + CLEAN_BLOCK]
        if not np.isfinite(block).all():
            raise MediaError(f"{info.path}: the audio has NaN or infinite samples")
        np.clip(block, -1.0, 1.0, out=block)
    return AudioClip(np.ascontiguousarray(samples), warnings=warnings)


def _put(out: np.ndarray, pos: int, frames: list) -> int:
    """Write resampled frames into out (N,) from pos; returns the new position (capped at len(out))."""
    for f in frames:
        x = f.to_ndarray().reshape(-1)
        skip = max(0, -pos)  # samples before timeline zero
        n = max(0, min(len(x), len(out) - pos) - skip)
        if n:
            out[pos + skip:pos + skip + n] = x[skip:skip + n]
        pos += len(x)
        if pos >= len(out):
            return len(out)
    return pos


def _scaled_size(width: int, height: int, max_height: int) -> tuple[int, int]:
    if height <= max_height:
        return max(2, width), max(2, height)
    scale = max_height / height
    return max(2, int(round(width * scale / 2)) * 2), max_height


class _RgbConverter:
    """frame -> rgb (H, W, 3) uint8 at `size` (W, H) before rotation, reusing one swscale context.

    frame.to_ndarray(format=...) builds a new swscale context for every frame: at 360x288 that
    costs ~1.5 ms a frame, three times the H.264 decode itself. `size` already includes the
    pixel aspect ratio; `rotation` (degrees counter-clockwise) turns the picture upright.
    """

    def __init__(self, size: tuple[int, int], rotation: int = 0):
        self.width, self.height = size
        self.turns = (rotation // 90) % 4
        self._reformatter = VideoReformatter()

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        out = self._reformatter.reformat(frame, format="rgb24", width=self.width, height=self.height)
        img = out.to_ndarray()
        assert img.shape == (self.height, self.width, 3), img.shape
        return np.ascontiguousarray(np.rot90(img, self.turns)) if self.turns else img


def _converter(stream: av.stream.Stream, info: MediaInfo, max_height: int) -> _RgbConverter:
    w = int(round(stream.codec_context.width * info.pixel_aspect))
    h = stream.codec_context.height
    if info.rotation in (90, 270):  # limit the displayed height: the stored width after turning
        sw, sh = _scaled_size(h, w, max_height)
        return _RgbConverter((sh, sw), info.rotation)
    return _RgbConverter(_scaled_size(w, h, max_height), info.rotation)


def _video_stream(c: av.container.InputContainer, info: MediaInfo) -> av.stream.Stream:
    return next(s for s in c.streams.video if s.index == info.video_index)


def iter_video_frames(path: str | os.PathLike, info: MediaInfo | None = None,
                      max_height: int = DEFAULT_MAX_HEIGHT,
                      max_duration_s: float | None = None,
                      warnings: list[str] | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (timeline_index, rgb (H, W, 3) uint8) on the 25 fps timeline, in order.

    Each analysis slot k (time k/25 s) takes the decoded frame whose timestamp is nearest, if
    one lies within MAX_FRAME_HOLD_S, so 24/29.97/50/60 fps and variable-frame-rate sources stay
    aligned. Slots without such a frame (before the video starts, after its last decoded frame,
    across gaps) are skipped: callers mask them, never shift. Corrupt packets are skipped;
    the share decoded goes into `warnings` (MediaError below MIN_DECODED_SHARE).
    """
    info = info or probe(path)
    if not info.has_video:
        return
    n_max = info.n_frames if max_duration_s is None else min(info.n_frames, int(max_duration_s * VIDEO_FPS))
    hold = int(round(MAX_FRAME_HOLD_S * VIDEO_FPS))  # slots
    decoded, errors = 0, 0
    with _open(info.path) as c:
        stream = _video_stream(c, info)
        stream.thread_type = "AUTO"
        to_rgb = _converter(stream, info, max_height)
        if (info.video_start_s or 0.0) < -MIN_GAP_FOR_SEEK_S and stream.time_base is not None:
            try:
                c.seek(int(info.origin_s / stream.time_base), stream=stream, backward=True)
            except (av.error.FFmpegError, ValueError):
                pass
        prev: tuple[float, np.ndarray] | None = None  # (time, image) of the last decoded frame
        step = 1.0 / VIDEO_FPS  # s: the last frame's own duration, from the frame spacing seen
        k = 0  # next timeline index to emit
        for frame in _frames(c, stream, warnings):
            if isinstance(frame, int):
                errors = frame
                continue
            if frame.time is None or not math.isfinite(float(frame.time)):
                continue
            t = float(frame.time) - info.origin_s
            if t < -MAX_FRAME_HOLD_S or (prev is not None and t <= prev[0]):
                continue  # before the timeline, or out of order
            if t * VIDEO_FPS - hold >= n_max:
                break
            decoded += 1
            img = to_rgb(frame)
            if prev is None:
                k = max(0, int(math.ceil(t * VIDEO_FPS - 0.5)))  # first slot nearest to t
            else:
                mid = 0.5 * (prev[0] + t)
                k = yield from _fill(prev, k, min(n_max, int(math.floor(mid * VIDEO_FPS - 1e-9)) + 1), hold)
                step = min(MAX_FRAME_HOLD_S, t - prev[0])
            if k >= n_max:
                break
            prev = (t, img)
        if prev is not None:
            end = min(n_max, int(math.ceil((prev[0] + step) * VIDEO_FPS - 1e-6)))  # slots before its end
            yield from _fill(prev, k, end, hold)
    if warnings is not None and max_duration_s is None:
        why = f"{errors} corrupt packets skipped" if errors else "the file is truncated or corrupt"
        total = max(info.video_packets, info.video_header_frames)
        w = _share_warning(info.path, "video", decoded, total, "frames", why)
        if w:
            warnings.append(w)


def _fill(prev: tuple[float, np.ndarray], k: int, end: int, hold: int):
    """Emit prev's image at slots k..end-1 that lie within `hold` slots of its time; -> next k (= end)."""
    t, img = prev
    k = max(k, int(math.ceil(t * VIDEO_FPS)) - hold)
    last = min(end, int(math.floor(t * VIDEO_FPS)) + hold + 1)
    while k < last:
        yield k, img
        k += 1
    return max(k, end)


def _frames(c: av.container.InputContainer, stream: av.stream.Stream, warnings: list[str] | None):
    """Decoded frames of `stream`, skipping corrupt packets; yields the error count (int) when it grows."""
    errors = 0
    try:
        for pkt in c.demux(stream):
            try:
                frames = stream.codec_context.decode(pkt)
            except (av.error.FFmpegError, ValueError):
                errors += 1
                yield errors
                if errors > MAX_DECODE_ERRORS:
                    return
                continue
            yield from frames
    except (av.error.FFmpegError, ValueError, OSError) as e:
        if warnings is not None:
            warnings.append(f"video stream broke off ({_ffmpeg_reason(e)})")


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
        stream = _video_stream(c, info)
        to_rgb = _converter(stream, info, max_height)
        for k in wanted:
            frame = _nearest_frame(c, stream, info.origin_s + k / VIDEO_FPS)
            if frame is not None and abs(float(frame.time) - info.origin_s - k / VIDEO_FPS) <= MAX_FRAME_HOLD_S:
                out[k] = to_rgb(frame)
    return out


SEEK_MARGIN_S = 1.0  # s: seek this far before the target so the frame just before it is decoded too
SEEK_MAX_FRAMES = 1_000  # frames decoded after one seek at most (a damaged index cannot make it a full decode)


def _nearest_frame(c: av.container.InputContainer, stream: av.stream.Stream, t: float) -> av.VideoFrame | None:
    """The decoded frame whose container time is nearest to t (None: no frame decodes)."""
    if stream.time_base is None:
        return None
    try:
        c.seek(max(0, int((t - SEEK_MARGIN_S) / stream.time_base)), stream=stream, backward=True)
        best, best_d = None, math.inf
        for i, frame in enumerate(c.decode(stream)):
            if i > SEEK_MAX_FRAMES:
                break
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
    if s.duration and s.time_base:  # what the header claims (the scan measures what decodes)
        parts.append(f"{float(s.duration * s.time_base):.2f} s")
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
