"""The JSON report contract of DESIGN.md (field names are stable; more may be added)."""

from __future__ import annotations

import math
from typing import Any

from .. import __version__
from ..checks.base import CheckResult, Status
from ..fusion import Verdict, fuse

SEGMENT_S = 2.0  # seconds per bin of the report's top-level timeline


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
                 warnings: list[str] | None = None) -> dict[str, Any]:
    verdict, score, reasons = fuse(checks)
    return {
        "file": file,
        "duration_s": round(duration_s, 3),
        "avdetect_version": __version__,
        "verdict": verdict.value,
        "score": None if score is None else round(score, 1),
        "reasons": reasons,
        "checks": {name: checks[name].to_json() for name in checks},
        "segments": timeline(checks, duration_s),
        "warnings": list(warnings or []),
    }


def error_report(file: str, message: str) -> dict[str, Any]:
    return {
        "file": file, "duration_s": None, "avdetect_version": __version__,
        "verdict": Verdict.error.value, "score": None, "reasons": [], "error": message,
        "checks": {}, "segments": [], "warnings": [],
    }
