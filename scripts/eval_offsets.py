"""Offset accuracy of the lip_sync check on real clips with known audio delays.

Conditions: original, audio delayed 200/400 ms by padding samples, by moving the audio
stream's start time in the container, a 30 fps re-encode and a variable-frame-rate re-encode.
Prints, per condition, the share of clips whose offset is within +-40 ms of the truth.

    python scripts/eval_offsets.py --n 100 --workers 2
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
    from avdetect.api import scan
    from avdetect.synth import reencode

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (_, kw) in CONDITIONS.items():
            p = path if kw is None else str(reencode(path, Path(tmp) / f"{name}.mp4", **kw))
            r = scan(p)
            lip = r["checks"].get("lip_sync", {})
            out[name] = (lip.get("offset_ms"), r["verdict"])
    return {"file": path, **out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--glob", default="av/grid_s1/video/*.mp4")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, help="also write per-clip results here")
    args = ap.parse_args()
    files = sorted(DATA.glob(args.glob))
    if not files:
        sys.exit(f"no clips match {DATA / args.glob}")
    files = [str(f) for f in files[:: max(1, len(files) // args.n)][: args.n]]
    with ProcessPoolExecutor(args.workers) as ex:
        rows = list(ex.map(one, files))
    print(f"{len(rows)} clips from {args.glob}")
    print(f"{'condition':<15} {'truth':>6} {'n ok':>5} {'median |err|':>13} {'within 40 ms':>13} {'fake/susp/auth':>15}")
    for name, (truth, _) in CONDITIONS.items():
        offs = np.array([r[name][0] for r in rows if r[name][0] is not None], float)
        verdicts = [r[name][1] for r in rows]
        err = np.abs(offs - truth)
        counts = "/".join(str(verdicts.count(v)) for v in ("fake", "suspicious", "authentic"))
        print(f"{name:<15} {truth:>6} {len(offs):>5} {np.median(err):>13.0f} {np.mean(err <= 40) * len(offs) / len(rows):>13.2f} {counts:>15}")
    print(f"original: median |offset_ms| = {np.median(np.abs([r['original'][0] for r in rows if r['original'][0] is not None])):.0f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
