"""Self-contained HTML evidence page: verdict, summary, file facts, reasons, checks run and not
run, timeline, flagged frames with lip landmarks, the lip-sync shift plot; it prints cleanly
(a print stylesheet in templates/page.html).

No external assets: the plots (matplotlib) and the frames (PIL) are embedded as base64 images.
The markup is in the Jinja2 templates of report/templates/ (autoescaped: every piece of text
from the report is HTML-escaped).
"""

from __future__ import annotations

import base64
import hashlib
import io as _bytesio
import os
from pathlib import Path
from typing import Any

import jinja2

from ..fusion import FAKE_THRESHOLD, SUSPICIOUS_THRESHOLD
from .evidence import (STRIP_FRAME_PX, Evidence, FrameEvidence, draw_lips, gather, human_size, mouth_crop,
                       shift_figure, timeline_figure)
from .text import detail_items, not_run

VERDICT_COLOURS = {"authentic": "#2e7d32", "suspicious": "#ef6c00", "fake": "#c62828",
                   "not_applicable": "#616161", "error": "#6a1b9a"}
PLOT_DPI = 100


def _basename(path: Any) -> str:
    """The file name of a path as the page shows it (str(None) -> "None", as before)."""
    return Path(str(path)).name


TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("avdetect.report", "templates"), autoescape=True,
    undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    finalize=lambda x: "" if x is None else x)  # None prints as nothing
TEMPLATES.filters["basename"] = _basename
TEMPLATES.globals["verdict_colours"] = VERDICT_COLOURS


def html_name(report: dict[str, Any]) -> str:
    """A file name for the report page: media stem + 8 hex digits of the absolute path."""
    path = (report.get("source") or {}).get("path") or report.get("file") or "report"
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(path).stem)[:60] or "report"
    return f"{stem}-{hashlib.sha1(path.encode('utf-8')).hexdigest()[:8]}.html"


def _fig_b64(fig) -> str | None:
    """A matplotlib figure (closed here) as base64 PNG; None for no figure."""
    if fig is None:
        return None
    import matplotlib.pyplot as plt

    try:
        buf = _bytesio.BytesIO()
        fig.savefig(buf, format="png", dpi=PLOT_DPI, bbox_inches="tight")
        return base64.b64encode(buf.getvalue()).decode("ascii")
    finally:
        plt.close(fig)


def _img_b64(img) -> str:
    buf = _bytesio.BytesIO()
    img.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def timeline_png(report: dict[str, Any]) -> str | None:
    """Base64 PNG of each check's segment scores as spans over time (None: no check has segments)."""
    return _fig_b64(timeline_figure(report))


def check_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per check that judged: name, score, reliability, details (phrases)."""
    return [{"name": name, "score": c.get("score"), "reliability": c.get("reliability") or "normal",
             "details": ", ".join(detail_items(name, c))}
            for name, c in (report.get("checks") or {}).items() if c.get("status") == "ok"]


def _frames_view(frames: FrameEvidence | None) -> dict[str, Any] | None:
    if frames is None:
        return None
    crop = mouth_crop(frames.crop) if frames.crop is not None else None
    return {"title": frames.title, "flagged": frames.flagged,
            "crop": None if crop is None else {"time_s": frames.crop.time_s, "png": _img_b64(crop)},
            "no_face": frames.crop is not None and crop is None,
            "strip": [{"time_s": kf.time_s, "png": _img_b64(draw_lips(kf, STRIP_FRAME_PX)),
                       "no_face": kf.lips is None} for kf in frames.strip]}


def render_html(report: dict[str, Any], evidence: Evidence | None = None) -> str:
    """The report page as a string (self-contained; evidence None: the report's own fields only)."""
    ev = evidence or Evidence(report, None, [], "", None)
    facts = ev.facts
    return TEMPLATES.get_template("report.html").render(
        report=report, checks=check_rows(report), not_run=not_run(report),
        timeline=timeline_png(report), shift=_fig_b64(shift_figure(report)), frames=_frames_view(ev.frames),
        facts=facts, size=None if facts is None else human_size(facts.size), models=ev.models,
        scanned_at=ev.scanned_at, score=score_text(report),
        fake_threshold=FAKE_THRESHOLD, suspicious_threshold=SUSPICIOUS_THRESHOLD)


def score_text(report: dict[str, Any]) -> str:
    """"score 87/100", or "no score" when no check judged (error, not_applicable)."""
    return "no score" if report.get("score") is None else f"score {report['score']:.0f}/100"


def write_html(report: dict[str, Any], out: str | os.PathLike, media_path: str | os.PathLike | None = None) -> Path:
    """Write the report page; file facts and frames are read from media_path when given (and readable)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(report, gather(report, media_path)), encoding="utf-8")
    return out


def write_index(records: list[dict[str, Any]], html_dir: str | os.PathLike) -> Path:
    """index.html: one row per file with its verdict, score and a link to its page (when written)."""
    html_dir = Path(html_dir)
    html_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    rows = []
    for r in sorted(records, key=lambda r: (-(r.get("score") or -1), str(r.get("file")))):
        counts[r.get("verdict", "error")] = counts.get(r.get("verdict", "error"), 0) + 1
        name = html_name(r)
        rows.append({"name": _basename(r.get("file")), "link": name if (html_dir / name).exists() else None,
                     "verdict": r.get("verdict", "error"), "score": r.get("score"),
                     "duration_s": r.get("duration_s"), "why": r.get("error") or "; ".join(r.get("reasons") or [])})
    out = html_dir / "index.html"
    page = TEMPLATES.get_template("index.html").render(rows=rows, counts=sorted(counts.items()))
    out.write_text(page, encoding="utf-8")
    return out
