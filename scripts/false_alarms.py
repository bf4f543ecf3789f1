"""False alarms on real recordings: per check, the share of real clips scoring >= 40 and >= 70.

Scans every step-th file matching each glob (relative to ../shared/data) with the full pipeline
(`avdetect.scan`, default options) and prints, per set and check, how many clips the check
judged, its median score, the share at or above the suspicious (40) and fake (70) marks, and the
verdict counts. All files must be real (unmanipulated) recordings.

    python scripts/false_alarms.py --set lrc_ar=av/lrc_ar/video/*.mp4:20 --set grid=av/grid_s1/video/*.mp4:20 \
        --set multi=av/multi/*.mp4:1 --workers 2
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
CHECKS = ("lip_sync", "synthetic_speech")


def _scan(path: str) -> dict:
    import torch

    from avdetect import scan
    from avdetect.batch.results import check_field

    torch.set_num_threads(1)
    r = scan(path, device="cpu").to_dict()
    return {"verdict": r["verdict"], **{c: check_field(r, c) for c in CHECKS}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", action="append", required=True, help="NAME=GLOB[:STEP]")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    print(f"{'set':<8} {'check':<17} {'files':>5} {'judged':>6} {'median':>6} {'>=40':>5} {'>=70':>5}  verdicts")
    with ProcessPoolExecutor(args.workers) as ex:
        for spec in args.set:
            name, _, rest = spec.partition("=")
            pattern, _, step = rest.partition(":")
            files = [str(f) for f in sorted(DATA.glob(pattern))[:: int(step or 1)]]
            if not files:
                sys.exit(f"no files match {DATA / pattern}")
            rows = list(ex.map(_scan, files))
            verdicts = Counter(r["verdict"] for r in rows)
            for c in CHECKS:
                s = np.array([r[c] for r in rows if r[c] is not None], float)
                med, s40, s70 = (np.median(s), (s >= 40).mean(), (s >= 70).mean()) if len(s) else (np.nan,) * 3
                print(f"{name:<8} {c:<17} {len(rows):>5} {len(s):>6} {med:>6.0f} {s40:>5.2f} {s70:>5.2f}  "
                      + ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())), flush=True)


if __name__ == "__main__":
    main()
