"""Batch results: an append-only JSONL of reports, resume keys, and a CSV summary.

Each line is one report (the DESIGN.md contract) plus a "source" field
{"path": absolute path, "size": bytes, "mtime": seconds} that identifies the input for resuming.
A line is written, flushed and fsync'd as soon as its file is done, so a crash or a kill
loses at most the files in flight; a torn last line (killed mid-write) is ignored on reading.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any, Iterable


from ..checks import CHECKS

# the report's own columns, then each check's csv_fields as <check>_<field>, then the source's
CHECK_COLUMNS = tuple((c.name, f) for c in CHECKS for f in c.csv_fields)
CSV_COLUMNS = ("file", "verdict", "score", "duration_s", *(f"{n}_{f}" for n, f in CHECK_COLUMNS),
               "reasons", "error", "path", "size", "mtime")


def read_records(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All complete records of a JSONL file (a torn or garbled line is skipped)."""
    p = Path(path)
    if not p.exists():
        return []
    records = []
    with p.open("r", encoding="utf-8") as f:
        for line in f:
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(r, dict):
                records.append(r)
    return records


class JsonlWriter:
    """Append one record per line; every write is flushed and fsync'd before returning."""

    def __init__(self, path: str | os.PathLike, truncate: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = self.path.open("w" if truncate else "a", encoding="utf-8")
        self._terminate_torn_line()

    def _terminate_torn_line(self) -> None:
        """A kill mid-write can leave a last line without '\\n': end it so new records stay whole."""
        if self._f.tell() == 0:
            return
        with self.path.open("rb") as r:
            r.seek(-1, os.SEEK_END)
            if r.read(1) != b"\n":
                self._f.write("\n")

    def write(self, record: dict[str, Any]) -> None:
        self._f.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "JsonlWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def latest_by_source(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per source path (the last one written wins, e.g. after --force), in order."""
    by: dict[str, dict[str, Any]] = {}
    for r in records:
        key = r.get("source", {}).get("path") or r.get("file")
        by.pop(key, None)
        by[key] = r
    return list(by.values())


def check_field(r: dict, name: str, field: str = "score") -> Any:
    """A field of check `name` in a report, None unless that check judged (status ok)."""
    c = r.get("checks", {}).get(name) or {}
    return c.get(field) if c.get("status") == "ok" else None


def csv_row(r: dict[str, Any]) -> dict[str, Any]:
    src = r.get("source") or {}
    return {
        "file": r.get("file"), "verdict": r.get("verdict"), "score": r.get("score"),
        "duration_s": r.get("duration_s"),
        **{f"{n}_{f}": check_field(r, n, f) for n, f in CHECK_COLUMNS},
        "reasons": " | ".join(r.get("reasons") or []), "error": r.get("error"),
        "path": src.get("path"), "size": src.get("size"), "mtime": src.get("mtime"),
    }


def write_csv(records: Iterable[dict[str, Any]], path: str | os.PathLike) -> None:
    """One row per file (columns CSV_COLUMNS; empty cell = not applicable / not present)."""
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        w.writeheader()
        for r in records:
            w.writerow(csv_row(r))

