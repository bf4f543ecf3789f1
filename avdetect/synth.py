"""Generated media for the demo and the tests (nothing is committed; all is made at run time).

A talking face: the astronaut photo shipped with scikit-image, its jaw and lower lip moved by
the loudness envelope of a synthetic voice (a glottal pulse train through vowel formants).
Written with PyAV, so every container detail (frame rate, VFR timestamps, audio start time)
is under the caller's control.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .constants import SAMPLE_RATE

FACE_CROP = (40, 200, 145, 305)  # rows y0:y1, cols x0:x1 of skimage's astronaut() face
FACE_SIZE = 256  # px: the crop is resized to this square
# mouth geometry in the resized crop (from FaceMesh on the still photo)
MOUTH_Y, MOUTH_X0, MOUTH_X1, CHIN_Y = 170, 90, 164, 232
MAX_OPEN_PX = 16
VOWEL_FORMANTS = ((730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480),
                  (570, 840, 2410))  # Hz: a, i, u, e, o (Peterson & Barney)


def face_image() -> np.ndarray:
    """(256, 256, 3) uint8 still face."""
    from skimage import data, transform

    y0, y1, x0, x1 = FACE_CROP
    crop = data.astronaut()[y0:y1, x0:x1]
    out = transform.resize(crop, (FACE_SIZE, FACE_SIZE), order=1, anti_aliasing=True)
    return (out * 255).astype(np.uint8)


def animate_mouth(face: np.ndarray, opening: float) -> np.ndarray:
    """Drop the jaw by opening (0..1) * MAX_OPEN_PX and darken the gap between the lips."""
    a = float(np.clip(opening, 0, 1)) * MAX_OPEN_PX
    if a < 0.5:
        return face
    out = face.copy()
    bottom = CHIN_Y + 20
    xs = np.arange(MOUTH_X0 - 10, MOUTH_X1 + 10)
    taper = np.sin(np.pi * (xs - xs[0] + 1) / (len(xs) + 1))  # 0 at the sides, 1 in the middle
    ys = np.arange(MOUTH_Y, bottom)
    fall = 1 - (ys - MOUTH_Y) / (bottom - MOUTH_Y)  # 1 at the lips, 0 at the chin
    shift = a * fall[:, None] * taper[None, :]
    src = np.clip(np.round(ys[:, None] - shift).astype(int), 0, face.shape[0] - 1)
    out[MOUTH_Y:bottom, xs[0]:xs[-1] + 1] = face[src, xs[None, :]]
    inner = (xs >= MOUTH_X0 + 8) & (xs <= MOUTH_X1 - 8)
    for j in np.nonzero(inner)[0]:
        gap = int(round(a * taper[j] * 0.8))
        out[MOUTH_Y + 1:MOUTH_Y + 1 + gap, xs[j]] = (45, 18, 22)
    return out


def synthetic_speech(duration_s: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A vowel-like voice: syllables and pauses, a smooth glottal source, moving formants.

    Returns (samples (N,) float32 at 16 kHz, loudness (N,) float32 in 0..1).
    """
    from scipy.ndimage import uniform_filter1d

    rng = np.random.default_rng(seed)
    n = int(duration_s * SAMPLE_RATE)
    env, f0 = np.zeros(n), np.full(n, 110.0)
    formants = np.full((n, 3), 500.0)
    t = 0.3 + rng.uniform(0, 0.2)
    while t < duration_s - 0.3:
        if rng.random() < 0.12:  # a pause between phrases
            t += rng.uniform(0.3, 0.6)
            continue
        dur = rng.uniform(0.14, 0.3)
        i0, i1 = int(t * SAMPLE_RATE), min(n, int((t + dur) * SAMPLE_RATE))
        env[i0:i1] = np.sin(np.linspace(0, np.pi, i1 - i0)) ** 1.5 * rng.uniform(0.6, 1.0)
        formants[i0:i1] = VOWEL_FORMANTS[rng.integers(len(VOWEL_FORMANTS))]
        f0[i0:i1] = rng.uniform(100, 150) * np.linspace(1.1, 0.9, i1 - i0)  # falling pitch
        t += dur + rng.uniform(0.03, 0.12)
    formants = uniform_filter1d(formants, int(0.03 * SAMPLE_RATE), axis=0)  # 30 ms transitions
    phase = np.cumsum(uniform_filter1d(f0, int(0.05 * SAMPLE_RATE)) / SAMPLE_RATE) % 1.0
    pulse = np.where(phase < 0.6, 0.5 * (1 - np.cos(np.pi * phase / 0.6)),
                     np.cos(np.pi * (phase - 0.6) / 0.8))  # Rosenberg glottal pulse
    voice = np.diff(_formant_filter(np.diff(pulse, prepend=0) * env, formants), prepend=0)  # lip radiation
    voice = 0.5 * voice / (np.abs(voice).max() + 1e-9) + 0.001 * rng.standard_normal(n)
    return voice.astype(np.float32), env.astype(np.float32)


def _formant_filter(x: np.ndarray, formants: np.ndarray, block: int = 160) -> np.ndarray:
    """Cascade of 3 time-varying resonators, updated every 10 ms. x (N,), formants (N, 3) Hz."""
    from scipy.signal import lfilter

    y = np.zeros_like(x)
    state = [np.zeros(2) for _ in range(3)]
    for b in range(0, len(x), block):
        seg = x[b:b + block]
        for k in range(3):
            r = math.exp(-math.pi * (60 + 40 * k) / SAMPLE_RATE)  # bandwidths 60/100/140 Hz
            c = 2 * r * math.cos(2 * math.pi * formants[b, k] / SAMPLE_RATE)
            seg, state[k] = lfilter([1 - r], [1, -c, r * r], seg, zi=state[k])
        y[b:b + block] = seg
    return y


def write_av(path: str | Path, frames: list[np.ndarray] | None, audio: np.ndarray | None, *,
             fps: float = 25, frame_times: list[float] | None = None,
             audio_start_s: float = 0.0, video_codec: str = "libx264",
             audio_codec: str = "aac", audio_rate: int = SAMPLE_RATE, audio_channels: int = 1) -> Path:
    """Write frames (H, W, 3) uint8 and mono float32 16 kHz audio with exact timestamps.

    frame_times: per-frame timestamps in seconds (variable frame rate); default k / fps.
    audio_start_s: the audio stream's first timestamp (a container-level delay).
    """
    path = Path(path)
    with av.open(str(path), "w") as c:
        vs = as_ = None
        if frames:
            vs = c.add_stream(video_codec, rate=Fraction(fps).limit_denominator(1001))
            vs.width, vs.height = frames[0].shape[1], frames[0].shape[0]
            vs.pix_fmt = "yuv420p"
            vs.codec_context.time_base = Fraction(1, 90000)
            vs.time_base = Fraction(1, 90000)
        if audio is not None:
            as_ = c.add_stream(audio_codec, rate=audio_rate)
            as_.layout = "mono" if audio_channels == 1 else "stereo"
        if vs is not None:
            times = frame_times or [k / fps for k in range(len(frames))]
            for img, t in zip(frames, times):
                fr = av.VideoFrame.from_ndarray(img, format="rgb24")
                fr.pts, fr.time_base = int(round(t * 90000)), Fraction(1, 90000)
                for pkt in vs.encode(fr):
                    c.mux(pkt)
            for pkt in vs.encode(None):
                c.mux(pkt)
        if as_ is not None:
            write_audio_stream(c, as_, audio, audio_start_s, audio_rate, audio_channels)
    return path


def mux_frames(c, stream, frames: list[np.ndarray]) -> None:
    """Encode and mux RGB frames (H, W, 3) uint8 into an added video stream of c at its own frame
    rate, then flush the encoder."""
    for img in frames:
        for pkt in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            c.mux(pkt)
    for pkt in stream.encode(None):
        c.mux(pkt)


def write_audio_stream(c, stream, audio: np.ndarray, start_s: float = 0.0, rate: int = SAMPLE_RATE,
                       channels: int = 1) -> None:
    """Encode and mux (N,) float 16 kHz audio into an added stream of container c, resampled to
    `rate`, the first sample at start_s, then flush the encoder."""
    x = audio.astype(np.float32)
    if rate != SAMPLE_RATE:
        from scipy.signal import resample_poly

        g = math.gcd(rate, SAMPLE_RATE)
        x = resample_poly(x, rate // g, SAMPLE_RATE // g).astype(np.float32)
    x = np.tile(x[None, :], (channels, 1))
    frame_len = stream.codec_context.frame_size or 1024
    start = int(round(start_s * rate))
    for i in range(0, x.shape[1], frame_len):
        chunk = np.ascontiguousarray(x[:, i:i + frame_len])
        fr = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=stream.layout.name)
        fr.sample_rate, fr.pts, fr.time_base = rate, start + i, Fraction(1, rate)
        for pkt in stream.encode(fr):
            c.mux(pkt)
    for pkt in stream.encode(None):
        c.mux(pkt)


def talking_face(duration_s: float = 6.0, fps: float = 25, seed: int = 0,
                 frame_times: list[float] | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    """Frames whose mouth follows the synthetic voice -> (frames, samples (N,) float32 16 kHz)."""
    samples, env = synthetic_speech(duration_s, seed)
    face = face_image()
    times = frame_times or [k / fps for k in range(int(round(duration_s * fps)))]
    frames = []
    for t in times:
        i = min(len(env) - 1, int(t * SAMPLE_RATE))
        lo, hi = max(0, i - 320), min(len(env), i + 320)
        frames.append(animate_mouth(face, float(env[lo:hi].mean()) * 1.3))
    return frames, samples


def delay_audio(samples: np.ndarray, delay_s: float) -> np.ndarray:
    """Shift the sound later (delay > 0) by padding samples; same length as the input."""
    k = int(round(delay_s * SAMPLE_RATE))
    if k >= 0:
        return np.concatenate([np.zeros(k, np.float32), samples])[: len(samples)]
    return np.concatenate([samples[-k:], np.zeros(-k, np.float32)])


def make_demo_clips(out_dir: str | Path, duration_s: float = 8.0) -> list[Path]:
    """An in-sync clip and one whose audio is 400 ms late."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frames, samples = talking_face(duration_s)
    return [write_av(out_dir / "demo_in_sync.mp4", frames, samples),
            write_av(out_dir / "demo_audio_400ms_late.mp4", frames, delay_audio(samples, 0.4))]


def reencode(src: str | Path, dst: str | Path, *, audio_delay_s: float = 0.0, container_delay: bool = False,
             fps: float = 25, vfr_seed: int | None = None) -> Path:
    """Re-encode a real clip with its audio delayed, at another frame rate, or with VFR timestamps.

    audio_delay_s > 0 makes the sound late: by padding samples, or (container_delay) by moving the
    audio stream's start time. fps resamples the 25 fps timeline (nearest frame); vfr_seed draws
    irregular frame times (20-60 ms apart).
    """
    from . import io

    info = io.probe(src)
    clip = io.load_audio(src, info)
    timeline = [img for _, img in io.iter_video_frames(src, info, max_height=10_000)]
    duration = len(timeline) / 25.0
    if vfr_seed is not None:
        rng = np.random.default_rng(vfr_seed)
        times = list(np.cumsum(rng.uniform(0.02, 0.06, int(duration / 0.02) + 2)) - 0.02)
        times = [t for t in times if t < duration]
    else:
        times = [k / fps for k in range(int(round(duration * fps)))]
    frames = [timeline[min(len(timeline) - 1, int(round(t * 25)))] for t in times]
    samples = clip.samples if clip is not None else None
    if samples is not None and not container_delay:
        samples = delay_audio(samples, audio_delay_s)
    return write_av(dst, frames, samples, fps=fps, frame_times=times if vfr_seed is not None else None,
                    audio_start_s=audio_delay_s if container_delay else 0.0)


def splice(dst: str | Path, parts: list[tuple[str | Path, str | Path, float]]) -> Path:
    """Join real clips into one: each part is (video source, audio source, audio delay s).

    A part shows its video source's frames (25 fps timeline) with the audio of its audio source
    (another clip: dubbed), delayed by its delay (> 0: the sound late; padded with silence and cut
    to the part's length). One part with a delay: a constant offset; parts with different delays:
    an offset that changes at the joins (a splice).
    """
    from . import io

    frames, audio = [], []
    for video_src, audio_src, delay_s in parts:
        info = io.probe(video_src)
        part = [img for _, img in io.iter_video_frames(video_src, info, max_height=10_000)]
        n = len(part) * SAMPLE_RATE // 25
        clip = io.load_audio(audio_src)
        x = delay_audio(clip.samples, delay_s)[:n]
        audio.append(np.concatenate([x, np.zeros(n - len(x), np.float32)]))
        frames += part
    return write_av(dst, frames, np.concatenate(audio))
