"""Train the small neural vocoder used to make neural-vocoder fakes (avdetect/training/vocoder.py).

It learns from the training-split LibriSpeech speakers of the spoof corpus only, so the
test speakers' vocoded copies are of voices it never heard.

Usage: PYTHONPATH=. python scripts/train_vocoder.py [--corpus cache/spoof] [--out cache/vocoder/vocoder]
       [--steps 5000] [--max-minutes 25]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from avdetect.training.spoof_corpus import Corpus, Split
from avdetect.training.vocoder import VocoderTrainConfig, save_vocoder, train_vocoder

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=ROOT / "cache" / "spoof")
    ap.add_argument("--out", type=Path, default=ROOT / "cache" / "vocoder" / "vocoder")
    ap.add_argument("--steps", type=int, default=VocoderTrainConfig.steps)
    ap.add_argument("--max-minutes", type=float, default=VocoderTrainConfig.max_minutes)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    corpus = Corpus(args.corpus)
    items = [it for it in corpus.items.values()
             if it.kind == "librispeech" and it.split == Split.train.value]
    waves = [corpus.audio(it.id) for it in items]
    print(f"{len(waves)} training utterances, {sum(map(len, waves)) / 16000 / 60:.1f} min", flush=True)
    cfg = VocoderTrainConfig(steps=args.steps, max_minutes=args.max_minutes, seed=args.seed)
    t0 = time.time()
    model = train_vocoder(waves, cfg, log=lambda m: print(m, flush=True))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_vocoder(model, args.out, {"steps": cfg.steps, "seed": cfg.seed, "utterances": len(waves),
                                   "source": "spoof corpus, LibriSpeech train-split speakers",
                                   "wall_s": round(time.time() - t0)})
    print(f"saved {args.out}.safetensors ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
