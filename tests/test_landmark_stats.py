"""scripts/landmark_stats.py: the clip statistics of training-log section 12 on synthetic tracks."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _module():
    spec = importlib.util.spec_from_file_location("landmark_stats", ROOT / "scripts" / "landmark_stats.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["landmark_stats"] = mod
    spec.loader.exec_module(mod)
    return mod


def _track(modes: int, t: int = 200, seed: int = 0):
    """Lips moving along `modes` independent unit shape directions, each with unit variance."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((80, modes)))[0].T  # (modes, 80) orthonormal
    coef = rng.standard_normal((t, modes))
    lips = (coef @ basis).reshape(t, 40, 2).astype(np.float32)
    opening = (1.0 + 0.3 * coef[:, 0]).astype(np.float32)
    return lips, opening, coef


def test_shape_variety_counts_independent_lip_shapes():
    L = _module()
    speech, face = np.ones(200, bool), np.ones(200, bool)
    one = L.statistics(*_track(1)[:2], face, speech, np.zeros(200))
    three = L.statistics(*_track(3)[:2], face, speech, np.zeros(200))
    assert abs(one["shape_pr"] - 1.0) < 1e-6
    assert 2.6 < three["shape_pr"] <= 3.0


def test_envelope_correlation_finds_a_lag_and_rest_needs_silent_frames():
    L = _module()
    lips, opening, _ = _track(1)
    env = np.roll(opening, 2) + 0.01 * np.random.default_rng(1).standard_normal(200)  # audio 2 frames late
    st = L.statistics(lips, opening, np.ones(200, bool), np.ones(200, bool), env)
    assert st["env_corr"] > 0.95
    assert np.isnan(st["rest_open"])  # no tracked silent frames
    speech = np.arange(200) < 150
    st = L.statistics(lips, opening, np.ones(200, bool), speech, env)
    assert np.isfinite(st["rest_open"])


def test_too_little_speech_with_a_face_is_left_out():
    L = _module()
    lips, opening, _ = _track(1)
    face = np.zeros(200, bool)
    face[:L.MIN_SPEECH_FRAMES - 1] = True
    assert L.statistics(lips, opening, face, np.ones(200, bool), np.zeros(200)) is None
