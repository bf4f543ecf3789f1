#!/usr/bin/env python
"""Train the lip-sync transformer on the cached corpus (see scripts/build_sync_corpus.py).

    PYTHONPATH=. python scripts/train_sync.py --steps 3000 --max-minutes 25 --out avdetect/models/weights/sync
"""

from __future__ import annotations

import argparse
import json
import sys

from avdetect.training.sync import TrainConfig, train


def main() -> int:
    d = TrainConfig()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default=d.cache_dir)
    ap.add_argument("--tts-bank", default=d.tts_bank)
    ap.add_argument("--out", default=d.out)
    ap.add_argument("--log-dir", default=d.log_dir)
    ap.add_argument("--steps", type=int, default=d.steps)
    ap.add_argument("--max-minutes", type=float, default=d.max_minutes)
    ap.add_argument("--batch-size", type=int, default=d.batch_size)
    ap.add_argument("--lr", type=float, default=d.lr)
    ap.add_argument("--eval-every", type=int, default=d.eval_every)
    ap.add_argument("--seed", type=int, default=d.seed)
    ap.add_argument("--device", default=d.device, help="cpu, cuda, cuda:1, ...")
    ap.add_argument("--threads", type=int, default=d.threads)
    ap.add_argument("--init-from", default=None, help="continue from these weights (path stem)")
    ap.add_argument("--mirror-p", type=float, default=d.mirror_p, help="share of windows with mirrored lips")
    ap.add_argument("--kind-probs", default=d.kind_probs,
                    help="positive,offset,dub_same,dub_other,tts shares (default avdetect.training.data.KIND_PROBS)")
    ap.add_argument("--hard-dub-k", type=int, default=d.hard_dub_k,
                    help="dubbed negatives: keep the best lips/loudness match of this many donors (1 = random)")
    ap.add_argument("--speed-rates", default="",
                    help="re-timed copies of every training clip, e.g. 0.9,1.1 (lips and audio alike)")
    ap.add_argument("--audio-frontend", default=None, choices=["logmel", "whisper"],
                    help="audio features (default: the --init-from model's, else logmel); switching keeps "
                         "every other layer of --init-from")
    ap.add_argument("--wild-repeat", type=int, default=d.wild_repeat,
                    help="draw each av/wild training clip this many times as often as another clip")
    ap.add_argument("--footage", type=float, default=d.footage,
                    help="footage augmentations (head motion, frame rate, noise, occlusion, crowd, music, "
                         "reverb): 0 off, 1 avdetect.training.footage's probabilities")
    a = ap.parse_args()
    best = train(TrainConfig(cache_dir=a.cache, tts_bank=a.tts_bank, out=a.out, log_dir=a.log_dir,
                             steps=a.steps, max_minutes=a.max_minutes, batch_size=a.batch_size,
                             lr=a.lr, eval_every=a.eval_every, seed=a.seed, device=a.device,
                             threads=a.threads, init_from=a.init_from, mirror_p=a.mirror_p,
                             kind_probs=a.kind_probs, hard_dub_k=a.hard_dub_k,
                             speed_rates=tuple(float(r) for r in a.speed_rates.split(",") if r),
                             audio_frontend=a.audio_frontend, wild_repeat=a.wild_repeat,
                             footage=a.footage))
    print(json.dumps(best, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
