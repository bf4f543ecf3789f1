"""The evidence report as a PDF, drawn with matplotlib's PDF backend (already a dependency; no
system libraries, unlike HTML-to-PDF renderers such as WeasyPrint). docs/report.md says why.

Page 1 on: the words (verdict, summary, file facts, versions, reasons, checks run and not run),
laid out line by line; then the timeline, the lip-sync shift plot and the flagged frames.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from ..fusion import FAKE_THRESHOLD, SUSPICIOUS_THRESHOLD
from .evidence import Evidence, draw_lips, gather, human_size, mouth_crop, shift_figure, timeline_figure
from .text import detail_items, not_run

A4_IN = (8.27, 11.69)  # inches, portrait
MARGIN_IN = 0.6
LINE_IN = {"title": 0.36, "h2": 0.3, "body": 0.19, "small": 0.16}  # line heights by style
FONT_PT = {"title": 17, "h2": 12, "body": 9, "small": 7}
WRAP_CHARS = {"title": 60, "h2": 80, "body": 108, "small": 130}  # characters per line at A4 width
VERDICT_COLOURS = {"authentic": "#2e7d32", "suspicious": "#ef6c00", "fake": "#c62828",
                   "not_applicable": "#616161", "error": "#6a1b9a"}
IMAGE_GAP_IN = 0.06  # space under an image before the next line
STRIP_FRAME_PX = 200  # px per strip frame before it is placed on the page


class _Pages:
    """A cursor that writes wrapped lines down A4 pages, starting a new page when one is full."""

    def __init__(self, pdf) -> None:
        self.pdf, self.fig, self.y = pdf, None, 0.0

    def _new(self) -> None:
        import matplotlib.pyplot as plt

        self.close()
        self.fig = plt.figure(figsize=A4_IN)
        self.y = A4_IN[1] - MARGIN_IN

    def room(self, inches: float) -> None:
        """Start a new page unless `inches` still fit on this one."""
        if self.fig is None or self.y - inches < MARGIN_IN:
            self._new()

    def line(self, text: str, style: str = "body", colour: str = "#222", indent_in: float = 0.0,
             weight: str = "normal", family: str = "sans-serif") -> None:
        width = WRAP_CHARS[style] - int(indent_in * 12)
        for part in textwrap.wrap(text, width, break_long_words=True) or [""]:
            self.room(LINE_IN[style])
            self.fig.text((MARGIN_IN + indent_in) / A4_IN[0], self.y / A4_IN[1], part, fontsize=FONT_PT[style],
                          color=colour, va="top", ha="left", weight=weight, family=family)
            self.y -= LINE_IN[style]

    def gap(self, inches: float = 0.1) -> None:
        self.y -= inches

    def image(self, rgb: np.ndarray, width_in: float, x_in: float = MARGIN_IN, advance: bool = True) -> float:
        """Place an image (H, W, 3) width_in wide at the cursor -> its height in inches."""
        h_in = width_in * rgb.shape[0] / rgb.shape[1]
        if advance:
            self.room(h_in)
        ax = self.fig.add_axes((x_in / A4_IN[0], (self.y - h_in) / A4_IN[1], width_in / A4_IN[0], h_in / A4_IN[1]))
        ax.imshow(rgb)
        ax.axis("off")
        if advance:
            self.y -= h_in + IMAGE_GAP_IN
        return h_in

    def close(self) -> None:
        if self.fig is not None:
            import matplotlib.pyplot as plt

            self.pdf.savefig(self.fig)
            plt.close(self.fig)
            self.fig = None


def _fig_rgb(fig) -> np.ndarray:
    """A matplotlib figure (closed here) -> (H, W, 3) uint8."""
    import matplotlib.pyplot as plt

    try:
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    finally:
        plt.close(fig)


def _words(p: _Pages, ev: Evidence) -> None:
    r, facts = ev.report, ev.facts
    p.line(Path(str(r.get("file"))).name, "title", weight="bold")
    score = "no score" if r.get("score") is None else f"score {r['score']:.0f}/100"
    verdict = str(r.get("verdict", "error"))
    p.line(f"{verdict.upper()}   {score}", "h2", colour=VERDICT_COLOURS.get(verdict, "#222"), weight="bold")
    p.line(f"score >= {FAKE_THRESHOLD:.0f}: fake, >= {SUSPICIOUS_THRESHOLD:.0f}: suspicious; higher = more likely "
           f"manipulated", "small", colour="#777")
    if r.get("summary"):
        p.line(r["summary"])
    if r.get("error"):
        p.line(f"error: {r['error']}", colour="#6a1b9a")
    p.gap()
    p.line("File", "h2", weight="bold")
    rows = [("file", str(r.get("file")))]
    if facts is not None:
        rows += [("size", f"{human_size(facts.size)} ({facts.size:,} bytes)"), ("SHA-256", facts.sha256)]
    rows.append(("duration", "unknown" if r.get("duration_s") is None else f"{r['duration_s']:.2f} s"))
    if facts is not None:
        rows += [("streams", facts.format_name)] + [("", s) for s in facts.streams]
    if ev.scanned_at:
        rows.append(("scan date", ev.scanned_at))
    rows.append(("avdetect", str(r.get("avdetect_version"))))
    rows += [("models" if i == 0 else "", f"{m['name']} ({m['kind']} v{m['version']}) sha256 {m['sha256']}")
             for i, m in enumerate(ev.models)]
    for k, v in rows:
        p.room(LINE_IN["body"])
        p.fig.text(MARGIN_IN / A4_IN[0], p.y / A4_IN[1], k, fontsize=FONT_PT["body"], color="#666", va="top")
        p.line(v, "small" if k in ("SHA-256", "models", "") and len(v) > 60 else "body", indent_in=1.1,
               family="monospace" if k == "SHA-256" else "sans-serif")
    if r.get("reasons") and verdict != "not_applicable":
        p.gap()
        p.line("Why", "h2", weight="bold")
        for reason in r["reasons"]:
            p.line(f"- {reason}", indent_in=0.1)
    checks = [(n, c) for n, c in (r.get("checks") or {}).items() if c.get("status") == "ok"]
    if checks:
        p.gap()
        p.line("Checks run", "h2", weight="bold")
        for n, c in checks:
            weak = c.get("reliability") == "limited"
            details = "; ".join(detail_items(n, c))
            p.line(f"{n}: score {c['score']:.0f}, reliability {c.get('reliability') or 'normal'}"
                   + (f"; {details}" if details else ""), colour="#b25000" if weak else "#222", indent_in=0.1)
    if not_run(r):
        p.gap()
        p.line("Checks not run", "h2", weight="bold")
        for nr in not_run(r):
            p.line(f"{nr['check']}: {nr['reason']}", indent_in=0.1)
    for w in r.get("warnings") or []:
        p.line(f"warning: {w}", colour="#777")


def _pictures(p: _Pages, ev: Evidence) -> None:
    width = A4_IN[0] - 2 * MARGIN_IN
    fig = timeline_figure(ev.report)
    if fig is not None:
        p.gap(0.15)
        p.room(0.3 + width * 0.33)
        p.line("Timeline", "h2", weight="bold")
        p.image(_fig_rgb(fig), width)
    fr = ev.frames
    shift = shift_figure(ev.report)
    if fr is not None:
        p.gap(0.15)
        p.room(0.6 + 2.6 + width / 6)
        p.line(fr.title, "h2", weight="bold")
        crop = mouth_crop(fr.crop) if fr.crop is not None else None
        top = p.y
        h = 0.0
        if crop is not None:
            h = p.image(np.asarray(crop.convert("RGB")), 2.2, advance=False)
        if shift is not None:
            h = max(h, p.image(_fig_rgb(shift), width - 2.4, x_in=MARGIN_IN + 2.4, advance=False))
        p.y = top - h - IMAGE_GAP_IN
        if crop is not None:
            p.line(f"mouth at {fr.crop.time_s:.2f} s (red: outer lips, blue: inner)", "small")
        if fr.strip:
            p.gap(0.05)
            rgbs = [np.asarray(draw_lips(kf, STRIP_FRAME_PX).convert("RGB")) for kf in fr.strip]
            hmax = max(x.shape[0] for x in rgbs)
            row = np.full((hmax, sum(x.shape[1] for x in rgbs) + 6 * (len(rgbs) - 1), 3), 255, np.uint8)
            x0 = 0
            for x in rgbs:
                row[:x.shape[0], x0:x0 + x.shape[1]] = x
                x0 += x.shape[1] + 6
            p.image(row, width)
            p.line("frames at " + ", ".join(f"{kf.time_s:.2f} s" for kf in fr.strip)
                   + ("" if all(kf.lips is not None for kf in fr.strip) else " (no face found on some)"), "small")
    elif shift is not None:
        p.gap(0.15)
        p.line("Lip sync over time shifts", "h2", weight="bold")
        p.image(_fig_rgb(shift), width * 0.7)


def render_pdf(evidence: Evidence, out: str | os.PathLike) -> Path:
    """Write the evidence report to out (PDF)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_pdf import PdfPages

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    r = evidence.report
    meta = {"Title": f"avdetect evidence report: {Path(str(r.get('file'))).name}", "Creator": "avdetect",
            "Subject": str(r.get("summary") or "")}
    with PdfPages(out, metadata=meta) as pdf:
        pages = _Pages(pdf)
        _words(pages, evidence)
        _pictures(pages, evidence)
        pages.close()
    return out


def write_pdf(report: dict[str, Any], out: str | os.PathLike, media_path: str | os.PathLike | None = None) -> Path:
    """The evidence report of `report` as a PDF; facts and frames are read from media_path when given."""
    return render_pdf(gather(report, media_path), out)
