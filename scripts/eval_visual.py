"""Visual mouth network on av/wild: generated talking heads vs real clips, per generator.

    PYTHONPATH=. nice -n 15 python scripts/eval_visual.py [--model /work/cache/visual_model/visual]
        [--cache /work/cache/mouth] [--data /work/shared/data] [--json out.json]

Reads the crops cached by scripts/extract_mouth_crops.py. Clip score = mean frame logit
(and, for information, the mean of its top TOP_SHARE frames). Per generator: AUC of its clips
vs ALL 52 wild real clips (no wild clip was used in training or selection, so every generator
is held out), or only those of the people splits given by --wild-real-splits; the mean over generators. Real clips over the model's threshold (95th percentile
of held-out real val clips, fixed in training): wild real, and held-out LRC-AR / av/multi.
Prints a table to stdout (and the numbers as JSON with --json).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import torch

from avdetect.metrics import roc_auc
from avdetect.models.visual import load_model
from avdetect.training.data import wild_split
from avdetect.training.mouth_crops import CACHE_DIR, load_cached
from avdetect.training.visual import CropSet, unit_logits

TOP_SHARE = 0.2  # share of a clip's highest frame logits averaged for the top-k score


def clip_score(model, rel: str, cache: Path) -> dict | None:
    """{'mean', 'top', 'frames'} of one cached clip, or None without crops."""
    z = load_cached(cache, rel)
    if z is None or not len(z["frame"]):
        return None
    crops = CropSet(z["grey"], z["lips"], np.zeros(len(z["frame"]), np.int32), [rel], z["frame"])
    lg = np.sort(unit_logits(model, crops)[0])  # one per crop, or per stack every 2nd frame
    if not len(lg):
        return None
    k = max(1, int(round(TOP_SHARE * len(lg))))
    return {"mean": float(lg.mean()), "top": float(lg[-k:].mean()), "frames": int(len(lg))}


def table(scores: dict[str, dict], rows: list[dict], thr: float) -> dict:
    """Per-generator AUCs (mean and top-k clip scores) vs all wild real clips."""
    real = [scores[r["path"]] for r in rows if r["label"] == "real" and r["path"] in scores]
    gens = sorted({r["generator"] for r in rows if r["label"] != "real"})
    out = {}
    for g in gens:
        fake = [scores[r["path"]] for r in rows if r["generator"] == g and r["path"] in scores]
        out[g] = {"n": len(fake),
                  "auc_mean": roc_auc(np.array([s["mean"] for s in real]), np.array([s["mean"] for s in fake])),
                  "auc_top": roc_auc(np.array([s["top"] for s in real]), np.array([s["top"] for s in fake])),
                  "over_threshold": sum(s["mean"] > thr for s in fake)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=Path("/work/cache/visual_model/visual"))
    ap.add_argument("--cache", type=Path, default=CACHE_DIR)
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--wild-real-splits", default="",
                    help="compare with the real clips of these wild people splits only (e.g. val,test: the people "
                         "a model trained with --wild-reals never trained on); default: all 52")
    a = ap.parse_args()
    torch.set_num_threads(1)
    model = load_model(a.model)
    thr = model.threshold_logit
    rows = [dict(r, path="av/wild/" + r["path"]) for r in csv.DictReader(open(a.data / "av/wild/manifest.csv"))]
    if a.wild_real_splits:
        keep = set(a.wild_real_splits.split(","))
        rows = [r for r in rows if r["label"] != "real" or wild_split(r["person"]).value in keep]
    splits = json.loads((a.cache / "splits.json").read_text())
    scores = {r["path"]: s for r in rows if (s := clip_score(model, r["path"], a.cache)) is not None}
    val = {p: s for p in splits["val"] if (s := clip_score(model, p, a.cache)) is not None}
    gens = table(scores, rows, thr)
    real = [scores[r["path"]]["mean"] for r in rows if r["label"] == "real" and r["path"] in scores]
    fake = [scores[r["path"]]["mean"] for r in rows if r["label"] != "real" and r["path"] in scores]
    print(f"model {a.model} (best val AUC real vs pseudo-fake {model.training_record.get('best_val_auc')}), "
          f"threshold logit {thr:.3f}")
    print(f"{'generator':16s} {'n':>3s} {'AUC mean':>9s} {'AUC top20%':>11s} {'over thr':>9s}")
    for g, d in gens.items():
        print(f"{g:16s} {d['n']:3d} {d['auc_mean']:9.3f} {d['auc_top']:11.3f} {d['over_threshold']:5d}/{d['n']}")
    mean_auc = float(np.mean([d["auc_mean"] for d in gens.values()]))
    mean_top = float(np.mean([d["auc_top"] for d in gens.values()]))
    pooled = roc_auc(np.array(real), np.array(fake))
    print(f"{'mean over gens':16s} {'':3s} {mean_auc:9.3f} {mean_top:11.3f}")
    print(f"pooled: {len(fake)} generated vs {len(real)} real, AUC (mean score) {pooled:.3f}")
    wild_flag = sum(s > thr for s in real)
    val_real = {k: [v["mean"] for p, v in val.items() if p.startswith(k)] for k in ("av/lrc_ar", "av/multi")}
    print(f"real clips over the threshold: wild {wild_flag}/{len(real)}; held-out LRC-AR "
          f"{sum(s > thr for s in val_real['av/lrc_ar'])}/{len(val_real['av/lrc_ar'])}; av/multi "
          f"{sum(s > thr for s in val_real['av/multi'])}/{len(val_real['av/multi'])}")
    q = np.percentile(real, [5, 25, 50, 75, 95])
    print("wild real clip scores (logit) p5/p25/p50/p75/p95: " + " ".join(f"{v:.2f}" for v in q))
    if a.json:
        a.json.write_text(json.dumps({"threshold_logit": thr, "generators": gens, "mean_auc": mean_auc,
                                      "mean_auc_top": mean_top, "pooled_auc": pooled,
                                      "wild_real_flagged": [wild_flag, len(real)],
                                      "clips": scores, "val": val}, indent=1))


if __name__ == "__main__":
    main()
