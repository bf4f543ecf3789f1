"""avdetect.metrics (sklearn underneath) against the definitions computed directly, ties included."""

from __future__ import annotations

import numpy as np
import pytest

from avdetect.metrics import eer, eer_labels, roc_auc, roc_auc_labels

N_TRIALS = 300  # random (neg, pos) draws per test


def auc_pairs(neg: np.ndarray, pos: np.ndarray) -> float:
    """O(n_neg * n_pos): share of (neg, pos) pairs with pos > neg, ties counting half."""
    d = pos[None, :] - neg[:, None]
    return float(((d > 0).sum() + 0.5 * (d == 0).sum()) / d.size)


def eer_sweep(neg: np.ndarray, pos: np.ndarray) -> tuple[float, float]:
    """The definition: at each distinct score thr, FPR = P(neg >= thr), FNR = P(pos < thr); the lowest
    thr where |FPR - FNR| is smallest; rate = (FPR + FNR) / 2 there."""
    best = None
    for t in np.unique(np.concatenate([neg, pos])):
        fpr, fnr = (neg >= t).mean(), (pos < t).mean()
        if best is None or abs(fpr - fnr) < best[0]:
            best = (abs(fpr - fnr), (fpr + fnr) / 2, t)
    return float(best[1]), float(best[2])


def draws(seed: int):
    """N_TRIALS (neg, pos) pairs: half continuous, half small integers (many ties)."""
    rng = np.random.default_rng(seed)
    for k in range(N_TRIALS):
        n_neg, n_pos = rng.integers(1, 60, 2)
        if k % 2:
            yield rng.integers(0, 6, n_neg).astype(float), rng.integers(1, 7, n_pos).astype(float)
        else:
            yield rng.normal(0, 1, n_neg), rng.normal(0.8, 1, n_pos)


def test_auc_matches_pair_counting():
    for neg, pos in draws(0):
        assert roc_auc(neg, pos) == pytest.approx(auc_pairs(neg, pos), abs=1e-12)


def test_eer_matches_the_threshold_sweep():
    for neg, pos in draws(1):
        rate, thr = eer(neg, pos)
        want_rate, want_thr = eer_sweep(neg, pos)
        assert abs(rate - want_rate) < 1e-3 and thr == want_thr


def test_eer_where_fpr_equals_fnr():
    neg = np.array([0.0, 1.0, 2.0, 3.0])
    pos = np.array([2.0, 4.0, 5.0, 6.0])  # thr 2: FPR = 2/4 (2, 3), FNR = 0/4; thr 3: 1/4 and 1/4
    assert eer(neg, pos) == (0.25, 3.0)
    assert eer(np.zeros(3), np.ones(3)) == (0.0, 1.0)
    assert eer(np.ones(5), np.ones(5))[0] == 0.5  # all tied: one threshold, FPR 1, FNR 0


def test_ties_and_edge_cases():
    assert roc_auc(np.ones(4), np.ones(3)) == 0.5
    assert roc_auc(np.array([1.0, 2.0]), np.array([2.0, 3.0])) == 0.875  # (1 + 1 + 0.5 + 1) / 4
    assert roc_auc(np.array([3.0]), np.array([1.0, 2.0])) == 0.0
    with pytest.raises(AssertionError):
        roc_auc(np.array([]), np.ones(2))
    with pytest.raises(AssertionError):
        eer(np.ones(2), np.array([]))


def test_label_forms():
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.4])
    y = np.array([0, 0, 1, 1, 1])
    assert roc_auc_labels(s, y) == roc_auc(s[y == 0], s[y == 1])
    assert eer_labels(s, y) == eer(s[y == 0], s[y == 1])[0]
    assert np.isnan(roc_auc_labels(s, np.ones(5))) and np.isnan(eer_labels(s, np.zeros(5)))


def test_separated_and_overlapping_scores():
    rng = np.random.default_rng(0)
    neg, pos = rng.normal(0, 1, 500), rng.normal(3, 1, 500)
    assert roc_auc(neg, pos) > 0.95 and eer(neg, pos)[0] < 0.1
    assert abs(roc_auc(neg, neg + 0) - 0.5) < 1e-9
    assert abs(eer(rng.normal(0, 1, 2000), rng.normal(0, 1, 2000))[0] - 0.5) < 0.05
    s, y = np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1])
    assert roc_auc_labels(s, y) == 1.0 and eer_labels(s, y) == 0.0
    assert roc_auc_labels(np.array([0.5, 0.5]), np.array([0, 1])) == 0.5
