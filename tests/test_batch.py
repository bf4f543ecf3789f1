"""Batch auditing, local engine: reports + error records, resume, --force, crashes, kills, inputs, CSV."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from typer.testing import CliRunner

from avdetect.batch.inputs import Source, expand_inputs
from avdetect.batch.local import WORKER_DIED, iter_local
from avdetect.batch.results import CSV_COLUMNS, JsonlWriter, read_records
from avdetect.batch.run import BatchOptions, plan, run_batch
from avdetect.batch.stages import Limits, ScanJob, media_seconds
from avdetect.cli import app
from avdetect.features import extract
from avdetect.visual.landmarks import FaceMeshTracker
from avdetect import synth
from batch_helpers import BATCH_CLIP_S, CRASH_MARK, HOG_MARK, STUCK_MARK, crashing_extract, hostile_extract, make_clips

from conftest import CORRELATION_SETTINGS

CPU = ScanJob(CORRELATION_SETTINGS)  # generated faces: the training-free check


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    return make_clips(tmp_path_factory.mktemp("batch_media"))


def _by_name(records):
    return {Path(r["file"]).name: r for r in records}


def test_batch_reports_errors_csv_resume_force(clips, tmp_path):
    out, table = tmp_path / "r.jsonl", tmp_path / "s.csv"
    sources = expand_inputs([clips["in_sync"], clips["late"], clips["corrupt"], tmp_path / "missing.wav"])
    opts = BatchOptions(CPU, workers=2, batch_size=2, csv_path=table, progress=False)
    summary = run_batch(sources, out, opts)
    recs = _by_name(read_records(out))
    assert summary.todo == 4 and summary.failed == 2 and summary.skipped == 0
    assert recs["in_sync.mp4"]["verdict"] == "authentic" and recs["late_400ms.mp4"]["verdict"] == "fake"
    assert recs["corrupt.mp4"]["verdict"] == "error" and recs["corrupt.mp4"]["error"]
    assert "no such file" in recs["missing.wav"]["error"]
    src = recs["in_sync.mp4"]["source"]
    assert src == {"path": str(clips["in_sync"].resolve()), "size": clips["in_sync"].stat().st_size,
                   "mtime": round(clips["in_sync"].stat().st_mtime, 6)}
    rows = list(csv.DictReader(table.open()))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 4
    late = next(r for r in rows if r["file"].endswith("late_400ms.mp4"))
    assert late["verdict"] == "fake" and 300 <= int(late["lip_sync_offset_ms"]) <= 500
    assert late["lip_sync_finding"] == "desync" and rows[0]["lip_sync_finding"] == "in_sync"

    again = run_batch(sources, out, opts)  # everything done: nothing is redone
    assert (again.todo, again.skipped) == (0, 4) and len(read_records(out)) == 4

    os.utime(clips["in_sync"], (time.time(), time.time() + 5))  # a changed file is redone
    assert [s.path for s in plan(expand_inputs([clips["in_sync"], clips["late"]]), read_records(out), False)[0]] \
        == [str(clips["in_sync"].resolve())]

    res = CliRunner().invoke(app, ["batch", "--lip-sync", "correlation", str(clips["corrupt"]), str(clips["late"]), "--out", str(out),
                                   "--force", "--workers", "1", "--device", "cpu"])
    assert res.exit_code == 1, res.output  # a file failed
    assert "2 files scanned (error 1, fake 1), 0 already done" in res.output
    assert len(read_records(out)) == 4  # redone files replace their old records


def test_worker_crash_is_an_error_record_and_the_batch_goes_on(clips, tmp_path):
    crash = tmp_path / f"{CRASH_MARK}.mp4"
    crash.write_bytes(clips["late"].read_bytes())
    sources = [Source.of(p) for p in (clips["in_sync"], crash, clips["late"])]
    recs = _by_name(iter_local(sources, CPU, workers=2, batch_size=4, extract_fn=crashing_extract))
    assert set(recs) == {"in_sync.mp4", crash.name, "late_400ms.mp4"}
    assert recs[crash.name]["verdict"] == "error" and WORKER_DIED in recs[crash.name]["error"]
    assert recs["in_sync.mp4"]["verdict"] == "authentic" and recs["late_400ms.mp4"]["verdict"] == "fake"


def test_stuck_and_memory_hungry_files_get_error_records_and_new_workers(clips, tmp_path):
    """One worker: a file that hangs is stopped at its time limit (scaled by its duration: the
    3 s clip has 10x longer), one that eats memory at the memory limit; the worker is replaced
    each time and the real clip after them is still scanned."""
    stuck, hog = tmp_path / f"{STUCK_MARK}.mp4", tmp_path / f"{HOG_MARK}.mp4"
    stuck.write_bytes(b"not media: 0 s, the minimum time limit")
    hog.write_bytes(clips["late"].read_bytes())  # 3 s of media: 30 s to reach the memory limit
    limits = Limits(worker_memory_bytes=3 << 29, min_timeout_s=2.0, timeout_per_media_s=10.0)  # 1.5 GiB
    sources = [Source.of(p) for p in (stuck, hog, clips["late"])]
    t = time.monotonic()
    recs = _by_name(iter_local(sources, CPU, workers=1, extract_fn=hostile_extract, limits=limits))
    assert recs[stuck.name]["verdict"] == "error" and "timed out after 2 s" in recs[stuck.name]["error"]
    assert recs[hog.name]["verdict"] == "error" and "out of memory" in recs[hog.name]["error"]
    assert recs["late_400ms.mp4"]["verdict"] == "fake"
    assert not _alive(int((tmp_path / f"{stuck.name}.pid").read_text()))  # the stuck worker was killed
    assert time.monotonic() - t < 200


def test_timeout_scales_with_duration_and_is_an_option(clips):
    assert Limits().timeout_for(0.0) == 60.0 and Limits().timeout_for(3600.0) == 5 * 3600.0
    real = Source.of(clips["late"])
    assert media_seconds(real, CPU) == pytest.approx(BATCH_CLIP_S, abs=0.1)
    assert media_seconds(real, ScanJob(max_duration_s=1.0)) == 1.0
    assert media_seconds(Source(real.path, 2000, real.mtime), CPU) == 2.0  # 2 kB: at most 2 s believed
    assert media_seconds(Source.of(clips["corrupt"]), CPU) == 0.0
    assert Limits(file_timeout_s=7.0).timeout_for(3600.0) == 7.0
    assert Limits(worker_memory_bytes=0).memory_for(2) is None
    assert Limits().memory_for(1) >= 2 << 30


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _group(pgid: int) -> list[int]:
    """Live processes of a process group (Linux /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                out.append(int(d))
    return out


def _gone_within(pids, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_busy_workers_die_with_a_killed_main_process(tmp_path):
    """kill -9 of the process running a batch while both workers are busy: no worker stays."""
    stuck = [tmp_path / f"{STUCK_MARK}{i}.mp4" for i in range(2)]
    for p in stuck:
        p.write_bytes(b"x")
    script = ("import sys; from avdetect.batch.inputs import Source; from avdetect.batch.local import iter_local; "
              "from avdetect.batch.stages import ScanJob; from batch_helpers import hostile_extract; "
              "list(iter_local([Source.of(p) for p in sys.argv[1:]], ScanJob(), workers=2, "
              "extract_fn=hostile_extract, detector=object()))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    p = subprocess.Popen([sys.executable, "-c", script, *map(str, stuck)], env=env, start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        markers = [Path(f"{s}.pid") for s in stuck]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(m.exists() and m.read_text() for m in markers):
            time.sleep(0.1)
        workers = [int(m.read_text()) for m in markers]
        assert all(_alive(w) for w in workers)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        assert _gone_within(workers, 5.0) == [] and _gone_within(_group(p.pid), 5.0) == []
    finally:
        for pid in _group(p.pid):
            os.kill(pid, signal.SIGKILL)


def test_killed_batch_keeps_whole_records_and_resumes(clips, tmp_path):
    """SIGKILL the CLI after the first record: no worker stays; every line is whole; a rerun finishes."""
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4):
        (folder / f"clip{i}.mp4").write_bytes(clips["in_sync" if i % 2 else "late"].read_bytes())
    out = tmp_path / "r.jsonl"
    cmd = [sys.executable, "-m", "avdetect", "batch", "--lip-sync", "correlation", str(folder), "--out", str(out), "--workers", "1",
           "--device", "cpu"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and p.poll() is None and not (out.exists() and out.read_text().count("\n") >= 1):
        time.sleep(0.1)
    os.kill(p.pid, signal.SIGKILL)  # the main process only: its workers must follow it
    p.wait()
    left = _gone_within(_group(p.pid), 5.0)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == [], "worker processes outlived the killed batch"
    text = out.read_text()
    assert text.endswith("\n") and 1 <= text.count("\n") <= 4
    assert all(json.loads(line)["verdict"] == "fake" or json.loads(line)["verdict"] == "authentic"
               for line in text.splitlines())
    with out.open("a") as f:
        f.write('{"file": "torn')  # a kill in the middle of a write
    res = CliRunner().invoke(app, ["batch", "--lip-sync", "correlation", str(folder), "--out", str(out), "--workers", "1", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    done = text.count("\n")
    assert f"{4 - done} files scanned" in res.output and f"{done} already done (skipped)" in res.output
    recs = read_records(out)
    assert sorted(Path(r["file"]).name for r in recs) == [f"clip{i}.mp4" for i in range(4)]
    assert [r["verdict"] for r in sorted(recs, key=lambda r: r["file"])] == ["fake", "authentic"] * 2


def test_input_expansion(tmp_path):
    (tmp_path / "a" / "deep").mkdir(parents=True)
    for rel in ("a/x.mp4", "a/deep/y.WAV", "a/notes.md", "b.mkv"):
        (tmp_path / rel).write_bytes(b"0")
    lst = tmp_path / "list.txt"
    lst.write_text(f"# comment\n\nb.mkv\n{tmp_path / 'a'}\nmissing.mp4\n")
    got = [Path(s.path).relative_to(tmp_path).as_posix() for s in expand_inputs([tmp_path / "a", lst])]
    assert got == ["a/deep/y.WAV", "a/x.mp4", "b.mkv", "missing.mp4"]  # deduplicated, order kept
    missing = expand_inputs([tmp_path / "missing.mp4"])[0]
    assert (missing.size, missing.mtime) == (None, None)


def test_torn_last_line_is_ignored_and_terminated(tmp_path):
    out = tmp_path / "r.jsonl"
    out.write_text('{"file": "a", "source": {"path": "/a", "size": 1, "mtime": 2.0}}\n{"file": "b", "sou')
    assert [r["file"] for r in read_records(out)] == ["a"]
    with JsonlWriter(out) as w:
        w.write({"file": "c"})
    assert [r["file"] for r in read_records(out)] == ["a", "c"]


def test_reused_tracker_does_not_leak_state_across_files(clips, tmp_path):
    """A per-worker tracker reset between files gives the same landmarks as a fresh one.

    The previous file has the face elsewhere in the picture: without reset() its last face box
    seeds the next file's tracking and the landmarks differ (by ~0.1 inter-ocular distances).
    """
    frames, samples = synth.talking_face(BATCH_CLIP_S, seed=4)
    shifted = synth.write_av(tmp_path / "shifted.mp4", [np.roll(f, (40, 60), (0, 1)) for f in frames], samples)
    fresh = extract(clips["in_sync"], tracker=None).mouth
    tracker = FaceMeshTracker()
    try:
        extract(shifted, tracker=tracker)
        tracker.reset()
        reused = extract(clips["in_sync"], tracker=tracker).mouth
    finally:
        tracker.close()
    assert np.array_equal(fresh.mask, reused.mask)
    np.testing.assert_allclose(np.nan_to_num(fresh.landmarks), np.nan_to_num(reused.landmarks), atol=1e-5)


def test_sync_model_batched_across_clips_matches_one_by_one(talking, tmp_path, detector, monkeypatch):
    """Detector.check sends the windows of several clips through the sync model together."""
    from avdetect.checks import learned_sync

    frames, samples = talking
    paths = [synth.write_av(tmp_path / "a.mp4", frames, samples),
             synth.write_av(tmp_path / "b.mp4", frames[:40], samples[:40 * 640]),  # 1.6 s: shorter windows
             synth.write_av(tmp_path / "c.mp4", frames, synth.delay_audio(samples, 0.3)),
             synth.write_av(tmp_path / "d.wav", None, samples, audio_codec="pcm_s16le")]  # audio only: no lip_sync
    feats = [extract(p) for p in paths]
    calls = []
    real = learned_sync.score_learned_sync_many

    def spy(clips, *a, **k):
        calls.append(len(clips))
        return real(clips, *a, **k)

    monkeypatch.setattr(learned_sync, "score_learned_sync_many", spy)
    together = detector.check(feats)
    assert calls == [3]  # one model call for the three videos; the audio-only file is not applicable
    assert together[3]["lip_sync"].status.value == "not_applicable"
    for f, t in zip(feats, together):
        alone = detector.check([f])[0]
        assert alone["lip_sync"].status == t["lip_sync"].status
        if alone["lip_sync"].status.value == "ok":
            assert alone["lip_sync"].fields.get("p_sync") == pytest.approx(t["lip_sync"].fields.get("p_sync"), abs=1e-3)
            assert alone["lip_sync"].score == pytest.approx(t["lip_sync"].score, abs=0.1)


def test_model_stage_isolates_a_clip_whose_checks_fail(clips, monkeypatch, correlation_detector):
    """A check that raises on one clip gives that file an error record; the others get reports."""
    from avdetect.batch import stages

    items = [stages.extract_one(Source.of(clips[k]), CPU) for k in ("in_sync", "late", "corrupt")]
    det = correlation_detector
    real_check = det.check

    def flaky(feats, claimed=None):
        if any("late" in f.info.path for f in feats):
            raise ValueError("boom")
        return real_check(feats, claimed)

    monkeypatch.setattr(det, "check", flaky)
    records = stages.model_stage(items, det, CPU, batch_size=8)
    assert [r["verdict"] for r in records][0] == "authentic"
    assert records[1]["verdict"] == "error" and "boom" in records[1]["error"] and "\n" not in records[1]["error"]
    assert records[2]["verdict"] == "error"  # the corrupt file's extraction error passes through
    assert [Path(r["source"]["path"]).name for r in records] == ["in_sync.mp4", "late_400ms.mp4", "corrupt.mp4"]
