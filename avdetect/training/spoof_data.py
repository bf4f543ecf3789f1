"""Channel variants of corpus items and random training crops.

Each item gets the same variant recipe whatever its class (so the channel cannot be a cue):
  clean (+ faint noise floor), one random 8 kHz telephone codec, one of mp3/aac/noisy.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
import math
from dataclasses import dataclass

import numpy as np
import torch

from ..audio.channels import TELEPHONE_CHANNELS, Channel, add_noise, apply_channel, normalize_peak
from ..models.spoof import features
from ..constants import MEL_FPS, SAMPLE_RATE
from .spoof_corpus import Corpus, Item

NOISE_FLOOR_SNR_DB = (35.0, 60.0)  # faint noise on every clip: digital silence must not be a cue
NOISY_SNR_DB = (5.0, 25.0)
CROP_S = 3.0  # s: training crop (the network pools over time, so scoring uses 4 s windows)
CROP_FRAMES = int(CROP_S * MEL_FPS)


@dataclass
class Variant:
    item: Item
    channel: str  # Channel value or "noisy"
    mel: torch.Tensor  # (T, F) spoof features (models.spoof.features) of the whole item


def make_variant(x: np.ndarray, channel: str, seed: int) -> np.ndarray:
    """(N,) float32 16 kHz -> (M,) float32 16 kHz through `channel` ("noisy" = additive noise)."""
    rng = np.random.default_rng(seed)
    x = add_noise(x, float(rng.uniform(*NOISE_FLOOR_SNR_DB)), rng)
    if channel == "noisy":
        x = add_noise(x, float(rng.uniform(*NOISY_SNR_DB)), rng)
    else:
        x = apply_channel(x, Channel(channel))
    gain = 10 ** (rng.uniform(-20, 0) / 20)
    return (normalize_peak(x) * gain).astype(np.float32)


def channel_group(channel: str) -> str:
    """A variant's channel -> the evaluation condition: "clean", "tel8k" (any 8 kHz codec) or "other"."""
    return "tel8k" if channel.startswith("tel_") else ("clean" if channel == "clean" else "other")


def variant_channels(seed: int, telephone: bool = True) -> list[str]:
    rng = np.random.default_rng(seed)
    out = [Channel.clean.value]
    if telephone:
        out.append(TELEPHONE_CHANNELS[rng.integers(len(TELEPHONE_CHANNELS))].value)
    out.append(["mp3", "aac", "noisy"][rng.integers(3)])
    return out


def _variants_of(args: tuple[np.ndarray, Item, int, list[str] | None, str]) -> list[Variant]:
    x, item, seed, channels, kind = args
    torch.set_num_threads(1)
    out = []
    for j, ch in enumerate(channels or variant_channels(seed)):
        y = make_variant(x, ch, seed * 7 + j)
        out.append(Variant(item, ch, features(y, kind).to(torch.float16)))
    return out


def build_variants(corpus: Corpus, items: list[Item], seed: int, kind: str, workers: int = 2,
                   channels: list[str] | None = None) -> list[Variant]:
    """All variants of `items` (channel recipe per item, or the fixed `channels` list)."""
    jobs = [(corpus.audio(it.id), it, seed + k, channels, kind) for k, it in enumerate(items)]
    with ProcessPoolExecutor(workers) as pool:
        return [v for vs in pool.map(_variants_of, jobs, chunksize=8) for v in vs]


def random_crop(mel: torch.Tensor, rng: np.random.Generator, frames: int = CROP_FRAMES) -> torch.Tensor:
    """(T, F) -> (frames, F): a random stretch; short items are looped (both classes alike)."""
    t = mel.shape[0]
    if t < frames:
        mel = mel.repeat(frames // t + 1, 1)
        t = mel.shape[0]
    a = int(rng.integers(0, t - frames + 1))
    return mel[a:a + frames].float()


def spec_augment(mel: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """(B, T, F) -> (B, T, F) with one random frequency band and one time stretch masked per row."""
    mel = mel.clone()
    b, t, f = mel.shape
    for i in range(b):
        f0, fw = int(rng.integers(0, f)), int(rng.integers(0, f // 8))
        t0, tw = int(rng.integers(0, t)), int(rng.integers(0, t // 10))
        fill = mel[i].mean()
        mel[i, :, f0:f0 + fw] = fill
        mel[i, t0:t0 + tw] = fill
    return mel


def spectral_eq(mel: torch.Tensor, rng: np.random.Generator, max_db: float, n_basis: int = 4) -> torch.Tensor:
    """(B, T, F) log power -> the same with a random smooth gain curve over frequency per row.

    A linear filter (microphone, room, codec EQ) adds a smooth curve to log power; drawing one per
    crop for both classes makes the long-term spectral envelope (a recording's channel) useless as
    a cue, leaving the fine structure of the signal. The curve is a sum of n_basis cosines over the
    band axis with random amplitudes, scaled so its peak is at most max_db (power dB)."""
    b, _, f = mel.shape
    if max_db <= 0:
        return mel
    k = torch.arange(1, n_basis + 1, dtype=torch.float32)[:, None]  # (K, 1)
    x = torch.linspace(0, math.pi, f)[None]  # (1, F)
    coef = torch.from_numpy(rng.uniform(-1, 1, (b, n_basis))).float()  # (B, K)
    curve = coef @ torch.cos(k * x)  # (B, F)
    peak = curve.abs().amax(1, keepdim=True).clamp_min(1e-6)
    amp = torch.from_numpy(rng.uniform(0, max_db, (b, 1))).float()
    gain = curve / peak * amp * (math.log(10) / 10)  # dB -> natural log of power
    return mel + gain[:, None, :]


assert SAMPLE_RATE % MEL_FPS == 0
