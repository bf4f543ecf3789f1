"""The two stages of a batch, shared by the local and the Ray engine.

extract stage (CPU workers): path -> Extracted (ClipFeatures, or the error message)
    One FaceMeshTracker per worker process, reset between files (a new MediaPipe graph
    costs ~50-100 ms and a cold import of mediapipe + torch seconds; both are paid once).
model stage (a Detector, on the chosen device): list[Extracted] -> records
    Detector.reports is where learned models batch their windows across files.
scan stage (CPU workers, `ScanJob.worker_checks`): path -> record; each worker holds its own
    Detector, so the models run beside the decoding instead of after it.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any

from .. import io
from ..checks.base import Settings
from ..detector import Detector, extract_features, failure_message
from ..features import ClipFeatures
from ..report import Report, error_report
from .inputs import Source

WORKER_TORCH_THREADS = 1  # per worker process: the pool itself supplies the parallelism
FILE_TIMEOUT_MIN_S = 60.0  # s: the time limit of any file (startup of the models included)
FILE_TIMEOUT_PER_MEDIA_S = 5.0  # s of processing per s of media (a CPU worker needs ~0.3)
# B/s (8 kbit/s): a claimed duration beyond size / this is not believed (a 200 kB file claiming
# 1e5 s is timed as 200 s: a 1000 s limit). Only AMR-like speech codecs go lower (~600 B/s), and audio-only files scan
# far faster than real time, so 5 x the bounded duration still leaves them ample time.
MIN_BYTES_PER_MEDIA_S = 1000.0
WORKER_MEMORY_SHARE = 0.75  # of the machine's memory, split between the workers
MIN_WORKER_MEMORY_BYTES = 2 << 30  # a worker with the learned models peaks at ~1.3 GB on short clips

_tracker = None  # this process's FaceMeshTracker (created on first use)
_probed: tuple[tuple, io.MediaInfo] | None = None  # this process's last io.probe: (file identity, info)
_detectors: dict[Settings, Detector] = {}  # this process's Detector per settings (models loaded once)


@dataclass(frozen=True)
class ScanJob:
    """What every worker needs to process a file (picklable).

    checks_in_workers: the workers run the checks too (each loads the models once) and send back
    finished records; else the main process runs them on batches of extracted features. None:
    on the CPU yes (the models then run beside the decoding on every core), with a GPU no (the
    main process batches the clips' windows on it).
    """

    settings: Settings = Settings()
    claimed: str | None = None
    max_duration_s: float | None = None
    checks_in_workers: bool | None = None

    @property
    def worker_checks(self) -> bool:
        """Whether the workers run the checks (checks_in_workers, None resolved by device)."""
        if self.checks_in_workers is None:
            return self.settings.device == "cpu"
        return self.checks_in_workers


@dataclass(frozen=True)
class Limits:
    """What a worker may spend on one file before it is killed and the file gets an error record.

    file_timeout_s: None: max(min_timeout_s, timeout_per_media_s x media seconds), the
    media seconds being what the container claims, bounded by the file size (MIN_BYTES_PER_MEDIA_S)
    and --max-duration. worker_memory_bytes: resident memory per worker; None: WORKER_MEMORY_SHARE
    of the machine's memory split between the workers (at least MIN_WORKER_MEMORY_BYTES); 0: none.
    """

    file_timeout_s: float | None = None
    worker_memory_bytes: int | None = None
    min_timeout_s: float = FILE_TIMEOUT_MIN_S
    timeout_per_media_s: float = FILE_TIMEOUT_PER_MEDIA_S

    def timeout_for(self, media_s: float) -> float:
        if self.file_timeout_s:
            return float(self.file_timeout_s)
        return max(self.min_timeout_s, self.timeout_per_media_s * media_s)

    def memory_for(self, workers: int) -> int | None:
        """Bytes of resident memory one of `workers` workers may use; None: no limit."""
        if self.worker_memory_bytes is not None:
            return self.worker_memory_bytes or None
        total = machine_memory_bytes()
        if total is None:
            return None
        return max(MIN_WORKER_MEMORY_BYTES, int(WORKER_MEMORY_SHARE * total / max(1, workers)))


def machine_memory_bytes() -> int | None:
    """Physical memory of this machine, None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def probe_once(path: str) -> io.MediaInfo:
    """io.probe(path), remembered for the next call on the same unchanged file (a worker probes
    a file for its time limit, then extracts it: one packet scan instead of two, ~5 ms on a
    3 s clip). The file is identified by path, inode, size and mtime (a growing or replaced
    file is probed again). Raises io.MediaError as io.probe does (errors are not remembered)."""
    global _probed
    try:
        st = os.stat(path)
    except OSError:
        return io.probe(path)  # its MediaError says what is wrong with the path
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    if _probed is None or _probed[0] != key:
        _probed = (key, io.probe(path))
    return _probed[1]


def media_seconds(source: Source, job: "ScanJob") -> float:
    """The media duration a file's time limit is scaled by: the length io.probe reads, at most
    size / MIN_BYTES_PER_MEDIA_S and --max-duration; 0 when unknown."""
    try:
        claimed = probe_once(source.path).duration_s
    except Exception:  # noqa: BLE001 - an unreadable file gets the minimum time limit
        return 0.0
    if not math.isfinite(claimed) or claimed <= 0:
        return 0.0
    bound = (source.size or 0) / MIN_BYTES_PER_MEDIA_S
    return min(claimed, bound, job.max_duration_s or math.inf)


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


def worker_detector(settings: Settings) -> Detector:
    """This process's Detector for these settings (built, and its models loaded, on first use)."""
    if settings not in _detectors:
        _detectors[settings] = Detector(settings)
    return _detectors[settings]


def extract_one(source: Source, job: ScanJob) -> Extracted:
    """Decode + landmarks + audio features for one file. Never raises for a bad file."""
    t0 = time.perf_counter()
    try:
        feats = extract_features(source.path, job.settings, max_duration_s=job.max_duration_s,
                                 tracker=worker_tracker(), info=probe_once(source.path))
        return Extracted(source, feats, None, time.perf_counter() - t0)
    except Exception as e:  # noqa: BLE001 - a bug on one file must not end a batch of thousands
        return Extracted(source, None, failure_message(source.path, e), time.perf_counter() - t0)


def scan_one(source: Source, job: ScanJob) -> dict[str, Any]:
    """extract_one + this worker's Detector -> the file's record. Never raises for a bad file."""
    x = extract_one(source, job)
    try:
        detector = worker_detector(job.settings)
    except Exception as e:  # noqa: BLE001 - e.g. weights missing: every file says so
        return record_for(x.source, error_report(source.path, failure_message(source.path, e)))
    return model_stage([x], detector, job, 1)[0]


def record_for(source: Source, report: Report) -> dict[str, Any]:
    """The report of DESIGN.md plus "source" (the resume key)."""
    r = report.to_dict()
    r["source"] = source.to_json()
    return r


def model_stage(items: list[Extracted], detector: Detector, job: ScanJob, batch_size: int) -> list[dict[str, Any]]:
    """Extracted items -> records (errors pass through), in the same order; batch_size clips per
    model pass. A clip whose checks fail gets an error record, the others their reports."""
    assert batch_size >= 1, batch_size
    out = []
    for k in range(0, len(items), batch_size):
        chunk = items[k:k + batch_size]
        reports = detector.reports([(x.source.path, x.feats if x.feats is not None else x.error) for x in chunk],
                                   job.claimed)
        out += [record_for(x.source, r) for x, r in zip(chunk, reports)]
    return out
