"""Hostile CLI input: every bad output path, voice store, voice name, list file or NaN audio is one
`error:` line on stderr and a non-zero exit, never a traceback (issue 20, item 3)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from avdetect import synth, voices
from avdetect.cli import app
from avdetect.constants import SAMPLE_RATE

SCAN = ["--device", "cpu", "--lip-sync", "correlation"]
VOICE_S = 10.0  # s of generated voice to enroll (over voices.MIN_ENROLL_SPEECH_S of speech)


def one_line_error(args: list[str], code: int | None = None, env: dict[str, str] | None = None) -> str:
    """Run the CLI in-process; assert a clean exit (no exception but typer's Exit), exactly one
    stderr line starting with 'error:'. Returns that line."""
    res = CliRunner().invoke(app, [str(a) for a in args], env=env)
    assert isinstance(res.exception, SystemExit), (res.exception, res.output)
    assert res.exit_code != 0 and (code is None or res.exit_code == code), (res.exit_code, res.output)
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in res.output, res.stderr
    return lines[0]


def _nan_wav(path: Path) -> Path:
    x = (0.1 * np.random.default_rng(0).standard_normal(3 * SAMPLE_RATE)).astype(np.float32)
    x[1000:2000] = np.nan
    sf.write(path, x, SAMPLE_RATE, subtype="FLOAT")
    return path


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("AVDETECT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


# ---- outputs are checked before scanning ------------------------------------------------------

def test_scan_outputs_that_cannot_be_written(in_sync_mp4, tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    f = in_sync_mp4
    assert "is a folder" in one_line_error(["scan", f, *SCAN, "--out", tmp_path], 2)
    assert f"{a_file} is a file, not a folder" in one_line_error(["scan", f, *SCAN, "--out", a_file / "r.json"], 2)
    assert "--html" in one_line_error(["scan", f, *SCAN, "--html", tmp_path], 2)
    assert "cannot write there" in one_line_error(["scan", f, *SCAN, "--html", "/proc/avdetect.html"], 2)
    assert "is a file, not a folder" in one_line_error(["scan", f, f, *SCAN, "--html", a_file], 2)
    assert a_file.read_text() == "x"  # checking does not touch an existing file
    for bad in ("-5", "nan", "0"):
        assert "--max-duration" in one_line_error(["scan", f, *SCAN, "--max-duration", bad], 2)
    out = tmp_path / "new" / "deeper" / "r.json"  # a missing parent is created, as for --html
    res = CliRunner().invoke(app, ["scan", str(f), *SCAN, "--out", str(out)])
    assert res.exit_code == 0 and out.read_text().startswith("{"), res.output


def test_batch_outputs_that_cannot_be_written(in_sync_mp4, tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    base = ["batch", in_sync_mp4, *SCAN, "-j", "1"]
    assert "--out" in one_line_error([*base, "--out", tmp_path], 2)
    assert "--csv" in one_line_error([*base, "--out", tmp_path / "r.jsonl", "--csv", tmp_path], 2)
    assert "--html-dir" in one_line_error([*base, "--out", tmp_path / "r.jsonl", "--html-dir", a_file], 2)
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,label\n{in_sync_mp4},real\n")
    assert "--reports" in one_line_error(["eval", manifest, "--check", "overall", "--reports", tmp_path], 2)
    assert "--out-dir" in one_line_error(["demo", "--out-dir", a_file], 2)
    assert not (tmp_path / "r.jsonl").exists()  # nothing was scanned


def test_list_file_with_invalid_utf8_names_file_and_line(tmp_path):
    lst = tmp_path / "files.txt"
    lst.write_bytes(b"# my files\na.mp4\n\xff\xfe.mp4\n")
    line = one_line_error(["batch", lst, "--out", tmp_path / "r.jsonl", *SCAN], 2)
    assert str(lst) in line and "line 3" in line and "UTF-8" in line
    lst.write_bytes(b"a\x00b.mp4\n")
    assert "line 1" in one_line_error(["batch", lst, "--out", tmp_path / "r.jsonl", *SCAN], 2)


# ---- the voice store ---------------------------------------------------------------------------

def test_voice_store_that_cannot_be_used(tmp_path, in_sync_mp4):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    clip = _nan_wav(tmp_path / "nan.wav")
    assert "AVDETECT_HOME is set but empty" in one_line_error(["voices", "list"], 1, {"AVDETECT_HOME": ""})
    assert not Path("voices").exists() or Path("voices").is_dir()  # nothing written in the working folder
    assert "not a folder" in one_line_error(["voices", "list"], 1, {"AVDETECT_HOME": str(a_file)})
    assert "not a folder" in one_line_error(["enroll", "bob", clip], 1, {"AVDETECT_HOME": str(a_file)})
    assert "not a folder" in one_line_error(["scan", in_sync_mp4, *SCAN, "--claimed", "bob"], 2,
                                            {"AVDETECT_HOME": str(a_file)})
    line = one_line_error(["enroll", "bob", in_sync_mp4], 1, {"AVDETECT_HOME": "/proc"})
    assert "cannot use the voice store /proc/voices" in line


def test_corrupt_voice_files_are_reported_and_skipped(home, in_sync_mp4):
    from avdetect.io import AudioClip

    profile = voices.enroll("ceo.tmp", [AudioClip(synth.synthetic_speech(VOICE_S, seed=3)[0])])
    assert profile.path.name == "ceo.tmp.npz"
    store = home / "voices"
    assert sorted(p.name for p in store.iterdir()) == ["ceo.tmp.npz"]  # no temp file left behind
    (store / "junk.npz").write_bytes(b"not a zip")
    np.savez(store / "pickled.npz", embedding=np.array([{"x": 1}], dtype=object), meta=np.array("{}"))
    np.savez(store / "nokey.npz", other=np.zeros(3))
    (store / "nl\n.npz").write_bytes((store / "ceo.tmp.npz").read_bytes())  # written by an older version
    res = CliRunner().invoke(app, ["voices", "list"])
    assert res.exit_code == 0 and res.exception is None or isinstance(res.exception, SystemExit), res.output
    assert [line.split("\t")[0] for line in res.stdout.splitlines()] == ["ceo.tmp"]  # every valid voice shows
    warnings = res.stderr.splitlines()
    assert len(warnings) == 4 and all(w.startswith("warning: skipped ") for w in warnings), warnings
    assert any("'nl\\n.npz'" in w for w in warnings)  # escaped: no forged line
    for name in ("junk", "pickled", "nokey"):
        line = one_line_error(["scan", in_sync_mp4, *SCAN, "--claimed", name], 2)
        assert f"voice {name!r}" in line and "corrupt" in line
    assert [v.name for v in voices.list_voices()] == ["ceo.tmp"]


def test_voice_names_reject_control_characters(home):
    for bad in ("nl\n", "tab\tname", "a\x00", "cr\r", ".hidden", "", "x" * 65, "a/b"):
        with pytest.raises(voices.VoiceError, match="invalid voice name"):
            voices.load(bad)
    assert "invalid voice name" in one_line_error(["enroll", "nl\n", home / "missing.wav"], 1)


def test_nan_audio_is_one_line_for_enroll_and_scan(home, tmp_path):
    clip = _nan_wav(tmp_path / "nan.wav")
    assert "NaN or infinite samples" in one_line_error(["enroll", "bob", clip], 1)
    res = CliRunner().invoke(app, ["scan", str(clip), *SCAN])
    assert res.exit_code == 1 and res.stderr == f"error: {clip}: the audio has NaN or infinite samples\n"


def test_real_process_prints_one_line_and_no_traceback(tmp_path, in_sync_mp4):
    """The same through `python -m avdetect` (numpy warnings and tracebacks would reach stderr here)."""
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    lst = tmp_path / "l.txt"
    lst.write_bytes(b"\xff\n")
    clip = _nan_wav(tmp_path / "nan.wav")
    cases = [(["scan", clip, *SCAN], {}, 1), (["voices", "list"], {"AVDETECT_HOME": ""}, 1),
             (["batch", lst, "--out", tmp_path / "r.jsonl", *SCAN], {}, 2)]
    procs = [subprocess.Popen([sys.executable, "-m", "avdetect", *map(str, args)], env={**os.environ, **env},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for args, env, _ in cases]
    for (args, _, code), p in zip(cases, procs):
        _, err = p.communicate(timeout=300)
        assert p.returncode == code and err.count("\n") == 1 and err.startswith("error: "), (args, err)
        assert "Traceback" not in err and "Warning" not in err, (args, err)
