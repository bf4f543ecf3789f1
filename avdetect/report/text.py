"""Plain-text summary of a report for people at a terminal (and the words the HTML page shares)."""

from __future__ import annotations

from typing import Any


def detail_fields(name: str) -> tuple[str, ...]:
    """The fields a check's Check class asks reports to print beside its score (none if unknown)."""
    from ..checks import check_named

    cls = check_named(name)
    return cls.detail_fields if cls is not None else ()


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def detail_items(name: str, c: dict[str, Any]) -> list[str]:
    """A judged check's detail fields as "field value" phrases. An offset that no shift confirmed
    (offset_found false) is not a measurement: it reads "offset none found"; a lip-sync finding
    whose offset changes gives the times ("finding desync, offset changes at 00:06")."""
    from ..checks.base import fmt_time

    out = []
    for k in detail_fields(name):
        if c.get(k) is None:
            continue
        if k == "offset_ms" and c.get("offset_found") is False:
            out.append("offset none found (no time shift aligns lips and audio)")
        elif k == "finding" and c.get("offset_changes"):
            at = ", ".join(fmt_time(x["at_s"]) for x in c["offset_changes"])
            out.append(f"finding {c[k]}, offset changes at {at}")
        else:
            out.append(f"{k} {_value(c[k])}")
    return out


def reliability_note(c: dict[str, Any]) -> str:
    """" (limited reliability)" for a check its model card measures as weak, else ""."""
    return " (limited reliability)" if c.get("reliability") == "limited" else ""


def not_run(report: dict[str, Any]) -> list[dict[str, str]]:
    """The report's not_run list (derived from its checks for records written before it existed)."""
    if "not_run" in report:
        return list(report["not_run"])
    return [{"check": k, "reason": c.get("reason") or ""} for k, c in report.get("checks", {}).items()
            if c.get("status") != "ok"]


def format_text(report: dict[str, Any]) -> str:
    lines = [f"{report['file']}: {report['verdict'].upper()}"
             + (f" (score {report['score']:.0f}/100)" if report.get("score") is not None else "")]
    if report.get("error"):
        lines.append(f"  error: {report['error']}")
    elif report.get("summary"):
        lines.append(f"  {report['summary']}")
    if report.get("verdict") != "not_applicable":  # there the reasons are the not-run lines below
        lines += [f"  - {r}" for r in report.get("reasons", [])]
    for name, c in report.get("checks", {}).items():
        if c["status"] == "ok":
            extra = "".join(f", {d}" for d in detail_items(name, c))
            lines.append(f"  {name}: score {c['score']:.0f}{reliability_note(c)}{extra}")
    for nr in not_run(report):
        lines.append(f"  {nr['check']}: not run: {nr['reason']}")
    for w in report.get("warnings", []):
        lines.append(f"  warning: {w}")
    return "\n".join(lines)
