"""EER / AUC of the spoof model per generator and per channel on the held-out test split.

Every test item (speaker-disjoint reals; new renderings of the seen generators, whose voices
and texts may overlap training's, see the model card; all fakes of unseen generators) is scored
in three channel conditions:
  clean      16 kHz, faint noise floor
  tel8k      one of G.711 mu-law / A-law, AMR-NB 12.2k, Opus 12k at 8 kHz (rotating per item)
  other      mp3 32k, aac 32k or additive noise (5-25 dB SNR)
Each generator's fakes are compared with ALL real test items of the same condition.
Usage: PYTHONPATH=. python scripts/eval_spoof.py [--model-dir models] [--markdown]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from avdetect.checks.synthetic_speech import SyntheticSpeechCheck
from avdetect.fusion import SUSPICIOUS_THRESHOLD
from avdetect.models.spoof import load_model
from avdetect.models.store import model_dir
from avdetect.training.spoof_corpus import UNSEEN_GENERATORS, Corpus, Split
from avdetect.metrics import eer, roc_auc
from avdetect.training.spoof_data import channel_group
from avdetect.training.train_spoof import evaluate, score_variant, variants_cache, variants_for

ROOT = Path(__file__).resolve().parents[1]
# clip score at which this check alone makes a recording suspicious (40 / 0.6 = 66.7)
ALARM_SCORE = SUSPICIOUS_THRESHOLD / SyntheticSpeechCheck.weight
UNSEEN = frozenset(g.value for g in UNSEEN_GENERATORS)  # default when a model does not record its own


def pooled(model, variants, group: str, unseen: bool, unseen_kinds: frozenset[str],
           exclude: frozenset[str] = frozenset()) -> dict:
    real = [score_variant(model, v.mel) for v in variants if channel_group(v.channel) == group and v.item.label == 0]
    fake = [score_variant(model, v.mel) for v in variants if channel_group(v.channel) == group
            and v.item.label == 1 and v.item.kind not in exclude and (v.item.kind in unseen_kinds) == unseen]
    e, thr = eer(np.array(real), np.array(fake))
    return dict(channel=group, generator="ALL UNSEEN" if unseen else "ALL SEEN", n_real=len(real),
                n_fake=len(fake), eer=e, auc=roc_auc(np.array(real), np.array(fake)), eer_threshold=thr)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=ROOT / "cache" / "spoof")
    ap.add_argument("--model-dir", type=Path, default=model_dir())
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--unseen", default=None,
                    help="generators the model did not train on, comma-separated (default: those its "
                         "spoof.json records, else piper,vstts)")
    ap.add_argument("--pool-exclude", default="",
                    help="generators left out of the ALL SEEN / ALL UNSEEN rows, comma-separated (to compare "
                         "models trained on different generator sets over the same pool)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    model = load_model(args.model_dir / "spoof")
    unseen = frozenset(g for g in (args.unseen.split(",") if args.unseen else
                                   model.training_record.get("unseen_generators", UNSEEN)) if g)
    print(f"unseen generators: {', '.join(sorted(unseen))}")
    corpus = Corpus(args.corpus)
    cache = variants_cache(corpus, Split.test, model.cfg.features, args.seed)
    if cache.exists():
        variants = torch.load(cache, weights_only=False)
    else:
        variants = variants_for(corpus, Split.test, seed=10_000 + args.seed, kind=model.cfg.features)
        torch.save(variants, cache)
    rows = evaluate(model, variants)
    exclude = frozenset(g for g in args.pool_exclude.split(",") if g)
    if exclude:
        print(f"left out of the pooled rows: {', '.join(sorted(exclude))}")
    rows += [pooled(model, variants, g, u, unseen, exclude) for g in ("clean", "tel8k", "other") for u in (False, True)]
    print("| channel | generator | seen in training | n real | n fake | EER % | AUC | EER threshold |")
    print("|---|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: (r["channel"], r["generator"])):
        seen = "no" if r["generator"] in unseen or r["generator"] == "ALL UNSEEN" else "yes"
        print(f"| {r['channel']} | {r['generator']} | {seen} | {r['n_real']} | {r['n_fake']} | "
              f"{100 * r['eer']:.1f} | {r['auc']:.3f} | {r['eer_threshold']:.0f} |")
    print_real_alarms(model, variants)
    print(f"\nwall time {time.time() - t0:.0f} s")


def print_real_alarms(model, variants, threshold: float | None = None) -> None:
    """Share of real test items whose clip score exceeds the report threshold (None: the model's), per
    corpus and channel."""
    threshold = model.cfg.threshold if threshold is None else threshold
    groups: dict[tuple[str, str], list[float]] = {}
    for v in variants:
        if v.item.label == 0:
            groups.setdefault((v.item.kind, channel_group(v.channel)), []).append(score_variant(model, v.mel))
    print(f"\n| real corpus | channel | n | score > {threshold:.0f} | score >= {ALARM_SCORE:.1f} | median score |")
    print("|---|---|---|---|---|---|")
    for (kind, ch), s in sorted(groups.items()):
        s = np.array(s)
        print(f"| {kind} | {ch} | {len(s)} | {100 * (s > threshold).mean():.0f} % | "
              f"{100 * (s >= ALARM_SCORE).mean():.0f} % | {np.median(s):.0f} |")


if __name__ == "__main__":
    main()
