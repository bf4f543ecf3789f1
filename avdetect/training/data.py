"""Sync training data: splits, positives and synthetic negatives, augmentation, batching.

An example is a window of L video frames (25 fps) of one clip's lips plus L * 640 samples
of audio. `offset` d (frames) means the audio lags the lips by d: the audio at timeline
frame t is the clip's original audio at frame t - d (DESIGN.md's offset_ms = 40 * d).
"""

from __future__ import annotations

import dataclasses

import csv
import enum
import functools
import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torchaudio

from ..audio.features import LOG_FLOOR
from ..constants import AUDIO_SAMPLES_PER_FRAME, N_FFT, N_MELS, SAMPLE_RATE, SYNC_WINDOW_FRAMES
from ..models.sync import MIN_WINDOW_FRAMES
from ..visual.landmarks import N_LIP_POINTS, mirror_lips, mouth_opening
from .sync_corpus import CachedClip, cache_path, load_cached

MAX_OFFSET_FRAMES = 15  # +-600 ms
IGNORE = -100  # label value excluded from a loss
MIN_SPEECH_FRACTION = 0.3  # windows drawn for positives/offsets should contain speech
ARABIC_TRAIN_END, ARABIC_VAL_END = 0.75, 0.85  # share of LRC-AR clips by number: train | val | test
GRID_VAL_SHARE = 0.1  # last 10 % of GRID s1 (sorted names): validation (same speaker)
WILD_TRAIN_END, WILD_VAL_END = 0.5, 0.7  # av/wild real clips by a hash of the person: train | val | test
WILD_DIR = "av/wild/"
NARROWBAND_RATE = 8_000  # Hz: telephone band-limit augmentation


class Split(str, enum.Enum):
    train = "train"
    val = "val"
    test = "test"


class Kind(str, enum.Enum):
    positive = "positive"  # true pair, offset 0
    offset = "offset"  # true pair shifted by d frames
    dub_same = "dub_same"  # audio of another clip of the same corpus (GRID: same speaker)
    dub_other = "dub_other"  # audio of a clip from the other corpus (other language/person)
    tts = "tts"  # synthetic speech


KIND_PROBS = {Kind.positive: 0.35, Kind.offset: 0.30, Kind.dub_same: 0.17, Kind.dub_other: 0.06,
              Kind.tts: 0.12}


def parse_kind_probs(text: str) -> dict[Kind, float]:
    """"0.35,0.25,0.25,0.05,0.10" (in Kind order: positive, offset, dub_same, dub_other, tts)."""
    vals = [float(v) for v in text.split(",")]
    if len(vals) != len(Kind) or min(vals) < 0 or abs(sum(vals) - 1) > 1e-6:
        raise ValueError(f"kind probabilities need {len(Kind)} values >= 0 that sum to 1, got {text!r}")
    return dict(zip(Kind, vals))


def person_key(person: str) -> str:
    """A manifest's person label -> the person it names, without the manifest's identification note
    ("Lily Aldridge (visual ID; same woman as ...)" -> "lily aldridge")."""
    return re.sub(r"\s*\(visual ID[^)]*\)", "", person).strip().lower()


def wild_split(person: str) -> Split:
    """An av/wild person's split, from a hash of person_key: the same person is always on one side,
    whatever other clips are in the corpus."""
    h = int(hashlib.sha256(person_key(person).encode()).hexdigest()[:8], 16) / 2 ** 32
    return Split.train if h < WILD_TRAIN_END else Split.val if h < WILD_VAL_END else Split.test


def assign_splits(names: list[str], persons: dict[str, str] | None = None) -> dict[str, Split]:
    """Contiguous blocks: av/multi -> test; LRC-AR by clip number 75 % | 10 % | 15 %; GRID 90 | 10;
    av/wild clips with a person (`persons`: name -> manifest person) by wild_split, without one test."""
    out: dict[str, Split] = {}
    grid = sorted(n for n in names if "grid_s1" in n)
    arabic = sorted((n for n in names if "lrc_ar" in n), key=lambda n: int(re.sub(r"\D", "", Path(n).stem)))
    for i, n in enumerate(grid):
        out[n] = Split.val if i >= len(grid) * (1 - GRID_VAL_SHARE) else Split.train
    for i, n in enumerate(arabic):
        r = i / len(arabic)
        out[n] = Split.train if r < ARABIC_TRAIN_END else Split.val if r < ARABIC_VAL_END else Split.test
    for n in names:
        person = (persons or {}).get(n)
        if WILD_DIR in n and person:
            out[n] = wild_split(person)
        out.setdefault(n, Split.test)  # av/multi and anything else: other people, never trained on
    return out


def load_corpus(cache_dir: str | Path) -> dict[Split, list[CachedClip]]:
    """Read cache_dir/index.csv and every usable clip (>= MIN_WINDOW_FRAMES frames), by split."""
    cache_dir = Path(cache_dir)
    with open(cache_dir / "index.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["status"] in ("ok", "cached")]
    splits = assign_splits([r["name"] for r in rows], {r["name"]: r.get("person") or "" for r in rows})
    out: dict[Split, list[CachedClip]] = {s: [] for s in Split}
    for r in rows:
        clip = load_cached(cache_path(cache_dir, r["sha256"]), r["name"])
        if clip is not None and clip.n_frames >= MIN_WINDOW_FRAMES:
            out[splits[r["name"]]].append(clip)
    return out


def load_tts_bank(path: str | Path, split: Split) -> list[np.ndarray]:
    """cache/tts/bank.npz -> list of (N,) float32 utterances of that split ("train"/"test")."""
    z = np.load(path)
    off, audio = z["offsets"], z["audio"]
    return [audio[off[i]:off[i + 1]].astype(np.float32) / 32767.0
            for i in range(len(off) - 1) if str(z["split"][i]) == split.value]


@dataclass
class Example:
    lips: np.ndarray  # (L, 40, 2) float32, NaN where no face
    lip_valid: np.ndarray  # (L,) bool
    audio: np.ndarray  # (L * 640,) float32
    sync: float  # 1 in sync, 0 not, IGNORE for +-1 frame offsets
    offset: int  # frames in [-15, 15], or IGNORE for dubbed / TTS audio
    kind: Kind


def frames_audio(samples: np.ndarray, start: int, n: int) -> np.ndarray:
    """Audio of timeline frames [start, start + n), zero-padded past the ends -> (n * 640,)."""
    out = np.zeros(n * AUDIO_SAMPLES_PER_FRAME, np.float32)
    a, b = start * AUDIO_SAMPLES_PER_FRAME, (start + n) * AUDIO_SAMPLES_PER_FRAME
    src = samples[max(a, 0):max(min(b, len(samples)), 0)]
    lo = max(0, -a)
    out[lo:lo + len(src)] = src
    return out


def _speechy_start(rng: np.random.Generator, clip: CachedClip, lo: int, hi: int, length: int,
                   audio_shift: int = 0, tries: int = 5) -> int:
    """A start in [lo, hi] whose audio window has speech, if one turns up within `tries`."""
    s = int(rng.integers(lo, hi + 1))
    for _ in range(tries):
        a = clip.speech[max(0, s - audio_shift):s - audio_shift + length]
        if len(a) and a.mean() >= MIN_SPEECH_FRACTION:
            return s
        s = int(rng.integers(lo, hi + 1))
    return s


def _window_len(rng: np.random.Generator, n: int) -> int:
    return int(rng.integers(MIN_WINDOW_FRAMES, min(SYNC_WINDOW_FRAMES, n) + 1))


SPEED_TAG = "#speed"  # name suffix of a re-timed copy (speed_perturbed)


def base_name(name: str) -> str:
    """The source clip's name of a re-timed copy (or the name itself)."""
    return name.split(SPEED_TAG)[0]


def speed_perturbed(clip: CachedClip, rate: float) -> CachedClip:
    """The clip played `rate` times as fast: lips linearly interpolated in time (a frame with no
    face stays without one), audio resampled like a tape played faster (pitch moves with it), the
    speech mask by nearest frame. Both streams are re-timed alike, so the pair stays in sync: a new
    speaking rate for training, not a negative. rate 1.1 -> about 1/1.1 of the frames."""
    from ..audio.channels import resample

    t = clip.mask.shape[0]
    n = max(2, int(round(t / rate)))
    src = np.minimum(np.arange(n) * rate, t - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, t - 1)
    w = (src - lo)[:, None, None].astype(np.float32)
    lm = (1 - w) * clip.landmarks[lo] + w * clip.landmarks[hi]  # NaN where either neighbour lacks a face
    mask = clip.mask[lo] & clip.mask[hi]
    audio = resample(clip.audio, int(round(SAMPLE_RATE * rate)), SAMPLE_RATE).astype(np.float32)
    ta = clip.speech.shape[0]
    speech = clip.speech[np.minimum((np.arange(max(1, int(round(ta / rate)))) * rate).astype(int), ta - 1)]
    return CachedClip(f"{clip.name}{SPEED_TAG}{rate:g}", lm.astype(np.float32), mask, audio, speech)


def donor_audio(rng, donors: list[CachedClip], exclude: CachedClip, length: int, hard_k: int = 1,
                 lips: np.ndarray | None = None) -> np.ndarray | None:
    """Another clip's audio for a dubbed negative. hard_k > 1: draw that many candidates and keep
    the one whose loudness follows the lips (window `lips`, (length, 40, 2)) best, a hard negative
    that the mouth-opening-vs-energy cue alone cannot reject."""
    found = []
    for _ in range(10 * hard_k if donors else 0):
        d = donors[int(rng.integers(len(donors)))]
        if d is exclude or d.n_frames < length or base_name(d.name) == base_name(exclude.name):
            continue
        s = _speechy_start(rng, d, 0, d.n_frames - length, length)
        found.append(frames_audio(d.audio, s, length))
        if len(found) == hard_k:
            break
    if len(found) <= 1 or lips is None:
        return found[0] if found else None
    return found[int(np.argmax([envelope_match(lips, a) for a in found]))]


def envelope_match(lips: np.ndarray, audio: np.ndarray) -> float:
    """Correlation of mouth opening (lips (T, 40, 2), NaN frames ignored) with per-frame log RMS of
    audio (T * 640,); 0 when either is flat. Plain RMS rather than audio.features.speech_envelope
    (band-limited, an STFT per call): this runs for every candidate donor in the sampling loop,
    and the stage-8b numbers in the model card were measured with it."""
    t = len(lips)
    opening = mouth_opening(lips)  # (T,), NaN where the face was missing
    rms = np.log(np.sqrt((audio[: t * AUDIO_SAMPLES_PER_FRAME].reshape(t, -1) ** 2).mean(1)) + 1e-5)
    ok = np.isfinite(opening)
    if ok.sum() < 3 or opening[ok].std() == 0 or rms[ok].std() == 0:
        return 0.0
    return float(np.corrcoef(opening[ok], rms[ok])[0, 1])


def _tts_audio(rng, bank: list[np.ndarray], length: int) -> np.ndarray:
    u = bank[int(rng.integers(len(bank)))]
    n = length * AUDIO_SAMPLES_PER_FRAME
    if len(u) >= n:
        s = int(rng.integers(0, len(u) - n + 1))
        return u[s:s + n].copy()
    out = (rng.standard_normal(n) * TTS_PAD_NOISE).astype(np.float32)  # a room's floor, not exact zeros
    s = int(rng.integers(0, n - len(u) + 1))
    out[s:s + len(u)] = u
    return out


TTS_PAD_NOISE = 3e-4  # std of the padding around short TTS utterances (about -70 dBFS)
DIGITAL_SILENCE_P = 0.25  # share of windows (every kind) whose audio starts or ends in exact zeros


def sample_example(rng: np.random.Generator, clips: list[CachedClip], same: dict[str, list[CachedClip]],
                   other: dict[str, list[CachedClip]], tts: list[np.ndarray],
                   kind_probs: dict[Kind, float] | None = None, hard_dub_k: int = 1) -> Example:
    """Draw one window. same/other: donor clips by corpus ("grid"/"lrc") for dubbing;
    kind_probs: how often each kind of window is drawn (default KIND_PROBS).

    Padded TTS and offset windows reaching past the clip carry exact zeros; so that zeros are
    no cue, any window (positives too) may get a run of digital silence at one end.
    """
    ex = _sample_example(rng, clips, same, other, tts, kind_probs or KIND_PROBS, hard_dub_k)
    if rng.random() < DIGITAL_SILENCE_P:
        k = int(rng.integers(1, max(2, len(ex.lip_valid) // 3 + 1))) * AUDIO_SAMPLES_PER_FRAME
        audio = ex.audio.copy()
        if rng.random() < 0.5:
            audio[:k] = 0.0
        else:
            audio[-k:] = 0.0
        ex = dataclasses.replace(ex, audio=audio)
    return ex


def _sample_example(rng: np.random.Generator, clips: list[CachedClip], same: dict[str, list[CachedClip]],
                    other: dict[str, list[CachedClip]], tts: list[np.ndarray],
                    kind_probs: dict[Kind, float], hard_dub_k: int = 1) -> Example:
    clip = clips[int(rng.integers(len(clips)))]
    n = clip.n_frames
    kind = Kind(rng.choice([k.value for k in kind_probs], p=list(kind_probs.values())))
    if kind == Kind.offset and n - MIN_WINDOW_FRAMES >= 1:
        mag = int(rng.integers(1, min(MAX_OFFSET_FRAMES, n - MIN_WINDOW_FRAMES) + 1))
        d = mag * int(rng.choice([-1, 1]))
        length = int(rng.integers(MIN_WINDOW_FRAMES, min(SYNC_WINDOW_FRAMES, n - mag) + 1))
        s = _speechy_start(rng, clip, max(0, d), min(n - length, n - length + d), length, d)
        sync = float(IGNORE) if mag == 1 else 0.0
        return _example(clip, s, length, frames_audio(clip.audio, s - d, length), sync, d, kind)
    length = _window_len(rng, n)
    s = _speechy_start(rng, clip, 0, n - length, length)
    corpus = corpus_of(clip.name)
    audio = None
    lips = clip.landmarks[s:s + length]
    if kind == Kind.dub_same:
        audio = donor_audio(rng, same[corpus], clip, length, hard_dub_k, lips)
    elif kind == Kind.dub_other:
        audio = donor_audio(rng, other[corpus], clip, length, hard_dub_k, lips)
    elif kind == Kind.tts and tts:
        audio = _tts_audio(rng, tts, length)
    if audio is None:  # positive (or a negative that found no donor)
        return _example(clip, s, length, frames_audio(clip.audio, s, length), 1.0, 0, Kind.positive)
    return _example(clip, s, length, audio, 0.0, IGNORE, kind)


def _example(clip: CachedClip, s: int, length: int, audio: np.ndarray, sync: float, offset: int,
             kind: Kind) -> Example:
    lips = clip.landmarks[s:s + length]
    valid = clip.mask[s:s + length]
    assert lips.shape == (length, N_LIP_POINTS, 2) and audio.shape == (length * AUDIO_SAMPLES_PER_FRAME,)
    return Example(lips, valid, audio, sync, offset, kind)


def corpus_of(name: str) -> str:
    """A clip's corpus for dubbing donors: "grid", "wild" or "lrc" (LRC-AR and anything else)."""
    return "wild" if WILD_DIR in name else "grid" if "grid" in name else "lrc"


def donor_pools(clips: list[CachedClip]) -> tuple[dict[str, list[CachedClip]], dict[str, list[CachedClip]]]:
    """-> (same, other): by corpus, the clips of that corpus and those of every other corpus."""
    names = ("grid", "lrc", "wild")
    by = {k: [c for c in clips if corpus_of(c.name) == k] for k in names}
    return by, {k: [c for c in clips if corpus_of(c.name) != k] for k in names}


@dataclass
class Batch:
    lips: torch.Tensor  # (B, T, 40, 2)
    lip_valid: torch.Tensor  # (B, T) bool
    audio: torch.Tensor  # (B, T * 640)
    frame_valid: torch.Tensor  # (B, T) bool, False on padding
    sync: torch.Tensor  # (B,) float, IGNORE = excluded
    offset: torch.Tensor  # (B,) long, IGNORE = excluded


def collate(examples: list[Example]) -> Batch:
    b, t = len(examples), max(len(e.lip_valid) for e in examples)
    lips = np.full((b, t, N_LIP_POINTS, 2), np.nan, np.float32)
    lv = np.zeros((b, t), bool)
    fv = np.zeros((b, t), bool)
    audio = np.zeros((b, t * AUDIO_SAMPLES_PER_FRAME), np.float32)
    for i, e in enumerate(examples):
        n = len(e.lip_valid)
        lips[i, :n], lv[i, :n], fv[i, :n] = e.lips, e.lip_valid, True
        audio[i, :len(e.audio)] = e.audio
    return Batch(torch.from_numpy(lips), torch.from_numpy(lv), torch.from_numpy(audio), torch.from_numpy(fv),
                 torch.tensor([e.sync for e in examples], dtype=torch.float32),
                 torch.tensor([e.offset for e in examples], dtype=torch.long))


def narrowband(audio: torch.Tensor, gen: torch.Generator, p: float = 0.3) -> torch.Tensor:
    """(B, N) -> (B, N): with probability p a row is resampled 16 -> 8 -> 16 kHz (telephone band),
    the waveform counterpart of augment_mel for front ends that read audio, not log-mel."""
    pick = torch.rand(audio.shape[0], generator=gen) < p
    if not pick.any():
        return audio
    low = torchaudio.functional.resample(audio[pick], SAMPLE_RATE, NARROWBAND_RATE)
    out = audio.clone()
    out[pick] = torchaudio.functional.resample(low, NARROWBAND_RATE, SAMPLE_RATE)[:, : audio.shape[1]]
    return out


def augment_audio(audio: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """(B, N) -> (B, N): random gain, additive noise (5-40 dB SNR). Band limit: augment_mel."""
    b = audio.shape[0]
    r = lambda: torch.rand(b, 1, generator=gen)  # noqa: E731
    x = audio * (0.25 + 1.75 * r())
    power = x.pow(2).mean(1, keepdim=True).clamp_min(1e-8)
    snr_db = 5 + 35 * r()
    noise = torch.randn(x.shape, generator=gen) * (power / 10 ** (snr_db / 10)).sqrt()
    x = torch.where(r() < 0.5, x + noise, x)
    return x.clamp(-1, 1)


@functools.lru_cache(maxsize=1)
def _narrowband_bins() -> torch.Tensor:
    """(80,) bool: mel bins whose centre lies above the 4 kHz Nyquist of 8 kHz audio."""
    edges = torchaudio.functional.melscale_fbanks(N_FFT // 2 + 1, 20.0, SAMPLE_RATE / 2, N_MELS, SAMPLE_RATE)
    freqs = torch.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    centre = (edges * freqs[:, None]).sum(0) / edges.sum(0).clamp_min(1e-8)
    return centre > NARROWBAND_RATE / 2


def augment_mel(mel: torch.Tensor, gen: torch.Generator, p: float = 0.3) -> torch.Tensor:
    """(B, 4T, 80) log-mel: with probability p a window becomes 8 kHz telephone band
    (energy above 4 kHz removed, as resampling 16 -> 8 -> 16 kHz would)."""
    pick = (torch.rand(mel.shape[0], generator=gen) < p)[:, None, None] & _narrowband_bins()[None, None]
    return torch.where(pick, torch.full_like(mel, math.log(LOG_FLOOR)), mel)


def augment_lips(lips: torch.Tensor, valid: torch.Tensor, gen: torch.Generator,
                 mirror_p: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """lips (B, T, 40, 2), valid (B, T): mirror image (probability mirror_p), jitter, per-axis
    scale, small roll, dropped frames."""
    b, t = valid.shape
    flip = torch.rand(b, generator=gen) < mirror_p
    if mirror_p > 0 and flip.any():
        lips = torch.where(flip[:, None, None, None], mirror_lips(lips), lips)
    scale = 1 + 0.15 * (2 * torch.rand(b, 1, 1, 2, generator=gen) - 1)
    ang = 0.09 * (2 * torch.rand(b, generator=gen) - 1)  # +-5 degrees
    c, s = torch.cos(ang), torch.sin(ang)
    rot = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)  # (B, 2, 2)
    x = torch.einsum("btpi,bji->btpj", lips * scale, rot)
    x = x + 0.004 * torch.randn(x.shape, generator=gen)
    drop_rate = torch.where(torch.rand(b, 1, generator=gen) < 0.3, 0.15, 0.0)
    keep = torch.rand(b, t, generator=gen) >= drop_rate
    return x, valid & keep
