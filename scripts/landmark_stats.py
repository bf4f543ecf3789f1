#!/usr/bin/env python
"""Landmark statistics against generated talking heads (training-log section 12, issue 17 item 3).

    PYTHONPATH=. python scripts/landmark_stats.py extract --workers 2   # per-clip statistics -> cache/lipstats.jsonl
    PYTHONPATH=. python scripts/landmark_stats.py eval                  # held-out-generator AUCs, false alarms

`extract` decodes every clip of the section's sets (features.extract + the shipped sync model,
offset head only) and writes one JSON line per clip with its set, generator and the eight
statistics. `eval` fits the fixed classifier (median imputation, standardisation, logistic
regression C = 1, classes balanced) with each generator held out in turn, prints per-generator
AUCs of the classifier and of each statistic alone, and the false alarms of the classifier
trained on everything at the 95th percentile of the training reals' out-of-fold scores.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
OUT = Path(__file__).resolve().parents[1] / "cache" / "lipstats.jsonl"
FEATURES = ("p_sync", "env_corr", "open_cv", "shape_pr", "shape_var", "jitter", "rest_open", "vel_kurt")
MIN_SPEECH_FRAMES = 25  # frames (1 s) of tracked face with speech, else the clip is left out
MIN_REST_FRAMES = 10  # tracked non-speech frames for rest_open, else NaN (imputed)
MAX_LAG = 3  # frames searched by env_corr
HELD_OUT_REAL = ("wild_heldout", "lrc_ar_test", "grid_heldout", "multi")


def clip_sets(data: Path) -> list[tuple[str, str, str]]:
    """-> [(path, set, generator)] for every clip of section 12 (generator "real" for reals)."""
    from avdetect.training.data import Split, wild_split

    rows: list[tuple[str, str, str]] = []
    with open(data / "av/wild/manifest.csv", newline="") as f:
        for r in csv.DictReader(f):
            p = str(data / "av/wild" / r["path"])
            if r["label"] == "generated":
                rows.append((p, "generated", r["generator"]))
            else:
                side = "wild_train" if wild_split(r["person"]) == Split.train else "wild_heldout"
                rows.append((p, side, "real"))
    arabic = sorted((data / "av/lrc_ar/video").glob("*.mp4"), key=lambda p: int(p.stem))
    n_train, n_val = int(len(arabic) * 0.75), int(len(arabic) * 0.85)
    rows += [(str(p), "lrc_ar_train", "real") for p in arabic[:n_train:25]]
    rows += [(str(p), "lrc_ar_test", "real") for p in arabic[n_val::3]]
    grid = sorted((data / "av/grid_s1/video").glob("*.mp4"))
    rows += [(str(p), "grid_train", "real") for p in grid[:540:25]]
    rows += [(str(p), "grid_heldout", "real") for p in grid[540:]]
    rows += [(str(p), "multi", "real") for p in sorted((data / "av/multi").glob("*.mp4"))]
    return rows


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def statistics(landmarks: np.ndarray, opening: np.ndarray, face: np.ndarray, speech: np.ndarray,
               envelope: np.ndarray) -> dict[str, float] | None:
    """landmarks (T, 40, 2), opening (T,), face (T,) bool, speech (T,) bool, envelope (T,) -> the
    statistics (no p_sync), or None with fewer than MIN_SPEECH_FRAMES speech frames."""
    t = min(len(face), len(speech), len(envelope))
    face, speech, envelope, opening, landmarks = face[:t], speech[:t], envelope[:t], opening[:t], landmarks[:t]
    sp = face & speech
    if sp.sum() < MIN_SPEECH_FRAMES:
        return None
    idx = np.flatnonzero(sp)
    o = opening[idx]
    corr = [_corr(opening[idx[(idx + d >= 0) & (idx + d < t)]], envelope[idx[(idx + d >= 0) & (idx + d < t)] + d])
            for d in range(-MAX_LAG, MAX_LAG + 1)]
    x = landmarks[idx].reshape(len(idx), -1).astype(np.float64)
    x = x - x.mean(0)
    lam = np.clip(np.linalg.eigvalsh(np.cov(x.T)), 0, None)
    d1, d2 = [], []
    for run in np.split(idx, np.flatnonzero(np.diff(idx) != 1) + 1):
        if len(run) >= 3:
            y = landmarks[run].reshape(len(run), -1)
            d1.append(np.abs(np.diff(y, axis=0)).mean())
            d2.append(np.abs(np.diff(y, n=2, axis=0)).mean())
    rest = face & ~speech
    vel = np.diff(o)
    return {
        "env_corr": float(np.nanmax(corr)) if np.isfinite(corr).any() else float("nan"),
        "open_cv": float(o.std() / o.mean()) if o.mean() > 0 else float("nan"),
        "shape_pr": float(lam.sum() ** 2 / (lam ** 2).sum()) if lam.sum() > 0 else float("nan"),
        "shape_var": float(np.log(lam.sum() + 1e-12)),
        "jitter": float(np.mean(d2) / np.mean(d1)) if d1 and np.mean(d1) > 0 else float("nan"),
        "rest_open": (float(np.median(opening[rest]) / np.median(o))
                      if rest.sum() >= MIN_REST_FRAMES and np.median(o) > 0 else float("nan")),
        "vel_kurt": float(((vel - vel.mean()) ** 4).mean() / vel.var() ** 2) if vel.var() > 0 else float("nan"),
    }


_MODEL = None


def one(job: tuple[str, str, str]) -> dict:
    import torch

    from avdetect.checks.learned_sync import OffsetMethod, load_model, score_learned_sync
    from avdetect.features import extract

    global _MODEL
    torch.set_num_threads(1)
    path, set_, gen = job
    row: dict = {"path": path, "set": set_, "generator": gen}
    try:
        f = extract(path)
    except Exception as e:  # noqa: BLE001 - one bad clip is recorded, not fatal
        return {**row, "error": str(e).splitlines()[0]}
    if f.mouth is None or f.speech is None or f.audio is None:
        return {**row, "error": "no face or no audio"}
    m = f.mouth
    st = statistics(m.landmarks, m.opening, m.mask, f.speech, f.envelope)
    if st is None:
        return {**row, "error": f"fewer than {MIN_SPEECH_FRAMES} speech frames with a face"}
    _MODEL = _MODEL or load_model()
    r = score_learned_sync(m, f.audio.samples, f.speech, model=_MODEL, offset_method=OffsetMethod.head)
    return {**row, "p_sync": float("nan") if r.p_sync is None else r.p_sync, **st, "face_px": m.face_px}


def cmd_extract(args) -> None:
    jobs = clip_sets(args.data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(args.workers) as ex, open(args.out, "w") as out:
        for k, row in enumerate(ex.map(one, jobs, chunksize=2)):
            out.write(json.dumps(row) + "\n")
            if k % 25 == 0:
                print(f"{k + 1}/{len(jobs)}", file=sys.stderr)
    print(f"{len(jobs)} clips -> {args.out}", file=sys.stderr)


def _fit(x: np.ndarray, y: np.ndarray):
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                         LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)).fit(x, y)


def _auc(neg: np.ndarray, pos: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.r_[np.zeros(len(neg)), np.ones(len(pos))], np.r_[neg, pos]))


def _single(train_neg, train_pos, test_neg, test_pos) -> float:
    """One statistic: its sign from the training side, AUC on the test side (NaN -> training median)."""
    med = np.nanmedian(np.r_[train_neg, train_pos])
    fill = [np.where(np.isfinite(v), v, med) for v in (train_neg, train_pos, test_neg, test_pos)]
    sign = 1.0 if _auc(fill[0], fill[1]) >= 0.5 else -1.0
    return _auc(sign * fill[2], sign * fill[3])


def cmd_eval(args) -> None:
    rows = [json.loads(line) for line in open(args.stats)]
    bad = [r for r in rows if "error" in r]
    for s in sorted({r["set"] for r in rows}):
        n = sum(r["set"] == s for r in rows)
        nb = sum(r["set"] == s for r in bad)
        print(f"{s:14s} {n:3d} clips, {nb} left out" + "".join(f"\n    {Path(r['path']).name}: {r['error']}"
                                                         for r in bad if r["set"] == s))
    rows = [r for r in rows if "error" not in r]
    x = {id(r): np.array([r[k] for k in FEATURES], float) for r in rows}
    train_real = [r for r in rows if r["set"] in ("wild_train", "lrc_ar_train", "grid_train")]
    held_wild = [r for r in rows if r["set"] == "wild_heldout"]
    gen = [r for r in rows if r["set"] == "generated"]
    generators = sorted({r["generator"] for r in gen})

    def mat(rs):
        return np.array([x[id(r)] for r in rs]).reshape(len(rs), len(FEATURES))

    print(f"\nheld-out generator vs {len(held_wild)} held-out wild reals (trained on the other generators "
          f"and {len(train_real)} training-side reals): AUC")
    print(f"{'generator':16s} {'n':>3s} {'model':>6s} " + " ".join(f"{k:>9s}" for k in FEATURES))
    table = {}
    for g in generators:
        tr_pos = [r for r in gen if r["generator"] != g]
        te_pos = [r for r in gen if r["generator"] == g]
        clf = _fit(np.r_[mat(train_real), mat(tr_pos)], np.r_[np.zeros(len(train_real)), np.ones(len(tr_pos))])
        auc = _auc(clf.decision_function(mat(held_wild)), clf.decision_function(mat(te_pos)))
        singles = [_single(mat(train_real)[:, j], mat(tr_pos)[:, j], mat(held_wild)[:, j], mat(te_pos)[:, j])
                   for j in range(len(FEATURES))]
        table[g] = (len(te_pos), auc, singles)
        print(f"{g:16s} {len(te_pos):3d} {auc:6.3f} " + " ".join(f"{v:9.3f}" for v in singles))
    for label, keep in (("mean, all", lambda n: True), ("mean, n >= 6", lambda n: n >= 6)):
        sel = [v for v in table.values() if keep(v[0])]
        print(f"{label:16s} {len(sel):3d} {np.mean([v[1] for v in sel]):6.3f} "
              + " ".join(f"{np.mean([v[2][j] for v in sel]):9.3f}" for j in range(len(FEATURES))))

    # false alarms: trained on everything, threshold from the training reals' out-of-fold scores
    from sklearn.model_selection import StratifiedKFold

    xa, ya = np.r_[mat(train_real), mat(gen)], np.r_[np.zeros(len(train_real)), np.ones(len(gen))]
    oof = np.zeros(len(ya))
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=0).split(xa, ya):
        oof[te] = _fit(xa[tr], ya[tr]).decision_function(xa[te])
    thr = float(np.percentile(oof[ya == 0], 95))
    clf = _fit(xa, ya)
    coef = clf[-1].coef_[0]
    print(f"\nall generators: out-of-fold threshold {thr:.3f} (95th pct of {int((ya == 0).sum())} training reals); "
          "coefficients " + ", ".join(f"{k} {c:+.2f}" for k, c in zip(FEATURES, coef)))
    for s in HELD_OUT_REAL:
        rs = [r for r in rows if r["set"] == s]
        if rs:
            over = int((clf.decision_function(mat(rs)) >= thr).sum())
            print(f"  {s:14s} {over:3d} of {len(rs):3d} over ({100 * over / len(rs):.1f} %)")
    print(f"  generated (in training) {int((clf.decision_function(mat(gen)) >= thr).sum())} of {len(gen)} over")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("extract")
    e.add_argument("--data", type=Path, default=DATA)
    e.add_argument("--out", type=Path, default=OUT)
    e.add_argument("--workers", type=int, default=2)
    v = sub.add_parser("eval")
    v.add_argument("--stats", type=Path, default=OUT)
    args = ap.parse_args()
    (cmd_extract if args.cmd == "extract" else cmd_eval)(args)


if __name__ == "__main__":
    main()
