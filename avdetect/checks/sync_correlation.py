"""Training-free lip-sync evidence: cross-correlate mouth opening with the speech envelope.

For a lag L (frames), the visual signal at frame t is compared with the audio at t + L, so a
peak at L = +5 means the sound comes 5 frames (200 ms) after the lips (DESIGN.md's sign).
Both the signals and their first differences (velocities) are correlated, and the two
Pearson curves are averaged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..constants import (FRAME_MS, SYNC_HOP_S, SYNC_MAX_LAG_FRAMES, SYNC_MIN_SPEECH_FRACTION,
                         SYNC_WINDOW_FRAMES, SYNC_WINDOW_MIN_FACE_COVERAGE, VIDEO_FPS)
from ..windows import window_starts

LAGS = np.arange(-SYNC_MAX_LAG_FRAMES, SYNC_MAX_LAG_FRAMES + 1)  # (31,) frames
MIN_PAIRS = 20  # frames that must overlap at a lag for its correlation to count
MIN_CLIP_FRAMES = MIN_PAIRS + SYNC_MAX_LAG_FRAMES  # 35 frames = 1.4 s: shortest clip judged (one short window)
COARSE_SMOOTH_FRAMES = 3  # 120 ms box filter on lip motion and speech activity
REFINE_HALF_WIDTH = 2  # lags each side used for the sub-frame peak fit
ENVELOPE_RANGE = math.log(1e5)  # the envelope is floored 50 dB below its maximum
COARSE_WEIGHT = 0.5  # weight of the coarse (motion <-> activity) curve


@dataclass
class SyncWindow:
    start_frame: int
    curve: np.ndarray  # (31,) correlation per lag, NaN where undefined
    speech_fraction: float
    valid: bool  # enough face and speech to judge


def zscore(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """x (T,), valid (T,) bool -> (T,) float64: x standardised over its valid frames, 0 elsewhere
    (all 0 with fewer than 2 valid frames; a flat signal is only centred)."""
    out = np.zeros_like(x, dtype=np.float64)
    if valid.sum() >= 2:
        v = x[valid]
        sd = v.std()
        out[valid] = (v - v.mean()) / (sd if sd > 1e-8 else 1.0)
    return out


def lag_curve(visual: np.ndarray, vmask: np.ndarray, audio: np.ndarray, amask: np.ndarray,
              start: int, length: int) -> np.ndarray:
    """Correlation of visual[start:start+length] with audio shifted by each lag -> (31,).

    All lags at once: row j pairs visual frame t with audio frame t + LAGS[j]; a lag counts when
    at least MIN_PAIRS frames have both signals (NaN otherwise, and for a flat signal)."""
    v_idx = np.arange(start, start + length)  # (L,)
    a_idx = v_idx[None, :] + LAGS[:, None]  # (31, L)
    inside = (a_idx >= 0) & (a_idx < len(audio))
    a_idx = np.clip(a_idx, 0, max(len(audio) - 1, 0))
    ok = inside & vmask[v_idx][None, :] & amask[a_idx] if len(audio) else np.zeros(a_idx.shape, bool)
    n = ok.sum(1)  # (31,)
    v = np.where(ok, visual[v_idx][None, :], 0.0)
    a = np.where(ok, audio[a_idx], 0.0) if len(audio) else np.zeros(a_idx.shape)
    count = np.maximum(n, 1)[:, None]
    dv = np.where(ok, v - v.sum(1, keepdims=True) / count, 0.0)
    da = np.where(ok, a - a.sum(1, keepdims=True) / count, 0.0)
    den = np.sqrt((dv * dv).sum(1) * (da * da).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (dv * da).sum(1) / den
    return np.where((n >= MIN_PAIRS) & (den > 1e-9), r, np.nan)


def refine_peak(curve: np.ndarray) -> float:
    """Lag (frames) of the curve's maximum, refined by a least-squares parabola over +-2 lags."""
    if not np.isfinite(curve).any():
        return float("nan")
    j = int(np.nanargmax(curve))
    lo, hi = max(0, j - REFINE_HALF_WIDTH), min(len(curve), j + REFINE_HALF_WIDTH + 1)
    x, y = LAGS[lo:hi].astype(np.float64), curve[lo:hi]
    ok = np.isfinite(y)
    if ok.sum() >= 3:
        a, b, _ = np.polyfit(x[ok] - LAGS[j], y[ok], 2)
        if a < 0:
            return float(LAGS[j] + np.clip(-b / (2 * a), -1.0, 1.0))
    return float(LAGS[j])


def curve_confidence(curve: np.ndarray) -> float:
    """Peak height above the curve's median (SyncNet's confidence, on correlations)."""
    if not np.isfinite(curve).any():
        return 0.0
    return float(np.nanmax(curve) - np.nanmedian(curve))


@dataclass
class SyncSignals:
    """Per-frame signals on the timeline, z-scored. Visual (Tv,), audio (Ta,).

    fine pairs: lip height <-> speech envelope, and their velocities (sharp but periodic peaks);
    coarse pair: smoothed lip motion energy <-> smoothed speech activity (broad, unambiguous).
    """

    height: np.ndarray
    d_height: np.ndarray
    motion: np.ndarray
    vmask: np.ndarray
    dmask: np.ndarray
    envelope: np.ndarray
    d_envelope: np.ndarray
    activity: np.ndarray


def make_signals(lips: np.ndarray, face_mask: np.ndarray, envelope: np.ndarray,
                 speech: np.ndarray) -> SyncSignals:
    """lips (Tv, 40, 2) normalised, face_mask (Tv,); envelope, speech (Ta,)."""
    assert lips.ndim == 3 and lips.shape[0] == face_mask.shape[0], lips.shape
    assert envelope.shape == speech.shape
    from ..visual.landmarks import lip_height

    vm = face_mask.astype(bool)
    dm = velocity_mask(vm)
    clean = np.nan_to_num(lips)
    height = np.where(vm, lip_height(clean), 0.0)
    d_height = np.r_[0.0, np.diff(height)] * dm
    motion = np.r_[0.0, np.linalg.norm(np.diff(clean, axis=0), axis=2).sum(1)] * dm
    am = np.ones(len(envelope), bool)
    env = np.maximum(envelope.astype(np.float64), envelope.max() - ENVELOPE_RANGE)
    env = zscore(env, am)
    return SyncSignals(
        height=zscore(height, vm), d_height=zscore(d_height, dm),
        motion=zscore(_smooth(motion), dm), vmask=vm, dmask=dm,
        envelope=env, d_envelope=zscore(np.r_[0.0, np.diff(env)], am),
        activity=zscore(_smooth(speech.astype(np.float64)), am))


def velocity_mask(valid: np.ndarray) -> np.ndarray:
    """(T,) bool -> (T,) bool: frames whose first difference is defined (they and the previous
    frame are valid; never frame 0)."""
    out = valid.copy()
    out[0] = False
    out[1:] &= valid[:-1]
    return out


def _smooth(x: np.ndarray, width: int = COARSE_SMOOTH_FRAMES) -> np.ndarray:
    return np.convolve(x, np.ones(width) / width, mode="same")


def window_curve(sig: SyncSignals, start: int, length: int) -> np.ndarray:
    """(31,) combined correlation curve of one window."""
    am = np.ones(len(sig.envelope), bool)
    c1 = lag_curve(sig.height, sig.vmask, sig.envelope, am, start, length)
    c2 = lag_curve(sig.d_height, sig.dmask, sig.d_envelope, am, start, length)
    c3 = lag_curve(sig.motion, sig.dmask, sig.activity, am, start, length)
    return 0.5 * (c1 + c2) + COARSE_WEIGHT * c3


def correlate(sig: SyncSignals, face_mask: np.ndarray, speech: np.ndarray) -> list[SyncWindow]:
    """One SyncWindow per 2 s window on the 0.5 s grid (no window shifted to end at the clip end;
    a clip of MIN_CLIP_FRAMES to 2 s is one short window); face_mask (Tv,), speech (Ta,) decide
    which are judged."""
    n = min(len(face_mask), len(speech))
    windows = []
    for s in window_starts(n, SYNC_WINDOW_FRAMES, SYNC_HOP_S * VIDEO_FPS, tail=False, min_length=MIN_CLIP_FRAMES):
        length = min(SYNC_WINDOW_FRAMES, n - s)
        curve = window_curve(sig, s, length)
        sp = float(speech[s:s + length].mean())
        cov = float(face_mask[s:s + length].mean())
        valid = sp >= SYNC_MIN_SPEECH_FRACTION and cov >= SYNC_WINDOW_MIN_FACE_COVERAGE and np.isfinite(curve).any()
        windows.append(SyncWindow(s, curve, sp, valid))
    return windows


def clip_curve(sig: SyncSignals) -> np.ndarray:
    """(31,) correlation curve over the whole clip (all frames with a face)."""
    return window_curve(sig, 0, min(len(sig.vmask), len(sig.envelope)))


def lag_to_ms(lag_frames: float) -> float:
    return lag_frames * FRAME_MS
