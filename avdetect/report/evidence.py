"""What an evidence report shows besides the JSON: file facts, model versions, key frames and plots.

Shared by the HTML page (report/html.py) and the PDF (report/pdf.py). Facts about the file come
from io.file_facts (the one I/O boundary); frames from io.read_frames; the plots are matplotlib
figures the writers save as PNG (HTML) or draw on PDF pages.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..constants import REALIGNED_MIN_P_SYNC, VIDEO_FPS
from ..fusion import FAKE_THRESHOLD, SUSPICIOUS_THRESHOLD, label

N_STRIP_FRAMES = 6  # frames in the strip across the flagged lip-sync segment (or the whole clip)
STRIP_MARGIN_S = 0.25  # s the strip reaches before and after the flagged segment
CROP_MARGIN = 0.3  # the mouth crop: lip bounding box grown by this share of its size on each side
CROP_PX = 240  # px: width of the mouth crop as shown
STRIP_FRAME_PX = 150  # px: width of each strip frame as shown
TIMELINE_SIZE_IN = (9.0, 2.8)  # inches
SHIFT_PLOT_SIZE_IN = (5.0, 2.6)  # inches
OUTER_LIPS_RGB = (255, 40, 40)
INNER_LIPS_RGB = (40, 220, 255)


@dataclass
class KeyFrame:
    """A frame at time_s; lips: (40, 2) pixel points found on it, or None (no face)."""

    time_s: float
    rgb: np.ndarray
    lips: np.ndarray | None
    score: float | None = None  # the lip-sync score of the segment it was taken from


@dataclass
class FrameEvidence:
    """Frames for a report: flagged: the lip-sync check is at or above its mark; segment:
    (start_s, end_s, score) of the worst one; crop: the mouth at its middle (None: no face or not
    flagged); strip: frames across it (or across the clip when nothing was flagged)."""

    flagged: bool
    segment: tuple[float, float, float] | None
    crop: KeyFrame | None
    strip: list[KeyFrame] = field(default_factory=list)

    @property
    def title(self) -> str:
        if self.flagged and self.segment is not None:
            a, b, s = self.segment
            return f"Flagged lip-sync segment {a:.2f}-{b:.2f} s (score {s:.0f}): mouth and frames around it"
        return "Frames across the clip (no lip-sync segment was flagged)"


@dataclass
class Evidence:
    """Everything a report page shows. facts None: the file could not be read (error reports)."""

    report: dict[str, Any]
    facts: Any  # io.FileFacts | None
    models: list[dict[str, Any]]
    scanned_at: str
    frames: FrameEvidence | None


def now_utc() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def gather(report: dict[str, Any], media_path: str | os.PathLike | None) -> Evidence:
    """File facts, the versions of the shipped models its checks read, and frames for a report
    (media_path None: no file facts and no frames)."""
    from .. import io
    from ..models.store import shipped_models

    facts = frames = None
    if media_path is not None:
        try:
            facts = io.file_facts(media_path)
        except io.MediaError:
            facts = None
        if report.get("verdict") != "error":
            frames = frame_evidence(report, media_path)
    used = set(models_used(report))
    return Evidence(report, facts, [m for m in shipped_models() if m["name"] in used], now_utc(), frames)


def models_used(report: dict[str, Any]) -> list[str]:
    """Names of the shipped model files the report's checks read: those of every check that ran
    (status ok), except a result of the training-free correlation method (reads no model)."""
    from .check_info import check_infos

    infos = check_infos()
    out: list[str] = []
    for name, c in (report.get("checks") or {}).items():
        if not isinstance(c, dict) or c.get("status") != "ok" or c.get("method") == "correlation":
            continue
        out += [m for m in (infos[name].models if name in infos else ()) if m not in out]
    return out


def lip_check(report: dict[str, Any]) -> dict[str, Any]:
    c = (report.get("checks") or {}).get("lip_sync") or {}
    return c if c.get("status") == "ok" else {}


def worst_segment(report: dict[str, Any]) -> tuple[float, float, float] | None:
    """(start_s, end_s, score) of the highest-scoring lip-sync segment (earliest of ties)."""
    segs = lip_check(report).get("segments") or []
    if not segs:
        return None
    s = max(segs, key=lambda s: (s["score"], -s["start_s"]))
    return float(s["start_s"]), float(s["end_s"]), float(s["score"])


def strip_times(report: dict[str, Any]) -> tuple[bool, tuple[float, float, float] | None, list[float]]:
    """-> (flagged, worst segment, times of the strip frames in s). Flagged: the lip-sync check
    itself scored the clip at or above its mark (a single high window of a clip judged in sync
    is not a finding)."""
    seg = worst_segment(report)
    flagged = seg is not None and float(lip_check(report).get("score") or 0.0) >= SUSPICIOUS_THRESHOLD
    dur = float(report.get("duration_s") or 0.0)
    if flagged:
        a, b = max(0.0, seg[0] - STRIP_MARGIN_S), min(dur or seg[1], seg[1] + STRIP_MARGIN_S)
    else:
        a, b = 0.0, dur
    if b <= 0:
        return flagged, seg, []
    last = max(a, b - 1.0 / VIDEO_FPS)
    return flagged, seg, [float(t) for t in np.linspace(a, last, N_STRIP_FRAMES)]


def frame_evidence(report: dict[str, Any], media_path: str | os.PathLike) -> FrameEvidence | None:
    """The strip (and, when flagged, the mouth crop) read from the media; None: no video frames."""
    from .. import io

    flagged, seg, times = strip_times(report)
    if not times:
        return None
    mid = 0.5 * (seg[0] + seg[1]) if flagged else None
    wanted = [int(round(t * VIDEO_FPS)) for t in times] + ([int(round(mid * VIDEO_FPS))] if mid is not None else [])
    try:
        got = io.read_frames(media_path, wanted)
    except io.MediaError:
        return None
    if not got:
        return None
    strip = [KeyFrame(k / VIDEO_FPS, got[k], lips_px(got[k])) for k in wanted[:len(times)] if k in got]
    crop = None
    if mid is not None and wanted[-1] in got:
        rgb = got[wanted[-1]]
        crop = KeyFrame(wanted[-1] / VIDEO_FPS, rgb, lips_px(rgb), seg[2])
    return FrameEvidence(flagged, seg, crop, strip)


@functools.lru_cache(maxsize=1)
def _static_mesh():
    """FaceMesh in static-image mode (no tracking state): for the few key frames of a report."""
    from ..visual.landmarks import quiet_stderr

    with quiet_stderr():
        import mediapipe as mp

        return mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=False)


def lips_px(rgb: np.ndarray) -> np.ndarray | None:
    """rgb (H, W, 3) uint8 -> (40, 2) lip points in pixels (outer 20 then inner 20), None: no face."""
    from ..visual.landmarks import LIP_POINTS, quiet_stderr

    with quiet_stderr():
        res = _static_mesh().process(rgb)
    if not res.multi_face_landmarks:
        return None
    h, w = rgb.shape[:2]
    lm = res.multi_face_landmarks[0].landmark
    pts = np.array([(lm[i].x * w, lm[i].y * h) for i in LIP_POINTS], np.float32)
    assert pts.shape == (len(LIP_POINTS), 2)
    return pts


def draw_lips(kf: KeyFrame, width_px: int):
    """The frame as a PIL image width_px wide, with its lip landmarks drawn (red outer, blue inner)."""
    from PIL import Image, ImageDraw

    img = Image.fromarray(kf.rgb)
    scale = width_px / img.width
    img = img.resize((width_px, max(1, int(round(img.height * scale)))))
    if kf.lips is not None:
        _draw_rings(ImageDraw.Draw(img), kf.lips * scale, max(1, int(round(2 * scale))))
    return img


def _draw_rings(d, lips: np.ndarray, width: int) -> None:
    half = len(lips) // 2  # outer ring, then inner ring
    for ring, colour in ((lips[:half], OUTER_LIPS_RGB), (lips[half:], INNER_LIPS_RGB)):
        pts = [tuple(map(float, p)) for p in ring]
        d.line(pts + pts[:1], fill=colour, width=width)


def mouth_crop(kf: KeyFrame, width_px: int = CROP_PX):
    """The mouth region (lip box grown by CROP_MARGIN) enlarged to width_px, landmarks drawn;
    None without lips."""
    from PIL import Image, ImageDraw

    if kf.lips is None:
        return None
    h, w = kf.rgb.shape[:2]
    lo, hi = kf.lips.min(0), kf.lips.max(0)
    size = float(max(hi - lo)) * (1 + 2 * CROP_MARGIN)
    cx, cy = 0.5 * (lo + hi)
    x0, y0 = int(max(0, cx - size / 2)), int(max(0, cy - size / 2))
    x1, y1 = int(min(w, cx + size / 2)), int(min(h, cy + size / 2))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    img = Image.fromarray(kf.rgb[y0:y1, x0:x1])
    scale = width_px / img.width
    img = img.resize((width_px, max(1, int(round(img.height * scale)))), Image.LANCZOS)
    _draw_rings(ImageDraw.Draw(img), (kf.lips - [x0, y0]) * scale, 2)
    return img


def step_series(segs: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Segments (overlapping windows) -> (t, y) of a step line: at each moment the highest score
    of the segments covering it, NaN where none does (the line breaks there). Draw with
    drawstyle="steps-post"; the last point repeats the last value to close the last span."""
    edges = sorted({float(s["start_s"]) for s in segs} | {float(s["end_s"]) for s in segs})
    ys = []
    for a, b in zip(edges[:-1], edges[1:]):
        cover = [s["score"] for s in segs if s["start_s"] <= a and s["end_s"] >= b]
        ys.append(max(cover) if cover else np.nan)
    if not ys:
        return np.zeros(0), np.zeros(0)
    return np.array(edges), np.array(ys + [ys[-1]], float)


def timeline_checks() -> list[str]:
    """The checks whose segments the timeline draws (Check.timeline), in report order."""
    from ..checks import CHECKS

    return [c.name for c in CHECKS if c.timeline]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def timeline_figure(report: dict[str, Any]):
    """Each check's segment scores as spans over time (None: no check has segments). The caller
    closes the figure. The legend sits above the axes, never over the lines."""
    checks = report.get("checks") or {}
    series = {n: checks.get(n, {}).get("segments") or [] for n in timeline_checks()}
    if not any(series.values()):
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=TIMELINE_SIZE_IN)
    ax.axhspan(FAKE_THRESHOLD, 100, color="#c62828", alpha=0.08)
    ax.axhspan(SUSPICIOUS_THRESHOLD, FAKE_THRESHOLD, color="#ef6c00", alpha=0.08)
    for name, segs in series.items():
        if not segs:
            continue
        t, y = step_series(segs)
        c = checks[name]
        extra = " (limited reliability)" if c.get("reliability") == "limited" else ""
        ax.plot(t, y, drawstyle="steps-post", lw=2, label=f"{label(name)}{extra}")
    ax.set(xlim=(0, max(float(report.get("duration_s") or 0.0), 1e-3)), ylim=(-3, 103),
           xlabel="time (s)", ylabel="score (higher = more likely fake)")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.01), ncol=3, fontsize=8, frameon=False, borderaxespad=0)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def shift_figure(report: dict[str, Any]):
    """The learned lip-sync check's in-sync probability per time shift tried: as recorded (0 ms)
    and at the best shift (None: no shift scan in this report). The caller closes the figure."""
    lip = lip_check(report)
    scan = lip.get("shift_scan")
    if not scan or not scan.get("offset_ms"):
        return None
    x, y = np.array(scan["offset_ms"], float), np.array(scan["p_sync"], float)
    order = np.argsort(x)
    x, y = x[order], y[order]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=SHIFT_PLOT_SIZE_IN)
    ax.plot(x, y, marker="o", ms=3, color="#1565c0")
    ax.axhline(REALIGNED_MIN_P_SYNC, color="#777", ls="--", lw=1)
    zero = y[np.argmin(np.abs(x))]
    best = int(np.argmax(y))
    ax.plot([x[np.argmin(np.abs(x))]], [zero], "s", color="#c62828", ms=7, label=f"as recorded: {zero:.2f}")
    found = lip.get("offset_found", True)
    what = f"shifted {x[best]:+.0f} ms: {y[best]:.2f}" + ("" if found else " (still not in sync)")
    ax.plot([x[best]], [y[best]], "D", color="#2e7d32" if found else "#777", ms=7, label=what)
    ax.set(ylim=(0, 1), xlabel="audio shifted by (ms, + = later)", ylabel="in-sync probability")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.01), ncol=2, fontsize=8, frameon=False, borderaxespad=0)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def human_size(n: int) -> str:
    """Bytes -> "1.2 MB" (powers of 1000), with the exact count kept by the caller."""
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover
