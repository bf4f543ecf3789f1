"""Training-side Whisper layer port (issue 21 probe): the torch port's last level matches the
shipped CTranslate2 encoder, equalise removes band/level/length cues, the head ignores padding."""

from __future__ import annotations

import numpy as np
import torch

from avdetect.audio.whisper import WhisperEncoder, whisper_log_mel, whisper_model_files
from avdetect.constants import SAMPLE_RATE
from avdetect.training.whisper_layers import (MAX_CLIP_S, TARGET_RMS_DBFS, LayerHead, WhisperLayers, equalise,
                                              rawboost, read_encoder_weights)


def _voice(n: int, seed: int = 0) -> np.ndarray:
    """(n,) float32 buzzy vowel with a 7 kHz whistle and silence at both ends."""
    t = np.arange(n) / SAMPLE_RATE
    x = sum(np.sin(2 * np.pi * 130 * k * t) / k for k in range(1, 30)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    x = 0.1 * x + 0.05 * np.sin(2 * np.pi * 7000 * t)
    x[: n // 5] = 0
    x[-n // 5:] = 0
    return (x + 1e-4 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def test_port_last_level_matches_ctranslate2_encoder():
    n = 2 * SAMPLE_RATE
    audio = torch.from_numpy(_voice(n))[None]
    enc = WhisperLayers(read_encoder_weights(whisper_model_files()["model.bin"]))
    with torch.no_grad():
        states = enc(whisper_log_mel(audio))
    assert states.shape == (8, n // 320, 512)
    ref = WhisperEncoder("cpu", threads=1, pad_to_samples=n)(audio)[0]  # int8 CTranslate2, no padding
    corr = np.corrcoef(states[-1].flatten().numpy(), ref.flatten().numpy())[0, 1]
    assert corr > 0.95, corr
    assert np.corrcoef(states[1].flatten().numpy(), ref.flatten().numpy())[0, 1] < corr  # an early level differs


def test_equalise_trims_cuts_band_limits_and_levels():
    rng = np.random.default_rng(0)
    x = np.tile(_voice(5 * SAMPLE_RATE), 2)
    for gain in (0.05, 1.0):
        y = equalise(gain * x, rng)
        assert len(y) == int(MAX_CLIP_S * SAMPLE_RATE)
        assert abs(20 * np.log10(np.sqrt(np.mean(y ** 2))) - TARGET_RMS_DBFS) < 1.0
        spec = np.abs(np.fft.rfft(y)) ** 2
        f = np.fft.rfftfreq(len(y), 1 / SAMPLE_RATE)
        assert spec[f > 4300].sum() < 1e-4 * spec.sum()  # the 7 kHz whistle is gone
    short = equalise(_voice(SAMPLE_RATE), rng)
    assert len(short) <= 0.85 * SAMPLE_RATE  # the silent 0.2 s at each end are trimmed (0.1 s margin kept)
    assert rawboost(x, rng).shape == x.shape


def test_head_ignores_padding_and_learns_level_weights():
    torch.manual_seed(0)
    head = LayerHead(levels=3, dim=16, hidden=8).eval()
    x = torch.randn(1, 3, 10, 16)
    padded = torch.cat([x, 100 * torch.randn(1, 3, 5, 16)], 2)
    mask = torch.arange(15)[None] < 10
    assert torch.allclose(head(x, torch.ones(1, 10, dtype=torch.bool)), head(padded, mask), atol=1e-5)
    assert torch.allclose(head.level_weights().sum(), torch.tensor(1.0))
