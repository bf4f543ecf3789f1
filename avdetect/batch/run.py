"""Batch driver: pick the files still to do, run an engine, write JSONL / HTML / CSV as records arrive."""

from __future__ import annotations

import enum
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .. import io
from .inputs import Source
from .stages import Limits, ScanJob
from .results import JsonlWriter, latest_by_source, read_records, write_csv

SECONDS_PER_HOUR = 3600.0


class Engine(str, enum.Enum):
    local = "local"
    ray = "ray"


@dataclass
class BatchOptions:
    scan: ScanJob = field(default_factory=ScanJob)
    engine: Engine = Engine.local
    workers: int = max(1, os.cpu_count() or 1)
    batch_size: int = 8  # clips (later: windows) per model call
    force: bool = False  # redo files already in the output
    html_dir: Path | None = None
    csv_path: Path | None = None
    progress: bool = True
    limits: Limits = field(default_factory=Limits)  # time per file, memory per worker (local engine)


@dataclass
class BatchSummary:
    todo: int  # files processed in this run
    skipped: int  # files already in the output (resumed)
    counts: Counter  # verdict -> files, over this run's records
    failures: list[tuple[str, str]] = field(default_factory=list)  # (file, error) of this run's error records

    @property
    def failed(self) -> int:
        return self.counts.get("error", 0)


def plan(sources: list[Source], records: list[dict[str, Any]], force: bool) -> tuple[list[Source], int]:
    """-> (sources to process, number skipped), given the records already in the output.

    A source is done when a record with the same (absolute path, size, mtime) exists; a changed
    file (new size or mtime) is redone, and so is everything with force.
    """
    done = {Source.from_json(r["source"]) for r in records if isinstance(r.get("source"), dict)}
    todo = list(sources) if force else [s for s in sources if s not in done]
    return todo, len(sources) - len(todo)


def _drop_records_of(out: Path, records: list[dict[str, Any]], todo: list[Source]) -> None:
    """Remove the old records of files about to be redone, so each file keeps one record."""
    redo = {s.path for s in todo}
    keep = [r for r in records if (r.get("source") or {}).get("path") not in redo]
    if len(keep) != len(records):
        _rewrite(out, keep)


def _rewrite(out: Path, records: list[dict[str, Any]]) -> None:
    """Replace out atomically (temp file + fsync + rename): a kill leaves the old or the new file."""
    tmp = out.with_name(out.name + ".tmp")
    with JsonlWriter(tmp, truncate=True) as w:
        for r in records:
            w.write(r)
    os.replace(tmp, out)


def _engine_records(todo: list[Source], opts: BatchOptions) -> Iterator[dict[str, Any]]:
    if opts.engine == Engine.ray:
        from .ray_engine import iter_ray

        return iter_ray(todo, opts.scan, opts.workers, opts.batch_size)
    from .local import iter_local

    return iter_local(todo, opts.scan, opts.workers, opts.batch_size, limits=opts.limits)


def _media_seconds(src: Source) -> float:
    try:
        return io.probe(src.path).duration_s
    except io.MediaError:
        return 0.0


def run_batch(sources: list[Source], out: str | os.PathLike, opts: BatchOptions) -> BatchSummary:
    """Process the sources not yet in `out`; every record is on disk before the next one is taken."""
    out = Path(out)
    records = read_records(out)
    todo, skipped = plan(sources, records, opts.force)
    _drop_records_of(out, records, todo)
    counts: Counter = Counter()
    failures: list[tuple[str, str]] = []
    with JsonlWriter(out) as writer, _Progress(todo, opts.progress) as bar:
        for record in _engine_records(todo, opts):
            writer.write(record)
            counts[record["verdict"]] += 1
            if record["verdict"] == "error":
                failures.append((str(record.get("file")), str(record.get("error") or "")))
            if opts.html_dir is not None:
                _write_html(record, opts.html_dir)
            bar.advance(record)
    if opts.html_dir is not None or opts.csv_path is not None:
        _write_summaries(sources, out, opts)
    return BatchSummary(len(todo), skipped, counts, failures)


def _write_html(record: dict[str, Any], html_dir: Path) -> None:
    from ..report.html import html_name, write_html

    write_html(record, html_dir / html_name(record), media_path=record["source"]["path"])


def _write_summaries(sources: list[Source], out: Path, opts: BatchOptions) -> None:
    """CSV and HTML index over this batch's inputs (their latest records in out). CSV rows come in
    input order, `file` being the name as given (the record's `source.path` is the absolute one)."""
    latest = {(r.get("source") or {}).get("path"): r for r in latest_by_source(read_records(out))}
    records = [latest[s.path] for s in sources if s.path in latest]
    if opts.csv_path is not None:
        write_csv([{**latest[s.path], "file": s.given or latest[s.path].get("file")}
                   for s in sources if s.path in latest], opts.csv_path)
    if opts.html_dir is not None:
        from ..report.html import write_index

        write_index(records, opts.html_dir)


class _Progress:
    """rich progress on stderr: files done, hours of media done / total, ETA by media time."""

    def __init__(self, todo: list[Source], enabled: bool) -> None:
        self.enabled = enabled and bool(todo)
        self.n = len(todo)
        self.files = 0
        if not self.enabled:
            return
        self.total_s = sum(_media_seconds(s) for s in todo)  # header reads only
        self.done_s = 0.0

    def __enter__(self) -> "_Progress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._p = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[files]}"),
                               TextColumn("{task.fields[hours]}"), TimeElapsedColumn(), TextColumn("ETA"),
                               TimeRemainingColumn(), console=Console(stderr=True), transient=False)
            self._p.__enter__()
            self._task = self._p.add_task("batch", total=max(self.total_s, 1e-9), files=self._files(),
                                          hours=self._hours())
        return self

    def _files(self) -> str:
        return f"{self.files}/{self.n} files"

    def _hours(self) -> str:
        if self.total_s >= SECONDS_PER_HOUR / 2:
            return f"{self.done_s / SECONDS_PER_HOUR:.2f}/{self.total_s / SECONDS_PER_HOUR:.2f} h media"
        return f"{self.done_s / 60:.1f}/{self.total_s / 60:.1f} min media"

    def advance(self, record: dict[str, Any]) -> None:
        self.files += 1
        if not self.enabled:
            return
        d = record.get("duration_s") or _media_seconds(Source.from_json(record["source"]))
        self.done_s = min(self.total_s, self.done_s + d)
        self._p.update(self._task, completed=self.done_s, files=self._files(), hours=self._hours())

    def __exit__(self, *exc) -> None:
        if self.enabled:
            self._p.__exit__(*exc)


def format_failures(summary: BatchSummary) -> list[str]:
    """One line per file that failed in this run: "failed: FILE: error"."""
    return [f"failed: {f}: {e}" for f, e in summary.failures]


def format_counts(summary: BatchSummary) -> str:
    by = ", ".join(f"{k} {v}" for k, v in sorted(summary.counts.items()))
    return f"{summary.todo} files scanned ({by or 'none'}), {summary.skipped} already done (skipped)"


__all__ = ["BatchOptions", "BatchSummary", "Engine", "format_counts", "format_failures", "plan", "run_batch"]
