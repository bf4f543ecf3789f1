"""Held-out evaluation of lip-sync scorers in four conditions (see scripts/eval_sync.py).

Conditions built from each held-out clip (lips, audio); `d` frames = audio lags lips by d:
    original           the true pair (label real)
    offset_200/400     +-5 / +-10 frames: lips frames [max(0,d), n+min(0,d)) with the audio
                       of frames [max(0,-d), n-max(0,d))  (both cropped, no padding)
    dubbed             the lips with another held-out clip's audio (other person)
    tts                the lips with a held-out TTS utterance cropped/centred to the clip length
Each fake condition is scored against the same originals: ROC AUC and EER of the
"fake" score, and for offsets the share of clips whose offset estimate is within +-1 frame.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..audio.features import speech_envelope
from ..audio.vad import speech_activity
from ..checks.sync_correlation import LAGS, lag_curve, velocity_mask, zscore
from ..constants import AUDIO_SAMPLES_PER_FRAME
from ..metrics import eer_labels, roc_auc_labels
from ..models.sync import MIN_WINDOW_FRAMES
from ..visual.landmarks import MouthTrack, mouth_opening
from .data import corpus_of, frames_audio
from .sync_corpus import CachedClip

A = AUDIO_SAMPLES_PER_FRAME
OFFSETS_200 = (-5, 5)  # frames = +-200 ms
OFFSETS_400 = (-10, 10)  # frames = +-400 ms


class Condition(str, enum.Enum):
    original = "original"
    offset_200 = "offset_200"
    offset_400 = "offset_400"
    dubbed = "dubbed"
    tts = "tts"


@dataclass
class Trial:
    clip: str
    condition: Condition
    mouth: MouthTrack
    samples: np.ndarray  # (N,) float32
    true_offset: int | None  # frames, None when there is no true offset (dubbed / tts)
    speech: np.ndarray | None = None  # (T25,) bool, filled once by run_trials


@dataclass
class Scored:
    fake: float  # higher = more likely manipulated
    offset_frames: float | None


def mouth_of(clip: CachedClip, lo: int, hi: int) -> MouthTrack:
    lm, mask = clip.landmarks[lo:hi], clip.mask[lo:hi]
    opening = np.where(mask, mouth_opening(np.nan_to_num(lm)), 0.0).astype(np.float32)
    return MouthTrack(lm, mask, opening, 1.0)


def shifted(clip: CachedClip, d: int) -> tuple[MouthTrack, np.ndarray] | None:
    n = clip.n_frames
    if n - abs(d) < MIN_WINDOW_FRAMES:
        return None
    v0, v1 = max(0, d), n + min(0, d)
    return mouth_of(clip, v0, v1), frames_audio(clip.audio, v0 - d, v1 - v0)


def fit_audio(u: np.ndarray, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Crop (random start) or centre-pad a TTS utterance to n_samples."""
    if len(u) >= n_samples:
        s = int(rng.integers(0, len(u) - n_samples + 1))
        return u[s:s + n_samples].astype(np.float32)
    out = np.zeros(n_samples, np.float32)
    s = (n_samples - len(u)) // 2
    out[s:s + len(u)] = u
    return out


def build_trials(clips: list[CachedClip], tts: list[np.ndarray], seed: int = 0) -> list[Trial]:
    rng = np.random.default_rng(seed)
    trials: list[Trial] = []
    half = len(clips) // 2
    for i, c in enumerate(clips):
        n = c.n_frames
        trials.append(Trial(c.name, Condition.original, mouth_of(c, 0, n), frames_audio(c.audio, 0, n), 0))
        for cond, ds in ((Condition.offset_200, OFFSETS_200), (Condition.offset_400, OFFSETS_400)):
            d = int(rng.choice(ds))
            pair = shifted(c, d)
            if pair is not None:
                trials.append(Trial(c.name, cond, *pair, d))
        donor = _donor(clips, i, half)
        m = min(n, donor.n_frames)
        trials.append(Trial(c.name, Condition.dubbed, mouth_of(c, 0, m), frames_audio(donor.audio, 0, m), None))
        u = tts[int(rng.integers(len(tts)))]
        trials.append(Trial(c.name, Condition.tts, mouth_of(c, 0, n), fit_audio(u, n * A, rng), None))
    return trials


def _donor(clips: list[CachedClip], i: int, half: int) -> CachedClip:
    """Another clip of the same corpus far away in the list (another person); multi: next one."""
    same = [c for c in clips if _group(c) == _group(clips[i]) and c is not clips[i]]
    if _group(clips[i]) == "multi":
        return same[i % len(same)]
    return same[(i + len(same) // 2) % len(same)]


def _group(c: CachedClip) -> str:
    return group_of(c.name)


def group_of(name: str) -> str:
    """Corpus of a clip name: "multi" (av/multi, other people) or data.corpus_of's ("wild", "grid",
    "lrc")."""
    return "multi" if "av/multi" in name else corpus_of(name)


def table_by_group(trials: list[Trial], scores: list[Scored]) -> dict[str, dict[str, dict[str, float]]]:
    """table() per corpus (group_of): each group's fakes against that group's originals only."""
    out = {}
    for g in sorted({group_of(t.clip) for t in trials}):
        sel = [(t, s) for t, s in zip(trials, scores) if group_of(t.clip) == g]
        out[g] = table([t for t, _ in sel], [s for _, s in sel])
    return out


Scorer = Callable[[MouthTrack, np.ndarray, np.ndarray], Scored]


def correlation_scorer(mouth: MouthTrack, samples: np.ndarray, speech: np.ndarray) -> Scored:
    """Training-free baseline: the sync_correlation curve over the whole clip (one window,
    opening and velocity curves averaged as in correlate()); fake = -corr at lag 0."""
    env = speech_envelope(samples)
    n = min(len(mouth.opening), len(env))
    vm = mouth.mask[:n].copy()
    v, a = zscore(mouth.opening[:n], vm), zscore(env[:n], np.ones(n, bool))
    dv, da = np.diff(v, prepend=v[:1]), np.diff(a, prepend=a[:1])
    dvm = velocity_mask(vm)
    am = np.ones(n, bool)
    curves = np.stack([lag_curve(v, vm, a, am, 0, n), lag_curve(dv, dvm, da, am, 0, n)])
    c = np.full(len(LAGS), np.nan)
    some = np.isfinite(curves).any(0)
    c[some] = np.nanmean(curves[:, some], 0)
    zero = c[LAGS == 0][0]
    fake = -zero if np.isfinite(zero) else 0.0
    best = float(LAGS[int(np.nanargmax(c))]) if np.isfinite(c).any() else None
    return Scored(float(fake), best)


def run_trials(trials: list[Trial], scorer: Scorer) -> list[Scored]:
    out = []
    for t in trials:
        if t.speech is None:
            t.speech = speech_activity(t.samples)
        out.append(scorer(t.mouth, t.samples, t.speech))
    return out


def table(trials: list[Trial], scores: list[Scored]) -> dict[str, dict[str, float]]:
    """-> {condition: {n, auc, eer, offset_acc}} for every fake condition vs the originals."""
    real = np.array([s.fake for t, s in zip(trials, scores) if t.condition == Condition.original])
    rows = {}
    for cond in list(Condition)[1:]:
        sel = [(t, s) for t, s in zip(trials, scores) if t.condition == cond]
        fake = np.array([s.fake for _, s in sel])
        y = np.r_[np.zeros(len(real)), np.ones(len(fake))]
        sc = np.r_[real, fake]
        row = {"n_fake": len(fake), "n_real": len(real), "auc": roc_auc_labels(sc, y), "eer": eer_labels(sc, y)}
        if cond in (Condition.offset_200, Condition.offset_400):
            ok = [s.offset_frames is not None and abs(s.offset_frames - t.true_offset) <= 1 for t, s in sel]
            row["offset_acc"] = float(np.mean(ok))
        rows[cond.value] = row
    orig = [(t, s) for t, s in zip(trials, scores) if t.condition == Condition.original]
    rows["original"] = {"n": len(orig), "offset_acc": float(np.mean(
        [s.offset_frames is not None and abs(s.offset_frames) <= 1 for _, s in orig]))}
    return rows
