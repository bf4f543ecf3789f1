"""Offset accuracy of the lip_sync check on real clips with known audio delays.

Conditions: original, audio delayed 200/400 ms by padding samples, by moving the audio
stream's start time in the container, a 30 fps re-encode and a variable-frame-rate re-encode.
Prints, per condition, the share of clips whose offset is within +-40 ms of the truth.

    python scripts/eval_offsets.py --n 100 --workers 2
    python scripts/eval_offsets.py --start 540 --n 60   # GRID clips the sync model never trained on
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
CONDITIONS = {  # name: (truth ms, reencode kwargs)
    "original": (0, None),
    "pad+200": (200, dict(audio_delay_s=0.2)),
    "pad+400": (400, dict(audio_delay_s=0.4)),
    "pad-400": (-400, dict(audio_delay_s=-0.4)),
    "container+200": (200, dict(audio_delay_s=0.2, container_delay=True)),
    "container+400": (400, dict(audio_delay_s=0.4, container_delay=True)),
    "30fps+200": (200, dict(audio_delay_s=0.2, fps=30)),
    "vfr+400": (400, dict(audio_delay_s=0.4, vfr_seed=1)),
}


def one(path: str) -> dict:
    from avdetect import scan
    from avdetect.synth import reencode

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (_, kw) in CONDITIONS.items():
            p = path if kw is None else str(reencode(path, Path(tmp) / f"{name}.mp4", **kw))
            r = scan(p, device="cpu").to_dict()
            lip = r["checks"].get("lip_sync", {})
            corr = lip.get("correlation", lip)  # the training-free check's own offset
            out[name] = (lip.get("offset_ms"), r["verdict"], corr.get("offset_ms"), lip.get("score"))
    return {"file": path, **out}


def _within(rows: list[dict], name: str, i: int, truth: float) -> float:
    """Share of all clips whose offset (field i) is within 40 ms of the truth (missing = miss)."""
    return float(np.mean([r[name][i] is not None and abs(r[name][i] - truth) <= 40 for r in rows]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--glob", default="av/grid_s1/video/*.mp4")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--start", type=int, default=0,
                    help="skip the first K sorted files (GRID s1: --start 540 = the sync model's val clips)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, help="also write per-clip results here")
    args = ap.parse_args()
    files = sorted(DATA.glob(args.glob))[args.start:]
    if not files:
        sys.exit(f"no clips match {DATA / args.glob}")
    files = [str(f) for f in files[:: max(1, len(files) // args.n)][: args.n]]
    with ProcessPoolExecutor(args.workers) as ex:
        rows = list(ex.map(one, files))
    print(f"{len(rows)} clips from {args.glob}")
    print(f"{'condition':<15} {'truth':>6} {'n ok':>5} {'median |err|':>13} {'within 40 ms':>13} "
          f"{'corr. within 40':>16} {'fake/susp/auth':>15}")
    for name, (truth, _) in CONDITIONS.items():
        within = [_within(rows, name, i, truth) for i in (0, 2)]
        offs = np.array([r[name][0] for r in rows if r[name][0] is not None], float)
        verdicts = [r[name][1] for r in rows]
        counts = "/".join(str(verdicts.count(v)) for v in ("fake", "suspicious", "authentic"))
        print(f"{name:<15} {truth:>6} {len(offs):>5} {np.median(np.abs(offs - truth)):>13.0f} {within[0]:>13.2f} "
              f"{within[1]:>16.2f} {counts:>15}")
    print(f"original: median |offset_ms| = {np.median(np.abs([r['original'][0] for r in rows if r['original'][0] is not None])):.0f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
