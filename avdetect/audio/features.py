"""Pure functions of a 16 kHz mono waveform. Shapes: N samples -> T frames."""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torchaudio

from ..constants import (AUDIO_SAMPLES_PER_FRAME, MEL_FRAMES_PER_VIDEO_FRAME, MEL_HOP, MEL_WIN,
                         N_FFT, N_MELS, SAMPLE_RATE, SPEECH_BAND_HZ)

LOG_FLOOR = 1e-6


@functools.lru_cache(maxsize=4)
def _mel_transform(device: str) -> torchaudio.transforms.MelSpectrogram:
    return torchaudio.transforms.MelSpectrogram(
        sample_rate=SAMPLE_RATE, n_fft=N_FFT, win_length=MEL_WIN, hop_length=MEL_HOP,
        n_mels=N_MELS, f_min=20.0, f_max=SAMPLE_RATE / 2, power=2.0, center=True,
    ).to(device)


def _as_tensor(samples: np.ndarray | torch.Tensor) -> torch.Tensor:
    x = torch.as_tensor(samples, dtype=torch.float32)
    assert x.ndim == 1, f"expected (N,) mono samples, got {tuple(x.shape)}"
    return x


def log_mel(samples: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(..., N) waveform(s) -> (..., T, N_MELS) log-mel at 100 frames/s, T = N // 160 + 1."""
    x = torch.as_tensor(samples, dtype=torch.float32)
    mel = _mel_transform(str(x.device))(x)  # (..., N_MELS, T)
    out = torch.log(mel + LOG_FLOOR).transpose(-1, -2).contiguous()
    assert out.shape == (*x.shape[:-1], x.shape[-1] // MEL_HOP + 1, N_MELS), out.shape
    return out


def n_video_frames(n_samples: int) -> int:
    """Number of 40 ms timeline frames that cover n_samples."""
    return int(math.ceil(n_samples / AUDIO_SAMPLES_PER_FRAME))


ENVELOPE_BLOCK_FRAMES = 1500  # 40 ms frames per STFT block (60 s)


def speech_envelope(samples: np.ndarray | torch.Tensor) -> np.ndarray:
    """(N,) waveform -> (T25,) log energy in the 300-3000 Hz speech band per 40 ms frame.

    Frame k covers samples [k*640, (k+1)*640): the same instants as video frame k.
    """
    x = _as_tensor(samples)
    t25 = n_video_frames(x.shape[0])
    if t25 == 0:
        return np.zeros(0, np.float32)
    total = t25 * AUDIO_SAMPLES_PER_FRAME  # the signal is zero-padded to whole frames
    half = N_FFT // 2  # torch.stft(center=True) pads by reflection; blocks rebuild that at the two ends
    window = torch.hann_window(MEL_WIN)
    freqs = torch.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE)
    band = (freqs >= SPEECH_BAND_HZ[0]) & (freqs <= SPEECH_BAND_HZ[1])
    parts = []
    for a in range(0, t25, ENVELOPE_BLOCK_FRAMES):  # bounded memory on long calls (STFT of 60 s at a time)
        b = min(t25, a + ENVELOPE_BLOCK_FRAMES)
        lo, hi = a * AUDIO_SAMPLES_PER_FRAME - half, b * AUDIO_SAMPLES_PER_FRAME + half
        seg = x[max(0, lo):min(hi, x.shape[0])]
        seg = torch.nn.functional.pad(seg, (0, min(hi, total) - max(lo, 0) - seg.shape[0]))  # the zero tail
        left, right = max(0, -lo), max(0, hi - total)
        if left or right:  # reflection at the signal's ends, as torch.stft(center=True) does
            seg = torch.nn.functional.pad(seg[None, None], (left, right), mode="reflect")[0, 0]
        spec = torch.stft(seg, N_FFT, hop_length=MEL_HOP, win_length=MEL_WIN, window=window,
                          center=False, return_complex=True).abs().pow(2)  # (F, T100 + 1)
        parts.append(spec[band].sum(0)[: (b - a) * MEL_FRAMES_PER_VIDEO_FRAME])  # centred 10 ms frames
    energy = torch.cat(parts).reshape(t25, MEL_FRAMES_PER_VIDEO_FRAME).mean(1)
    return torch.log(energy + LOG_FLOOR).numpy().astype(np.float32)
