"""Jobs and their reports in SQLite, so a restart loses no finished report.

One table, `jobs`: id, status (queued | running | done | failed), file (the name the client gave),
claimed, times (UNIX seconds), the JSON report, the HTML report and a one-line error. A job that
was queued or running when the server died is marked failed when the store is opened again.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, file TEXT NOT NULL, claimed TEXT,
    created REAL NOT NULL, started REAL, finished REAL,
    report TEXT, html TEXT, error TEXT
)"""
LOST_MESSAGE = "the server stopped before this job finished; submit the file again"


class JobStatus:
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


@dataclass
class Job:
    id: str
    status: str
    file: str
    claimed: str | None
    created: float
    started: float | None
    finished: float | None
    report: dict[str, Any] | None
    error: str | None

    def to_json(self) -> dict[str, Any]:
        """What GET /v1/scans/{id} returns; `report` is the JSON of `avdetect scan` (None until done)."""
        return {"id": self.id, "status": self.status, "file": self.file, "claimed": self.claimed,
                "created": self.created, "started": self.started, "finished": self.finished,
                "error": self.error, "report": self.report}


class JobStore:
    """Thread-safe (one connection, one lock); every write is committed at once."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(SCHEMA)

    def recover(self) -> int:
        """Mark jobs left queued or running by a previous process as failed -> how many."""
        with self._lock:
            cur = self._db.execute("UPDATE jobs SET status=?, error=?, finished=? WHERE status IN (?, ?)",
                                   (JobStatus.failed, LOST_MESSAGE, time.time(), JobStatus.queued,
                                    JobStatus.running))
            return cur.rowcount

    def create(self, file: str, claimed: str | None) -> str:
        job_id = uuid.uuid4().hex
        with self._lock:
            self._db.execute("INSERT INTO jobs (id, status, file, claimed, created) VALUES (?, ?, ?, ?, ?)",
                             (job_id, JobStatus.queued, file, claimed, time.time()))
        return job_id

    def delete(self, job_id: str) -> None:
        """Forget a job that was never queued (the queue was full)."""
        with self._lock:
            self._db.execute("DELETE FROM jobs WHERE id=?", (job_id,))

    def start(self, job_id: str) -> None:
        with self._lock:
            self._db.execute("UPDATE jobs SET status=?, started=? WHERE id=?", (JobStatus.running, time.time(), job_id))

    def finish(self, job_id: str, report: dict[str, Any], html: str | None) -> None:
        """A scanned file: done, or failed with the report's error (an `error` report is kept too)."""
        status = JobStatus.failed if report.get("verdict") == "error" else JobStatus.done
        with self._lock:
            self._db.execute("UPDATE jobs SET status=?, finished=?, report=?, html=?, error=? WHERE id=?",
                             (status, time.time(), json.dumps(report), html, report.get("error"), job_id))

    def fail(self, job_id: str, message: str) -> None:
        with self._lock:
            self._db.execute("UPDATE jobs SET status=?, finished=?, error=? WHERE id=?",
                             (JobStatus.failed, time.time(), message, job_id))

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            row = self._db.execute("SELECT id, status, file, claimed, created, started, finished, report, error "
                                   "FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            return None
        return Job(*row[:7], json.loads(row[7]) if row[7] else None, row[8])

    def html(self, job_id: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT html FROM jobs WHERE id=?", (job_id,)).fetchone()
        return None if row is None else row[0]

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
        return {s: n for s, n in rows}

    def close(self) -> None:
        with self._lock:
            self._db.close()
