"""Train the spoof network on cache/spoof (run scripts/build_spoof_corpus.py first).

Usage: PYTHONPATH=. python scripts/train_spoof.py [--steps 900] [--out avdetect/models/weights]
       (the same as `avdetect train spoof`)
Writes avdetect/models/weights/spoof.safetensors + avdetect/models/weights/spoof.json; prints wall time. Fixed seeds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from avdetect.models.spoof import Features, Head
from avdetect.models.store import PACKAGE_MODEL_DIR
from avdetect.training.spoof_corpus import UNSEEN_GENERATORS
from avdetect.training.train_spoof import TrainConfig, train_and_save

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=ROOT / "cache" / "spoof")
    ap.add_argument("--out", type=Path, default=PACKAGE_MODEL_DIR)
    ap.add_argument("--steps", type=int, default=TrainConfig.steps)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--features", choices=[f.value for f in Features], default=Features.logspec.value)
    ap.add_argument("--eq-db", type=float, default=TrainConfig.eq_db,
                    help="random smooth spectral EQ per training crop, peak dB (0: off)")
    ap.add_argument("--unseen", default=",".join(g.value for g in UNSEEN_GENERATORS),
                    help="generators kept out of training, comma-separated (piper is seen only in a corpus "
                         "built with --piper-train)")
    ap.add_argument("--head", choices=[h.value for h in Head], default=Head.linear.value,
                    help="linear (binary cross-entropy) or ocsoftmax (one-class softmax)")
    args = ap.parse_args()
    record = train_and_save(args.corpus, args.out, args.steps, args.seed, args.features,
                            log=lambda m: print(m, flush=True), eq_db=args.eq_db,
                            unseen=tuple(g for g in args.unseen.split(",") if g), head=args.head)
    print(json.dumps(record))
    print(f"wall time {record['wall_time_s']} s (1 thread)")


if __name__ == "__main__":
    main()
