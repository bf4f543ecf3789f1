"""Detection metrics on scores where higher = more likely fake (label 1 = fake)."""

from __future__ import annotations

import numpy as np


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (ties count half); NaN without both classes."""
    s, y = np.asarray(scores, float), np.asarray(labels, bool)
    pos, neg = s[y], s[~y]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    allv = np.concatenate([pos, neg])[order]
    ranks = np.empty(len(allv))
    ranks[order] = _average_ranks(allv)
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _average_ranks(sorted_vals: np.ndarray) -> np.ndarray:
    n = len(sorted_vals)
    ranks = np.arange(1, n + 1, dtype=float)
    i = 0
    while i < n:
        j = i
        while j + 1 < n and sorted_vals[j + 1] == sorted_vals[i]:
            j += 1
        ranks[i:j + 1] = 0.5 * (i + j) + 1
        i = j + 1
    return ranks


def eer(scores: np.ndarray, labels: np.ndarray) -> float:
    """Equal error rate: where false-accept and false-reject rates cross (threshold sweep)."""
    s, y = np.asarray(scores, float), np.asarray(labels, bool)
    if y.all() or not y.any():
        return float("nan")
    best = (2.0, 1.0)
    for th in np.unique(s):
        far = float((s[~y] >= th).mean())  # real flagged as fake
        frr = float((s[y] < th).mean())  # fake passed as real
        if abs(far - frr) < best[0]:
            best = (abs(far - frr), 0.5 * (far + frr))
    return best[1]
