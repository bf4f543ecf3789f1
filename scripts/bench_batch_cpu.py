"""CPU time a batch worker spends per clip, by stage: what bounds `bench_batch.py`'s ratio.

    python scripts/bench_batch_cpu.py --n 40

In one process with one torch thread (as a batch worker), alternating per clip:
  floor      decode + FaceMesh tracking: bench_batch.facemesh_floor, the floor's per-file work
  extract    the worker's extract stage (the floor's work plus VAD, speech envelope,
             speech-likeness and the lip track)
  models     the model stage on that clip (every check, the report), of which
  whisper    the lip-sync model's Whisper-base front end (log-mel + CTranslate2 encoder)
CPU time is time.process_time (all threads of the process, MediaPipe's included). When both
cores are busy in the floor and in the pipeline (bench_batch.py prints the busy cores), the
pipeline / floor ratio cannot exceed floor / (extract + models) whatever the layout.
"""

from __future__ import annotations

import argparse
import statistics
import time


class CpuClock:
    """Wraps a callable and adds up the process CPU seconds spent inside it."""

    def __init__(self, fn) -> None:
        self.fn, self.seconds, self.calls = fn, 0.0, 0

    def __call__(self, *args, **kwargs):
        t = time.process_time()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.seconds += time.process_time() - t
            self.calls += 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=40, help="number of GRID clips (3 s each)")
    args = ap.parse_args()

    from bench_batch import GRID, facemesh_floor  # scripts/ is on sys.path when this script runs

    from avdetect.audio import whisper
    from avdetect.batch.inputs import Source
    from avdetect.batch.stages import ScanJob, extract_one, init_worker, model_stage, worker_detector
    from avdetect.checks.base import Settings
    from avdetect.models import sync

    init_worker(quiet=True)  # one torch thread, as in a worker; MediaPipe's chatter to /dev/null
    clips = sorted(GRID.glob("*.mp4"))
    assert len(clips) > args.n, f"found {len(clips)} GRID clips in {GRID}, need {args.n} + 1 for the warm-up"
    job = ScanJob(Settings(device="cpu"), checks_in_workers=True)
    detector = worker_detector(job.settings)
    enc_clock = CpuClock(whisper.whisper_encoder("cpu"))
    sync.whisper_encoder = lambda device="cpu": enc_clock  # the lip-sync model's front end, timed

    def stages(path: str) -> tuple[float, float]:
        t = time.process_time()
        x = extract_one(Source.of(path), job)
        t_extract = time.process_time() - t
        assert x.error is None, x.error
        t = time.process_time()
        model_stage([x], detector, job, 1)
        return t_extract, time.process_time() - t

    facemesh_floor(str(clips[-1]))  # warm-up: graphs, models, first-call allocations
    stages(str(clips[-1]))
    enc_clock.seconds = enc_clock.calls = 0
    per = {"floor": [], "extract": [], "models": []}
    for p in clips[: args.n]:
        t = time.process_time()
        facemesh_floor(str(p))
        per["floor"].append(time.process_time() - t)
        e, m = stages(str(p))
        per["extract"].append(e)
        per["models"].append(m)
    ms = {k: 1e3 * statistics.fmean(v) for k, v in per.items()}
    whisper_ms = 1e3 * enc_clock.seconds / args.n
    extra = ms["extract"] - ms["floor"] + ms["models"]
    print(f"{args.n} GRID clips of 3 s, CPU ms per clip (mean): floor {ms['floor']:.1f}, extract {ms['extract']:.1f} "
          f"(+{ms['extract'] - ms['floor']:.1f} over the floor), models {ms['models']:.1f} "
          f"(Whisper front end {whisper_ms:.1f} in {enc_clock.calls / args.n:.1f} calls a clip)")
    print(f"work beyond the floor {extra:.1f} ms a clip: pipeline / floor at most "
          f"{ms['floor'] / (ms['floor'] + extra):.3f} when the floor keeps every core busy")


if __name__ == "__main__":
    main()
