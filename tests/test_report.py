"""Report words and evidence: summary, not_run, reliability, reasons over a check's own mark, the
text/HTML glitches of issue 18, the JSON Schema, the HTML and PDF evidence reports (rendered and
snapshotted), scan's progress bar, batch's failed-files list and CSV order, help texts."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from avdetect import synth
from avdetect.checks import learned_sync as ls
from avdetect.checks.base import CheckResult, Segment, Status
from avdetect.checks.lip_sync import SINGLE_WINDOW_CAP, combine_evidence
from avdetect.report import build_report, error_report, format_text
from avdetect.report.evidence import step_series, timeline_figure
from avdetect.report.html import render_html
from conftest import SHARED_DATA
from report_validation import validate

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PDFTOPPM = shutil.which("pdftoppm")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")
CLONES = SHARED_DATA / "fake-speech" / "clones"
NO_CLAIM = CheckResult.not_applicable("no claimed identity (use --claimed NAME)")


def _ok(score, reasons=(), **fields):
    return CheckResult(Status.ok, score, segments=[Segment(0, 4, score)], fields=dict(fields), reasons=list(reasons))


def _lip(score, reasons=(), **fields):
    return _ok(score, reasons, **{"offset_ms": 0, "confidence": 0.5, "method": "correlation", **fields})


def test_summary_not_run_and_reliability_in_every_report():
    rep = build_report("x.mp4", 5.0, {"lip_sync": _lip(3), "synthetic_speech": _ok(10, threshold=50.0, n_windows=2),
                                      "speaker": NO_CLAIM}).to_dict()
    assert rep["verdict"] == "authentic"
    assert rep["summary"].startswith("No sign of manipulation from the lip-sync and synthetic-speech checks")
    assert "synthetic-speech check is weak" in rep["summary"]  # "authentic" is not a clean bill of health
    assert rep["not_run"] == [{"check": "speaker", "reason": NO_CLAIM.reason}]
    assert {k: c["reliability"] for k, c in rep["checks"].items()} == \
        {"lip_sync": "normal", "synthetic_speech": "limited", "speaker": "normal"}
    err = error_report("gone.mp4", "gone.mp4: no such file").to_dict()
    assert err["summary"].startswith("Not analysed") and err["not_run"] == [] and err["checks"] == {}


def test_a_check_over_its_own_mark_always_gives_a_reason():
    """The issue's real file: voice score 51.7 over its threshold 50, weight 0.6 -> still authentic."""
    voice = _ok(51.7, ["synthetic voice from 00:00 to 00:04 (score 52)"], threshold=50.0, n_windows=2)
    rep = build_report("real.mp4", 5.0, {"lip_sync": _lip(3), "synthetic_speech": voice, "speaker": NO_CLAIM}).to_dict()
    assert rep["verdict"] == "authentic" and rep["score"] == pytest.approx(31.0)
    assert rep["reasons"][0] == "synthetic voice from 00:00 to 00:04 (score 52)"
    assert "alone does not change the verdict" in rep["reasons"][1] and "0.6x" in rep["reasons"][1]
    assert "scored 52, over its own mark 50" in rep["summary"]
    quiet = _ok(51.7, [], threshold=50.0, n_windows=2)  # a check that forgot its words still gets one
    rep = build_report("real.mp4", 5.0, {"synthetic_speech": quiet}).to_dict()
    assert "at or above its mark 50" in rep["reasons"][0]
    below = build_report("real.mp4", 5.0, {"synthetic_speech": _ok(49.0, [], threshold=50.0, n_windows=2)}).to_dict()
    assert below["reasons"] == []


def test_not_applicable_prints_each_reason_once():
    rep = build_report("x.mp4", 5.0, {"lip_sync": CheckResult.not_applicable("no face found in the video"),
                                      "synthetic_speech": CheckResult.not_applicable("no speech"),
                                      "speaker": NO_CLAIM}).to_dict()
    text = format_text(rep)
    assert rep["verdict"] == "not_applicable"
    for why in ("no face found in the video", "no speech", "no claimed identity"):
        assert text.count(why) == 2, text  # once in the summary, once on its check's line
    assert "this is not a finding either way" in rep["summary"]


def test_speaker_line_is_words_not_python():
    spk = _ok(12.0, claimed="ceo", similarity=0.81, match=True, threshold=0.72)
    text = format_text(build_report("x.wav", 5.0, {"speaker": spk}).to_dict())
    assert "True" not in text and "False" not in text
    assert "claimed ceo, similarity 0.81, threshold 0.72" in text


def test_error_page_has_no_empty_duration_or_na_score():
    page = render_html(error_report("/m/bad.mp4", "/m/bad.mp4: not a readable media file").to_dict())
    assert "&middot; s &middot;" not in page and "· s ·" not in page and "n/a/100" not in page
    assert "no score" in page and "duration</th><td>unknown" in page


def test_timeline_draws_spans_breaks_at_gaps_and_keeps_its_legend_off_the_lines():
    segs = [{"start_s": 0.0, "end_s": 2.0, "score": 80.0}, {"start_s": 0.5, "end_s": 2.5, "score": 60.0},
            {"start_s": 4.0, "end_s": 6.0, "score": 10.0}]
    t, y = step_series(segs)
    assert list(t) == [0.0, 0.5, 2.0, 2.5, 4.0, 6.0]  # segment edges, not window centres
    assert list(y[:3]) == [80.0, 80.0, 60.0] and np.isnan(y[3]) and y[4] == 10.0  # no data 2.5-4 s: a gap
    rep = build_report("x.mp4", 6.0, {"lip_sync": CheckResult(Status.ok, 80.0, segments=[
        Segment(s["start_s"], s["end_s"], s["score"]) for s in segs],
        fields={"offset_ms": 0, "confidence": 0.5, "method": "correlation"}, reasons=["r"])}).to_dict()
    fig = timeline_figure(rep)
    try:
        fig.canvas.draw()
        ax = fig.axes[0]
        legend = ax.get_legend().get_window_extent()
        assert legend.y0 >= ax.get_window_extent().y1 - 1  # the legend sits above the plot area
        line = ax.get_lines()[0]
        assert line.get_drawstyle() == "steps-post" and np.isnan(line.get_ydata()).any()
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_authentic_clip_frames_are_not_called_highest_scores(in_sync_mp4, correlation_detector):
    from avdetect.report.evidence import frame_evidence

    rep = correlation_detector.scan(in_sync_mp4).to_dict()
    assert rep["verdict"] == "authentic"
    ev = frame_evidence(rep, in_sync_mp4)
    assert not ev.flagged and ev.crop is None and "no lip-sync segment was flagged" in ev.title
    page = render_html(rep)
    assert "highest lip-sync scores" not in page


def _scanned(p_sync, offset_ms, confidence, n_judged=3):
    windows = [ls.WindowSync(k * 0.5, k * 0.5 + 2, p_sync, offset_ms, 0.9, 1.0, True) for k in range(n_judged)]
    return ls.LearnedSync(windows, p_sync=p_sync, offset_ms=offset_ms, offset_confidence=confidence,
                          n_judged=n_judged, offset_method=ls.OffsetMethod.scan,
                          scan_curve=[(-400.0, confidence), (0.0, p_sync), (400.0, confidence / 2)])


def test_dubbed_clip_offset_is_not_presented_as_a_finding():
    corr = CheckResult.not_applicable("too little speech with a visible face to judge")
    out = combine_evidence(_scanned(0.05, -400.0, 0.2), corr)
    assert out.fields["offset_found"] is False and "no time offset to report" in out.reasons[0]
    assert out.fields["shift_scan"] == {"offset_ms": [-400, 0, 400], "p_sync": [0.2, 0.05, 0.1]}
    rep = build_report("dub.mp4", 3.0, {"lip_sync": out}).to_dict()
    text, page = format_text(rep), render_html(rep)
    assert "-400" not in text and "offset none found" in text
    assert "offset_ms -400" not in page and "offset none found" in page
    late = combine_evidence(_scanned(0.05, 400.0, 0.9), corr)
    assert late.fields["offset_found"] is True and "offset_ms 400" in format_text(
        build_report("late.mp4", 3.0, {"lip_sync": late}).to_dict())


def test_short_clip_cap_is_said_in_words():
    corr = CheckResult.not_applicable("too short: 0.9 s (needs 1.4 s)")
    res = ls.LearnedSync([ls.WindowSync(0, 0.9, 0.05, 0.0, 0.9, 1.0, True)], p_sync=0.05, offset_ms=0.0,
                         offset_confidence=0.3, n_judged=1)
    out = combine_evidence(res, corr)
    assert out.score == SINGLE_WINDOW_CAP and out.fields["capped"] is True
    rep = build_report("short.mp4", 0.9, {"lip_sync": out}).to_dict()
    assert rep["verdict"] == "suspicious" and any("capped at 69" in r and "never fake" in r for r in rep["reasons"])


def test_lip_sync_findings_in_words_and_details():
    """A small constant offset: desync, capped at suspicious with a sentence; a splice: its time in the
    reasons, the text details and the HTML page, fake (both reports pass the schema)."""
    corr = CheckResult.not_applicable("too little speech with a visible face to judge")
    late = combine_evidence(_scanned(0.05, 200.0, 0.95), corr)
    rep = build_report("late.mp4", 3.0, {"lip_sync": late}).to_dict()
    assert rep["verdict"] == "suspicious" and rep["checks"]["lip_sync"]["finding"] == "desync"
    assert "encoding fault" in rep["reasons"][0] and "counts as suspicious at most" in rep["reasons"][1]
    assert "lip_sync: score 95, finding desync, offset_ms 200" in format_text(rep)
    windows = [ls.WindowSync(2.0 * k, 2.0 * k + 2, 0.99 if k < 3 else 0.02, 0.0 if k < 3 else 280.0, 0.9, 1.0, True,
                             p_aligned=None if k < 3 else 0.99) for k in range(6)]
    res = ls.LearnedSync(windows, p_sync=0.505, offset_ms=280.0, offset_confidence=0.99, n_judged=6,
                         offset_method=ls.OffsetMethod.scan)
    rep = build_report("splice.mp4", 12.0, {"lip_sync": combine_evidence(res, corr)}).to_dict()
    assert rep["verdict"] == "fake" and rep["checks"]["lip_sync"]["offset_changes"][0]["at_s"] == 6.0
    assert "changes at 00:06 from 0 ms to 280 ms (a cut or splice)" in rep["reasons"][0]
    assert "finding desync, offset changes at 00:06" in format_text(rep)
    assert "offset changes at 00:06" in render_html(rep)


def test_schema_accepts_reports_and_rejects_broken_ones():
    from report_validation import install  # conftest installed it: every to_dict() is checked

    from avdetect.report.json_report import Report

    assert getattr(Report.to_dict, "validated", False)
    rep = build_report("x.mp4", 5.0, {"lip_sync": _lip(75, ["r"]), "speaker": NO_CLAIM}).to_dict()
    validate(rep)
    validate({**error_report("x.mp4", "x.mp4: no such file").to_dict(), "source": {"path": "/x.mp4", "size": None,
                                                                                  "mtime": None}})
    import jsonschema

    for broken in ({**rep, "verdict": "maybe"}, {k: v for k, v in rep.items() if k != "summary"},
                   {**rep, "score": 140.0}, {**rep, "error": "set on a non-error report"},
                   {**rep, "checks": {**rep["checks"], "lip_sync": {**rep["checks"]["lip_sync"], "reliability": "?"}}}):
        with pytest.raises(jsonschema.ValidationError):
            validate(broken)
    install()  # idempotent


def test_schema_ships_as_package_data():
    from avdetect.report.schema import report_schema

    schema = report_schema()
    assert schema["$schema"].endswith("2020-12/schema") and "summary" in schema["required"]


# --- evidence reports: HTML (headless Chromium) and PDF, snapshots as PNG -----------------------


def _cloned_call(folder: Path, monkeypatch) -> tuple[Path, str]:
    """(call recording, enrolled name): StyleTTS 2 clones of the LJSpeech voice, enrolled from real
    LJSpeech clips, when the shared clones are present; else a generated machine voice."""
    from avdetect import io, voices

    monkeypatch.setenv("AVDETECT_HOME", str(folder / "home"))
    if (CLONES / "manifest.csv").exists():
        rows = list(csv.DictReader((CLONES / "manifest.csv").open()))
        lj = [r for r in rows if r["generator"].endswith("styletts2") and r["speaker"] == "LJSpeech"]
        real = [io.load_audio(CLONES / r["path"]) for r in lj if r["label"] == "real"][:4]
        fake = [io.load_audio(CLONES / r["path"]).samples for r in lj if r["label"] == "fake"][:3]
        voices.enroll("lj", real)
        return synth.write_av(folder / "call.wav", None, np.concatenate(fake), audio_codec="pcm_s16le"), "lj"
    _, own = synth.talking_face(8.0, seed=4)
    voices.enroll("caller", [io.AudioClip(own)])
    _, voice = synth.talking_face(8.0, seed=5)
    return synth.write_av(folder / "call.wav", None, voice, audio_codec="pcm_s16le"), "caller"


def _chromium(args: list[str]) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                       timeout=120)


def _pdf_pages(pdf: Path, stem: Path) -> list[Path]:
    subprocess.run([PDFTOPPM, "-r", "60", "-png", str(pdf), str(stem)], check=True, timeout=120)
    return sorted(stem.parent.glob(stem.name + "-*.png"))


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (CI installs it: see .ci/run)")
def test_evidence_reports_render_for_a_dubbed_clip_and_a_cloned_call(tmp_path, detector, monkeypatch):
    """Writes tmp_path/snapshots/*.png: the HTML page (screen and print) and the PDF's pages."""
    from avdetect.report.html import write_html
    from avdetect.report.pdf import write_pdf

    frames, samples = synth.talking_face(4.0, seed=1)
    _, other = synth.talking_face(4.0, seed=7)
    dubbed = synth.write_av(tmp_path / "dubbed.mp4", frames, other)  # the lips say something else
    call, claimed = _cloned_call(tmp_path, monkeypatch)
    shots = tmp_path / "snapshots"
    shots.mkdir()
    for media, claim in ((dubbed, None), (call, claimed)):
        rep = detector.scan(media, claim).to_dict()
        page = write_html(rep, tmp_path / f"{media.stem}.html", media)
        pdf = write_pdf(rep, tmp_path / f"{media.stem}.pdf", media)
        html = page.read_text()
        assert "SHA-256" in html and rep["summary"] in html.replace("&#39;", "'")
        assert "sha256 " in html and "scan date" in html and "Checks not run" in html or not rep["not_run"]
        if media == dubbed:
            assert rep["verdict"] == "fake" and 'class="shift"' in html and 'class="crop"' in html
        else:
            assert rep["checks"]["speaker"]["status"] == "ok" and 'class="limited"' in html
        screen = shots / f"{media.stem}.html.png"
        _chromium([f"--screenshot={screen}", "--window-size=1100,2000", page.resolve().as_uri()])
        printed = tmp_path / f"{media.stem}.print.pdf"
        _chromium(["--no-pdf-header-footer", f"--print-to-pdf={printed}", page.resolve().as_uri()])
        assert screen.exists() and printed.exists() and pdf.read_bytes().startswith(b"%PDF")
        img = np.asarray(Image.open(screen).convert("RGB")).astype(np.int16)
        assert (img.std(axis=(0, 1)) > 20).all()
        if PDFTOPPM is None:
            continue
        for doc in (pdf, printed):
            pages = _pdf_pages(doc, shots / doc.name.replace(".", "_"))
            assert 1 <= len(pages) <= 3, pages  # A4 pages, no runaway layout
            for png in pages:
                assert np.asarray(Image.open(png).convert("L")).std() > 10  # drawn, not blank
    print(f"snapshots in {shots}")


# --- CLI: progress, batch failures and CSV order, help ----------------------------------------


def test_scan_progress_bar_on_a_terminal_only(tmp_path):
    import pty

    from avdetect.cli_progress import PROGRESS_MIN_S

    _, voice = synth.talking_face(PROGRESS_MIN_S + 1.0, seed=2)
    long = synth.write_av(tmp_path / "long.wav", None, voice, audio_codec="pcm_s16le")
    cmd = [sys.executable, "-m", "avdetect", "scan", str(long), "--device", "cpu", "--lip-sync", "correlation"]
    piped = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert piped.returncode == 0 and piped.stderr.strip() == "", piped.stderr  # silent when piped
    leader, follower = pty.openpty()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=follower, timeout=300)
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
    assert p.returncode == 0
    assert b"long.wav" in seen and b"%" in seen and "━".encode() in seen, seen[-500:]


def test_batch_lists_failed_files_and_writes_csv_in_input_order(tmp_path):
    from batch_helpers import make_clips

    clips = make_clips(tmp_path / "media", seed=3)
    bad = clips["corrupt"]
    given = ["media/late_400ms.mp4", "media/corrupt.mp4", "media/in_sync.mp4"]
    out, table = tmp_path / "r.jsonl", tmp_path / "s.csv"
    p = subprocess.run([sys.executable, "-m", "avdetect", "batch", *given, "--out", str(out), "--csv", str(table),
                        "--workers", "2", "--device", "cpu", "--lip-sync", "correlation"],
                       capture_output=True, text=True, timeout=600, cwd=tmp_path,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(
                           [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])})
    assert p.returncode == 1, p.stderr
    failed = [line for line in p.stderr.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 1 and str(bad.resolve()) in failed[0] and "not a readable media file" in failed[0]
    rows = list(csv.DictReader(table.open()))
    assert [r["file"] for r in rows] == given
    assert [r["path"] for r in rows] == [str((tmp_path / g).resolve()) for g in given]


def test_help_texts_show_no_bool():
    from typer.testing import CliRunner

    from avdetect.cli import app

    for args in ([], ["scan"], ["batch"], ["demo"], ["eval"], ["enroll"], ["voices"], ["voices", "list"], ["train"]):
        res = CliRunner().invoke(app, [*args, "--help"])
        assert res.exit_code == 0 and "--help" in res.output, (args, res.output)
        assert "<bool>" not in res.output, (args, re.findall(r".*<bool>.*", res.output))


def test_evidence_lists_only_the_models_the_checks_that_ran_read():
    from avdetect.report.evidence import models_used

    def check(status, **fields):
        return {"status": status, "score": 10.0 if status == "ok" else None, "reason": None, **fields, "segments": []}

    rep = {"checks": {"lip_sync": check("ok", method="learned"), "synthetic_speech": check("not_applicable"),
                      "speaker": check("ok")}}
    assert models_used(rep) == ["sync", "whisper-base"]
    rep["checks"]["lip_sync"]["method"] = "correlation"  # the training-free method reads no model
    rep["checks"]["synthetic_speech"] = check("ok")
    assert models_used(rep) == ["spoof"]
    assert "vocoder" not in models_used(rep)  # a training-only model is never listed
