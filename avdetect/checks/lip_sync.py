"""The lip_sync check: do the lips move with the speech, and by how much is the sound late?

Training-free policy over the correlation evidence of `sync_correlation`:
- offset: |offset| beyond the tolerance of natural speech (100 ms) with a confident peak;
- weak coupling: even the best lag within +-80 ms correlates poorly (audio may be replaced).
score = 100 * max(offset term, WEAK_WEIGHT * weak term), higher = more likely manipulated.
"""

from __future__ import annotations

import numpy as np

from ..constants import SYNC_WINDOW_FRAMES, VIDEO_FPS
from . import sync_correlation as sc
from .base import CheckResult, Segment, Status

OFFSET_TOLERANCE_MS = 100.0  # natural lip-audio asynchrony people do not notice
OFFSET_FULL_MS = 250.0  # offsets this large score fully
CONFIDENCE_FULL = 0.35  # peak-minus-median correlation of a clear peak (GRID median: 0.49)
NEAR_ZERO_LAGS = 2  # frames: +-80 ms counts as "in sync"
WEAK_GOOD = 0.8  # best correlation within +-80 ms of a real clip (GRID 10th percentile: 0.77)
WEAK_SPAN = 0.4
WEAK_WEIGHT = 0.7
CLIP_PRIOR = 0.5  # windows are judged on their curve blended with the clip's (2 s alone is noisy)
MIN_FACE_COVERAGE = 0.5  # share of speech frames that need a tracked face
MIN_FRAMES = sc.MIN_PAIRS + sc.SYNC_MAX_LAG_FRAMES  # 35 frames = 1.4 s


def score_curve(curve: np.ndarray) -> tuple[float, float, float]:
    """(31,) curve -> (score 0-100, offset_ms, confidence)."""
    if not np.isfinite(curve).any():
        return 0.0, float("nan"), 0.0
    offset_ms = sc.lag_to_ms(sc.refine_peak(curve))
    conf = sc.curve_confidence(curve)
    centre = len(curve) // 2
    around = curve[centre - NEAR_ZERO_LAGS:centre + NEAR_ZERO_LAGS + 1]
    near = float(np.nanmax(around)) if np.isfinite(around).any() else 0.0
    off = np.clip((abs(offset_ms) - OFFSET_TOLERANCE_MS) / (OFFSET_FULL_MS - OFFSET_TOLERANCE_MS), 0, 1)
    off *= np.clip(conf / CONFIDENCE_FULL, 0, 1)
    weak = np.clip((WEAK_GOOD - near) / WEAK_SPAN, 0, 1)
    return float(100 * max(off, WEAK_WEIGHT * weak)), offset_ms, conf


def _clock(t: float) -> str:
    m, s = divmod(int(round(t)), 60)
    return f"{m:02d}:{s:02d}"


def describe_offset(offset_ms: float) -> str:
    ms = int(round(abs(offset_ms)))
    return f"the audio lags the lips by {ms} ms" if offset_ms > 0 else f"the lips lag the audio by {ms} ms"


def _reasons(score: float, offset_ms: float, segments: list[Segment], duration_s: float) -> list[str]:
    out = []
    bad = [s for s in segments if s.score >= 50 and abs(s.extra["offset_ms"]) > OFFSET_TOLERANCE_MS]
    if score >= 40 and abs(offset_ms) > OFFSET_TOLERANCE_MS:
        same = [s for s in bad if np.sign(s.extra["offset_ms"]) == np.sign(offset_ms)]
        if same and (same[0].start_s > 0.5 or same[-1].end_s < duration_s - 0.5):
            span = f" from {_clock(same[0].start_s)} to {_clock(same[-1].end_s)}"
        else:
            span = ""
        out.append(f"{describe_offset(offset_ms)}{span}".capitalize())
    elif score >= 40:
        out.append("lip movements do not follow the speech (weak audio-visual correlation at any small offset)"
                   .capitalize())
    return out


def check_lip_sync(lips: np.ndarray | None, face_mask: np.ndarray | None,
                   envelope: np.ndarray | None, speech: np.ndarray | None,
                   has_video: bool, has_audio: bool) -> CheckResult:
    """lips (Tv, 40, 2) + face_mask (Tv,) of the speaking face; envelope, speech (Ta,)."""
    if not has_video:
        return CheckResult.not_applicable("audio-only input: no picture to compare the lips with")
    if not has_audio or envelope is None or speech is None:
        return CheckResult.not_applicable("video has no audio track")
    if lips is None or face_mask is None or not face_mask.any():
        return CheckResult.not_applicable("no face found in the video")
    n = min(len(face_mask), len(envelope))
    if n < MIN_FRAMES:
        return CheckResult.not_applicable(f"too short: {n / VIDEO_FPS:.1f} s (needs {MIN_FRAMES / VIDEO_FPS:.1f} s)")
    if not speech[:n].any():
        return CheckResult.not_applicable("no speech detected")
    if face_mask[:n][speech[:n]].mean() < MIN_FACE_COVERAGE:
        return CheckResult.not_applicable("no face visible while someone speaks")
    signals = sc.make_signals(lips, face_mask, envelope, speech)
    windows = sc.correlate(signals, face_mask, speech)
    clip = sc.clip_curve(signals)
    score, offset_ms, conf = score_curve(clip)
    if not np.isfinite(offset_ms):
        return CheckResult.not_applicable("too little speech with a visible face to judge")
    segments = []
    for w in windows:
        if not w.valid:
            continue
        s, o, c = score_curve((1 - CLIP_PRIOR) * w.curve + CLIP_PRIOR * clip)
        length = min(SYNC_WINDOW_FRAMES, n - w.start_frame)
        segments.append(Segment(w.start_frame / VIDEO_FPS, (w.start_frame + length) / VIDEO_FPS, s,
                                {"offset_ms": round(o), "confidence": round(c, 3)}))
    return CheckResult(
        Status.ok, score, None, segments,
        fields={"offset_ms": int(round(offset_ms)), "confidence": round(conf, 3),
                "method": "correlation"},
        reasons=_reasons(score, offset_ms, segments, n / VIDEO_FPS))
