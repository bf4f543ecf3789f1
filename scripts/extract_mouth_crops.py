"""Extract and cache mouth crops for the visual branch (training sources and av/wild).

    PYTHONPATH=. nice -n 15 python scripts/extract_mouth_crops.py [--data /work/shared/data]
        [--cache /work/cache/mouth] [--every 1]

Writes <cache>/splits.json ({'train', 'val', 'wild'} clip paths) and one .npz per clip.
Prints a JSON summary (clips, crops, failures, seconds per set) to stdout.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import torch

from avdetect.training.mouth_crops import CACHE_DIR, extract_all, real_splits

EVERY = {"train": 3, "val": 3, "wild": 2}  # keep a crop every n timeline frames
MAX_S = {"train": 3.0, "val": 3.0, "wild": 8.0}  # s of each clip read


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--cache", type=Path, default=CACHE_DIR)
    ap.add_argument("--sets", default="train,val,wild")
    ap.add_argument("--every", type=int, help="keep a crop every n frames in every set (1: consecutive "
                    "frames, for the temporal model); default: EVERY per set")
    a = ap.parse_args()
    torch.set_num_threads(1)
    rows = list(csv.DictReader(open(a.data / "manifest.csv")))
    splits = real_splits(rows)
    wild = list(csv.DictReader(open(a.data / "av/wild/manifest.csv")))
    splits["wild"] = ["av/wild/" + r["path"] for r in wild]
    a.cache.mkdir(parents=True, exist_ok=True)
    (a.cache / "splits.json").write_text(json.dumps(splits, indent=1))
    summary = {}
    for name in a.sets.split(","):
        t0 = time.time()
        counts = extract_all(a.data, splits[name], a.cache, a.every or EVERY[name], MAX_S[name])
        summary[name] = {"clips": len(counts), "crops": sum(max(c, 0) for c in counts.values()),
                         "no_face": sum(c == 0 for c in counts.values()),
                         "failed": sum(c < 0 for c in counts.values()), "seconds": round(time.time() - t0, 1)}
        print(json.dumps({name: summary[name]}), flush=True)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
