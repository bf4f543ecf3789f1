"""The report: a typed object whose to_dict() is the JSON contract of docs/report.md (checked by
avdetect/report/report.schema.json; field names are stable, more may be added)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from ..checks.base import CheckResult, Status
from ..fusion import Verdict, fuse
from .check_info import CheckInfo, check_infos
from .summary import summarize

SEGMENT_S = 2.0  # seconds per bin of the report's top-level timeline


@dataclass
class Report:
    """One file's result. verdict/score: the fused decision (score None when nothing judged);
    summary: one sentence for people; checks: each check's result by name; not_run: the checks
    that could not judge, with why; segments: the 2 s timeline; error: why the file could not be
    analysed (verdict error); infos: each check's weight, mark and reliability."""

    file: str
    duration_s: float | None
    verdict: Verdict
    score: float | None
    reasons: list[str] = field(default_factory=list)
    checks: dict[str, CheckResult] = field(default_factory=dict)
    segments: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    avdetect_version: str = __version__
    summary: str = ""
    infos: dict[str, CheckInfo] = field(default_factory=dict)

    @property
    def not_run(self) -> list[dict[str, str]]:
        """[{"check": name, "reason": why}] for the checks that did not judge this file."""
        return [{"check": k, "reason": c.reason or ""} for k, c in self.checks.items() if c.status != Status.ok]

    def to_dict(self) -> dict[str, Any]:
        """The JSON report (what `avdetect scan` prints)."""
        out: dict[str, Any] = {
            "file": self.file,
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
            "avdetect_version": self.avdetect_version,
            "verdict": self.verdict.value,
            "score": None if self.score is None else round(self.score, 1),
            "summary": self.summary,
            "reasons": list(self.reasons),
        }
        if self.error is not None:
            out["error"] = self.error
        checks = {}
        for name, c in self.checks.items():
            info = self.infos.get(name, CheckInfo())
            checks[name] = {**c.to_json(), "reliability": info.reliability.value}
        out.update(checks=checks, not_run=self.not_run, segments=list(self.segments), warnings=list(self.warnings))
        return out


def timeline(checks: dict[str, CheckResult], duration_s: float) -> list[dict[str, Any]]:
    """Fixed 2 s bins; each check's value is the max score of its segments overlapping the bin."""
    n = max(1, math.ceil(duration_s / SEGMENT_S - 1e-9)) if duration_s > 0 else 0
    bins = []
    for i in range(n):
        t0, t1 = i * SEGMENT_S, min((i + 1) * SEGMENT_S, duration_s)
        row: dict[str, Any] = {"start_s": round(t0, 2), "end_s": round(t1, 2)}
        for name, c in checks.items():
            if c.status != Status.ok or not c.segments:
                continue
            hits = [s.score for s in c.segments if s.start_s < t1 and s.end_s > t0]
            row[name] = round(max(hits)) if hits else None
        bins.append(row)
    return bins


def build_report(file: str, duration_s: float, checks: dict[str, CheckResult],
                 warnings: list[str] | None = None, infos: dict[str, CheckInfo] | None = None) -> Report:
    """checks: results by name, in report order; infos: each check's CheckInfo (None: those of the
    registered checks)."""
    infos = dict(check_infos() if infos is None else infos)
    for name in checks:
        infos.setdefault(name, CheckInfo())
    verdict, score, reasons = fuse(checks, {k: i.weight for k, i in infos.items()},
                                   {k: i.suspicious_at for k, i in infos.items()})
    summary = summarize(verdict, score, reasons, checks, infos)
    return Report(file, duration_s, verdict, score, reasons, dict(checks), timeline(checks, duration_s),
                  list(warnings or []), summary=summary, infos={k: infos[k] for k in checks})


def error_report(file: str, message: str) -> Report:
    """The report of a file that could not be analysed: no check ran (not_run is empty)."""
    return Report(file, None, Verdict.error, None, error=message,
                  summary=f"Not analysed: {message}. No check ran, so this says nothing about the recording.")
