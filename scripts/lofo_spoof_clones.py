"""Spoof model trained with the clones, each family held out in turn (training-log §19).

    PYTHONPATH=. python scripts/lofo_spoof_clones.py variants              # clones' channel variants, cached
    PYTHONPATH=. python scripts/lofo_spoof_clones.py train --folds 0,2,4,6   # one process per fold list
    PYTHONPATH=. python scripts/lofo_spoof_clones.py report --baseline runs/spoof_P0

Training: the corpus's training variants (seed 0) + the other families' fakes + the references
of pages and speakers that family f does not touch. Test: family f's fakes against family f's
own references, EER per channel group. Results: <out>/fold_<family>.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import torch

from avdetect.metrics import eer
from avdetect.models.spoof import SpoofConfig, feature_dim, load_model
from avdetect.training.spoof_corpus import Corpus, Item, Split, read_audio
from avdetect.training.spoof_data import build_variants, channel_group
from avdetect.training.train_spoof import TrainConfig, score_variant, train, variants_cache

ROOT = Path(__file__).resolve().parents[1]
CLONES = ROOT.parent / "shared" / "data" / "fake-speech" / "clones"
CHANNELS = ("clean", "tel8k", "other")
FEATURES = "logspec"


def manifest() -> list[dict]:
    with open(CLONES / "manifest.csv") as f:
        return list(csv.DictReader(f))


def families(rows: list[dict]) -> list[str]:
    return sorted({r["family"] for r in rows})


def item_id(row: dict) -> str:
    return "clone__" + row["path"].replace("/", "__").rsplit(".", 1)[0]


def build_clone_variants(cache: Path) -> list:
    """Every clone as a corpus item (trimmed, <= 8 s, peak-normalised) -> 3 channel variants each."""
    corpus = Corpus(cache / "corpus")
    items = []
    for r in manifest():
        label = int(r["label"] == "fake")
        it = Item(item_id(r), label, f"clone-{r['family']}" if label else "clone-real", r["speaker"], Split.train.value)
        if not corpus.has(it.id):
            corpus.add(it, read_audio(CLONES / r["path"]))
        items.append(it)
    return build_variants(corpus, items, seed=0, kind=FEATURES)


def fold_split(rows: list[dict], family: str) -> tuple[set[str], set[str], set[str]]:
    """-> (training clone ids, test fake ids, test real ids) of the fold holding `family` out."""
    held = [r for r in rows if r["family"] == family]
    pages = {r["source_repo"] for r in held}
    speakers = {r["speaker"] for r in held}
    train = {item_id(r) for r in rows if r["family"] != family and
             (r["label"] == "fake" or (r["source_repo"] not in pages and r["speaker"] not in speakers))}
    test_fake = {item_id(r) for r in held if r["label"] == "fake"}
    test_real = {item_id(r) for r in held if r["label"] == "real"}
    return train, test_fake, test_real


def fold_eers(model, clone_variants: list, fake_ids: set[str], real_ids: set[str]) -> dict:
    out = {}
    for ch in CHANNELS:
        vs = [v for v in clone_variants if channel_group(v.channel) == ch]
        real = np.array([score_variant(model, v.mel) for v in vs if v.item.id in real_ids])
        fake = np.array([score_variant(model, v.mel) for v in vs if v.item.id in fake_ids])
        out[ch] = dict(eer=round(float(eer(real, fake)[0]), 4), n_real=len(real), n_fake=len(fake))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["variants", "train", "report"])
    ap.add_argument("--corpus", type=Path, default=ROOT / "cache" / "spoofP")
    ap.add_argument("--cache", type=Path, default=ROOT / "cache" / "lofo_clones")
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "lofo_clones")
    ap.add_argument("--folds", default="", help="fold indices (sorted families), comma-separated; default all")
    ap.add_argument("--baseline", type=Path, default=ROOT / "runs" / "spoof_P0")
    args = ap.parse_args()
    torch.set_num_threads(1)
    args.cache.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = manifest()
    fams = families(rows)
    vpath = args.cache / f"variants_{FEATURES}_s0.pt"
    if args.what == "variants":
        t0 = time.time()
        torch.save(build_clone_variants(args.cache), vpath)
        print(f"{vpath} ({time.time() - t0:.0f} s)")
        return
    clone_variants = torch.load(vpath, weights_only=False)
    if args.what == "train":
        corpus = Corpus(args.corpus)
        base = torch.load(variants_cache(corpus, Split.train, FEATURES, 0, frozenset({"piper", "vstts"})),
                          weights_only=False)
        picks = [int(i) for i in args.folds.split(",")] if args.folds else range(len(fams))
        for i in picks:
            fam, t0 = fams[i], time.time()
            train_ids, fake_ids, real_ids = fold_split(rows, fam)
            variants = base + [v for v in clone_variants if v.item.id in train_ids]
            model = train(variants, SpoofConfig(features=FEATURES, n_mels=feature_dim(FEATURES)),
                          TrainConfig(seed=0), log=lambda m: None)
            res = dict(family=fam, n_train_clones=len(train_ids), n_train_variants=len(variants),
                       eer=fold_eers(model, clone_variants, fake_ids, real_ids), wall_s=round(time.time() - t0))
            (args.out / f"fold_{fam}.json").write_text(json.dumps(res, indent=1))
            print(json.dumps(res), flush=True)
        return
    baseline = load_model(args.baseline / "spoof")
    print(f"| family | clean | tel8k | other | {args.baseline.name}: clean | tel8k | other |")
    print("|---|---|---|---|---|---|---|")
    means = {k: [] for k in ("new", "base")}
    for fam in fams:
        p = args.out / f"fold_{fam}.json"
        if not p.exists():
            print(f"| {fam} | (not trained) |")
            continue
        res = json.loads(p.read_text())
        _, fake_ids, real_ids = fold_split(rows, fam)
        b = fold_eers(baseline, clone_variants, fake_ids, real_ids)
        means["new"].append([res["eer"][c]["eer"] for c in CHANNELS])
        means["base"].append([b[c]["eer"] for c in CHANNELS])
        n = res["eer"]["clean"]
        print(f"| {fam} ({n['n_fake']} fake, {n['n_real']} real) | " +
              " | ".join(f"{100 * res['eer'][c]['eer']:.1f}" for c in CHANNELS) + " | " +
              " | ".join(f"{100 * b[c]['eer']:.1f}" for c in CHANNELS) + " |")
    if means["new"]:
        m, mb = (100 * np.mean(means[k], 0) for k in ("new", "base"))
        print("| **mean over families** | " + " | ".join(f"{x:.1f}" for x in m) + " | " +
              " | ".join(f"{x:.1f}" for x in mb) + " |")


if __name__ == "__main__":
    main()
