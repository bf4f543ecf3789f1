"""Self-contained HTML report: verdict, reasons, timeline plot, key frames with lip landmarks.

No external assets: the timeline (matplotlib) and the key frames (PIL) are embedded as base64
images. The markup is in the Jinja2 templates of report/templates/ (autoescaped: every piece of
text from the report is HTML-escaped).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io as _bytesio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from ..constants import VIDEO_FPS
from ..fusion import FAKE_THRESHOLD, SUSPICIOUS_THRESHOLD
from .text import detail_fields

N_KEY_FRAMES = 3  # key frames shown, at the highest-scoring lip-sync segments
KEY_FRAME_MIN_GAP_S = 0.4  # s between key frames (just under one 0.5 s segment hop, which lands on whole frames)
KEY_FRAME_WIDTH_PX = 300  # three fit side by side in a 1000 px page
PLOT_SIZE_IN = (9.0, 2.6)  # inches at PLOT_DPI
PLOT_DPI = 100
VERDICT_COLOURS = {"authentic": "#2e7d32", "suspicious": "#ef6c00", "fake": "#c62828",
                   "not_applicable": "#616161", "error": "#6a1b9a"}


def _basename(path: Any) -> str:
    """The file name of a path as the page shows it (str(None) -> "None", as before)."""
    return Path(str(path)).name


TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("avdetect.report", "templates"), autoescape=True,
    undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    finalize=lambda x: "" if x is None else x)  # None prints as nothing
TEMPLATES.filters["basename"] = _basename
TEMPLATES.globals["verdict_colours"] = VERDICT_COLOURS


@dataclass
class KeyFrame:
    """A frame at time_s with its score; lips: (40, 2) pixel points drawn on it, or None (no face)."""

    time_s: float
    score: float
    rgb: np.ndarray
    lips: np.ndarray | None


def html_name(report: dict[str, Any]) -> str:
    """A file name for the report page: media stem + 8 hex digits of the absolute path."""
    path = (report.get("source") or {}).get("path") or report.get("file") or "report"
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(path).stem)[:60] or "report"
    return f"{stem}-{hashlib.sha1(path.encode('utf-8')).hexdigest()[:8]}.html"


def _png_b64(fig) -> str:
    buf = _bytesio.BytesIO()
    fig.savefig(buf, format="png", dpi=PLOT_DPI, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def timeline_checks() -> list[str]:
    """The checks whose segments the timeline draws (Check.timeline), in report order."""
    from ..checks import CHECKS

    return [c.name for c in CHECKS if c.timeline]


def timeline_png(report: dict[str, Any]) -> str | None:
    """Base64 PNG of each check's segment scores over time (None: no check has segments)."""
    series = {name: report.get("checks", {}).get(name, {}).get("segments") or [] for name in timeline_checks()}
    if not any(series.values()):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=PLOT_SIZE_IN)
    try:
        ax.axhspan(FAKE_THRESHOLD, 100, color="#c62828", alpha=0.08)
        ax.axhspan(SUSPICIOUS_THRESHOLD, FAKE_THRESHOLD, color="#ef6c00", alpha=0.08)
        for name, segs in series.items():
            if segs:
                t = [0.5 * (s["start_s"] + s["end_s"]) for s in segs]
                ax.plot(t, [s["score"] for s in segs], marker="o", ms=3, label=name.replace("_", " "))
        ax.set(xlim=(0, max(report.get("duration_s") or 0.0, 1e-3)), ylim=(-3, 103),
               xlabel="time (s)", ylabel="score (higher = more likely fake)")
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(alpha=0.3)
        return _png_b64(fig)
    finally:
        plt.close(fig)


def worst_times(report: dict[str, Any], n: int = N_KEY_FRAMES) -> list[tuple[float, float]]:
    """(time_s, score) at the middles of the n highest-scoring lip-sync segments, >= KEY_FRAME_MIN_GAP_S apart."""
    segs = sorted(report.get("checks", {}).get("lip_sync", {}).get("segments") or [], key=lambda s: -s["score"])
    chosen: list[tuple[float, float]] = []
    for s in segs:
        t = 0.5 * (s["start_s"] + s["end_s"])
        if all(abs(t - c) >= KEY_FRAME_MIN_GAP_S - 1e-6 for c, _ in chosen):
            chosen.append((t, float(s["score"])))
        if len(chosen) == n:
            break
    return sorted(chosen)


@functools.lru_cache(maxsize=1)
def _static_mesh():
    """FaceMesh in static-image mode (no tracking state): for the few key frames of a report."""
    from ..visual.landmarks import quiet_stderr

    with quiet_stderr():
        import mediapipe as mp

        return mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=False)


def _lips_px(rgb: np.ndarray) -> np.ndarray | None:
    """rgb (H, W, 3) uint8 -> (40, 2) lip points in pixels (outer 20 then inner 20), None: no face."""
    from ..visual.landmarks import LIP_POINTS

    from ..visual.landmarks import quiet_stderr

    with quiet_stderr():
        res = _static_mesh().process(rgb)
    if not res.multi_face_landmarks:
        return None
    h, w = rgb.shape[:2]
    lm = res.multi_face_landmarks[0].landmark
    pts = np.array([(lm[i].x * w, lm[i].y * h) for i in LIP_POINTS], np.float32)
    assert pts.shape == (len(LIP_POINTS), 2)
    return pts


def key_frames(report: dict[str, Any], media_path: str | os.PathLike) -> list[KeyFrame]:
    """Frames at the worst lip-sync segments, with the lip landmarks FaceMesh finds on them."""
    from .. import io

    times = worst_times(report)
    if not times:
        return []
    try:
        frames = io.read_frames(media_path, [int(round(t * VIDEO_FPS)) for t, _ in times])
    except io.MediaError:
        return []
    out = []
    for t, score in times:
        rgb = frames.get(int(round(t * VIDEO_FPS)))
        if rgb is not None:
            out.append(KeyFrame(t, score, rgb, _lips_px(rgb)))
    return out


def _frame_b64(kf: KeyFrame) -> str:
    from PIL import Image, ImageDraw

    img = Image.fromarray(kf.rgb)
    if kf.lips is not None:
        d = ImageDraw.Draw(img)
        half = len(kf.lips) // 2  # outer ring, then inner ring
        for ring, colour in ((kf.lips[:half], (255, 40, 40)), (kf.lips[half:], (40, 220, 255))):
            pts = [tuple(map(float, p)) for p in ring]
            d.line(pts + pts[:1], fill=colour, width=2)
            for x, y in pts:
                d.ellipse((x - 1.5, y - 1.5, x + 1.5, y + 1.5), fill=colour)
    scale = KEY_FRAME_WIDTH_PX / img.width
    img = img.resize((KEY_FRAME_WIDTH_PX, max(1, int(round(img.height * scale)))))
    buf = _bytesio.BytesIO()
    img.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _check_rows(report: dict[str, Any]) -> list[tuple[str, Any, Any, Any]]:
    """(name, status, score, details) per check: the ok checks' measurements, else the reason."""
    rows = []
    for name, c in report.get("checks", {}).items():
        detail = ", ".join(f"{k} {c[k]}" for k in detail_fields(name)
                           if c.get(k) is not None) if c.get("status") == "ok" else c.get("reason")
        rows.append((name, c.get("status"), c.get("score"), detail))
    return rows


def render_html(report: dict[str, Any], frames: list[KeyFrame] | None = None) -> str:
    """The report page as a string (self-contained)."""
    return TEMPLATES.get_template("report.html").render(
        report=report, checks=_check_rows(report), timeline=timeline_png(report),
        frames=[(kf, _frame_b64(kf)) for kf in frames or []],
        fake_threshold=FAKE_THRESHOLD, suspicious_threshold=SUSPICIOUS_THRESHOLD)


def write_html(report: dict[str, Any], out: str | os.PathLike, media_path: str | os.PathLike | None = None) -> Path:
    """Write the report page; key frames are read from media_path when given (and readable)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frames = key_frames(report, media_path) if media_path is not None and report.get("verdict") != "error" else []
    out.write_text(render_html(report, frames), encoding="utf-8")
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
