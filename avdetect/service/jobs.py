"""A bounded pool of scan workers with a bounded queue.

Each worker is a thread with its own Detector (models loaded once, when the pool starts); the
heavy work (decoding, FaceMesh, torch, onnxruntime) runs in native code that releases the GIL.
`submit` never blocks: when `queue_size` jobs are already waiting it raises QueueFull and the
app answers 429 with Retry-After. A job's uploaded file is removed when the job ends.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..checks.base import Settings
from ..detector import Detector, failure_message
from .store import JobStore

log = logging.getLogger("avdetect.service")
DEFAULT_JOB_S = 5.0  # s: the job time assumed before any job has finished
JOB_TIME_SMOOTHING = 0.2  # weight of the newest job in the running mean of job times
HTML_LOCK = threading.Lock()  # matplotlib's pyplot (the HTML timeline) is not thread-safe


class QueueFull(Exception):
    """Every worker is busy and the queue holds queue_size jobs."""


@dataclass
class ScanTask:
    """job_id in the store; path: the media file; temporary: remove it when done (an upload);
    name: the file name the client gave (shown in the report instead of the server's path)."""

    job_id: str
    path: Path
    name: str
    claimed: str | None
    temporary: bool


class WorkerPool:
    def __init__(self, store: JobStore, settings: Settings, workers: int, queue_size: int,
                 make_detector: Callable[[Settings], Detector] = Detector) -> None:
        assert workers >= 1 and queue_size >= 1, (workers, queue_size)
        self.store, self.settings = store, settings
        self.queue: queue.Queue[ScanTask | None] = queue.Queue(maxsize=queue_size)
        self.detectors = [make_detector(settings) for _ in range(workers)]  # fail at start, in one line
        self.threads = [threading.Thread(target=self._work, args=(d,), name=f"scan-worker-{i}", daemon=True)
                        for i, d in enumerate(self.detectors)]
        self.busy = 0
        self.mean_job_s = DEFAULT_JOB_S  # running mean of job durations (Retry-After estimate)
        self._busy_lock = threading.Lock()
        for t in self.threads:
            t.start()

    @property
    def workers(self) -> int:
        return len(self.threads)

    def submit(self, task: ScanTask) -> None:
        """Queue a task or raise QueueFull (the caller then removes its job and file)."""
        try:
            self.queue.put_nowait(task)
        except queue.Full:
            raise QueueFull from None

    def retry_after_s(self) -> int:
        """Seconds until a queue slot likely frees: one mean job time shared by the workers."""
        return max(1, math.ceil(self.mean_job_s / self.workers))

    def stop(self) -> None:
        for _ in self.threads:
            try:
                self.queue.put_nowait(None)
            except queue.Full:
                break

    def _work(self, detector: Detector) -> None:
        while True:
            task = self.queue.get()
            if task is None:
                return
            with self._busy_lock:
                self.busy += 1
            t0 = time.monotonic()
            try:
                self._run(detector, task)
            finally:
                with self._busy_lock:
                    self.busy -= 1
                    self.mean_job_s += JOB_TIME_SMOOTHING * (time.monotonic() - t0 - self.mean_job_s)
                if task.temporary:
                    task.path.unlink(missing_ok=True)

    def _run(self, detector: Detector, task: ScanTask) -> None:
        self.store.start(task.job_id)
        try:
            report = detector.scan(task.path, task.claimed).to_dict()  # longer files were refused (422)
            report = rename_report(report, str(task.path), task.name)
            html = render_report_html(report, task.path) if report["verdict"] != "error" else None
            self.store.finish(task.job_id, report, html)
        except Exception as e:  # noqa: BLE001 - a job fails with one line; the worker lives on
            log.exception("job %s failed", task.job_id)
            self.store.fail(task.job_id, failure_message(task.name, e).replace(str(task.path), task.name))


def rename_report(report: dict, server_path: str, name: str) -> dict:
    """The report as the client should see it: its file name, not the server's temporary path."""
    report = dict(report, file=name)
    if report.get("error"):
        report["error"] = report["error"].replace(server_path, name)
    return report


def render_report_html(report: dict, media: Path) -> str:
    """The self-contained HTML page (with key frames read from the media while it still exists)."""
    from ..report.html import write_html

    with HTML_LOCK, tempfile.TemporaryDirectory(prefix="avdetect-html-") as d:
        out = write_html(report, Path(d) / "report.html", media_path=media)
        return Path(out).read_text(encoding="utf-8")


def default_data_dir() -> Path:
    from ..voices import home

    return Path(os.environ.get("AVDETECT_SERVICE_DIR", home() / "service"))
