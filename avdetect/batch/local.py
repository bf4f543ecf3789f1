"""Local engine: spawn-safe worker processes extract features, the main process runs the models.

Scheduling: at most IN_FLIGHT_PER_WORKER files per worker are queued (bounded memory). When a
worker process dies (segfault in a decoder, OOM kill) the pool breaks: a new pool is started and
the files that were in flight are retried one at a time; one that breaks the pool again on its
own gets an error record and the batch goes on.
"""

from __future__ import annotations

import multiprocessing as mp
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterator

from ..detector import Detector, failure_message
from ..report import error_report
from .inputs import Source
from .stages import Extracted, ScanJob, extract_one, init_worker, model_stage, record_for, scan_one

IN_FLIGHT_PER_WORKER = 2  # files queued per worker: keeps workers busy, bounds memory
WORKER_DIED = "worker process died while processing this file (crash or out of memory)"

ExtractFn = Callable[[Source, ScanJob], Extracted | dict]


def new_pool(workers: int) -> ProcessPoolExecutor:
    """Spawn-safe worker pool (no fork: MediaPipe and torch threads do not survive a fork)."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                               initializer=init_worker)


class _Scheduler:
    """Which file to submit next; after a pool crash, suspects run alone until cleared."""

    def __init__(self, sources: list[Source], workers: int) -> None:
        self.pending = deque(sources)
        self.suspects: deque[Source] = deque()
        self.inflight: dict[Future, Source] = {}
        self.max_inflight = IN_FLIGHT_PER_WORKER * workers

    def busy(self) -> bool:
        return bool(self.pending or self.suspects or self.inflight)

    def isolating(self) -> bool:
        return len(self.inflight) == 1 and getattr(next(iter(self.inflight)), "suspect", False)

    def fill(self, pool: ProcessPoolExecutor, fn: ExtractFn, job: ScanJob) -> None:
        if self.suspects:
            if not self.inflight:
                src = self.suspects.popleft()
                fut = pool.submit(fn, src, job)
                fut.suspect = True  # type: ignore[attr-defined]
                self.inflight[fut] = src
            return
        while self.pending and len(self.inflight) < self.max_inflight:
            src = self.pending.popleft()
            self.inflight[pool.submit(fn, src, job)] = src


def iter_local(sources: list[Source], job: ScanJob, workers: int = 2, batch_size: int = 8,
               extract_fn: ExtractFn | None = None, pool: ProcessPoolExecutor | None = None,
               detector: Detector | None = None) -> Iterator[dict[str, Any]]:
    """Yield one record per source (in completion order) as soon as it is done.

    extract_fn: what a worker does with a file (default: scan_one when job.worker_checks, else
    extract_one); pool: an already started pool of `workers` processes (new_pool; e.g. warmed up
    by a benchmark), shut down at the end like one made here; detector: the main process's (built
    from job.settings when not given: missing weights fail here, before any worker starts).
    """
    assert workers >= 1 and batch_size >= 1, (workers, batch_size)
    fn = extract_fn or (scan_one if job.worker_checks else extract_one)
    sched = _Scheduler(sources, workers)
    detector = detector or Detector(job.settings)
    threads = None if job.worker_checks else _main_threads(job.settings.device, workers)
    pool = pool or new_pool(workers)
    try:
        while sched.busy():
            sched.fill(pool, fn, job)
            done, _ = wait(list(sched.inflight), return_when=FIRST_COMPLETED)
            ready, crashed = _collect(sched, done)
            if crashed:
                ready += _recover(sched)
                pool.shutdown(wait=True, cancel_futures=True)
                pool = new_pool(workers)
            yield from (x for x in ready if isinstance(x, dict))
            todo = [x for x in ready if isinstance(x, Extracted)]
            if todo:
                yield from model_stage(todo, detector, job, batch_size)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        _restore_threads(threads)


def _main_threads(device: str, workers: int) -> int | None:
    """Give this process's CPU models only the cores the workers leave free (at least one).

    With 2 workers on 2 cores, torch's default of 2 threads here made the checks contend with
    the workers (spinning OpenMP threads): 7.6x -> 8.3x real time with 1 thread
    (scripts/bench_batch.py). Returns the previous setting, None when nothing changed.
    """
    import os

    import torch

    if str(device).startswith("cuda"):
        return None
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) - workers))
    return before


def _restore_threads(before: int | None) -> None:
    if before is not None:
        import torch

        torch.set_num_threads(before)


def _collect(sched: _Scheduler, done: set[Future]) -> tuple[list[Extracted | dict], bool]:
    """Results of finished futures; on a broken pool also waits for all in-flight ones."""
    ready: list[Extracted | dict] = []
    crashed = False
    for fut in done:
        if isinstance(fut.exception(), BrokenProcessPool):
            crashed = True
            continue
        ready.append(_result(sched.inflight.pop(fut), fut))
    if crashed:
        wait(list(sched.inflight))  # a broken pool fails every pending future
        for fut in [f for f in sched.inflight if not isinstance(f.exception(), BrokenProcessPool)]:
            ready.append(_result(sched.inflight.pop(fut), fut))
    return ready, crashed


def _result(src: Source, fut: Future) -> Extracted | dict:
    err = fut.exception()
    if err is None:
        return fut.result()
    return record_for(src, error_report(src.path, failure_message(src.path, err)))


def _recover(sched: _Scheduler) -> list[Extracted | dict]:
    """The pool died: an isolated suspect is the culprit; otherwise every in-flight file is a suspect."""
    isolated = sched.isolating()
    lost = list(sched.inflight.values())
    sched.inflight.clear()
    if isolated:
        return [record_for(lost[0], error_report(lost[0].path, f"{lost[0].path}: {WORKER_DIED}"))]
    sched.suspects.extend(lost)
    return []
