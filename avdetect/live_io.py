"""Live audio sources for `avdetect listen`: the streaming side of the I/O boundary (io.py reads
finished files; this reads sources that are still going).

A source is `-` (stdin), a URL PyAV can open (rtp, rtsp, srt, http, ...), a sound device
(`DRIVER:NAME`, DRIVER one of DEVICE_DRIVERS: `alsa:default`, `pulse:default`, `avfoundation::0`,
`dshow:audio=Microphone`; opened through FFmpeg's capture input of that name) or a file that may
still be growing (read on until it stops growing for `follow_s` seconds). The bytes of stdin, a
URL or a file are raw PCM s16le 16 kHz mono (`s16le`) or any container FFmpeg can demux from a
stream (`auto`: wav, ogg, mkv, mpeg-ts, ...; an mp4 whose index sits at the end cannot be
streamed); a device gives whatever rate and channels it captures. Yields (N,) float32 16 kHz mono
chunks, as they arrive.
"""

from __future__ import annotations

import contextlib
import enum
import io as _bytes_io
import os
import re
import sys
import tempfile
import time
from typing import BinaryIO, Iterator

import av
import numpy as np

from .constants import SAMPLE_RATE
from .io import MediaError

RAW_CHUNK_S = 0.1  # s of raw PCM read per chunk (latency floor of a raw source)
FOLLOW_POLL_S = 0.1  # s between looks at a growing file
DEFAULT_FOLLOW_S = 5.0  # s without growth that end a growing file
S16_SCALE = 32768.0
# FFmpeg's audio capture inputs (libavdevice); which of them a build has: av.formats_available
DEVICE_DRIVERS = ("alsa", "pulse", "oss", "jack", "sndio", "openal", "avfoundation", "dshow")
DEFAULT_DEVICE = "default"  # the device name when none follows `DRIVER:`
# The alsa-lib inside PyAV's wheel looks for its configuration where it was built
# (/tmp/vendor/share/alsa/alsa.conf): without ALSA_CONFIG_PATH no device name resolves.
ALSA_CONFIG_ENV = "ALSA_CONFIG_PATH"
LIVE_PROBE_BYTES = 32_768  # bytes FFmpeg may read to identify a live stream (1 s of 16 kHz WAV)
LIVE_ANALYZE_US = 500_000  # us of a live stream FFmpeg may read to find its parameters
LIVE_PROBE_OPTIONS = {"probesize": str(LIVE_PROBE_BYTES), "analyzeduration": str(LIVE_ANALYZE_US)}
SYSTEM_ALSA_CONFIG = "/usr/share/alsa/alsa.conf"
ALSA_CARDS = "/proc/asound/cards"  # the kernel's sound cards (absent: no sound driver loaded)
# alsa-lib writes its errors straight to file descriptor 2: "ALSA lib pcm.c:2722:(snd_pcm_open_noupdate) Unknown PCM x"
NATIVE_LOG_PREFIX = re.compile(r"^ALSA lib \S+:\d+:\(\w+\)\s*")


class SourceFormat(str, enum.Enum):
    s16le = "s16le"  # raw PCM, signed 16-bit little-endian, 16 kHz, mono
    auto = "auto"  # a container FFmpeg probes


class FollowFile(_bytes_io.RawIOBase):
    """A file that may still be growing: at its end, read waits for more bytes; it ends once the
    file has not grown for idle_s seconds."""

    def __init__(self, path: str | os.PathLike, idle_s: float = DEFAULT_FOLLOW_S) -> None:
        self.f = open(path, "rb")  # noqa: SIM115 - closed in close()
        self.idle_s = idle_s

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True  # within what is already written (an mp4 with its index at the end, once complete)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self.f.seek(offset, whence)

    def tell(self) -> int:
        return self.f.tell()

    def readinto(self, buf) -> int:
        waited = 0.0
        while True:
            n = self.f.readinto(buf)
            if n:
                return n
            if waited >= self.idle_s:
                return 0
            time.sleep(FOLLOW_POLL_S)
            waited += FOLLOW_POLL_S

    def close(self) -> None:
        self.f.close()
        super().close()


class DeviceError(MediaError):
    """A sound device that cannot be opened (the CLI exits 2: the command line names it)."""


class ReadAvailable:
    """A pipe handed to FFmpeg: read(n) returns what has already arrived (1 to n bytes) instead of
    waiting for all n. FFmpeg reads 32 KiB at a time, a second of 16 kHz mono WAV: a full read
    held the audio back up to that long (measured: windows 0.1-0.4 s behind, growing)."""

    def __init__(self, pipe: BinaryIO) -> None:
        self.pipe = pipe

    def read(self, n: int = -1) -> bytes:
        return self.pipe.read1(n) if n > 0 else self.pipe.read()


def is_url(source: str) -> bool:
    return "://" in source


def device_spec(source: str) -> tuple[str, str] | None:
    """`DRIVER:NAME` with DRIVER in DEVICE_DRIVERS -> (driver, name; DEFAULT_DEVICE when empty),
    anything else (`-`, a URL, a path) -> None."""
    driver, sep, name = source.partition(":")
    if not sep or is_url(source) or driver not in DEVICE_DRIVERS:
        return None
    return driver, name or DEFAULT_DEVICE


def default_format(source: str) -> "SourceFormat":
    """Raw s16le for `-`, else a container (or device) FFmpeg probes."""
    return SourceFormat.s16le if source == "-" else SourceFormat.auto


@contextlib.contextmanager
def native_stderr_captured() -> Iterator[list[str]]:
    """Within: what native libraries write to file descriptor 2 goes to a list (filled on exit,
    one line per item) instead of the terminal. Python's own sys.stderr is flushed first."""
    sys.stderr.flush()
    lines: list[str] = []
    try:
        saved = os.dup(2)
    except OSError:  # no file descriptor 2 (a detached process): nothing to keep clean
        yield lines
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines += [ln.strip() for ln in sink.read().decode(errors="replace").splitlines() if ln.strip()]


def open_device(source: str):
    """A sound device `DRIVER:NAME` -> an open PyAV input container with an audio stream.

    Raises DeviceError with one line: "no sound device 'alsa:default' (alsa: Unknown PCM default)".
    """
    spec = device_spec(source)
    assert spec is not None, source
    driver, name = spec
    if driver not in av.formats_available:
        have = ", ".join(d for d in DEVICE_DRIVERS if d in av.formats_available) or "none"
        raise DeviceError(f"no sound device {source!r} ({driver}: this FFmpeg build has no {driver} input; "
                          f"its sound inputs: {have})")
    if driver == "alsa" and ALSA_CONFIG_ENV not in os.environ and os.path.isfile(SYSTEM_ALSA_CONFIG):
        os.environ[ALSA_CONFIG_ENV] = SYSTEM_ALSA_CONFIG  # the system's devices (read at each open)
    failure: Exception | None = None
    with native_stderr_captured() as native:
        try:
            container = av.open(name, mode="r", format=driver)
        except (av.FFmpegError, OSError, ValueError) as e:
            failure = e
    if failure is not None:
        said = NATIVE_LOG_PREFIX.sub("", native[-1])[:160] if native else reason(failure)
        if driver == "alsa" and not os.path.exists(ALSA_CARDS):
            said += f"; this machine has no sound card: no {ALSA_CARDS}"
        raise DeviceError(f"no sound device {source!r} ({driver}: {said})")
    if not container.streams.audio:
        container.close()
        raise DeviceError(f"no sound device {source!r} ({driver}: {name} captures no audio)")
    return container


def open_source(source: str, follow_s: float = DEFAULT_FOLLOW_S) -> BinaryIO | str:
    """`-` -> stdin bytes; a URL -> itself (PyAV opens it); a path -> a FollowFile. Raises MediaError."""
    if source == "-":
        return sys.stdin.buffer
    if is_url(source):
        return source
    if not os.path.isfile(source):
        raise MediaError(f"{source}: no such file (give -, a URL or a file)")
    return FollowFile(source, follow_s)


def raw_chunks(stream: BinaryIO, chunk_s: float = RAW_CHUNK_S) -> Iterator[np.ndarray]:
    """Raw s16le 16 kHz mono bytes -> (N,) float32 chunks of about chunk_s (the last may be shorter)."""
    want = 2 * int(chunk_s * SAMPLE_RATE)
    rest = b""
    while True:
        data = stream.read(want - len(rest))
        if not data:
            break
        data = rest + data
        usable = len(data) - len(data) % 2
        rest = data[usable:]
        if usable:
            yield np.frombuffer(data[:usable], "<i2").astype(np.float32) / S16_SCALE


def reason(e: Exception) -> str:
    """FFmpeg's words for an error, on one line."""
    return (getattr(e, "strerror", None) or (str(e).splitlines() or [""])[0])[:160]


def container_chunks(source: BinaryIO | str, name: str) -> Iterator[np.ndarray]:
    """Any container PyAV can demux from a stream or URL -> (N,) float32 16 kHz mono chunks.

    FFmpeg's stream probe reads LIVE_PROBE_BYTES / LIVE_ANALYZE_US of the start (its defaults,
    5 MB and 5 s, held the first window of a live call 1.2 s behind)."""
    try:
        container = av.open(source, mode="r", options=LIVE_PROBE_OPTIONS)
    except (av.FFmpegError, OSError) as e:
        raise MediaError(f"{name}: cannot open the stream ({reason(e)})") from None
    yield from decoded_chunks(container, name)


def decoded_chunks(container, name: str) -> Iterator[np.ndarray]:
    """An open PyAV input container (closed at the end) -> (N,) float32 16 kHz mono chunks."""
    with container:
        if not container.streams.audio:
            raise MediaError(f"{name}: the stream has no audio")
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        try:
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    yield out.to_ndarray().reshape(-1).astype(np.float32) / S16_SCALE
            for out in resampler.resample(None):
                yield out.to_ndarray().reshape(-1).astype(np.float32) / S16_SCALE
        except av.FFmpegError as e:
            raise MediaError(f"{name}: the stream broke off ({reason(e)})") from None


def pcm_chunks(source: str, fmt: SourceFormat | str = SourceFormat.auto,
               follow_s: float = DEFAULT_FOLLOW_S) -> Iterator[np.ndarray]:
    """A live source -> (N,) float32 16 kHz mono chunks as they arrive. Raises MediaError
    (DeviceError for a sound device that cannot be opened)."""
    fmt = SourceFormat(fmt)
    if device_spec(source) is not None:
        if fmt == SourceFormat.s16le:
            raise MediaError(f"{source}: a sound device is read through FFmpeg: use --format auto")
        yield from decoded_chunks(open_device(source), source)
        return
    opened = open_source(source, follow_s)
    if fmt == SourceFormat.s16le:
        if isinstance(opened, str):
            raise MediaError(f"{source}: a URL is read through FFmpeg: use --format auto")
        yield from raw_chunks(opened)
    elif source == "-":
        yield from container_chunks(ReadAvailable(opened), "stdin")
    else:
        yield from container_chunks(opened, source)
