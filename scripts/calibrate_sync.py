#!/usr/bin/env python
"""Fit the sync model's score calibration on the validation split and store it in its JSON.

    PYTHONPATH=. python scripts/calibrate_sync.py --model avdetect/models/weights/sync --cache cache/sync

Platt scaling: p_sync = sigmoid(scale * logit + bias), fitted by class-balanced logistic
regression of "in sync" on the clip-level logit over the validation trials (originals vs
±200/±400 ms offsets, dubbed audio and training-split TTS; avdetect.training.sync_eval). The
ranking (ROC AUC) does not change; the 0-100 score and the 40/70 marks get a stable meaning
when weights are retrained. Prints the false-alarm and detection rates at the marks before/after.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from avdetect.checks.learned_sync import OffsetMethod, score_learned_sync_many
from avdetect.models.sync import Calibration, load_model
from avdetect.training.data import Split, load_corpus, load_tts_bank
from avdetect.training.sync_eval import Condition, build_trials
from avdetect.audio.vad import speech_activity

MARKS = (40.0, 70.0)  # fusion's suspicious / fake marks


def clip_p_sync(model, trials) -> tuple[np.ndarray, np.ndarray]:
    """-> (p_sync per trial, in-sync label per trial), trials without a window dropped."""
    items = [(t.mouth, t.samples, t.speech if t.speech is not None else speech_activity(t.samples)) for t in trials]
    res = score_learned_sync_many(items, "cpu", model=model, offset_method=OffsetMethod.head)  # p_sync only: no offset scan
    keep = [i for i, r in enumerate(res) if r.p_sync is not None]
    p = np.array([res[i].p_sync for i in keep])
    y = np.array([trials[i].condition == Condition.original for i in keep], int)
    return p, y


def rates(p: np.ndarray, y: np.ndarray) -> str:
    score = 100 * (1 - p)
    return ", ".join(f">={m:.0f}: real {np.mean(score[y == 1] >= m):.3f} fake {np.mean(score[y == 0] >= m):.3f}"
                     for m in MARKS)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="avdetect/models/weights/sync")
    ap.add_argument("--cache", default="cache/sync")
    ap.add_argument("--tts-bank", default="cache/tts/bank.npz")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model = load_model(a.model, "cpu")
    model.calibration = Calibration()  # fit on the raw logits
    trials = build_trials(load_corpus(a.cache)[Split.val], load_tts_bank(a.tts_bank, Split.train), seed=0)
    p, y = clip_p_sync(model, trials)
    x = np.log(np.clip(p, 1e-6, 1 - 1e-6) / np.clip(1 - p, 1e-6, 1))[:, None]
    lr = LogisticRegression(class_weight="balanced", C=1e6).fit(x, y)
    cal = Calibration(float(lr.coef_[0, 0]), float(lr.intercept_[0]))
    print(f"{len(p)} validation trials ({y.sum()} in sync); fitted scale {cal.scale:.3f}, bias {cal.bias:.3f}")
    print("raw       ", rates(p, y))
    model.calibration = cal
    p2, y2 = clip_p_sync(model, trials)
    print("calibrated", rates(p2, y2))
    js = Path(a.model).with_suffix(".json")
    meta = json.loads(js.read_text())
    meta["calibration"] = {"scale": round(cal.scale, 5), "bias": round(cal.bias, 5),
                           "fitted_on": f"validation split, {len(p)} trials (scripts/calibrate_sync.py)"}
    js.write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote the calibration into {js}")


if __name__ == "__main__":
    main()
