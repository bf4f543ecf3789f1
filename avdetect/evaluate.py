"""`avdetect eval`: detection metrics of one check over a manifest of labelled recordings.

The manifest is a CSV with a header. Columns (extra columns are ignored, so
`../shared/data/manifest.csv` works as it is):
    path       media file, relative to the manifest's folder or absolute   (required)
    label      real | fake (also 0 | 1, authentic)                          (required)
    kind       the generator or condition of the row (default: the label)
    channel    e.g. clean, tel8k, mp3 (default: original)
    offset_ms  the true audio-video offset, + = sound late (optional; lip_sync offset accuracy)

Every file goes through the same pipeline as `avdetect scan`. Per channel, each kind of fake is
compared with all real rows of that channel: ROC AUC and EER of the check's 0-100 score. Rows
the check cannot judge (not_applicable, error) are counted, never scored.
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .batch.results import check_field
from .io import MediaError
from .metrics import eer, roc_auc

OFFSET_TOLERANCE_MS = 40.0  # +-1 video frame at 25 fps
ALL_FAKES = "ALL FAKES"
LABELS = {"real": 0, "authentic": 0, "0": 0, "bonafide": 0, "fake": 1, "spoof": 1, "1": 1}


OVERALL = "overall"  # the report's fused score


def eval_targets() -> tuple[str, ...]:
    """What `eval --check` accepts: the registered checks' names and "overall"."""
    from .checks import CHECKS

    return (*(c.name for c in CHECKS), OVERALL)


def eval_target(name: str) -> str:
    """Validate an `eval --check` value. Raises MediaError naming the choices."""
    if name not in eval_targets():
        raise MediaError(f"--check must be one of {', '.join(eval_targets())}, not {name!r}")
    return name


@dataclass(frozen=True)
class LabelledClip:
    path: str  # absolute
    label: int  # 0 real, 1 fake
    kind: str
    channel: str
    offset_ms: float | None


@dataclass
class Row:
    """One table row: a kind of recording in one channel."""

    channel: str
    kind: str
    label: str  # real | fake | all
    n: int  # rows in the manifest
    n_scored: int  # rows the check judged
    auc: float | None = None  # fakes of this kind vs the channel's reals
    eer: float | None = None
    offset_acc: float | None = None  # share within +-40 ms of offset_ms (rows that have one)
    n_offset: int = 0


def read_manifest(path: str | os.PathLike, where: dict[str, str] | None = None) -> list[LabelledClip]:
    """CSV -> clips; `where` keeps rows whose columns equal the given values. Raises MediaError."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise MediaError(f"{path}: cannot read the manifest ({e})") from None
    if not rows or not {"path", "label"} <= set(rows[0]):
        raise MediaError(f"{path}: a manifest needs a header with at least 'path' and 'label'")
    for col in where or {}:
        if col not in rows[0]:
            raise MediaError(f"{path}: no column {col!r} to filter on")
    out = []
    for i, r in enumerate(rows, start=2):
        if any(r.get(c) != v for c, v in (where or {}).items()):
            continue
        out.append(_clip(path, i, r))
    if not out:
        raise MediaError(f"{path}: no rows left to evaluate")
    return out


def _clip(manifest: Path, line: int, r: dict[str, str]) -> LabelledClip:
    label = LABELS.get((r["label"] or "").strip().lower())
    if label is None:
        raise MediaError(f"{manifest}:{line}: label must be real or fake, not {r['label']!r}")
    offset = (r.get("offset_ms") or "").strip()
    try:
        offset_ms = float(offset) if offset else None
    except ValueError:
        raise MediaError(f"{manifest}:{line}: offset_ms is not a number: {offset!r}") from None
    p = Path(r["path"])
    p = p if p.is_absolute() else manifest.parent / p
    return LabelledClip(os.path.abspath(p), label, (r.get("kind") or "").strip() or ("fake" if label else "real"),
                        (r.get("channel") or "").strip() or "original", offset_ms)


def score_of(report: dict[str, Any], check: str) -> float | None:
    """The check's 0-100 score in a report (check "overall": the fused score), None when it did not judge."""
    if report.get("verdict") == "error":
        return None
    if check == OVERALL:
        return report.get("score")
    return check_field(report, check)


def offset_of(report: dict[str, Any]) -> float | None:
    return check_field(report, "lip_sync", "offset_ms")


def evaluate(clips: list[LabelledClip], reports: dict[str, dict[str, Any]], check: str) -> list[Row]:
    """Table rows per (channel, kind) plus, per channel, all fakes pooled. reports: path -> report."""
    scored = [(c, score_of(reports[c.path], check) if c.path in reports else None) for c in clips]
    rows: list[Row] = []
    for channel in sorted({c.channel for c in clips}, key=lambda ch: (ch != "original", ch)):
        here = [(c, s) for c, s in scored if c.channel == channel]
        reals = np.array([s for c, s in here if c.label == 0 and s is not None], float)
        groups: dict[tuple[int, str], list] = defaultdict(list)
        for c, s in here:
            groups[(c.label, c.kind)].append((c, s))
        for (label, kind), items in sorted(groups.items()):
            rows.append(_row(channel, kind, "fake" if label else "real", items, reals, reports))
        fakes = [(c, s) for c, s in here if c.label == 1]
        if len({c.kind for c, _ in fakes}) > 1:
            rows.append(_row(channel, ALL_FAKES, "fake", fakes, reals, reports))
    return rows


def _row(channel: str, kind: str, label: str, items: list, reals: np.ndarray,
         reports: dict[str, dict[str, Any]]) -> Row:
    scores = np.array([s for _, s in items if s is not None], float)
    row = Row(channel, kind, label, len(items), len(scores))
    if label == "fake" and len(scores) and len(reals):
        row.auc = roc_auc(reals, scores)
        row.eer = eer(reals, scores)[0]
    truth = [(c, reports.get(c.path)) for c, _ in items if c.offset_ms is not None]
    if truth:
        hits = [r is not None and (o := offset_of(r)) is not None and abs(o - c.offset_ms) <= OFFSET_TOLERANCE_MS
                for c, r in truth]
        row.offset_acc, row.n_offset = float(np.mean(hits)), len(hits)
    return row


def format_table(rows: list[Row], check: str) -> str:
    """Markdown table (pastes into a model card)."""
    def f(x: float | None) -> str:
        return "-" if x is None else f"{x:.3f}"

    lines = [f"check: {check} (score 0-100, higher = more likely fake)", "",
             "| channel | kind | label | n | judged | ROC AUC | EER | offset acc (+-40 ms) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        off = "-" if r.offset_acc is None else f"{r.offset_acc:.3f} (n={r.n_offset})"
        lines.append(f"| {r.channel} | {r.kind} | {r.label} | {r.n} | {r.n_scored} | {f(r.auc)} | {f(r.eer)} | {off} |")
    return "\n".join(lines)


def rows_to_json(rows: list[Row]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]
