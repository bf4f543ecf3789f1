"""The two stages of a batch, shared by the local and the Ray engine.

extract stage (CPU workers): path -> Extracted (ClipFeatures, or the error message)
    One FaceMeshTracker per worker process, reset between files (a new MediaPipe graph
    costs ~50-100 ms and a cold import of mediapipe + torch seconds; both are paid once).
model stage (one process, the chosen device): list[ClipFeatures] -> list[checks]
    run_checks_batch is where learned models batch their windows across files.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from ..api import ScanOptions, failure_message, run_checks
from ..checks import learned_sync
from ..checks.base import CheckResult
from ..checks.learned_sync import LearnedSync
from ..checks.lip_sync import applicability
from ..features import ClipFeatures, extract
from ..report import build_report, error_report
from .inputs import Source

WORKER_TORCH_THREADS = 1  # per worker process: the pool itself supplies the parallelism

_tracker = None  # this process's FaceMeshTracker (created on first use)


@dataclass
class Extracted:
    """A worker's answer for one file: features, or error (one-line message). seconds: wall time."""

    source: Source
    feats: ClipFeatures | None
    error: str | None
    seconds: float

    def __post_init__(self) -> None:
        assert (self.feats is None) != (self.error is None), "exactly one of feats / error"


def init_worker(quiet: bool = True) -> None:
    """Process initializer: one torch thread per worker (N workers on N cores, no oversubscription).

    quiet: send this process's fd 2 to /dev/null. MediaPipe/TFLite log from native threads at
    any moment; a worker's errors reach the main process as error records, not as stderr.
    """
    import torch

    torch.set_num_threads(WORKER_TORCH_THREADS)
    if quiet:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)


def worker_tracker():
    """This process's FaceMeshTracker with its tracking state cleared for a new file."""
    global _tracker
    from ..visual.landmarks import FaceMeshTracker, quiet_stderr

    with quiet_stderr():  # MediaPipe logs graph (re)starts straight to fd 2
        if _tracker is None:
            _tracker = FaceMeshTracker()
        else:
            _tracker.reset()
    return _tracker


def extract_one(source: Source, options: ScanOptions) -> Extracted:
    """Decode + landmarks + audio features for one file. Never raises for a bad file."""
    t0 = time.perf_counter()
    try:
        feats = extract(source.path, vad=options.vad, max_duration_s=options.max_duration_s,
                        tracker=worker_tracker())
        return Extracted(source, feats, None, time.perf_counter() - t0)
    except Exception as e:  # noqa: BLE001 - a bug on one file must not end a batch of thousands
        return Extracted(source, None, failure_message(source.path, e), time.perf_counter() - t0)


def run_checks_batch(feats: list[ClipFeatures], options: ScanOptions,
                     batch_size: int = 8) -> list[dict[str, CheckResult]]:
    """Checks for a list of clips -> one {check name: CheckResult} per clip, same order.

    The sync model sees the windows of batch_size clips in one pass on options.device
    (learned_sync.score_learned_sync_many); the other checks run clip by clip.
    """
    assert batch_size >= 1, batch_size
    learned = learned_sync_batched(feats, options, batch_size)
    out = [run_checks(f, options, learned=r) for f, r in zip(feats, learned)]
    assert len(out) == len(feats)
    return out


def learned_sync_batched(feats: list[ClipFeatures], options: ScanOptions,
                         batch_size: int) -> list[LearnedSync | None]:
    """The sync model's result per clip (None where lip_sync will not use it), batch_size clips a pass."""
    out: list[LearnedSync | None] = [None] * len(feats)
    if not options.learned_sync or not learned_sync.model_available():
        return out
    todo = [i for i, f in enumerate(feats) if _lip_sync_judges(f)]
    for k in range(0, len(todo), batch_size):
        ids = todo[k:k + batch_size]
        clips = [(feats[i].mouth, feats[i].audio.samples, feats[i].speech) for i in ids]
        for i, r in zip(ids, learned_sync.score_learned_sync_many(clips, options.device)):
            out[i] = r
    return out


def _lip_sync_judges(f: ClipFeatures) -> bool:
    if f.mouth is None or f.audio is None or f.speech is None or f.envelope is None:
        return False
    return applicability(f.mouth.mask, f.envelope, f.speech, f.info.has_video, True) is None


def record_for(source: Source, feats: ClipFeatures | None, checks: dict[str, CheckResult] | None,
               error: str | None) -> dict[str, Any]:
    """The report of DESIGN.md plus "source" (the resume key)."""
    if error is not None:
        r = error_report(source.path, error)
    else:
        assert feats is not None and checks is not None
        r = build_report(source.path, feats.duration_s, checks, feats.warnings)
    r["source"] = source.to_json()
    return r


def model_stage(items: list[Extracted], options: ScanOptions, batch_size: int) -> list[dict[str, Any]]:
    """Extracted items -> records (errors pass through), in the same order.

    If the batched pass fails, each clip is checked on its own, so one bad clip gets an error
    record and the others still get reports.
    """
    ok = [x for x in items if x.feats is not None]
    try:
        checks: list[dict[str, CheckResult] | str] = list(run_checks_batch([x.feats for x in ok], options,
                                                                            batch_size)) if ok else []
    except Exception:  # noqa: BLE001 - find the culprit clip by clip
        checks = [_checks_or_error(x, options) for x in ok]
    by_id = {id(x): c for x, c in zip(ok, checks)}
    out = []
    for x in items:
        c = by_id.get(id(x))
        if isinstance(c, str):
            out.append(record_for(x.source, None, None, c))
        else:
            out.append(record_for(x.source, x.feats, c, x.error))
    return out


def _checks_or_error(x: Extracted, options: ScanOptions) -> dict[str, CheckResult] | str:
    try:
        return run_checks(x.feats, options)
    except Exception as e:  # noqa: BLE001 - one bad clip must not end a batch
        return failure_message(x.source.path, e)
