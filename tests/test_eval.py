"""`avdetect eval`: manifest reading, metrics per kind and channel, and the command end to end."""

import json
import subprocess
import sys

import pytest

from avdetect import synth
from avdetect.evaluate import ALL_FAKES, LabelledClip, evaluate, read_manifest
from avdetect.io import MediaError


def _report(score, status="ok", offset=None):
    return {"verdict": "authentic", "score": score,
            "checks": {"synthetic_speech": {"status": status, "score": score},
                       "lip_sync": {"status": status, "score": score, "offset_ms": offset}}}


def test_metrics_per_kind_and_channel():
    clips = [LabelledClip(f"/r{i}", 0, "real", "clean", None) for i in range(4)]
    clips += [LabelledClip(f"/a{i}", 1, "gen_a", "clean", None) for i in range(3)]
    clips += [LabelledClip(f"/b{i}", 1, "gen_b", "clean", None) for i in range(3)]
    clips += [LabelledClip("/t_real", 0, "real", "tel8k", None), LabelledClip("/t_fake", 1, "gen_a", "tel8k", None)]
    reports = {f"/r{i}": _report(s) for i, s in enumerate([10, 20, 30, 40])}
    reports |= {f"/a{i}": _report(s) for i, s in enumerate([50, 60, 70])}  # all above every real
    reports |= {"/b0": _report(15), "/b1": _report(35), "/b2": _report(0, status="not_applicable")}
    reports |= {"/t_real": _report(80), "/t_fake": _report(5)}  # inverted in this channel
    rows = {(r.channel, r.kind): r for r in evaluate(clips, reports, "synthetic_speech")}
    assert rows[("clean", "gen_a")].auc == 1.0 and rows[("clean", "gen_a")].eer == 0.0
    b = rows[("clean", "gen_b")]
    assert (b.n, b.n_scored) == (3, 2) and b.auc == pytest.approx((1 + 3) / 8)  # 15 beats 10; 35 beats 3
    assert rows[("clean", ALL_FAKES)].n == 6
    assert rows[("tel8k", "gen_a")].auc == 0.0  # reals of another channel are not used
    assert rows[("clean", "real")].auc is None


def test_offset_accuracy_and_missing_reports():
    clips = [LabelledClip("/x", 1, "late", "original", 200.0), LabelledClip("/y", 1, "late", "original", 200.0),
             LabelledClip("/z", 1, "late", "original", 200.0)]
    reports = {"/x": _report(90, offset=230), "/y": _report(90, offset=260)}  # /z: no report at all
    (row,) = evaluate(clips, reports, "lip_sync")
    assert row.offset_acc == pytest.approx(1 / 3) and row.n_offset == 3 and row.n_scored == 2


def test_manifest_errors_are_one_line(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("file,label\na.wav,real\n")
    with pytest.raises(MediaError, match="header"):
        read_manifest(m)
    m.write_text("path,label\na.wav,maybe\n")
    with pytest.raises(MediaError, match="real or fake"):
        read_manifest(m)
    m.write_text("path,label,kind\na.wav,real,x\n")
    with pytest.raises(MediaError, match="no rows"):
        read_manifest(m, {"kind": "y"})
    (clip,) = read_manifest(m)
    assert clip.path == str(tmp_path / "a.wav") and clip.channel == "original" and clip.label == 0


def test_eval_command_on_generated_clips(talking, tmp_path):
    frames, samples = talking
    synth.write_av(tmp_path / "sync.mp4", frames, samples)
    synth.write_av(tmp_path / "late.mp4", frames, synth.delay_audio(samples, 0.4))
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 100)
    (tmp_path / "m.csv").write_text("path,label,kind,offset_ms\nsync.mp4,real,real,0\n"
                                    "late.mp4,fake,offset400,400\nbroken.mp4,fake,offset400,400\n")
    p = subprocess.run([sys.executable, "-m", "avdetect", "eval", str(tmp_path / "m.csv"), "--check", "lip_sync",
                        "--lip-sync", "correlation", "-j", "1", "-f", "json"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    rows = {r["kind"]: r for r in json.loads(p.stdout)["rows"]}
    late = rows["offset400"]
    assert (late["n"], late["n_scored"]) == (2, 1) and late["auc"] == 1.0
    assert late["offset_acc"] == 0.5 and rows["real"]["offset_acc"] == 1.0
    assert "1 of 3 files could not be analysed" in p.stderr and "Traceback" not in p.stderr


def test_sync_table_by_group_compares_each_corpus_with_its_own_originals():
    import numpy as np

    from avdetect.training.sync_eval import Condition, Scored, Trial, table_by_group

    def trial(name, cond):
        return Trial(name, cond, None, np.zeros(1, np.float32), 0 if cond == Condition.original else 5)

    trials, scores = [], []
    for i, (group, real, fake) in enumerate([("av/multi/a", 0.1, 0.9), ("av/multi/b", 0.2, 0.8),
                                             ("av/lrc_ar/c", 0.7, 0.3), ("av/lrc_ar/d", 0.6, 0.4)]):
        for cond in Condition:
            trials.append(trial(group, cond))
            scores.append(Scored(real if cond == Condition.original else fake, 5.0))
    groups = table_by_group(trials, scores)
    assert set(groups) == {"multi", "lrc"}
    assert groups["multi"]["dubbed"]["auc"] == 1.0 and groups["lrc"]["dubbed"]["auc"] == 0.0
    assert groups["multi"]["original"]["n"] == 2 and groups["lrc"]["offset_200"]["n_real"] == 2
