"""Detection metrics. Scores: higher = more likely positive (fake / different speaker)."""

from __future__ import annotations

import numpy as np


def roc_auc(neg: np.ndarray, pos: np.ndarray) -> float:
    """P(score of a random positive > score of a random negative), ties count half."""
    neg, pos = np.asarray(neg, float), np.asarray(pos, float)
    assert len(neg) and len(pos), (len(neg), len(pos))
    allv = np.concatenate([neg, pos])
    order = allv.argsort(kind="mergesort")
    ranks = np.empty(len(allv))
    ranks[order] = np.arange(1, len(allv) + 1)
    for v in np.unique(allv):  # average ranks of ties
        m = allv == v
        ranks[m] = ranks[m].mean()
    return float((ranks[len(neg):].sum() - len(pos) * (len(pos) + 1) / 2) / (len(neg) * len(pos)))


def eer(neg: np.ndarray, pos: np.ndarray) -> tuple[float, float]:
    """Equal error rate and its threshold: where P(neg >= thr) == P(pos < thr)."""
    neg, pos = np.asarray(neg, float), np.asarray(pos, float)
    assert len(neg) and len(pos), (len(neg), len(pos))
    thr = np.unique(np.concatenate([neg, pos]))
    fpr = np.array([(neg >= t).mean() for t in thr])
    fnr = np.array([(pos < t).mean() for t in thr])
    i = int(np.argmin(np.abs(fpr - fnr)))
    return float((fpr[i] + fnr[i]) / 2), float(thr[i])


def roc_auc_labels(scores: np.ndarray, labels: np.ndarray) -> float:
    """roc_auc from (scores, labels with 1 = fake); NaN without both classes."""
    s, y = np.asarray(scores, float), np.asarray(labels, bool)
    return roc_auc(s[~y], s[y]) if y.any() and not y.all() else float("nan")


def eer_labels(scores: np.ndarray, labels: np.ndarray) -> float:
    """eer (rate only) from (scores, labels with 1 = fake); NaN without both classes."""
    s, y = np.asarray(scores, float), np.asarray(labels, bool)
    return eer(s[~y], s[y])[0] if y.any() and not y.all() else float("nan")
