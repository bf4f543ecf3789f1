import json
import subprocess
import sys

import pytest

from avdetect.checks.base import CheckResult, Segment, Status
from avdetect.fusion import fuse
from avdetect.report import build_report


def _run(*args):
    return subprocess.run([sys.executable, "-m", "avdetect", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def test_scan_several_files_one_json_per_line(in_sync_mp4, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    p = _run("scan", in_sync_mp4, bad, tmp_path / "missing.wav", "--device", "cpu", "--lip-sync", "correlation")
    assert p.returncode == 1
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    assert [r["verdict"] for r in lines] == ["authentic", "error", "error"]
    for key in ("file", "duration_s", "avdetect_version", "verdict", "score", "reasons", "checks", "segments"):
        assert key in lines[0]
    assert set(lines[0]["checks"]) == {"lip_sync", "synthetic_speech", "speaker"}
    err = p.stderr.strip().splitlines()
    assert len(err) == 2 and all(e.startswith("error: ") for e in err) and "Traceback" not in p.stderr


def test_text_format_and_out_file(in_sync_mp4, tmp_path):
    out = tmp_path / "r.txt"
    p = _run("scan", in_sync_mp4, "--format", "text", "--out", out, "--lip-sync", "correlation")
    assert p.returncode == 0, p.stderr
    assert "AUTHENTIC" in out.read_text() and "lip_sync" in out.read_text()


def test_bad_device_is_a_one_line_error(in_sync_mp4):
    p = _run("scan", in_sync_mp4, "--device", "tpu")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr


def test_fusion_thresholds():
    def ok(score):
        return CheckResult(Status.ok, score, segments=[Segment(0, 2, score)], reasons=[f"r{score}"])
    na = CheckResult.not_applicable("no speech")
    assert fuse({"a": ok(80), "b": na}, {})[0].value == "fake"
    assert fuse({"a": ok(50)}, {})[0].value == "suspicious"
    assert fuse({"a": ok(10), "b": ok(20)}, {})[:2] == (fuse({"a": ok(20)}, {})[0], 20)
    assert fuse({"a": ok(80)}, {"a": 0.6})[:2] == (fuse({"a": ok(48)}, {})[0], 48)  # a check's weight counts
    assert fuse({"a": na}, {})[0].value == "not_applicable"
    lip = ok(75)
    lip.fields.update(offset_ms=0, confidence=0.5, method="correlation")  # a lip_sync result's contract fields
    rep = build_report("x.mp4", 5.0, {"lip_sync": lip, "speaker": na}).to_dict()
    assert rep["verdict"] == "fake" and rep["reasons"] == ["r75"]
    assert [s["start_s"] for s in rep["segments"]] == [0.0, 2.0, 4.0]
    assert rep["segments"][0]["lip_sync"] == 75 and rep["segments"][1]["lip_sync"] is None
    with pytest.raises(AssertionError):
        CheckResult(Status.ok, 140.0)


def test_unknown_claimed_voice_is_a_one_line_error(in_sync_mp4, tmp_path, monkeypatch):
    monkeypatch.setenv("AVDETECT_HOME", str(tmp_path))
    p = _run("scan", in_sync_mp4, "--claimed", "nobody")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "nobody" in p.stderr


def test_unexpected_failure_is_an_error_report(monkeypatch, in_sync_mp4, correlation_detector):
    import avdetect.detector as detector

    def boom(*a, **k):
        raise RuntimeError("graph crashed\nsecond line")

    monkeypatch.setattr(detector, "extract", boom)
    r = correlation_detector.scan(in_sync_mp4).to_dict()
    assert r["verdict"] == "error" and "RuntimeError: graph crashed" in r["error"] and "\n" not in r["error"]


def test_train_command_choices_match_the_model_and_missing_corpus_is_one_line(tmp_path):
    from avdetect.cli_train import Features as CliFeatures
    from avdetect.models.spoof import Features

    assert [f.value for f in CliFeatures] == [f.value for f in Features]
    p = _run("train", "spoof", "--corpus", tmp_path / "nope", "--out", tmp_path / "out")
    assert p.returncode == 2 and p.stderr.startswith("error: ") and "Traceback" not in p.stderr


def test_missing_or_corrupt_weights_fail_at_load_in_one_line(tmp_path, monkeypatch, in_sync_mp4):
    """avdetect.load() (and so `scan`) fails before any file when a weight file is missing or its
    sha256 does not match; nothing falls back silently to another check."""
    import shutil

    import avdetect
    from avdetect.models.store import ModelFileError, model_dir

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelFileError) as missing:
        avdetect.load(device="cpu", model_dir=empty)
    assert "\n" not in str(missing.value) and "sync" in str(missing.value)
    corrupt = tmp_path / "corrupt"
    shutil.copytree(model_dir(), corrupt)
    weights = corrupt / "spoof.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    with pytest.raises(ModelFileError, match="sha256"):
        avdetect.load(device="cpu", model_dir=corrupt)
    monkeypatch.setenv("AVDETECT_MODEL_DIR", str(empty))
    p = _run("scan", in_sync_mp4, "--device", "cpu")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and p.stderr.startswith("error: cannot load the models")
    assert p.stdout == "" and "Traceback" not in p.stderr
