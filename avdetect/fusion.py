"""Verdict from the checks: the most incriminating applicable check decides.

Thresholds on the 0-100 score (higher = more likely manipulated):
  score >= 70 -> fake, 40 <= score < 70 -> suspicious, below 40 -> authentic.
No applicable check -> not_applicable.
"""

from __future__ import annotations

import enum

from .checks.base import CheckResult, Status

FAKE_THRESHOLD = 70.0
SUSPICIOUS_THRESHOLD = 40.0


class Verdict(str, enum.Enum):
    authentic = "authentic"
    suspicious = "suspicious"
    fake = "fake"
    not_applicable = "not_applicable"
    error = "error"


def verdict_for(score: float) -> Verdict:
    if score >= FAKE_THRESHOLD:
        return Verdict.fake
    if score >= SUSPICIOUS_THRESHOLD:
        return Verdict.suspicious
    return Verdict.authentic


def fuse(checks: dict[str, CheckResult]) -> tuple[Verdict, float | None, list[str]]:
    """-> (verdict, clip score or None, reasons ordered by the score of their check)."""
    applicable = {k: c for k, c in checks.items() if c.status == Status.ok}
    if not applicable:
        return Verdict.not_applicable, None, [f"{k}: {c.reason}" for k, c in checks.items()]
    score = max(c.score for c in applicable.values())
    ranked = sorted(applicable.values(), key=lambda c: -c.score)
    reasons = [r for c in ranked if c.score >= SUSPICIOUS_THRESHOLD for r in c.reasons]
    return verdict_for(score), score, reasons
