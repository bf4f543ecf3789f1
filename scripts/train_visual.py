"""Train the visual mouth network on real crops and self-blended pseudo-fakes (CPU, bounded time).

    PYTHONPATH=. nice -n 15 python scripts/train_visual.py --minutes 20 --out /work/cache/visual_model/visual
    PYTHONPATH=. python scripts/train_visual.py --frames 5 --cache /work/cache/mouth_t --out ...   # stacks (section 15)

Reads the crops cached by scripts/extract_mouth_crops.py (train / val splits only; av/wild is
never read here). Model selection: the step with the best validation frame AUC, real vs
pseudo-fake, on held-out people (val split). Threshold: the 95th percentile of the clip mean
logit over the held-out real val clips. Prints a JSON record to stdout.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
import torch

from avdetect.models.visual import VisualConfig, VisualNet, save_model
from avdetect.training.mouth_crops import CACHE_DIR, load_cached
from avdetect.training.visual import CropSet, TrainConfig, batch, stack_batch, train, unit_logits

VAL_CROPS = 1200  # held-out crops turned into the fixed validation set (as many pseudo-fakes)
THRESHOLD_PERCENTILE = 95.0  # of held-out real clip scores


def crop_set(cache: Path, rels: list[str]) -> CropSet:
    """Cached crops of clips rels -> CropSet (clips without crops are skipped)."""
    g, lips, clip, frame, names = [], [], [], [], []
    for rel in rels:
        z = load_cached(cache, rel)
        if z is None or not len(z["frame"]):
            continue
        g.append(z["grey"]), lips.append(z["lips"]), clip.append(np.full(len(z["frame"]), len(names), np.int32))
        frame.append(z["frame"])
        names.append(rel)
    return CropSet(np.concatenate(g), np.concatenate(lips), np.concatenate(clip), names, np.concatenate(frame))


def concat(a: CropSet, b: CropSet) -> CropSet:
    """One CropSet of a's clips then b's (b's clip indices follow a's)."""
    return CropSet(np.concatenate([a.grey, b.grey]), np.concatenate([a.lips, b.lips]),
                   np.concatenate([a.clip, b.clip + len(a.names)]), a.names + b.names,
                   np.concatenate([a.frame, b.frame]))


def wild_reals(data: Path, split: str) -> list[str]:
    """av/wild real clip paths (relative to data) of the people in the sync model's `split`."""
    from avdetect.training.data import wild_split

    with open(data / "av/wild/manifest.csv", newline="") as f:
        return ["av/wild/" + r["path"] for r in csv.DictReader(f)
                if r["label"] == "real" and wild_split(r["person"]).value == split]


def clip_scores(model: VisualNet, crops: CropSet) -> np.ndarray:
    """(n_clips,) mean unit logit per clip (crops, or stacks every 2nd frame), no augmentation."""
    logits, clip = unit_logits(model, crops)
    return np.array([logits[clip == k].mean() if (clip == k).any() else np.nan
                     for k in range(len(crops.names))], np.float32)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", type=Path, default=CACHE_DIR)
    ap.add_argument("--minutes", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--strong-aug", action="store_true", help="appearance changes on real and fake alike")
    ap.add_argument("--frames", type=int, default=1, help="consecutive crops per input (needs --every 1 crops)")
    ap.add_argument("--wild-reals", action="store_true",
                    help="stack models: the wild train people's real clips give half of every batch, and the "
                         "wild val people join the validation set (training-log section 16)")
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--out", type=Path, default=Path("/work/cache/visual_model/visual"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    splits = json.loads((a.cache / "splits.json").read_text())
    tr, va = crop_set(a.cache, splits["train"]), crop_set(a.cache, splits["val"])
    second = None
    if a.wild_reals:
        assert a.frames > 1, "--wild-reals needs a stack model (--frames > 1)"
        second = len(tr.names)
        tr = concat(tr, crop_set(a.cache, wild_reals(a.data, "train")))
        va = concat(va, crop_set(a.cache, wild_reals(a.data, "val")))
    rng = np.random.default_rng(123)
    if a.frames > 1:
        starts = va.stack_starts(a.frames)
        pick = np.sort(rng.choice(starts, min(VAL_CROPS, len(starts)), replace=False))
        val_x, val_y = stack_batch(va, pick, a.frames, rng, shift=0)
    else:
        pick = np.sort(rng.choice(len(va.grey), min(VAL_CROPS, len(va.grey)), replace=False))
        val_x, val_y = batch(va, pick, rng, shift=0)
    log = lambda d: print(json.dumps(d), file=sys.stderr, flush=True)  # noqa: E731
    log({"train_crops": len(tr.grey), "train_clips": len(tr.names), "val_crops": len(va.grey),
         "val_clips": len(va.names)})
    model, record = train(tr, val_x, val_y, TrainConfig(minutes=a.minutes, strong_aug=a.strong_aug),
                          VisualConfig(frames=a.frames), log=log, second_pool_from=second)
    real = clip_scores(model, va)
    real = real[np.isfinite(real)]
    model.threshold_logit = float(np.percentile(real, THRESHOLD_PERCENTILE))
    record.update({"strong_aug": a.strong_aug, "frames": a.frames, "wild_reals": a.wild_reals, "train_clips": len(tr.names), "train_crops": int(len(tr.grey)), "val_clips": len(va.names),
                   "val_crops": int(len(va.grey)), "threshold_logit": round(model.threshold_logit, 4),
                   "val_real_clips_over_threshold": int((real > model.threshold_logit).sum())})
    model.training_record = {k: v for k, v in record.items() if k != "history"}
    save_model(model, a.out)
    print(json.dumps(record))


if __name__ == "__main__":
    main()
