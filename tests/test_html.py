"""HTML reports: verdict, reasons, embedded timeline and key frames, escaping, headless rendering."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from avdetect.cli import app
from avdetect.report.evidence import N_STRIP_FRAMES, frame_evidence
from avdetect.report.html import html_name, render_html, write_index
from batch_helpers import make_clips

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")
SCREEN_PX = (1280, 1600)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return make_clips(tmp_path_factory.mktemp("html_media"), seed=2)


@pytest.fixture(scope="module")
def late_page(clips, tmp_path_factory) -> Path:
    """`avdetect scan LATE --html PAGE` through the CLI."""
    page = tmp_path_factory.mktemp("html") / "late.html"
    res = CliRunner().invoke(app, ["scan", str(clips["late"]), "--device", "cpu", "--lip-sync", "correlation",
                                       "--html", str(page)])
    assert res.exit_code == 0, res.output
    return page


def _images(page_html: str) -> list[np.ndarray]:
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(b))).convert("RGB"))
            for b in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page_html)]


def test_scan_html_has_verdict_timeline_and_key_frames(late_page):
    page = late_page.read_text()
    assert 'class="verdict"' in page and ">fake</span>" in page
    assert "The audio lags the lips by" in page
    assert 'class="timeline"' in page
    images = _images(page)
    assert len(images) == 1 + 1 + N_STRIP_FRAMES  # timeline + mouth crop + strip (correlation: no shift plot)
    assert all(img.std() > 5 for img in images)  # not blank
    assert "no face found" not in page  # FaceMesh found the lips on every frame
    assert "Flagged lip-sync segment" in page and "SHA-256" in page and "Checks not run" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page  # self-contained


def test_key_frames_carry_lip_landmarks_inside_the_frame(clips, correlation_detector):
    report = correlation_detector.scan(clips["late"]).to_dict()  # generated face: training-free check
    ev = frame_evidence(report, clips["late"])
    assert ev.flagged and len(ev.strip) == N_STRIP_FRAMES and ev.crop is not None
    a, b, _ = ev.segment
    assert all(a - 0.3 <= kf.time_s <= b + 0.3 for kf in ev.strip)  # the strip spans the flagged segment
    for kf in [*ev.strip, ev.crop]:
        h, w = kf.rgb.shape[:2]
        assert kf.lips is not None and kf.lips.shape == (40, 2)
        assert (kf.lips >= 0).all() and (kf.lips[:, 0] < w).all() and (kf.lips[:, 1] < h).all()
        assert kf.lips[:, 1].mean() > h / 2  # the mouth is in the lower half of the face image


def test_text_is_escaped_and_errors_render():
    bad = {"file": "<img src=x onerror=alert(1)>.mp4", "duration_s": None, "avdetect_version": "0.1.0",
           "verdict": "error", "score": None, "reasons": ["<b>bold</b>"], "error": "a & b <script>",
           "checks": {}, "segments": [], "warnings": []}
    page = render_html(bad)
    assert "<img src=x" not in page and "&lt;img src=x" in page
    assert "<script>" not in page and "a &amp; b &lt;script&gt;" in page and "&lt;b&gt;bold" in page


def test_index_lists_every_file_with_its_verdict(tmp_path):
    recs = [{"file": f"/m/{n}.mp4", "verdict": v, "score": s, "duration_s": 3.0, "reasons": [], "checks": {},
             "source": {"path": f"/m/{n}.mp4", "size": 1, "mtime": 1.0}}
            for n, v, s in (("a", "fake", 100.0), ("b", "authentic", 0.0), ("c", "error", None))]
    page = write_index(recs, tmp_path).read_text()
    assert page.count("<tr>") == 4 and "3 files: authentic 1, error 1, fake 1" in page


def test_index_escapes_text_links_written_pages_and_leaves_missing_values_empty(tmp_path):
    recs = [{"file": "/m/<b>&.mp4", "verdict": "fake", "score": 90.0, "duration_s": None,
             "reasons": ["lags <x>", "y & z"], "checks": {}},
            {"file": "/m/ok.mp4", "verdict": "authentic", "score": 0.0, "duration_s": 2.0, "reasons": [], "checks": {}}]
    (tmp_path / html_name(recs[1])).write_text("page")
    page = write_index(recs, tmp_path).read_text()
    assert "<b>&" not in page and "&lt;b&gt;&amp;.mp4" in page and "lags &lt;x&gt;; y &amp; z" in page
    assert f'<a href="{html_name(recs[1])}">ok.mp4</a>' in page and page.count("<a href") == 1
    assert "None" not in page  # a missing duration is an empty cell


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (CI installs it: see .ci/run)")
def test_html_renders_in_headless_chromium(late_page):
    shot = late_page.with_suffix(".png")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
                        f"--window-size={SCREEN_PX[0]},{SCREEN_PX[1]}", late_page.resolve().as_uri()],
                       capture_output=True, timeout=120)
    assert shot.exists(), "chromium wrote no screenshot"
    img = np.asarray(Image.open(shot).convert("RGB")).astype(np.int16)
    assert img.shape[:2] == (SCREEN_PX[1], SCREEN_PX[0])
    red = (img[..., 0] > 150) & (img[..., 1] < 80) & (img[..., 2] < 80)  # the "fake" badge (#c62828)
    assert red.sum() > 200
    assert (img.std(axis=(0, 1)) > 20).all()  # drawn content, not a blank page


@pytest.mark.parametrize("fps", [25, 30])
def test_read_frames_matches_the_timeline(tmp_path, fps):
    """io.read_frames (seeking) returns the frame iter_video_frames puts at each timeline index."""
    from avdetect import io, synth
    from conftest import frame_index, index_frames

    path = synth.write_av(tmp_path / f"idx{fps}.mp4", index_frames(100), None, fps=fps)
    info = io.probe(path)
    timeline = {k: frame_index(img) for k, img in io.iter_video_frames(path, info)}
    wanted = [0, 1, 37, 60, info.n_frames - 1, info.n_frames + 50]
    got = {k: frame_index(img) for k, img in io.read_frames(path, wanted, info).items()}
    assert got == {k: timeline[k] for k in wanted[:-1]}
