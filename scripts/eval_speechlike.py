"""Speech-likeness on real speech vs tones, noise and music: the share that stays applicable.

    PYTHONPATH=. python scripts/eval_speechlike.py [--per-set 60]

Real speech from ../shared/data (LibriSpeech FLAC, GRID and Arabic TV-news videos); the
non-speech is generated here (noise, tones, sweeps, chords, melodies, random AMR frames).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from avdetect import io
from avdetect.audio.speechlike import speech_likeness
from avdetect.audio.vad import VadBackend, speech_activity
from avdetect.constants import SAMPLE_RATE

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def non_speech(seed: int = 0, seconds: float = 8.0) -> dict[str, np.ndarray]:
    """Generated sounds that are not speech, (N,) float32 16 kHz each."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    white = rng.standard_normal(n)
    pink = np.fft.irfft(np.fft.rfft(white) / np.sqrt(np.arange(n // 2 + 1) + 1), n)
    brown = np.cumsum(white)
    brown -= np.convolve(brown, np.ones(1601) / 1601, "same")
    out = {"white": white, "pink": pink, "brown": brown, "tone440": np.sin(2 * np.pi * 440 * t),
           "tone1k_beeps": np.sin(2 * np.pi * 1000 * t) * (np.sin(2 * np.pi * 2 * t) > 0),
           "sweep": np.sin(2 * np.pi * (100 * t + 200 * t ** 2)), "hum50": np.sin(2 * np.pi * 50 * t)
           + 0.5 * np.sin(2 * np.pi * 150 * t)}
    out["chords"] = _music(rng, t, notes=3, note_s=1.0, decay=0.5)
    out["melody"] = _music(rng, t, notes=1, note_s=0.25, decay=3.0)
    out["piano_like"] = _music(rng, t, notes=2, note_s=0.4, decay=6.0)
    out["noise_bursts"] = white * (rng.random(n // 1600 + 1).repeat(1600)[:n] > 0.5)
    return {k: (0.3 * v / (np.abs(v).max() + 1e-9)).astype(np.float32) for k, v in out.items()}


def _music(rng, t, notes: int, note_s: float, decay: float) -> np.ndarray:
    y = np.zeros_like(t)
    for start in np.arange(0, t[-1], note_s):
        m = (t >= start) & (t < start + note_s)
        tt = t[m] - start
        for _ in range(notes):
            f0 = 220 * 2 ** (rng.integers(0, 24) / 12)
            y[m] += sum(np.sin(2 * np.pi * h * f0 * tt) / h for h in range(1, 6)) * np.exp(-decay * tt)
    return y


def real_speech(per_set: int) -> dict[str, list[Path]]:
    sets = {"librispeech": sorted((DATA / "speech" / "librispeech").rglob("*.flac")),
            "grid": sorted((DATA / "av" / "grid_s1" / "video").glob("*.mp4")),
            "lrc_ar": sorted((DATA / "av" / "lrc_ar" / "video").glob("*.mp4"))}
    out = {}
    for k, files in sets.items():
        step = max(1, len(files) // per_set)
        out[k] = files[::step][:per_set]
    return out


def judge(samples: np.ndarray, video: bool):
    speech = speech_activity(samples, VadBackend.silero if video else VadBackend.webrtc)
    return speech_likeness(samples, speech)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-set", type=int, default=60)
    args = ap.parse_args()
    if not DATA.exists():
        print(f"no shared data at {DATA}", file=sys.stderr)
        return 2
    for name, files in real_speech(args.per_set).items():
        res = [judge(io.load_audio(f).samples, f.suffix == ".mp4") for f in files]
        ok = [r.ok for r in res]
        fl, mo, ch = (np.array([getattr(r, a) for r in res]) for a in ("flatness", "modulation_db", "change"))
        print(f"{name:12s} n={len(res):3d} speech-like {100 * np.mean(ok):5.1f} %  flatness max {fl.max():.2f}  "
              f"modulation min {mo.min():.1f} dB  change min {ch.min():.3f}")
        for f, r in zip(files, res):
            if not r.ok:
                print(f"   rejected {f.name}: {r.reason}")
    for name, x in non_speech().items():
        for video in (False, True):
            r = judge(x, video)
            print(f"{name:12s} vad={'silero' if video else 'webrtc'} speech-like={r.ok} flat {r.flatness:.2f} "
                  f"mod {r.modulation_db:.1f} change {r.change:.3f} {r.reason[:60]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
