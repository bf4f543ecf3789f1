"""What a report needs to know about each check besides its result: its Check class attributes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ..checks.base import Reliability
from ..fusion import SUSPICIOUS_THRESHOLD


@dataclass(frozen=True)
class CheckInfo:
    """What the report needs to know about a check besides its result (its Check class attributes)."""

    weight: float = 1.0
    suspicious_at: float = SUSPICIOUS_THRESHOLD
    reliability: Reliability = Reliability.normal
    limits: str = ""
    models: tuple[str, ...] = ()

    @classmethod
    def of(cls, check: Any) -> "CheckInfo":
        """From a Check class or instance (attributes it lacks take the defaults)."""
        return cls(float(getattr(check, "weight", 1.0)), float(getattr(check, "suspicious_at", SUSPICIOUS_THRESHOLD)),
                   Reliability(getattr(check, "reliability", Reliability.normal)), str(getattr(check, "limits", "")),
                   tuple(getattr(check, "models", ())))


def check_infos(checks: Iterable[Any] | None = None) -> dict[str, CheckInfo]:
    """CheckInfo by name for Check classes or instances (None: the registered checks)."""
    if checks is None:
        from ..checks import CHECKS

        checks = CHECKS
    return {c.name: CheckInfo.of(c) for c in checks}
