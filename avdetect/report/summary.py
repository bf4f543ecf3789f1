"""The report's one-sentence summary: what the verdict means and what a person should do next.

"authentic" only means that no check that ran found a problem, so its summary names the checks
that ran, the weak ones and what they miss, and the checks that did not run.
"""

from __future__ import annotations

from ..checks.base import CheckResult, Reliability, Status
from ..fusion import Verdict, label
from .check_info import CheckInfo


def _names(names: list[str]) -> str:
    """["a", "b", "c"] -> "a, b and c"."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _first_lower(s: str) -> str:
    return s[:1].lower() + s[1:] if s[:2] != s[:2].upper() else s


def summarize(verdict: Verdict, score: float | None, reasons: list[str], checks: dict[str, CheckResult],
              infos: dict[str, CheckInfo]) -> str:
    """One sentence a person can act on (error reports: json_report.error_report)."""
    ran = [k for k, c in checks.items() if c.status == Status.ok]
    skipped = [k for k, c in checks.items() if c.status != Status.ok]
    if verdict == Verdict.not_applicable:
        why = "; ".join(f"{label(k)}: {checks[k].reason}" for k in skipped)
        return f"No check could judge this file ({why}): this is not a finding either way."
    weak = {k for k in ran if infos[k].reliability == Reliability.limited}
    not_run = f" (the {_names([label(k) for k in skipped])} check{'s' if len(skipped) > 1 else ''} did not run)" \
        if skipped else ""
    if verdict in (Verdict.fake, Verdict.suspicious):
        lead = "Likely manipulated" if verdict == Verdict.fake else "Possibly manipulated"
        top = _first_lower(reasons[0]) if reasons else "see the check scores"
        decider = max(ran, key=lambda k: checks[k].score * infos[k].weight)
        caveat = (f"; the {label(decider)} check that decided is weak ({infos[decider].limits}), so confirm this "
                  f"another way" if decider in weak else "")
        return f"{lead} ({verdict.value}, score {score:.0f}/100): {top}{caveat}."
    head = f"No sign of manipulation from the {_names([label(k) for k in ran])} check{'s' if len(ran) > 1 else ''}"
    notes = []
    for k in ran:
        flagged = checks[k].score >= infos[k].suspicious_at
        if flagged:
            notes.append(f"the {label(k)} check scored {checks[k].score:.0f}, over its own mark "
                         f"{infos[k].suspicious_at:.0f}, but {'is weak and ' if k in weak else ''}counts "
                         f"{infos[k].weight:g}x toward the verdict: review the times it gives")
        if checks[k].fields.get("match") is True:  # the speaker check: a voice like the claimed one
            notes.append(f"the voice sounds like the enrolled {checks[k].fields.get('claimed')}, which a good "
                         f"clone of that voice also does")
        if k in weak:
            notes.append(f"the {label(k)} check is weak: {infos[k].limits}" if infos[k].limits
                         else f"the {label(k)} check is weak")
    return head + not_run + "".join(f"; {n}" for n in notes) + "."
