"""The check interface: what a check declares, what it is given and what it returns.

A check is a class with the class attributes of `Check` and two methods; the detector keeps a list
of them (`avdetect.checks.CHECKS`) and the report, the CSV, the HTML timeline, fusion, `eval` and
the batch engines loop over that list. docs/architecture.md shows a toy check end to end.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..features import ClipFeatures


def fmt_time(t: float) -> str:
    """Seconds -> MM:SS (HH:MM:SS from an hour on), for reasons people read."""
    m, s = divmod(int(round(t)), 60)
    return f"{m // 60:02d}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m:02d}:{s:02d}"


class Status(enum.StrEnum):
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

    def __getattr__(self, name: str) -> Any:
        """A contract field as an attribute: result.offset_ms, result.similarity (None when the
        check did not judge and left the field out)."""
        fields = self.__dict__.get("fields")
        if fields is None or name.startswith("_"):
            raise AttributeError(name)
        if name in fields:
            return fields[name]
        if self.__dict__.get("status") == Status.not_applicable:
            return None
        raise AttributeError(f"{type(self).__name__} has no field {name!r}")

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "score": None if self.score is None else round(float(self.score), 1),
            "reason": self.reason,
            **self.fields,
            "segments": [s.to_json() for s in self.segments],
        }


class Reliability(str, enum.Enum):
    """How far a check's verdict can be trusted, from its model card's measurements."""

    normal = "normal"
    limited = "limited"


class LipSyncMethod(str, enum.Enum):
    """learned: the sync transformer (shipped weights); correlation: the training-free check alone."""

    learned = "learned"
    correlation = "correlation"


class SyncFinding(enum.StrEnum):
    """What the lip-sync check found (its `finding`; fusion weighs them differently).

    in_sync: nothing to report (score under suspicious).
    desync: a shift of the audio makes the lips match: a constant offset (often an encoding
        fault; suspicious at most unless larger than fusion.DESYNC_LARGE_MS), or one that changes
        within the clip (`offset_changes`: a cut or splice, may be fake).
    mismatch: no shift aligns lips and speech (dubbed or replaced audio): may be fake.
    generated: the mouth looks machine-rendered. Reserved for the visual branch (issue 17):
        not produced yet.
    """

    in_sync = "in_sync"
    desync = "desync"
    mismatch = "mismatch"
    generated = "generated"


@dataclass(frozen=True)
class Settings:
    """How a Detector is built: picklable, so batch workers and Ray actors build the same one.

    device: a resolved torch device ("cpu", "cuda"); model_dir: folder of the weights (None: the
    package's, or $AVDETECT_MODEL_DIR); vad: "silero" | "webrtc" | None (silero for video, webrtc
    for audio-only files).
    """

    device: str = "cpu"
    lip_sync: LipSyncMethod = LipSyncMethod.learned
    model_dir: str | None = None
    vad: str | None = None


@dataclass(frozen=True)
class ScanContext:
    """What a check may need besides the clip's features, the same for every clip of one call.

    device: where the models run ("cpu", "cuda"); claimed: the enrolled voice the speaker
    should be (None: no claim).
    """

    device: str = "cpu"
    claimed: str | None = None


@runtime_checkable
class Check(Protocol):
    """One kind of evidence. Class attributes describe it to the rest of the product:

    name:        key of its result in report["checks"] (and the CSV / timeline prefix)
    weight:      share of its 0-100 score that counts toward the verdict (fusion.fuse)
    csv_fields:  fields of its JSON result that the batch CSV shows, as "<name>_<field>"
    detail_fields: fields the text and HTML reports print beside its score
    timeline:    whether its segments are drawn on the HTML timeline
    suspicious_at: its own 0-100 mark: at or above it the check always gives a reason, even
                 when its weight keeps the verdict below suspicious
    reliability: Reliability.normal, or .limited for a check its model card measures as weak
                 (reports label it so); limits: one phrase saying how ("" for normal)
    models:      the shipped model files it reads (names in avdetect/models/weights/, no suffix);
                 the evidence page lists those of the checks that ran
    """

    name: ClassVar[str]
    weight: ClassVar[float]
    csv_fields: ClassVar[tuple[str, ...]]
    detail_fields: ClassVar[tuple[str, ...]]
    timeline: ClassVar[bool]
    suspicious_at: ClassVar[float]
    reliability: ClassVar[Reliability]
    limits: ClassVar[str]
    models: ClassVar[tuple[str, ...]]

    @classmethod
    def load(cls, settings: Settings) -> "Check":
        """Build the check with its models loaded (raises models.store.ModelFileError)."""
        ...

    def applicable(self, feats: "ClipFeatures", ctx: ScanContext) -> CheckResult | None:
        """None when the check can judge this clip, else its not_applicable result (with why)."""
        ...

    def run(self, feats: list["ClipFeatures"], ctx: ScanContext) -> list[CheckResult]:
        """Judge clips it found applicable, all at once (models batch across clips); one result each."""
        ...
