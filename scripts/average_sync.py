#!/usr/bin/env python
"""Average the weights of sync models of one config (a training stage and its continuation).

    PYTHONPATH=. python scripts/average_sync.py avdetect/models/weights/sync runs/sync7/best --out runs/soup67/sync
    PYTHONPATH=. python scripts/calibrate_sync.py --model runs/soup67/sync

The result records its sources (stem, weight, sha256) under "training" in its JSON and carries
no calibration until scripts/calibrate_sync.py fits one.
"""

from __future__ import annotations

import argparse
import sys

from avdetect.training.sync import average_weights


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stems", nargs="+", help="model path stems (without .json / .safetensors)")
    ap.add_argument("--out", required=True, help="output stem")
    ap.add_argument("--weights", help="comma-separated mixing weights summing to 1 (default: uniform)")
    a = ap.parse_args()
    w = [float(x) for x in a.weights.split(",")] if a.weights else None
    print(f"wrote {average_weights(a.stems, a.out, w)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
