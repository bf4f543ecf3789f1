"""What every check returns; report/ turns it into the JSON contract of DESIGN.md."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


def fmt_time(t: float) -> str:
    """Seconds -> MM:SS (HH:MM:SS from an hour on), for reasons people read."""
    m, s = divmod(int(round(t)), 60)
    return f"{m // 60:02d}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m:02d}:{s:02d}"


class Status(str, enum.Enum):
    ok = "ok"
    not_applicable = "not_applicable"


@dataclass
class Segment:
    """A stretch of the timeline with a 0-100 score (higher = more likely manipulated)."""

    start_s: float
    end_s: float
    score: float
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"start_s": round(self.start_s, 2), "end_s": round(self.end_s, 2),
                "score": round(float(self.score), 1), **self.extra}


@dataclass
class CheckResult:
    """status ok: score in 0-100; not_applicable: reason says why, score is None.

    fields: extra contract fields of this check (offset_ms, similarity, ...), merged into JSON.
    reasons: human sentences for the report's top-level "reasons" (only when they matter).
    """

    status: Status
    score: float | None = None
    reason: str | None = None
    segments: list[Segment] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    @classmethod
    def not_applicable(cls, reason: str, **fields: Any) -> "CheckResult":
        return cls(Status.not_applicable, None, reason, fields=dict(fields))

    def __post_init__(self) -> None:
        if self.status == Status.ok:
            assert self.score is not None and 0.0 <= self.score <= 100.0, self.score
        else:
            assert self.reason, "not_applicable needs a reason"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "score": None if self.score is None else round(float(self.score), 1),
            "reason": self.reason,
            **self.fields,
            "segments": [s.to_json() for s in self.segments],
        }
