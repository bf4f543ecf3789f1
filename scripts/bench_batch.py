"""Speed of `avdetect batch` (local engine, CPU) next to two floors measured on the same files.

    python scripts/bench_batch.py --n 80 --workers 2 --rounds 3

Seconds of media per wall-clock second (x real time) for:
  decode     PyAV decode of video + audio as the pipeline does it (16 kHz mono audio, RGB frames
             on the 25 fps timeline)
  facemesh   decode + FaceMesh tracking on every frame (no audio features, no checks):
             the unavoidable cost of the pipeline
  pipeline   the local engine as `avdetect batch --device cpu` runs it: each worker extracts the
             features and runs the checks with its own Detector (--main-checks: workers only
             extract, the main process runs the checks on batches, as with a GPU)
All three use the same number of spawn-started worker processes; each pool is warmed up first
by running its own work on one clip outside the measured set (imports, FaceMesh graph, silero
VAD, the worker's models, first-call allocations), and the warm-up time is printed separately:
it is paid once per worker, not per file. The pipeline's time includes the end of the batch
(its workers asked to exit and reaped). Also prints the cost of a fresh FaceMesh graph vs a reset.
The machine load (os.getloadavg) is printed with the numbers: shared machines give low numbers.
Each timed run also prints how many cores were busy during it (Linux /proc/stat, the whole
machine): a floor that leaves cores idle is one the pipeline could overlap its models into.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GRID = ROOT.parent / "shared" / "data" / "av" / "grid_s1" / "video"
WARMUP_HOLD_S = 1.0  # each warm-up task holds its worker this long so every worker gets one
N_TRACKER_TRIALS = 5


def _decode(path: str) -> float:
    """-> seconds of media decoded (audio + every video frame on the timeline)."""
    from avdetect import io

    info = io.probe(path)
    audio = io.load_audio(path, info)
    n = sum(1 for _ in io.iter_video_frames(path, info))
    return max(audio.duration_s if audio is not None else 0.0, n / 25.0)


def facemesh_floor(path: str) -> float:
    """The floor's work on one file: decode video + audio, FaceMesh on every frame -> seconds of video."""
    from avdetect import io
    from avdetect.batch.stages import worker_tracker

    info = io.probe(path)
    io.load_audio(path, info)
    tracker = worker_tracker()
    n = 0
    for k, rgb in io.iter_video_frames(path, info):
        tracker(k, rgb)
        n += 1
    return n / 25.0


def _warm(mode: str, warm_path: str, main_checks: bool | None = None) -> int:
    """Pay the per-worker start-up of a mode by running its work on one clip outside the
    measured set: imports, graphs, models and every first-call cost (lazy allocations, caches)."""
    if mode == "decode":
        _decode(warm_path)
    elif mode == "facemesh":
        facemesh_floor(warm_path)
    else:
        from avdetect.batch.inputs import Source
        from avdetect.batch.stages import ScanJob, extract_one, scan_one
        from avdetect.checks.base import Settings

        job = ScanJob(Settings(device="cpu"), checks_in_workers=not main_checks)
        (extract_one if main_checks else scan_one)(Source.of(warm_path), job)
    time.sleep(WARMUP_HOLD_S)
    return os.getpid()


def _warm_pool(mode: str, workers: int, warm_path: str, main_checks: bool | None = None):
    """The batch engine's pool (pipeline) or a plain process pool (floors), warmed up."""
    import multiprocessing as mp

    from avdetect.batch.local import new_pool
    from avdetect.batch.stages import init_worker

    t = time.perf_counter()
    if mode == "pipeline":
        pool = new_pool(workers)
        pids = set(pool.each(_warm, mode, warm_path, main_checks))
    else:
        pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=init_worker)
        pids = set(pool.map(_warm, [mode] * workers, [warm_path] * workers,
                             [main_checks] * workers))
    assert len(pids) == workers, f"warm-up reached {len(pids)} of {workers} workers"
    return pool, time.perf_counter() - t - WARMUP_HOLD_S


def _cpu_jiffies() -> tuple[int, int] | None:
    """-> (busy, total) jiffies summed over every core since boot (Linux), None elsewhere."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = v[3] + v[4]  # idle + iowait
    return sum(v) - idle, sum(v)


def busy_cores(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """Mean number of busy cores between two _cpu_jiffies readings (None where unknown)."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (os.cpu_count() or 1) * (after[0] - before[0]) / (after[1] - before[1])


def bench_floor(mode: str, paths: list[str], workers: int, warm_path: str) -> dict:
    pool, warm_s = _warm_pool(mode, workers, warm_path)
    fn = _decode if mode == "decode" else facemesh_floor
    with pool:
        cpu, t = _cpu_jiffies(), time.perf_counter()
        media = sum(pool.map(fn, paths))
        wall = time.perf_counter() - t
    return {"mode": mode, "media_s": media, "wall_s": wall, "warmup_s": warm_s,
            "busy_cores": busy_cores(cpu, _cpu_jiffies())}


def bench_pipeline(paths: list[str], workers: int, batch_size: int, main_checks: bool, warm_path: str) -> dict:
    from avdetect.batch.inputs import Source
    from avdetect.batch.local import iter_local
    from avdetect.batch.stages import ScanJob
    from avdetect.checks.base import Settings
    from avdetect.detector import Detector

    job = ScanJob(Settings(device="cpu"), checks_in_workers=not main_checks)
    detector = Detector(job.settings)  # the main process's, loaded before the clock starts
    pool, warm_s = _warm_pool("pipeline", workers, warm_path, main_checks)
    sources = [Source.of(p) for p in paths]
    cpu, t = _cpu_jiffies(), time.perf_counter()
    records = list(iter_local(sources, job, workers, batch_size, pool=pool, detector=detector))
    wall = time.perf_counter() - t
    busy = busy_cores(cpu, _cpu_jiffies())
    errors = [r for r in records if r["verdict"] == "error"]
    assert len(records) == len(paths) and not errors, errors[:1]
    return {"mode": "pipeline", "media_s": sum(r["duration_s"] for r in records), "wall_s": wall,
            "warmup_s": warm_s, "busy_cores": busy}


def tracker_costs() -> tuple[float, float]:
    """-> (ms for a new FaceMeshTracker + close, ms for reset()) in this process."""
    from avdetect.visual.landmarks import FaceMeshTracker, quiet_stderr

    with quiet_stderr():
        FaceMeshTracker().close()  # imports
        t = time.perf_counter()
        for _ in range(N_TRACKER_TRIALS):
            FaceMeshTracker().close()
        fresh = (time.perf_counter() - t) / N_TRACKER_TRIALS
        tr = FaceMeshTracker()
        t = time.perf_counter()
        for _ in range(N_TRACKER_TRIALS):
            tr.reset()
        reset = (time.perf_counter() - t) / N_TRACKER_TRIALS
        tr.close()
    return 1e3 * fresh, 1e3 * reset


def _line(r: dict) -> str:
    busy = f", {r['busy_cores']:.2f} cores busy" if r.get("busy_cores") is not None else ""
    return (f"{r['mode']:9s} {r['media_s']:7.1f} s media in {r['wall_s']:6.1f} s wall = "
            f"{r['media_s'] / r['wall_s']:5.2f}x real time{busy}   (worker warm-up {r['warmup_s']:.1f} s, once)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=40, help="number of GRID clips (3 s each)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3,
                    help="facemesh floor + pipeline measured back to back this many times; the median ratio is the result")
    ap.add_argument("--main-checks", action="store_true",
                    help="workers only extract; the main process runs the checks (the GPU layout)")
    args = ap.parse_args()
    clips = [str(p) for p in sorted(GRID.glob("*.mp4"))]
    assert len(clips) > args.n, f"found {len(clips)} GRID clips in {GRID}, need {args.n} + 1 for the warm-up"
    paths, warm_path = clips[: args.n], clips[-1]
    print(f"{args.n} GRID clips, {args.workers} workers, {os.cpu_count()} CPUs, "
          f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    fresh_ms, reset_ms = tracker_costs()
    print(f"FaceMeshTracker: new graph + close {fresh_ms:.0f} ms, reset {reset_ms:.1f} ms (per file)")
    print(_line(bench_floor("decode", paths, args.workers, warm_path)))
    ratios, speeds = [], []
    for k in range(args.rounds):  # floor and pipeline back to back: a shared machine's load moves
        floor = bench_floor("facemesh", paths, args.workers, warm_path)
        pipe = bench_pipeline(paths, args.workers, args.batch_size, args.main_checks, warm_path)
        speed = {r["mode"]: r["media_s"] / r["wall_s"] for r in (floor, pipe)}
        ratios.append(speed["pipeline"] / speed["facemesh"])
        speeds.append(speed["pipeline"])
        print(f"round {k + 1}/{args.rounds}, load average {os.getloadavg()[0]:.2f}")
        print("  " + _line(floor))
        print("  " + _line(pipe))
        print(f"  pipeline / facemesh floor = {ratios[-1]:.2f}")
    print(f"pipeline / facemesh floor, median of {args.rounds} rounds = {statistics.median(ratios):.2f}   "
          f"(each: {' '.join(f'{r:.2f}' for r in ratios)}; target >= 0.85)")
    print(f"pipeline, median of {args.rounds} rounds = {statistics.median(speeds):.2f}x real time "
          f"(target >= 12 on 2 quiet cores)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

if __name__ == "__main__":
    main()
