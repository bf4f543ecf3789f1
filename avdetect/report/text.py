"""Plain-text summary of a report for people at a terminal."""

from __future__ import annotations

from typing import Any


def detail_fields(name: str) -> tuple[str, ...]:
    """The fields a check's Check class asks reports to print beside its score (none if unknown)."""
    from ..checks import check_named

    cls = check_named(name)
    return cls.detail_fields if cls is not None else ()


def format_text(report: dict[str, Any]) -> str:
    lines = [f"{report['file']}: {report['verdict'].upper()}"
             + (f" (score {report['score']:.0f}/100)" if report.get("score") is not None else "")]
    if report.get("error"):
        lines.append(f"  error: {report['error']}")
    for r in report.get("reasons", []):
        lines.append(f"  - {r}")
    for name, c in report.get("checks", {}).items():
        if c["status"] == "ok":
            extra = "".join(f", {k} {c[k]}" for k in detail_fields(name) if c.get(k) is not None)
            lines.append(f"  {name}: score {c['score']:.0f}{extra}")
        else:
            lines.append(f"  {name}: not applicable ({c['reason']})")
    for w in report.get("warnings", []):
        lines.append(f"  warning: {w}")
    return "\n".join(lines)
