#!/usr/bin/env python
"""Grow a trained sync model by one transformer layer that starts as the identity.

    PYTHONPATH=. python scripts/grow_sync.py avdetect/models/weights/sync --out runs/grow/sync

The grown model computes what the source did (training/sync.grow_layer; checked here on
random input before saving); continuing training from it (train_sync.py --init-from) uses the
extra depth. Its sync.json records the source and its sha256.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from avdetect.models.sync import SyncTransformer, load_model, save_model
from avdetect.training.sync import grow_layer


def same_outputs(a: SyncTransformer, b: SyncTransformer, seed: int = 0, frames: int = 30) -> bool:
    g = torch.Generator().manual_seed(seed)
    c = a.cfg
    lips = torch.randn(2, frames, c.n_points, 2, generator=g) * 0.1
    valid = torch.ones(2, frames, dtype=torch.bool)
    mel = torch.randn(2, c.mel_per_frame * frames, c.n_mels, generator=g)
    with torch.no_grad():
        (sa, oa), (sb, ob) = a.eval()(lips, valid, mel, valid), b.eval()(lips, valid, mel, valid)
    return torch.allclose(sa, sb, atol=1e-5) and torch.allclose(oa, ob, atol=1e-5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", help="model stem, e.g. avdetect/models/weights/sync")
    ap.add_argument("--out", required=True, help="stem for the grown model")
    a = ap.parse_args()
    src = load_model(a.source, "cpu")
    grown = grow_layer(src)
    if not same_outputs(src, grown):
        raise SystemExit("grown model does not reproduce the source's outputs")
    meta = json.loads(Path(a.source).with_suffix(".json").read_text())
    cal = {"scale": grown.calibration.scale, "bias": grown.calibration.bias}
    print(save_model(grown, a.out, extra={"calibration": cal, "training": {
        "grown_from": {"stem": str(a.source), "sha256": meta["sha256"], "training": meta.get("training")}}}))


if __name__ == "__main__":
    main()
