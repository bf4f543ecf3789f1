"""Integration tests on real media in ../shared/data (skipped with a reason when it is absent)."""

import numpy as np
import pytest

from avdetect import synth
import avdetect

pytestmark = pytest.mark.integration
GRID_CLIPS = ["bbaf2n", "bbal8p", "bbas3a", "bbaz7a", "bbbf8p", "bbbmzn"]


def scan(path):
    return avdetect.scan(path, device="cpu").to_dict()


@pytest.fixture(scope="module")
def grid(shared_data):
    return [shared_data / "av" / "grid_s1" / "video" / f"{c}.mp4" for c in GRID_CLIPS]


def test_grid_clips_are_in_sync(grid):
    reports = [scan(p) for p in grid]
    lips = [r["checks"]["lip_sync"] for r in reports]
    assert all(lip["status"] == "ok" for lip in lips)
    assert np.median([abs(lip["offset_ms"]) for lip in lips]) <= 40
    # the training-free check flags ~5% of real GRID clips (scripts/eval_offsets.py); 2 of these 6 are such
    assert sum(r["verdict"] == "authentic" for r in reports) >= 4


@pytest.mark.parametrize("delay_ms,container", [(400, True), (-400, False)])
def test_grid_delayed_audio_is_measured(grid, tmp_path, delay_ms, container):
    errs = []
    for p in grid[:4]:
        q = synth.reencode(p, tmp_path / p.name, audio_delay_s=delay_ms / 1000, container_delay=container)
        r = scan(q)
        errs.append(abs(r["checks"]["lip_sync"]["offset_ms"] - delay_ms))
        assert r["verdict"] in ("fake", "suspicious")
    assert np.median(errs) <= 40


def test_other_people_and_speech_only(shared_data):
    lrs2 = sorted((shared_data / "av" / "multi").glob("lrs2_*.mp4"))[0]
    assert scan(lrs2)["checks"]["lip_sync"]["status"] == "ok"
    flac = next((shared_data / "speech" / "librispeech").rglob("*.flac"))
    lip = scan(flac)["checks"]["lip_sync"]
    assert lip["status"] == "not_applicable" and "audio-only" in lip["reason"]


def test_enroll_then_scan_claimed_from_the_cli(shared_data, tmp_path):
    import json
    import os
    import subprocess
    import sys

    speakers = [d for d in sorted((shared_data / "speech" / "librispeech").iterdir())
                if d.is_dir() and len(list(d.glob("*.flac"))) >= 5][:2]
    assert len(speakers) == 2, "expected LibriSpeech test-other speakers with several utterances"
    a, b = (sorted(s.glob("*.flac")) for s in speakers)
    env = {**os.environ, "AVDETECT_HOME": str(tmp_path)}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "avdetect", *map(str, args)], capture_output=True,
                              text=True, env=env, timeout=300)

    assert cli("enroll", "alice", *a[:3]).returncode == 0
    assert "alice" in cli("voices", "list").stdout
    rows = [json.loads(line)["checks"]["speaker"] for line in
            cli("scan", a[4], a[5], b[1], b[2], b[3], "--claimed", "alice").stdout.splitlines()]
    same, other = rows[:2], rows[2:]
    assert all(r["match"] is True for r in same)
    assert sum(r["match"] for r in other) <= 1  # the 0.72 threshold accepts ~1.6 % of impostor trials
    assert np.mean([r["similarity"] for r in same]) > np.mean([r["similarity"] for r in other]) + 0.1
    assert json.loads(cli("scan", b[2], "--claimed", "alice").stdout)["checks"]["speaker"]["score"] > 50
