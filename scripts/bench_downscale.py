"""Cost of turning a decoded HD frame into the 480-line RGB picture that face tracking sees.

Decodes a generated 1280x720 clip (as bench_scan.py makes it) once, then converts every frame
with each swscale interpolation in turn, interleaved frame by frame so both see the same machine
load, and reports ms per frame and the mean absolute pixel difference to bilinear (PyAV's
default). io.py uses the one named by io.DOWNSCALE_INTERPOLATION.

    python scripts/bench_downscale.py --seconds 10 --repeats 3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scan import make_hd_clip  # noqa: E402

TARGET = (854, 480)  # (W, H) px: 720p scaled to io.DEFAULT_MAX_HEIGHT


def decode_all(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as c:
        return [f for f in c.decode(video=0)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--modes", default="BILINEAR,AREA,FAST_BILINEAR")
    args = ap.parse_args()
    modes = [Interpolation[m] for m in args.modes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        frames = decode_all(make_hd_clip(Path(tmp) / "hd.mp4", args.seconds))
    spent = {m: 0.0 for m in modes}
    diff = {m: 0.0 for m in modes}
    ref = {m: VideoReformatter() for m in modes}
    for _ in range(args.repeats):
        for f in frames:
            outs = {}
            for m in modes:
                t0 = time.perf_counter()
                outs[m] = ref[m].reformat(f, format="rgb24", width=TARGET[0], height=TARGET[1],
                                          interpolation=m).to_ndarray()
                spent[m] += time.perf_counter() - t0
            base = outs[modes[0]].astype(np.int16)
            for m in modes:
                diff[m] += float(np.abs(outs[m].astype(np.int16) - base).mean())
    n = len(frames) * args.repeats
    print(f"{len(frames)} frames 1280x720 -> {TARGET[0]}x{TARGET[1]} rgb24, {args.repeats} repeats")
    print("| interpolation | ms / frame | mean abs diff to " + modes[0].name + " (0-255) |")
    print("|---|---|---|")
    for m in modes:
        print(f"| {m.name} | {1000 * spent[m] / n:.2f} | {diff[m] / n:.2f} |")


if __name__ == "__main__":
    main()
