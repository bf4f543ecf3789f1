"""Detection metrics on top of sklearn.metrics. Scores: higher = more likely positive (fake / different speaker).

neg, pos: (n_neg,) and (n_pos,) scores of the negatives (real) and positives (fake); both non-empty.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve


def _scores_labels(neg: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n_neg,), (n_pos,) -> scores (n_neg + n_pos,) float and labels (same length) with 1 = positive."""
    neg, pos = np.asarray(neg, float).ravel(), np.asarray(pos, float).ravel()
    assert len(neg) and len(pos), (len(neg), len(pos))
    return np.concatenate([neg, pos]), np.r_[np.zeros(len(neg), int), np.ones(len(pos), int)]


def roc_auc(neg: np.ndarray, pos: np.ndarray) -> float:
    """P(score of a random positive > score of a random negative), ties count half."""
    scores, labels = _scores_labels(neg, pos)
    return float(roc_auc_score(labels, scores))


def eer(neg: np.ndarray, pos: np.ndarray) -> tuple[float, float]:
    """Equal error rate and its threshold: where P(neg >= thr) == P(pos < thr).

    Chosen among the ROC points at the distinct scores (the threshold where |FPR - FNR| is
    smallest, the lowest such threshold on a tie); the rate is the mean of FPR and FNR there.
    """
    scores, labels = _scores_labels(neg, pos)
    n_neg, n_pos = int((labels == 0).sum()), int((labels == 1).sum())
    fpr, tpr, thr = roc_curve(labels, scores, drop_intermediate=False)
    # thr: +inf, then every distinct score high to low; rates from the counts, so ties compare exactly
    fpr = np.rint(fpr[1:][::-1] * n_neg) / n_neg
    fnr = (n_pos - np.rint(tpr[1:][::-1] * n_pos)) / n_pos
    thr = thr[1:][::-1]
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
