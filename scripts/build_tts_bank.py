#!/usr/bin/env python
"""Synthesise a bank of TTS utterances (espeak-ng, flite, festival) as lip-sync negatives.

    PYTHONPATH=. python scripts/build_tts_bank.py --data ../shared/data --out cache/tts --n 400

Texts are GRID-grammar sentences (English) and LRC-AR word sequences (Arabic, espeak-ng).
Writes cache/tts/bank.npz: audio (concatenated int16 16 kHz), offsets, engine, text, split
(utterance i is "test" when i % 5 == 0, so train and test never share an utterance).
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio

from avdetect.constants import SAMPLE_RATE

GRID = (("bin", "lay", "place", "set"), ("blue", "green", "red", "white"), ("at", "by", "in", "with"),
        tuple("abcdefghijklmnopqrstuvxyz"), ("zero", "one", "two", "three", "four", "five", "six",
                                            "seven", "eight", "nine"), ("again", "now", "please", "soon"))
ESPEAK_EN = ("en", "en-us", "en+m3", "en+f2", "en+f4", "en-us+m7", "en+klatt", "en-gb-x-rp")
FLITE = ("kal", "awb", "rms", "slt", "kal16")
TEST_EVERY = 5  # utterance i with i % 5 == 0 is held out for evaluation


def grid_sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(w) for w in GRID)


def arabic_words(data: Path) -> list[str]:
    words = []
    for p in sorted((data / "av/lrc_ar/words").glob("*.csv")):
        words += [w.strip() for w in p.read_text(encoding="utf-8").splitlines()[1:] if w.strip()]
    return words


def synth(engine: str, voice: str, text: str, speed: int, wav: str) -> None:
    if engine == "espeak":
        cmd = ["espeak-ng", "-v", voice, "-s", str(speed), "-w", wav, text]
        subprocess.run(cmd, check=True, capture_output=True)
    elif engine == "flite":
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", wav], check=True, capture_output=True)
    else:
        subprocess.run(["text2wave", "-o", wav], input=text.encode(), check=True, capture_output=True)


def to_16k(wav: str) -> np.ndarray:
    x, sr = sf.read(wav, dtype="float32", always_2d=True)
    x = torch.from_numpy(x.mean(1))
    if sr != SAMPLE_RATE:
        x = torchaudio.functional.resample(x, sr, SAMPLE_RATE)
    x = x / max(float(x.abs().max()), 1e-4) * 0.5
    return x.numpy()


def plan(i: int, rng: random.Random, ar_words: list[str]) -> tuple[str, str, str, int]:
    kind = i % 4
    if kind == 0:
        return "espeak", rng.choice(ESPEAK_EN), grid_sentence(rng), rng.randint(130, 200)
    if kind == 1:
        return "flite", rng.choice(FLITE), grid_sentence(rng), 0
    if kind == 2:
        return "festival", "kal_diphone", grid_sentence(rng), 0
    k = rng.randint(2, 5)
    j = rng.randrange(max(1, len(ar_words) - k))
    return "espeak", "ar", " ".join(ar_words[j:j + k]) or "مرحبا", rng.randint(130, 200)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--out", default="cache/tts")
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    ar = arabic_words(Path(a.data))
    clips, meta = [], []
    with tempfile.TemporaryDirectory() as tmp:
        wav = str(Path(tmp) / "u.wav")
        for i in range(a.n):
            engine, voice, text, speed = plan(i, rng, ar)
            try:
                synth(engine, voice, text, speed, wav)
                clips.append((np.clip(to_16k(wav), -1, 1) * 32767).astype(np.int16))
                meta.append((f"{engine}:{voice}", text, "test" if i % TEST_EVERY == 0 else "train"))
            except (subprocess.CalledProcessError, RuntimeError) as e:
                print(f"skip {engine}:{voice}: {e}", file=sys.stderr)
    offsets = np.cumsum([0] + [len(c) for c in clips])
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / "bank.npz", audio=np.concatenate(clips), offsets=offsets,
             engine=np.array([m[0] for m in meta]), text=np.array([m[1] for m in meta]),
             split=np.array([m[2] for m in meta]))
    print(f"{len(clips)} utterances, {offsets[-1] / SAMPLE_RATE:.0f} s -> {out / 'bank.npz'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
