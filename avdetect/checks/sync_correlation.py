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
                         SYNC_WINDOW_FRAMES, VIDEO_FPS)

LAGS = np.arange(-SYNC_MAX_LAG_FRAMES, SYNC_MAX_LAG_FRAMES + 1)  # (31,) frames
MIN_FACE_COVERAGE = 0.8  # a window needs a tracked face in this share of its frames
MIN_PAIRS = 20  # frames that must overlap at a lag for its correlation to count


@dataclass
class SyncWindow:
    start_frame: int
    curve: np.ndarray  # (31,) correlation per lag, NaN where undefined
    speech_fraction: float
    valid: bool  # enough face and speech to judge

    @property
    def best_lag(self) -> float:
        return refine_peak(self.curve)

    @property
    def peak(self) -> float:
        return float(np.nanmax(self.curve)) if np.isfinite(self.curve).any() else float("nan")

    @property
    def confidence(self) -> float:
        return curve_confidence(self.curve)


def _zscore(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    out = np.zeros_like(x, dtype=np.float64)
    if valid.sum() >= 2:
        v = x[valid]
        sd = v.std()
        out[valid] = (v - v.mean()) / (sd if sd > 1e-8 else 1.0)
    return out


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 1e-9 else float("nan")


def lag_curve(visual: np.ndarray, vmask: np.ndarray, audio: np.ndarray, amask: np.ndarray,
              start: int, length: int) -> np.ndarray:
    """Correlation of visual[start:start+length] with audio shifted by each lag -> (31,)."""
    out = np.full(len(LAGS), np.nan)
    v_idx = np.arange(start, start + length)
    for j, lag in enumerate(LAGS):
        a_idx = v_idx + lag
        ok = (a_idx >= 0) & (a_idx < len(audio))
        vi, ai = v_idx[ok], a_idx[ok]
        ok2 = vmask[vi] & amask[ai]
        if ok2.sum() >= MIN_PAIRS:
            out[j] = _corr(visual[vi[ok2]], audio[ai[ok2]])
    return out


def refine_peak(curve: np.ndarray) -> float:
    """Lag (frames) of the curve's maximum with parabolic sub-frame refinement."""
    if not np.isfinite(curve).any():
        return float("nan")
    j = int(np.nanargmax(curve))
    lag = float(LAGS[j])
    if 0 < j < len(curve) - 1 and np.isfinite(curve[j - 1]) and np.isfinite(curve[j + 1]):
        y0, y1, y2 = curve[j - 1], curve[j], curve[j + 1]
        den = y0 - 2 * y1 + y2
        if den < 0:
            lag += float(np.clip(0.5 * (y0 - y2) / den, -0.5, 0.5))
    return lag


def curve_confidence(curve: np.ndarray) -> float:
    """Peak height above the curve's median (SyncNet's confidence, on correlations)."""
    if not np.isfinite(curve).any():
        return 0.0
    return float(np.nanmax(curve) - np.nanmedian(curve))


def window_starts(n_frames: int) -> list[int]:
    """Window k starts at round(k * 0.5 s * 25 fps); the last one ends at the clip end."""
    if n_frames < SYNC_WINDOW_FRAMES:
        return [0] if n_frames >= MIN_PAIRS + SYNC_MAX_LAG_FRAMES else []
    starts, k = [], 0
    while (s := int(round(k * SYNC_HOP_S * VIDEO_FPS))) + SYNC_WINDOW_FRAMES <= n_frames:
        starts.append(s)
        k += 1
    return starts


def correlate(opening: np.ndarray, face_mask: np.ndarray, envelope: np.ndarray,
              speech: np.ndarray) -> list[SyncWindow]:
    """opening, face_mask: (Tv,); envelope, speech: (Ta,). Returns one SyncWindow per window."""
    assert opening.shape == face_mask.shape and envelope.shape == speech.shape
    n = min(len(opening), len(envelope))
    vm = face_mask.copy()
    am = np.ones(len(envelope), bool)
    v = _zscore(opening, vm)
    a = _zscore(envelope, am)
    dv = np.zeros_like(v)
    dv[1:] = np.diff(v)
    dvm = vm.copy()
    dvm[1:] &= vm[:-1]
    dvm[0] = False
    da = np.zeros_like(a)
    da[1:] = np.diff(a)
    windows = []
    for s in window_starts(n):
        length = min(SYNC_WINDOW_FRAMES, n - s)
        c1 = lag_curve(v, vm, a, am, s, length)
        c2 = lag_curve(dv, dvm, da, am, s, length)
        curve = np.nanmean(np.stack([c1, c2]), 0) if np.isfinite(c1).any() else c1
        sp = float(speech[s:s + length].mean())
        cov = float(face_mask[s:s + length].mean())
        valid = sp >= SYNC_MIN_SPEECH_FRACTION and cov >= MIN_FACE_COVERAGE and np.isfinite(curve).any()
        windows.append(SyncWindow(s, curve, sp, valid))
    return windows


def lag_to_ms(lag_frames: float) -> float:
    return lag_frames * FRAME_MS
