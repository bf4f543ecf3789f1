#!/usr/bin/env python
"""Claimed identity: how far a call sits from the enrolled recordings (training-log section 14).

    PYTHONPATH=.:scripts python scripts/probe_whisper_layers.py extract --model base --clean-only
    PYTHONPATH=. python scripts/eval_claimed.py --json /work/cache/claimed.json
    PYTHONPATH=.:scripts python scripts/claimed_distance.py --claimed /work/cache/claimed.json

For every call of eval_claimed.py (same speakers, enrolments and calls), two scores:
W = 1 - cosine(call, mean of its 2 enrolment clips) on the Whisper-base states cached by
probe_whisper_layers.py (all 8 levels, mean and std over time, each dimension standardised by the
200 LibriSpeech training clips), and R = 1 - the speaker check's resemblyzer similarity. The
threshold of each is the 95th percentile over the LibriSpeech genuine calls; no fake is used for
any choice. Prints per family the AUC of clones vs the genuine calls on the clones' pages and the
share of clones and genuine calls under the threshold (those would pass).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

DATA = Path("/work/shared/data")
ENROLL_CLIPS = 2  # as eval_claimed.py
PASS_SHARE = 95  # percentile of the LibriSpeech genuine calls' scores: the threshold


def vectors(cache: Path) -> dict[str, np.ndarray]:
    """path -> (8 * 2D,) standardised pooled Whisper vector of every clean cached clip."""
    from probe_whisper_layers import Data

    d = Data(cache, "base")
    pooled = d.pooled().reshape(len(d.rows), -1)  # (n, L * 2D)
    train = np.array([r["source"] == "libri-train" for r in d.rows])
    mu, sd = pooled[train].mean(0), pooled[train].std(0) + 1e-6
    z = (pooled - mu) / sd
    return {r["path"]: z[k] for k, r in enumerate(d.rows)}


def enrolments(rows: list[dict]) -> dict[str, list[str]]:
    """eval_claimed.py's enrolment clips (absolute paths) of every speaker its calls name."""
    clones = DATA / "fake-speech/clones"
    reals = defaultdict(list)
    import csv

    with open(clones / "manifest.csv") as f:
        for r in csv.DictReader(f):
            if r["label"] == "real":
                reals[r["speaker"]].append(str(clones / r["path"]))
    with open(DATA / "manifest.csv") as f:
        for r in csv.DictReader(f):
            if r["kind"] == "librispeech":
                reals[r["speaker"]].append(str(DATA / r["path"]))
    return {s: sorted(reals[s])[:ENROLL_CLIPS] for s in {r["speaker"] for r in rows}}


def call_path(r: dict) -> str:
    base = DATA if r["kind"] == "genuine-librispeech" else DATA / "fake-speech/clones"
    return str(base / r["path"])


def _auc(neg: list[float], pos: list[float]) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score([0] * len(neg) + [1] * len(pos), neg + pos))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--claimed", type=Path, required=True, help="eval_claimed.py --json output")
    ap.add_argument("--cache", type=Path, default=Path("/work/cache/spoofw"))
    args = ap.parse_args()
    rows = json.loads(args.claimed.read_text())["rows"]
    vec = vectors(args.cache)
    enrol = enrolments(rows)
    for r in rows:
        e = np.mean([vec[p] for p in enrol[r["speaker"]]], 0)
        c = vec[call_path(r)]
        r["W"] = float(1 - c @ e / (np.linalg.norm(c) * np.linalg.norm(e)))
        r["R"] = None if r["similarity"] is None else 1 - float(r["similarity"])
    libri = [r for r in rows if r["kind"] == "genuine-librispeech"]
    page = [r for r in rows if r["kind"] == "genuine"]
    clones = [r for r in rows if r["kind"] == "clone"]
    print(f"calls: {len(clones)} clones, {len(page)} genuine on the clones' pages, {len(libri)} genuine LibriSpeech")
    for key in ("W", "R"):
        thr = float(np.percentile([r[key] for r in libri], PASS_SHARE))
        neg = [r[key] for r in page]
        print(f"\n{key}: threshold {thr:.4f} (p{PASS_SHARE} of LibriSpeech genuine); genuine on pages under it "
              f"{sum(v < thr for v in neg)}/{len(neg)}; median genuine pages {np.median(neg):.4f}, "
              f"LibriSpeech {np.median([r[key] for r in libri]):.4f}, clones {np.median([r[key] for r in clones]):.4f}")
        print(f"  {'family':18s} {'n':>3s} {'AUC vs pages':>12s} {'clones under (pass)':>20s}")
        shares = []
        for fam in sorted({r["family"] for r in clones}):
            pos = [r[key] for r in clones if r["family"] == fam]
            under = sum(v < thr for v in pos)
            shares.append(under / len(pos))
            print(f"  {fam:18s} {len(pos):3d} {_auc(neg, pos):12.3f} {under:>8d}/{len(pos)} = {100 * under / len(pos):3.0f} %")
        allpos = [r[key] for r in clones]
        print(f"  {'all':18s} {len(allpos):3d} {_auc(neg, allpos):12.3f}   mean over families {100 * np.mean(shares):.0f} % pass")


if __name__ == "__main__":
    main()
