"""Audio-only scan speed on a 10-minute call made at run time from shared LibriSpeech clips.

Measures VAD (each backend) and the synthetic-speech check (shipped model, batched windows)
on CPU and prints the real-time factor (audio seconds per processing second).
Usage: PYTHONPATH=. python scripts/bench_audio.py [--minutes 10] [--threads 1] [--speaker NAME]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from avdetect.audio.channels import Channel, apply_channel
from avdetect.audio.vad import VadBackend, speech_activity
from avdetect.checks.synthetic_speech import check_synthetic_speech, load_model
from avdetect.constants import SAMPLE_RATE
from avdetect.training.spoof_corpus import read_audio

ROOT = Path(__file__).resolve().parents[1]
GAP_S = 0.6  # s of low noise between utterances (turn-taking pause)


def make_call(data: Path, minutes: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    files = sorted((data / "speech" / "librispeech").glob("*/*.flac"))
    parts, n = [], 0
    while n < minutes * 60 * SAMPLE_RATE:
        x = read_audio(files[rng.integers(len(files))])
        gap = (0.002 * rng.standard_normal(int(GAP_S * SAMPLE_RATE))).astype(np.float32)
        parts += [x, gap]
        n += len(x) + len(gap)
    return np.concatenate(parts)[: int(minutes * 60 * SAMPLE_RATE)].astype(np.float32)


def timed(fn, *a, **k):
    t = time.perf_counter()
    out = fn(*a, **k)
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--telephone", action="store_true", help="pass the call through 8 kHz AMR first")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    x = make_call(args.data, args.minutes)
    if args.telephone:
        x = apply_channel(x, Channel.tel_amr)
    dur = len(x) / SAMPLE_RATE
    model = load_model()  # load once, not timed (a Detector loads it once)
    print(f"call: {dur / 60:.1f} min, torch threads {args.threads}")
    speech = {}
    for backend in (VadBackend.energy, VadBackend.webrtc, VadBackend.silero):
        speech[backend], dt = timed(speech_activity, x, backend)
        print(f"vad {backend.value:7s}: {dt:6.2f} s  {dur / dt:7.1f}x real time  "
              f"speech {speech[backend].mean():.0%}")
    res, dt = timed(lambda: check_synthetic_speech(x, speech[VadBackend.webrtc], model=model))
    print(f"spoof check ({res.fields.get('n_windows')} windows): {dt:6.2f} s  {dur / dt:7.1f}x real time  "
          f"score {res.score:.1f}")
    _, dt2 = timed(lambda: check_synthetic_speech(x, speech_activity(x, VadBackend.webrtc), model=model))
    print(f"webrtc VAD + spoof check: {dt2:6.2f} s  {dur / dt2:7.1f}x real time")


if __name__ == "__main__":
    main()
