"""Speed of `avdetect scan` on CPU: seconds of media per second of wall time.

Inputs: GRID clips from ../shared/data (360x288, 25 fps, 3 s), a generated 720p
(1280x720, 25 fps) talking-face clip, and a 10-minute audio-only call (LibriSpeech
utterances back to back, 8 kHz AAC). One warm-up scan loads the models first.

    python scripts/bench_scan.py --grid 10 --hd-seconds 30 --call-minutes 10
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


def make_call(path: Path, minutes: float) -> Path:
    """An audio-only call: LibriSpeech utterances back to back (synthetic voice without shared data)."""
    from avdetect import io, synth

    flacs = sorted((DATA / "speech" / "librispeech").rglob("*.flac"))
    parts, total = [], 0
    need = int(minutes * 60 * 16000)
    while total < need:
        if flacs:
            x = io.load_audio(flacs[len(parts) % len(flacs)]).samples
        else:
            x = synth.synthetic_speech(8.0, seed=len(parts))[0]
        parts.append(x)
        total += len(x)
    return synth.write_av(path, None, np.concatenate(parts)[:need], audio_codec="aac", audio_rate=8000)


def bench(paths: list[Path]) -> tuple[float, float]:
    from avdetect import scan

    media = wall = 0.0
    for p in paths:
        t = time.perf_counter()
        r = scan(p, device="cpu").to_dict()
        wall += time.perf_counter() - t
        media += r["duration_s"] or 0.0
    return media, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grid", type=int, default=10, help="number of GRID clips")
    ap.add_argument("--hd-seconds", type=float, default=30.0)
    ap.add_argument("--call-minutes", type=float, default=10.0, help="audio-only call (8 kHz AAC .m4a)")
    args = ap.parse_args()
    import torch

    from avdetect import scan

    print(f"torch threads: {torch.get_num_threads()}")
    grid = sorted((DATA / "av" / "grid_s1" / "video").glob("*.mp4"))[: args.grid]
    with tempfile.TemporaryDirectory() as tmp:
        hd = make_hd_clip(Path(tmp) / "hd.mp4", args.hd_seconds)
        scan(grid[0] if grid else hd, device="cpu")  # warm-up: model loading is not per-file cost
        rows = []
        if grid:
            rows.append(("GRID 360x288 25 fps", *bench(grid)))
        rows.append(("generated 1280x720 25 fps", *bench([hd])))
        call = make_call(Path(tmp) / "call.m4a", args.call_minutes)
        rows.append(("audio-only call, 8 kHz AAC", *bench([call])))
    for name, media, wall in rows:
        print(f"{name:<28} media {media:7.1f} s  wall {wall:7.1f} s  speed {media / wall:5.2f}x real time")


if __name__ == "__main__":
    main()
