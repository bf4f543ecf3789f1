"""Train the spoof network on cache/spoof (run scripts/build_spoof_corpus.py first).

Usage: PYTHONPATH=. python scripts/train_spoof.py [--steps 900] [--out models]
Writes models/spoof.safetensors + models/spoof.json; prints wall time. Fixed seeds.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import torch

from avdetect.models.spoof import Features, SpoofConfig, feature_dim, save
from avdetect.training.spoof_corpus import UNSEEN_GENERATORS, Corpus, Split
from avdetect.training.train_spoof import TrainConfig, train, variants_for

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=ROOT / "cache" / "spoof")
    ap.add_argument("--out", type=Path, default=ROOT / "models")
    ap.add_argument("--steps", type=int, default=TrainConfig.steps)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--features", choices=[f.value for f in Features], default=Features.logspec.value)
    args = ap.parse_args()
    t0 = time.time()
    torch.set_num_threads(1)
    corpus = Corpus(args.corpus)
    mcfg = SpoofConfig(features=args.features, n_mels=feature_dim(args.features))
    cache = args.corpus / f"variants_train_{mcfg.features}_s{args.seed}.pt"
    if cache.exists():
        variants = torch.load(cache, weights_only=False)
    else:
        variants = variants_for(corpus, Split.train, seed=args.seed, kind=mcfg.features)
        torch.save(variants, cache)
    assert not any(v.item.kind in {g.value for g in UNSEEN_GENERATORS} for v in variants)
    kinds = Counter((v.item.label, v.item.kind) for v in variants)
    print(f"{len(variants)} training variants ({time.time() - t0:.0f} s): {dict(kinds)}", flush=True)
    tcfg = TrainConfig(steps=args.steps, seed=args.seed)
    mcfg.training = ({"steps": tcfg.steps, "batch": tcfg.batch, "lr": tcfg.lr, "seed": tcfg.seed,
                                 "train_kinds": {f"{'fake' if l else 'real'}/{k}": n for (l, k), n in kinds.items()},
                                 "unseen_generators": [g.value for g in UNSEEN_GENERATORS]})
    model = train(variants, mcfg, tcfg, log=lambda m: print(m, flush=True))
    args.out.mkdir(exist_ok=True)
    mcfg.training["wall_time_s"] = round(time.time() - t0)
    save(model, args.out / "spoof.safetensors", args.out / "spoof.json")
    print(json.dumps(mcfg.training))
    print(f"wall time {time.time() - t0:.0f} s (1 thread)")


if __name__ == "__main__":
    main()
