"""The lip-sync findings on real GRID clips (issue 17 item 2), made at run time with synth.splice:
a constant 200 ms offset reads desync / suspicious, dubbed audio mismatch / fake, and an offset
that jumps by 300 ms half-way gives the time of the jump (skipped without ../shared/data)."""

import pytest

from avdetect import synth
from avdetect.fusion import FAKE_THRESHOLD

pytestmark = pytest.mark.integration
TOLERANCE_MS = 40  # one video frame
SPLICE_CLIPS = ["bbbf8p", "bbbmzn", "bbie8n", "bbie9s"]  # 4 x 3 s: the jump lands at 6.0 s
# video and the audio of another sentence (other command word, other timing)
DUBS = [("bbaf2n", "lbad6n"), ("bbal8p", "pbai7a")]


@pytest.fixture(scope="module")
def grid(shared_data):
    def path(name):
        p = shared_data / "av" / "grid_s1" / "video" / f"{name}.mp4"
        if not p.exists():
            pytest.skip(f"GRID clip {p} not found")
        return p
    return path


def _scan(detector, path):
    r = detector.scan(path).to_dict()
    return r, r["checks"]["lip_sync"]


def test_constant_offset_reads_desync_and_suspicious(detector, grid, tmp_path):
    clip = grid("bbaf2n")
    r, lip = _scan(detector, synth.splice(tmp_path / "late.mp4", [(clip, clip, 0.2)]))
    assert lip["finding"] == "desync" and lip["offset_changes"] == [], lip
    assert abs(lip["offset_ms"] - 200) <= TOLERANCE_MS and lip["offset_found"] is True
    # the check itself is sure the recording is out of sync; fusion keeps a small constant offset suspicious
    assert lip["score"] >= FAKE_THRESHOLD and r["verdict"] == "suspicious", (lip["score"], r["verdict"])
    assert "throughout" in r["reasons"][0] and "encoding fault" in r["reasons"][0], r["reasons"]
    assert any("counts as suspicious at most" in x for x in r["reasons"]), r["reasons"]


@pytest.mark.parametrize("video,audio", DUBS)
def test_dubbed_audio_reads_mismatch_and_fake(detector, grid, tmp_path, video, audio):
    r, lip = _scan(detector, synth.splice(tmp_path / "dub.mp4", [(grid(video), grid(audio), 0.0)]))
    assert lip["finding"] == "mismatch" and lip["offset_found"] is False, lip
    assert r["verdict"] == "fake" and "no time shift aligns them" in r["reasons"][0], r["reasons"]


def test_offset_that_jumps_half_way_gives_its_time(detector, grid, tmp_path):
    clips = [grid(n) for n in SPLICE_CLIPS]
    spliced = synth.splice(tmp_path / "splice.mp4", [(c, c, 0.0 if k < 2 else 0.3) for k, c in enumerate(clips)])
    r, lip = _scan(detector, spliced)
    assert lip["finding"] == "desync" and len(lip["offset_changes"]) == 1, lip
    change = lip["offset_changes"][0]
    assert abs(change["at_s"] - 6.0) <= 1.0 and change["between_s"][0] <= change["between_s"][1]
    assert abs(change["from_ms"]) <= TOLERANCE_MS and abs(change["to_ms"] - 300) <= TOLERANCE_MS, change
    assert r["verdict"] == "fake" and "00:06" in r["reasons"][0] and "splice" in r["reasons"][0], r["reasons"]
    # the same four clips joined in sync: the joins alone are no splice
    r, lip = _scan(detector, synth.splice(tmp_path / "joined.mp4", [(c, c, 0.0) for c in clips]))
    assert lip["finding"] == "in_sync" and lip["offset_changes"] == [] and r["verdict"] == "authentic", lip
