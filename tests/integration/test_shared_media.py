"""Integration tests on real media in ../shared/data (skipped with a reason when it is absent)."""

import numpy as np
import pytest

from avdetect import synth
from avdetect.api import scan

pytestmark = pytest.mark.integration
GRID_CLIPS = ["bbaf2n", "bbal8p", "bbas3a", "bbaz7a", "bbbf8p", "bbbmzn"]


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
