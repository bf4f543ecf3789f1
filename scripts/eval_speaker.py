"""Speaker-verification EER with the Resemblyzer voiceprints used by avdetect.

Trials (cosine similarity, same vs different speaker):
  librispeech: test-other, 10 speakers x 10 utterances; (a) utterance vs utterance (450 / 4500
               trials), (b) utterance vs a profile of the speaker's other 9 utterances (target)
               or of another speaker's 10 utterances (impostor).
  fsdd:        6 speakers, 8 kHz digits; test = 4 concatenated digits (~2 s), profile = 20 other
               digits (~8 s) of the claimed speaker.
Usage: PYTHONPATH=. python scripts/eval_speaker.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from avdetect.audio.embedding import embed, speech_only
from avdetect.fusion import SPEAKER_SIMILARITY_THRESHOLD
from avdetect.audio.vad import VadBackend, speech_activity
from avdetect.training.spoof_corpus import read_audio
from avdetect.metrics import eer, roc_auc

ROOT = Path(__file__).resolve().parents[1]


def emb_of(x: np.ndarray) -> np.ndarray:
    sp = speech_only(x, speech_activity(x, VadBackend.webrtc))
    return embed(sp if len(sp) >= 8000 else x)


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def report(name: str, same: list[float], diff: list[float]) -> float:
    e, thr = eer(-np.array(same), -np.array(diff))  # positives = different speaker (low similarity)
    shipped = SPEAKER_SIMILARITY_THRESHOLD
    print(f"{name:32s} target {len(same):5d} impostor {len(diff):5d}  EER {100 * e:5.2f}%  "
          f"threshold {-thr:.3f}  AUC {roc_auc(-np.array(same), -np.array(diff)):.4f}  "
          f"at shipped {shipped:.2f}: FRR {100 * np.mean(np.array(same) < shipped):.1f}% "
          f"FAR {100 * np.mean(np.array(diff) >= shipped):.1f}%")
    return e


def librispeech(data: Path) -> None:
    by_spk: dict[str, list[np.ndarray]] = defaultdict(list)
    with open(data / "manifest.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["kind"] == "librispeech"]
    counts = defaultdict(int)
    for r in rows:
        counts[r["speaker"]] += 1
    for r in rows:
        if counts[r["speaker"]] >= 10:
            by_spk[r["speaker"]].append(emb_of(read_audio(data / r["path"])))
    keys = sorted(by_spk)
    flat = [(s, e) for s in keys for e in by_spk[s]]
    same, diff = [], []
    for (s1, e1), (s2, e2) in itertools.combinations(flat, 2):
        (same if s1 == s2 else diff).append(float(e1 @ e2))
    report(f"librispeech utt-utt ({len(keys)} spk)", same, diff)
    same, diff = [], []
    for s in keys:
        for i, e in enumerate(by_spk[s]):
            same.append(float(e @ unit(np.mean([x for j, x in enumerate(by_spk[s]) if j != i], 0))))
            diff += [float(e @ unit(np.mean(by_spk[o], 0))) for o in keys if o != s]
    report("librispeech utt-profile", same, diff)


def fsdd(data: Path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    files: dict[str, list[Path]] = defaultdict(list)
    for p in sorted((data / "speech" / "fsdd").glob("*.flac")):
        files[p.stem.split("_")[1]].append(p)
    profiles, tests = {}, defaultdict(list)
    for spk, ps in files.items():
        order = rng.permutation(len(ps))
        profiles[spk] = emb_of(np.concatenate([read_audio(ps[i]) for i in order[:20]]))
        for k in range(20, 80, 4):
            tests[spk].append(emb_of(np.concatenate([read_audio(ps[i]) for i in order[k:k + 4]])))
    same = [float(e @ profiles[s]) for s in tests for e in tests[s]]
    diff = [float(e @ profiles[o]) for s in tests for e in tests[s] for o in profiles if o != s]
    report(f"fsdd 8k digits ({len(files)} spk)", same, diff)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    librispeech(args.data)
    fsdd(args.data)
    print(f"wall time {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
