"""Speed of `avdetect scan` on CPU: seconds of media per second of wall time.

Inputs: GRID clips from ../shared/data (360x288, 25 fps, 3 s) and a generated 720p
(1280x720, 25 fps) talking-face clip. One warm-up scan loads the models first.

    python scripts/bench_scan.py --grid 10 --hd-seconds 30
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def make_hd_clip(path: Path, seconds: float) -> Path:
    from avdetect import synth

    frames, samples = synth.talking_face(seconds, seed=7)
    canvas = np.full((720, 1280, 3), 90, np.uint8)
    hd = []
    for f in frames:
        big = np.repeat(np.repeat(f, 2, 0), 2, 1)  # 512 x 512 face
        c = canvas.copy()
        c[104:616, 384:896] = big
        hd.append(c)
    return synth.write_av(path, hd, samples)


def bench(paths: list[Path]) -> tuple[float, float]:
    from avdetect.api import scan

    media = wall = 0.0
    for p in paths:
        t = time.perf_counter()
        r = scan(p)
        wall += time.perf_counter() - t
        media += r["duration_s"] or 0.0
    return media, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grid", type=int, default=10, help="number of GRID clips")
    ap.add_argument("--hd-seconds", type=float, default=30.0)
    args = ap.parse_args()
    import torch

    from avdetect.api import scan

    print(f"torch threads: {torch.get_num_threads()}")
    grid = sorted((DATA / "av" / "grid_s1" / "video").glob("*.mp4"))[: args.grid]
    with tempfile.TemporaryDirectory() as tmp:
        hd = make_hd_clip(Path(tmp) / "hd.mp4", args.hd_seconds)
        scan(grid[0] if grid else hd)  # warm-up: model loading is not per-file cost
        rows = []
        if grid:
            rows.append(("GRID 360x288 25 fps", *bench(grid)))
        rows.append(("generated 1280x720 25 fps", *bench([hd])))
    for name, media, wall in rows:
        print(f"{name:<28} media {media:7.1f} s  wall {wall:7.1f} s  speed {media / wall:5.2f}x real time")


if __name__ == "__main__":
    main()
