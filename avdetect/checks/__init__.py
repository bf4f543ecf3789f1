"""The checks a scan runs, in report order. Adding a check: a class in its own file (the
`Check` protocol of checks/base.py) and one line in `_registry`; see docs/architecture.md.

`CHECKS` loads on first use, so importing `avdetect.checks.base` stays light (no torch).
"""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1)
def _registry() -> tuple:
    from .lip_sync import LipSyncCheck
    from .speaker import SpeakerCheck
    from .synthetic_speech import SyntheticSpeechCheck

    return (
        LipSyncCheck,
        SyntheticSpeechCheck,
        SpeakerCheck,
    )


def check_named(name: str):
    """The registered check class with this report key, None for an unknown one."""
    return next((c for c in _registry() if c.name == name), None)


def __getattr__(name: str):
    if name == "CHECKS":  # tuple[type[Check], ...]
        return _registry()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CHECKS", "check_named"]
