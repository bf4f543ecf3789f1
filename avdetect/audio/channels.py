"""Transmission channels applied to 16 kHz mono float32 audio: telephone, lossy codecs, noise.

Used for training augmentation and for per-channel evaluation. Every function maps
(N,) float32 at 16 kHz to (M,) float32 at 16 kHz (M close to N; codecs add a few ms of delay).
Codecs run through PyAV (FFmpeg) in memory; nothing touches the disk.
"""

from __future__ import annotations

import enum
import io

import av
import numpy as np
import torch
import torchaudio

from ..constants import SAMPLE_RATE

TELEPHONE_RATE = 8_000  # Hz: narrowband telephone sampling rate
TELEPHONE_BAND_HZ = (300.0, 3_400.0)  # classic POTS pass band


class Channel(str, enum.Enum):
    clean = "clean"
    tel_mulaw = "tel_mulaw"  # 8 kHz G.711 mu-law
    tel_alaw = "tel_alaw"  # 8 kHz G.711 A-law
    tel_amr = "tel_amr"  # 8 kHz AMR-NB 12.2 kbit/s (GSM mobile)
    tel_opus = "tel_opus"  # 8 kHz Opus 12 kbit/s (VoIP)
    mp3 = "mp3"  # 16 kHz MP3 32 kbit/s
    aac = "aac"  # 16 kHz AAC 32 kbit/s


TELEPHONE_CHANNELS = (Channel.tel_mulaw, Channel.tel_alaw, Channel.tel_amr, Channel.tel_opus)

# codec name, container format, sample rate (Hz), bit rate (bit/s or None)
_CODECS: dict[Channel, tuple[str, str, int, int | None]] = {
    Channel.tel_mulaw: ("pcm_mulaw", "wav", TELEPHONE_RATE, None),
    Channel.tel_alaw: ("pcm_alaw", "wav", TELEPHONE_RATE, None),
    Channel.tel_amr: ("libopencore_amrnb", "amr", TELEPHONE_RATE, 12_200),
    Channel.tel_opus: ("libopus", "ogg", TELEPHONE_RATE, 12_000),
    Channel.mp3: ("libmp3lame", "mp3", SAMPLE_RATE, 32_000),
    Channel.aac: ("aac", "adts", SAMPLE_RATE, 32_000),
}


def resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    """(N,) float32 at src Hz -> (N * dst / src,) float32 at dst Hz (windowed sinc)."""
    assert x.ndim == 1, x.shape
    if src == dst:
        return x.astype(np.float32, copy=False)
    y = torchaudio.functional.resample(torch.from_numpy(np.ascontiguousarray(x, np.float32)), src, dst)
    return y.numpy()


def _encode_decode(x: np.ndarray, codec: str, fmt: str, rate: int, bit_rate: int | None) -> np.ndarray:
    """(N,) float32 at `rate` -> the same signal after one encode/decode pass through `codec`."""
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        if bit_rate:
            stream.bit_rate = bit_rate
        fmt_name = stream.codec_context.codec.audio_formats[0].name
        frame = av.AudioFrame.from_ndarray((np.clip(x, -1, 1) * 32767).astype(np.int16)[None], format="s16",
                                           layout="mono")
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=fmt_name, layout="mono", rate=rate)
        for f in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(f):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    buf.seek(0)
    chunks = []
    with av.open(buf, mode="r") as inp:
        back = av.AudioResampler(format="flt", layout="mono", rate=rate)
        for f in inp.decode(audio=0):
            chunks.extend(o.to_ndarray().reshape(-1) for o in back.resample(f))
        chunks.extend(o.to_ndarray().reshape(-1) for o in back.resample(None))
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


def apply_channel(x: np.ndarray, channel: Channel) -> np.ndarray:
    """(N,) float32 16 kHz -> (M,) float32 16 kHz after the channel (telephone = 8 kHz round trip)."""
    assert x.ndim == 1 and x.dtype == np.float32, (x.shape, x.dtype)
    if channel == Channel.clean or len(x) == 0:
        return x
    codec, fmt, rate, bit_rate = _CODECS[channel]
    y = resample(x, SAMPLE_RATE, rate)
    if rate == TELEPHONE_RATE:
        y = bandpass(y, rate, *TELEPHONE_BAND_HZ)
    y = _encode_decode(y, codec, fmt, rate, bit_rate)
    return resample(y, rate, SAMPLE_RATE)


def bandpass(x: np.ndarray, rate: int, lo_hz: float, hi_hz: float) -> np.ndarray:
    """(N,) float32 -> (N,) float32 band-limited with a biquad pair (telephone handset shape)."""
    t = torch.from_numpy(np.ascontiguousarray(x, np.float32))
    t = torchaudio.functional.highpass_biquad(t, rate, lo_hz)
    t = torchaudio.functional.lowpass_biquad(t, rate, min(hi_hz, rate / 2 - 100))
    return t.numpy()


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """(N,) -> (N,) with white-ish (randomly tilted) noise at snr_db relative to the signal power."""
    power = float(np.mean(x ** 2)) + 1e-10
    noise = rng.standard_normal(len(x)).astype(np.float32)
    if rng.random() < 0.5:  # pink-ish: integrate a little
        noise = np.cumsum(noise) * 0.02
        noise -= np.convolve(noise, np.ones(400) / 400, mode="same")
    noise *= np.sqrt(power / (float(np.mean(noise ** 2)) + 1e-10) / 10 ** (snr_db / 10))
    return (x + noise).astype(np.float32)


def normalize_peak(x: np.ndarray, peak: float = 0.9) -> np.ndarray:
    """(N,) -> (N,) scaled so max |x| = peak (silence stays silence)."""
    m = float(np.max(np.abs(x))) if len(x) else 0.0
    return (x * (peak / m)).astype(np.float32) if m > 1e-6 else x.astype(np.float32)
