"""Local engine: spawned worker processes extract features (or scan), the main process runs the models.

Each worker is a process of its own with a pipe; it works on one file at a time and has at most
one more waiting in its pipe (WorkerPool.depth), so the main process knows which file each worker
is on and the worker never waits for the main process between files. A worker is killed and
replaced, the file it is on gets an `error` record, the file waiting for it goes to another
worker, and the batch goes on, when the worker
  - dies (a decoder segfault, the kernel's OOM killer): WORKER_DIED;
  - runs past the file's time limit (stages.Limits: max(60 s, 5 x the media duration), or
    `--file-timeout`): "timed out after N s";
  - holds more resident memory than the limit per worker (polled every WATCH_INTERVAL_S;
    stages.Limits, `--worker-memory`): "out of memory".
Workers die with the main process, even after a `kill -9` of it: PR_SET_PDEATHSIG on Linux, and
on every system a thread in the worker that exits when its parent process changes. (Linux sends
the signal when the *thread* that started a worker ends: iterate iter_local from one thread.)
"""

from __future__ import annotations

import ctypes
import math
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections import deque
from multiprocessing.connection import wait
from typing import Any, Callable, Iterator

from ..detector import Detector, failure_message
from ..report import error_report
from .inputs import Source
from .stages import Extracted, Limits, ScanJob, extract_one, init_worker, media_seconds, model_stage, record_for, \
    scan_one

WORKER_DIED = "worker process died while processing this file (crash or out of memory)"
WATCH_INTERVAL_S = 0.5  # s between checks of the workers' time and memory
PARENT_POLL_S = 1.0  # s between a worker's checks that its parent is still there
STOP_GRACE_S = 2.0  # s a worker gets to exit on its own at the end of a batch
PR_SET_PDEATHSIG = 1  # linux/prctl.h

ExtractFn = Callable[[Source, ScanJob], Extracted | dict]
Item = Extracted | dict  # a worker's answer for one file


def die_with_parent(parent_pid: int) -> None:
    """In a worker: exit when the process that started it is gone (killed with -9 included)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True, name="avdetect-parent").start()


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_S)
    os._exit(1)


def worker_main(conn, parent_pid: int) -> None:
    """A worker's loop. Tasks: ("file", fn, job, source) -> messages ("start",), ("media", seconds),
    ("done", item); ("call", fn, args) -> ("done", fn(*args)); None: exit."""
    die_with_parent(parent_pid)
    init_worker()
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:  # the batch is over: skip the interpreter's teardown (torch and
            os._exit(0)   # MediaPipe take ~0.8 s to unload); every answer has been sent
        if task[0] == "call":
            conn.send(("done", task[1](*task[2])))
            continue
        _, fn, job, src = task
        conn.send(("start",))
        conn.send(("media", media_seconds(src, job)))
        try:
            item = fn(src, job)
        except Exception as e:  # noqa: BLE001 - the stage functions catch their own; this is a last resort
            item = record_for(src, error_report(src.path, failure_message(src.path, e)))
        conn.send(("done", item))


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (Linux /proc), 0 where it cannot be read."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class Worker:
    """One spawned worker process and the files sent to it, oldest first (none: idle).

    The first of them is the one it works on (its "start" message arrives when it takes it);
    the others wait in its pipe, so it goes on to the next file without a round trip to the
    main process. Only the first file's time counts against its limit.
    """

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")  # no fork: MediaPipe and torch threads do not survive one
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=worker_main, args=(child, os.getpid()), daemon=True,
                                   name="avdetect-worker")
        self.process.start()
        child.close()
        self.queue: deque[Source] = deque()
        self.started: float | None = None  # when the worker took the first file
        self.limit_s = math.inf

    @property
    def source(self) -> Source | None:
        """The file it works on (or takes next); None when idle."""
        return self.queue[0] if self.queue else None

    def submit(self, fn: ExtractFn, job: ScanJob, source: Source) -> None:
        self.queue.append(source)
        try:
            self.conn.send(("file", fn, job, source))
        except OSError:  # the worker is gone: failure() reports it for this file
            pass

    def poll(self, limits: Limits) -> list[Item]:
        """Read the worker's messages -> the answers for the files it has finished."""
        done: list[Item] = []
        try:
            while self.conn.poll():
                msg = self.conn.recv()
                if msg[0] == "start":
                    self.started, self.limit_s = time.monotonic(), limits.timeout_for(0.0)
                elif msg[0] == "media":
                    self.limit_s = limits.timeout_for(msg[1])
                else:
                    self.queue.popleft()
                    self.started, self.limit_s = None, math.inf
                    done.append(msg[1])
        except (EOFError, OSError):  # died mid-message: failure() says so
            pass
        return done

    def failure(self, memory_bytes: int | None) -> str | None:
        """Why this busy worker must be killed: dead, past its time limit, over memory; else None."""
        if not self.process.is_alive():
            return WORKER_DIED
        if self.started is not None and time.monotonic() - self.started > self.limit_s:
            return f"timed out after {self.limit_s:.0f} s (the limit for this file; see --file-timeout)"
        used = rss_bytes(self.process.pid) if memory_bytes else 0
        if memory_bytes and used > memory_bytes:
            return (f"out of memory: its worker used {used / 2**30:.1f} GiB, over the limit of "
                    f"{memory_bytes / 2**30:.1f} GiB per worker (see --worker-memory)")
        return None

    def stop(self) -> None:
        """Kill the worker unless it has exited; reaps the process."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()


class WorkerPool:
    """`workers` worker processes; a failed one is replaced by a fresh one.

    depth: files sent to a worker ahead of its answers (2: it takes the next file the moment it
    finishes one; 1: one at a time).
    """

    def __init__(self, workers: int, depth: int = 2) -> None:
        assert workers >= 1 and depth >= 1, (workers, depth)
        self.workers = [Worker() for _ in range(workers)]
        self.depth = depth

    def __len__(self) -> int:
        return len(self.workers)

    def idle(self) -> list[Worker]:
        """Workers that can take another file."""
        return [w for w in self.workers if len(w.queue) < self.depth]

    def busy(self) -> bool:
        return any(w.queue for w in self.workers)

    def each(self, fn: Callable, *args) -> list[Any]:
        """fn(*args) once in every worker (all idle), e.g. to load the models before a benchmark."""
        for w in self.workers:
            w.conn.send(("call", fn, args))
        return [w.conn.recv()[1] for w in self.workers]

    def collect(self, limits: Limits, memory_bytes: int | None, timeout_s: float) -> tuple[list[Item], list[Source]]:
        """Wait up to timeout_s for answers; kill and replace failed workers (the file each was
        working on gets an error record). -> (the items finished meanwhile, the files a failed
        worker had not started: to be sent again)."""
        busy = [w for w in self.workers if w.queue]
        wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout_s)
        out: list[Item] = []
        again: list[Source] = []
        for k, w in enumerate(self.workers):
            if not w.queue:
                continue
            out += w.poll(limits)
            if not w.queue:
                continue
            why = w.failure(memory_bytes)
            if why is not None:
                src, *rest = w.queue
                out.append(record_for(src, error_report(src.path, f"{src.path}: {why}")))
                again += rest
                w.stop()
                self.workers[k] = Worker()
        return out, again

    def shutdown(self, grace_s: float = 0.0) -> None:
        """Ask the idle workers to exit (all at once, grace_s > 0), then kill what is left."""
        if grace_s > 0:
            for w in self.workers:
                if not w.queue and w.process.is_alive():
                    try:
                        w.conn.send(None)
                    except OSError:
                        pass
            deadline = time.monotonic() + grace_s
            for w in self.workers:
                w.process.join(max(0.0, deadline - time.monotonic()))
        for w in self.workers:
            w.stop()


def new_pool(workers: int) -> WorkerPool:
    """Spawn-safe worker pool (no fork: MediaPipe and torch threads do not survive a fork)."""
    return WorkerPool(workers)


def iter_local(sources: list[Source], job: ScanJob, workers: int = 2, batch_size: int = 8,
               extract_fn: ExtractFn | None = None, pool: WorkerPool | None = None,
               detector: Detector | None = None, limits: Limits = Limits()) -> Iterator[dict[str, Any]]:
    """Yield one record per source (in completion order) as soon as it is done.

    extract_fn: what a worker does with a file (default: scan_one when job.worker_checks, else
    extract_one); pool: an already started pool of `workers` processes (new_pool; e.g. warmed up
    by a benchmark), shut down at the end like one made here; detector: the main process's (built
    from job.settings when not given: missing weights fail here, before any worker starts);
    limits: time per file and memory per worker.
    """
    assert workers >= 1 and batch_size >= 1, (workers, batch_size)
    fn = extract_fn or (scan_one if job.worker_checks else extract_one)
    detector = detector or Detector(job.settings)
    threads = None if job.worker_checks else _main_threads(job.settings.device, workers)
    pool = pool or new_pool(workers)
    memory = limits.memory_for(len(pool))
    pending = deque(sources)
    try:
        while pending or pool.busy():
            _fill(pool, pending, fn, job)
            ready, again = pool.collect(limits, memory, WATCH_INTERVAL_S)
            pending.extendleft(reversed(again))
            _fill(pool, pending, fn, job)  # workers go on while the records are written, the models run
            yield from (x for x in ready if isinstance(x, dict))
            todo = [x for x in ready if isinstance(x, Extracted)]
            if todo:
                yield from model_stage(todo, detector, job, batch_size)
        pool.shutdown(STOP_GRACE_S)
    finally:
        pool.shutdown()
        _restore_threads(threads)


def _fill(pool: WorkerPool, pending: deque, fn: ExtractFn, job: ScanJob) -> None:
    """Give every worker a file, then one more each while enough are left that no worker will
    sit idle at the end of the batch while another still holds two."""
    for level in range(pool.depth):
        for w in pool.workers:
            if not pending or (level > 0 and len(pending) < len(pool)):
                return
            if len(w.queue) <= level:
                w.submit(fn, job, pending.popleft())


def _main_threads(device: str, workers: int) -> int | None:
    """Give this process's CPU models only the cores the workers leave free (at least one).

    With 2 workers on 2 cores, torch's default of 2 threads here made the checks contend with
    the workers (spinning OpenMP threads): 7.6x -> 8.3x real time with 1 thread
    (scripts/bench_batch.py). Returns the previous setting, None when nothing changed.
    """
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
