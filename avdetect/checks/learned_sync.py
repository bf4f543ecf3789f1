"""Learned lip-sync evidence: the sync transformer over 2 s windows, batched.

    model = load_model()                                       # the shipped weights, verified
    res = score_learned_sync(mouth, samples, speech, model=model)   # LearnedSync
    res.p_sync, res.offset_ms, res.windows

Windows follow the training-free check's grid (SYNC_WINDOW_FRAMES, SYNC_HOP_S) for log-mel
models and a 2 s hop for Whisper models (WINDOW_HOP_S); a clip
shorter than one window but at least MIN_WINDOW_FRAMES long is judged as one window. The
clip-level values aggregate the windows with speech and a tracked face (`judged`); when
there are none, all windows are used and `n_judged` is 0 so a caller can say not_applicable.
offset_ms follows DESIGN.md: +200 = the sound comes 200 ms after the lips.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..constants import (AUDIO_SAMPLES_PER_FRAME, FRAME_MS, REALIGNED_MIN_P_SYNC, SYNC_HOP_S,
                         SYNC_MIN_SPEECH_FRACTION, SYNC_WINDOW_FRAMES, SYNC_WINDOW_MIN_FACE_COVERAGE, VIDEO_FPS)
from ..models.store import model_dir as shipped_model_dir
from ..models.sync import (MIN_WINDOW_FRAMES, AudioFrontend, SyncConfig, SyncTransformer, window_audio,
                           window_features)
from ..models.sync import load_model as load_sync_model
from ..visual.landmarks import MouthTrack
from ..windows import window_starts

MODEL_ENV = "AVDETECT_SYNC_MODEL"  # overrides the weights' stem (path without suffix)
MAX_BATCH_WINDOWS = 256  # windows per forward pass (bounds memory on long media)
# The Whisper front end costs ~10-17 ms per 2 s window on 2 CPU cores (int8), the log-mel one ~0.2 ms,
# so Whisper models get windows that do not overlap (each second of audio encoded once, not four
# times; a 1 s hop still cost 22 % of feature extraction on a 30 s clip) and scan fewer windows.
WINDOW_HOP_S = {AudioFrontend.logmel: SYNC_HOP_S, AudioFrontend.whisper: 2.0}
# offset scan: at most this many judged windows (evenly spread) x 17 shifts
SCAN_MAX_WINDOWS = {AudioFrontend.logmel: 8, AudioFrontend.whisper: 4}
SHIFTS_PER_SCAN = 17  # passes per scanned window: 15 coarse (every other of 31 shifts) + 2 fine
# the other doubted windows (clips over ~10 s) are scored at the plausible offsets the scanned
# windows found (at most SCAN_MAX_WINDOWS of them), so a change of offset (a splice) shows on every
# window; at most this many extra window passes: half the full scan's
EXTRA_SCAN_PASSES = {k: SHIFTS_PER_SCAN * n // 2 for k, n in SCAN_MAX_WINDOWS.items()}
# lip_sync caps a clip with fewer judged windows at "suspicious". A sparse grid must not judge
# less than the 0.5 s grid would: a 3 s clip with its audio 400 ms early has too little speech in
# its 1-3 s window, so windows from the 0.5 s grid are added until this many are judged.
MIN_JUDGED_FOR_FAKE = 2
# auto: scan when p_sync <= this (lip_sync score >= 40, fusion's "suspicious"). On 3 s GRID clips
# the scan finds a 200/400 ms delay within +-40 ms for 0.97-0.98 of clips, the head for 0.1-0.5;
# on 1.2 s clips (a 30-frame window, 10 of them shifted out) the head is better (+-400 ms within
# one frame: 0.86 vs 0.33 on the held-out test split).
SCAN_BELOW_P = 0.6


class OffsetMethod(str, enum.Enum):
    """head: the offset classifier (one pass). scan: p_sync with the audio re-aligned by each
    candidate offset, argmax over offsets (SyncNet-style; 17 passes over <= 8 windows,
    coarse to fine).
    auto: scan the clips the model doubts (p_sync <= SCAN_BELOW_P) when they have full 2 s
    windows, head otherwise, so a clip judged in sync costs nothing extra."""

    auto = "auto"
    head = "head"
    scan = "scan"


@dataclass
class WindowSync:
    start_s: float
    end_s: float
    p_sync: float  # probability that lips and audio belong together at offset 0
    offset_ms: float  # most likely offset in this window
    speech_fraction: float
    face_coverage: float
    judged: bool  # enough speech and face to count in the clip-level result
    p_aligned: float | None = None  # scanned windows: p_sync at offset_ms (None: not scanned)


@dataclass
class LearnedSync:
    windows: list[WindowSync] = field(default_factory=list)
    p_sync: float | None = None  # None: clip too short for a window
    offset_ms: float | None = None
    offset_confidence: float | None = None  # head: mean probability of the offset class; scan: mean p_sync there
    n_judged: int = 0
    offset_method: OffsetMethod = OffsetMethod.head  # which estimator gave offset_ms
    # scan only: the mean p_sync of the scanned windows per shift tried (ms, + = audio moved later)
    scan_curve: list[tuple[float, float]] = field(default_factory=list)


def model_stem(model_dir: str | os.PathLike | None = None) -> Path:
    """$AVDETECT_SYNC_MODEL, else "sync" in model_dir (None: the shipped weights' folder)."""
    if os.environ.get(MODEL_ENV):
        return Path(os.environ[MODEL_ENV])
    return Path(model_dir or shipped_model_dir()) / "sync"


def load_model(model_dir: str | os.PathLike | None = None, device: str = "cpu") -> SyncTransformer:
    """The sync model (and its audio front end) loaded and verified; raises ModelFileError."""
    model = load_sync_model(model_stem(model_dir), device)
    if AudioFrontend(model.cfg.audio_frontend) == AudioFrontend.whisper:
        from ..audio.whisper import whisper_encoder

        whisper_encoder(device)  # load the encoder now: a missing wheel fails here, not mid-scan
    return model


def _inputs(mouth: MouthTrack, samples: np.ndarray, starts: list[int], length: int):
    idx = np.asarray(starts)[:, None] + np.arange(length)[None]  # (W, L)
    lips = torch.from_numpy(mouth.landmarks[idx])  # (W, L, 40, 2)
    valid = torch.from_numpy(mouth.mask[idx])
    audio = torch.from_numpy(window_audio(samples, starts, length))  # (W, L * 640)
    return lips, valid, audio


@torch.no_grad()
def _run(model: SyncTransformer, lips, valid, audio, device: str) -> tuple[np.ndarray, np.ndarray]:
    """-> p_sync (W,), offset probabilities (W, 31)."""
    ps, probs = [], []
    for i in range(0, len(lips), MAX_BATCH_WINDOWS):
        sl = slice(i, i + MAX_BATCH_WINDOWS)
        mel = window_features(model.cfg, audio[sl], device)
        fv = torch.ones(valid[sl].shape, dtype=torch.bool, device=device)
        s, o = model(lips[sl].to(device), valid[sl].to(device), mel, fv)
        ps.append(model.calibration(s).cpu())
        probs.append(torch.softmax(o, -1).cpu())
    return torch.cat(ps).numpy(), torch.cat(probs).numpy()


@dataclass
class _Job:
    """One clip's windows, ready for the model: lips (W, L, 40, 2), valid (W, L), audio (W, L * 640)."""

    lips: torch.Tensor
    valid: torch.Tensor
    audio: torch.Tensor
    starts: list[int]
    length: int
    padded: np.ndarray  # (n * 640,) audio cut or zero-padded to the video's n frames
    speech: np.ndarray  # (n,) bool
    face: np.ndarray  # (n,) bool


def _prepare(mouth: MouthTrack, samples: np.ndarray, speech: np.ndarray, cfg: SyncConfig) -> _Job | None:
    """The windows of one clip; None when it is shorter than one window."""
    assert samples.ndim == 1 and samples.dtype == np.float32, samples.shape
    assert speech.ndim == 1, speech.shape
    # only frames fully covered by audio, as in training (CachedClip.n_frames): a zero-padded
    # partial last frame looked like the padded TTS negatives and pushed real 1.2 s clips
    # from p_sync 0.81 to 0.12
    n = min(len(mouth.mask), len(samples) // AUDIO_SAMPLES_PER_FRAME)
    length = min(SYNC_WINDOW_FRAMES, cfg.max_frames, n)
    if length < MIN_WINDOW_FRAMES:
        return None
    padded = np.zeros(n * AUDIO_SAMPLES_PER_FRAME, np.float32)
    padded[: min(len(samples), len(padded))] = samples[: len(padded)]
    sp = np.zeros(n, bool)
    sp[: min(n, len(speech))] = speech[:n]
    starts = plan_windows(n, length, WINDOW_HOP_S[AudioFrontend(cfg.audio_frontend)], sp, mouth.mask[:n])
    return _Job(*_inputs(mouth, padded, starts, length), starts, length, padded, sp, mouth.mask[:n])


def _judged(speech_fraction: float, face_coverage: float) -> bool:
    """A window counts in the clip result: enough speech and a tracked face."""
    return bool(speech_fraction >= SYNC_MIN_SPEECH_FRACTION and face_coverage >= SYNC_WINDOW_MIN_FACE_COVERAGE)


def plan_windows(n: int, length: int, hop_s: float, speech: np.ndarray, face: np.ndarray) -> list[int]:
    """n frames, window length (frames), hop_s, speech (n,) bool, face (n,) bool -> window starts.

    Starts on the hop_s grid (plus one window ending at n); when fewer than MIN_JUDGED_FOR_FAKE
    of them are judged, add judged windows of the 0.5 s grid, each as far as possible from those
    already judged."""
    def judged(s: int) -> bool:
        return _judged(speech[s:s + length].mean(), face[s:s + length].mean())

    starts = window_starts(n, length, hop_s * VIDEO_FPS)
    ok = [s for s in starts if judged(s)]
    spare = [s for s in window_starts(n, length, SYNC_HOP_S * VIDEO_FPS) if s not in starts and judged(s)]
    while len(ok) < MIN_JUDGED_FOR_FAKE and spare:
        far = max(spare, key=lambda s: min((abs(s - o) for o in ok), default=n))
        ok.append(far)
        spare.remove(far)
        starts.append(far)
    return sorted(starts)


def score_learned_sync_many(clips: list[tuple[MouthTrack, np.ndarray, np.ndarray]], device: str = "cpu", *,
                            model: SyncTransformer,
                            offset_method: OffsetMethod = OffsetMethod.auto) -> list[LearnedSync]:
    """[(mouth, samples, speech)] -> one LearnedSync per clip; the windows of all clips that share a
    window length go through the model together (in passes of at most MAX_BATCH_WINDOWS)."""
    jobs = [_prepare(m, x, sp, model.cfg) for m, x, sp in clips]
    out = _score_jobs(jobs, model, device)
    for job, res in zip(jobs, out):
        if job is not None and _wants_scan(job, res, offset_method):
            _scan_into(res, job, model, device)
    return out


def _score_jobs(jobs: list[_Job | None], model: SyncTransformer, device: str) -> list[LearnedSync]:
    out = [LearnedSync() for _ in jobs]
    for length in sorted({j.length for j in jobs if j is not None}):
        ids = [i for i, j in enumerate(jobs) if j is not None and j.length == length]
        cat = [torch.cat([getattr(jobs[i], k) for i in ids]) for k in ("lips", "valid", "audio")]
        p, probs = _run(model, *cat, device)
        assert len(p) == sum(len(jobs[i].starts) for i in ids), (len(p), ids)
        bounds = np.cumsum([0] + [len(jobs[i].starts) for i in ids])
        for i, a, b in zip(ids, bounds[:-1], bounds[1:]):
            j = jobs[i]
            out[i] = _aggregate(j.starts, length, p[a:b], probs[a:b], j.speech, j.face, model.cfg.max_offset)
    return out


def score_learned_sync(mouth: MouthTrack, samples: np.ndarray, speech: np.ndarray,
                       device: str = "cpu", *, model: SyncTransformer,
                       offset_method: OffsetMethod = OffsetMethod.auto) -> LearnedSync:
    """mouth (T,) track, samples (N,) float32 16 kHz, speech (T25,) bool -> LearnedSync."""
    return score_learned_sync_many([(mouth, samples, speech)], device, model=model, offset_method=offset_method)[0]


def _wants_scan(job: _Job, res: LearnedSync, method: OffsetMethod) -> bool:
    if method == OffsetMethod.auto:
        return (res.n_judged > 0 and res.p_sync is not None and res.p_sync <= SCAN_BELOW_P
                and job.length == SYNC_WINDOW_FRAMES)
    return method == OffsetMethod.scan


def _scan_into(res: LearnedSync, job: _Job, model: SyncTransformer, device: str) -> None:
    """Replace the head's offsets by the scan's: the clip's, and those of the scanned windows.

    Scans at most SCAN_MAX_WINDOWS judged windows, evenly spread, preferring the doubtful ones
    (p_sync <= SCAN_BELOW_P): the offset should describe where the clip goes wrong. Coarse to
    fine: every other offset first (the model calls +-1 frame in sync, so a true offset is
    never more than one step from a high p_sync), then the two neighbours of the best one;
    17 passes instead of 31; it agreed with the full scan in 649 of 650 GRID / av/multi delay cases.
    The other doubted windows get the best of the scanned windows' offsets (`_follow_offsets`).
    """
    judged = [i for i, w in enumerate(res.windows) if w.judged] or list(range(len(res.windows)))
    use = [i for i in judged if res.windows[i].p_sync <= SCAN_BELOW_P] or judged
    frontend = AudioFrontend(model.cfg.audio_frontend)
    pick = _spread(use, SCAN_MAX_WINDOWS[frontend])
    m = model.cfg.max_offset
    curves = np.full((len(pick), 2 * m + 1), np.nan)  # (W, 31) p_sync per offset, NaN = not tried
    coarse = np.arange(1, 2 * m + 1, 2)
    curves[:, coarse] = scan_curves(model, job, pick, coarse - m, device)
    best = int(np.nanargmax(curves.mean(0)))
    fine = np.array([k for k in (best - 1, best + 1) if 0 <= k <= 2 * m and np.isnan(curves[0, k])], int)
    if len(fine):
        curves[:, fine] = scan_curves(model, job, pick, fine - m, device)
    mean = curves.mean(0)
    k = int(np.nanargmax(mean))
    res.offset_ms, res.offset_confidence = float((k - m) * FRAME_MS), float(mean[k])
    res.offset_method = OffsetMethod.scan
    res.scan_curve = [(float((j - m) * FRAME_MS), float(mean[j]))
                      for j in range(2 * m + 1) if np.isfinite(mean[j])]
    for i, c in zip(pick, curves):
        j = int(np.nanargmax(c))
        res.windows[i].offset_ms, res.windows[i].p_aligned = float((j - m) * FRAME_MS), float(c[j])
    rest = [i for i in use if i not in pick]
    if rest:
        _follow_offsets(res, job, model, device, pick, rest, EXTRA_SCAN_PASSES[frontend])


def _spread(items: list[int], most: int) -> list[int]:
    """At most `most` of items, evenly spread (first and last kept)."""
    spread = np.linspace(0, len(items) - 1, min(most, len(items))).round().astype(int)
    return [items[k] for k in np.unique(spread)]


def _follow_offsets(res: LearnedSync, job: _Job, model: SyncTransformer, device: str, pick: list[int],
                    rest: list[int], passes: int) -> None:
    """Windows `rest` (not scanned) take the best of the non-zero offsets at which scanned windows
    `pick` are plausible (p_aligned >= REALIGNED_MIN_P_SYNC), or 0 as recorded: a splice shows on
    every window at a fraction of a full scan. At most `passes` window passes; windows beyond that
    (evenly spread) keep the head's offset."""
    found = sorted({res.windows[i].offset_ms for i in pick if res.windows[i].p_aligned >= REALIGNED_MIN_P_SYNC}
                   - {0.0})
    if not found:
        return
    rest = _spread(rest, max(1, passes // len(found)))
    d = np.array([int(round(o / FRAME_MS)) for o in found])
    p = scan_curves(model, job, rest, d, device)  # (len(rest), len(found))
    for i, row in zip(rest, p):
        w = res.windows[i]
        j = int(np.argmax(row))
        w.offset_ms, w.p_aligned = (found[j], float(row[j])) if row[j] > w.p_sync else (0.0, w.p_sync)


def scan_curves(model: SyncTransformer, job: _Job, windows: list[int], offsets: np.ndarray,
                device: str) -> np.ndarray:
    """p_sync of the given windows when lips frame t meets audio frame t + d, for d in offsets
    (frames, |d| <= max_offset). Audio outside the clip is silence. -> (len(windows), len(offsets))."""
    m = model.cfg.max_offset
    assert np.abs(offsets).max() <= m, offsets
    pad = np.zeros(m * AUDIO_SAMPLES_PER_FRAME, np.float32)
    ext = np.concatenate([pad, job.padded, pad])
    starts = [job.starts[i] for i in windows]
    audio = torch.cat([torch.from_numpy(window_audio(ext, [s + m + int(d) for s in starts], job.length))
                       for d in offsets])
    rep = len(offsets)
    p, _ = _run(model, job.lips[windows].repeat(rep, 1, 1, 1), job.valid[windows].repeat(rep, 1), audio, device)
    return p.reshape(rep, len(starts)).T


def _aggregate(starts, length, p, probs, speech, face, max_offset) -> LearnedSync:
    windows = []
    for s, ps, pr in zip(starts, p, probs):
        spf, cov = float(speech[s:s + length].mean()), float(face[s:s + length].mean())
        windows.append(WindowSync(s / VIDEO_FPS, (s + length) / VIDEO_FPS, float(ps),
                                  float((int(pr.argmax()) - max_offset) * FRAME_MS), spf, cov,
                                  _judged(spf, cov)))
    judged = np.array([w.judged for w in windows])
    use = judged if judged.any() else np.ones(len(windows), bool)
    mean_probs = probs[use].mean(0)
    k = int(mean_probs.argmax())
    return LearnedSync(windows, float(p[use].mean()), float((k - max_offset) * FRAME_MS),
                       float(mean_probs[k]), int(judged.sum()))
