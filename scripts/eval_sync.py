#!/usr/bin/env python
"""Evaluate the learned lip-sync model and the training-free check on held-out clips.

    PYTHONPATH=. python scripts/eval_sync.py --model avdetect/models/weights/sync --split test

Held-out = the "test" split of avdetect.training.data.assign_splits (av/multi + the last 15 %
of LRC-AR clips by number) and the held-out TTS utterances. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from avdetect.checks.learned_sync import OffsetMethod, score_learned_sync
from avdetect.models.sync import load_model
from avdetect.training.data import Split, load_corpus, load_tts_bank
from avdetect.training.sync_eval import (Scored, build_trials, correlation_scorer, run_trials, table,
                                        table_by_group)


def learned_scorer(model, device: str, method: OffsetMethod):
    def score(mouth, samples, speech) -> Scored:
        r = score_learned_sync(mouth, samples, speech, device=device, model=model, offset_method=method)
        return Scored(1.0 - r.p_sync, r.offset_ms / 40.0)
    return score


def fmt(name: str, rows: dict) -> str:
    lines = [f"| {name} | condition | n real / fake | ROC AUC | EER | offset acc (+-1 frame) |",
             "|---|---|---|---|---|---|"]
    for cond in ("offset_200", "offset_400", "dubbed", "tts"):
        r = rows[cond]
        acc = f"{r['offset_acc']:.3f}" if "offset_acc" in r else "-"
        lines.append(f"| | {cond} | {r['n_real']} / {r['n_fake']} | {r['auc']:.3f} | {r['eer']:.3f} | {acc} |")
    lines.append(f"| | original (offset 0 found) | {rows['original']['n']} | - | - | "
                 f"{rows['original']['offset_acc']:.3f} |")
    return "\n".join(lines)


def fmt_groups(name: str, groups: dict) -> str:
    conds = ("offset_200", "offset_400", "dubbed", "tts")
    lines = [f"| {name}: ROC AUC by corpus | n originals | " + " | ".join(conds) + " |",
             "|---|---|" + "---|" * len(conds)]
    for g, rows in groups.items():
        lines.append(f"| {g} | {rows['original']['n']} | " + " | ".join(f"{rows[c]['auc']:.3f}" for c in conds) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="avdetect/models/weights/sync")
    ap.add_argument("--cache", default="cache/sync")
    ap.add_argument("--tts-bank", default="cache/tts/bank.npz")
    ap.add_argument("--split", default="test", choices=[s.value for s in Split])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the numbers here")
    ap.add_argument("--methods", default="head,scan,auto",
                    help="offset methods to run (comma list); the AUCs come from any one of them, and "
                         "scan/auto re-run the model for every shift, which is slow with the Whisper front end")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    clips = load_corpus(a.cache)[Split(a.split)]
    tts = load_tts_bank(a.tts_bank, Split.test)
    trials = build_trials(clips, tts, a.seed)
    t0 = time.time()
    model = load_model(a.model, a.device)
    methods = [OffsetMethod(m) for m in a.methods.split(",")]
    scores = {m: run_trials(trials, learned_scorer(model, a.device, m)) for m in methods}
    learned = {m: table(trials, s) for m, s in scores.items()}
    base_scores = run_trials(trials, correlation_scorer)
    baseline = table(trials, base_scores)
    groups = {"learned": table_by_group(trials, scores[methods[0]]),
              "training_free": table_by_group(trials, base_scores)}
    print(f"{len(clips)} held-out clips ({a.split}), {len(trials)} trials, {time.time() - t0:.0f} s\n")
    for m, rows in learned.items():
        print(fmt(f"learned (1 - p_sync), offset {m.value}" + (" (as in scan)" if m is OffsetMethod.auto else ""), rows))
        print()
    print(fmt("training-free (-corr at lag 0)", baseline))
    print()
    print(fmt_groups("learned", groups["learned"]))
    print()
    print(fmt_groups("training-free", groups["training_free"]))
    if a.json:
        with open(a.json, "w") as f:
            keys = {OffsetMethod.head: "learned", OffsetMethod.scan: "learned_scan", OffsetMethod.auto: "learned_auto"}
            json.dump({**{keys[m]: rows for m, rows in learned.items()}, "training_free": baseline,
                       "by_group": groups, "split": a.split, "n_clips": len(clips)}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
