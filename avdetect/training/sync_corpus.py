"""Feature cache for training: one npz per media file, keyed by the file's content hash.

Each entry holds what the sync model needs, on the 25 fps timeline:
    landmarks: (T, 40, 2) float16 normalised lips (NaN where no face)
    mask:      (T,) bool face found
    audio:     (N,) int16 16 kHz mono (raw, so training can augment and re-mix it)
    speech:    (Ta,) bool speech activity per 40 ms frame
Extraction goes through `avdetect.features.extract`, so training sees what a scan sees.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..constants import SAMPLE_RATE
from ..visual.landmarks import N_LIP_POINTS

CACHE_VERSION = 1
INT16_SCALE = 32767.0
HASH_CHUNK = 1 << 20  # bytes read per hashing step


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def cache_path(cache_dir: str | os.PathLike, sha: str) -> Path:
    return Path(cache_dir) / f"v{CACHE_VERSION}" / sha[:2] / f"{sha}.npz"


@dataclass
class CachedClip:
    """One clip's training features (see module docstring for shapes)."""

    name: str  # path relative to the data root, for splits and reports
    landmarks: np.ndarray  # (T, 40, 2) float32
    mask: np.ndarray  # (T,) bool
    audio: np.ndarray  # (N,) float32 in [-1, 1]
    speech: np.ndarray  # (Ta,) bool

    def __post_init__(self) -> None:
        t = self.mask.shape[0]
        assert self.landmarks.shape == (t, N_LIP_POINTS, 2), self.landmarks.shape
        assert self.audio.ndim == 1 and self.speech.ndim == 1

    @property
    def n_frames(self) -> int:
        return min(len(self.mask), len(self.audio) * 25 // SAMPLE_RATE)


def extract_to_cache(path: str | os.PathLike, cache_dir: str | os.PathLike) -> tuple[Path, str]:
    """Extract one media file into the cache (skips when present). Returns (npz path, status)."""
    from ..features import extract  # heavy (mediapipe); import lazily in workers

    sha = file_sha256(path)
    out = cache_path(cache_dir, sha)
    if out.exists():
        return out, "cached"
    feats = extract(path)
    if feats.audio is None or feats.mouth is None:
        status = "no_audio" if feats.audio is None else "no_face"
        _save(out, np.zeros((0, N_LIP_POINTS, 2), np.float16), np.zeros(0, bool),
              np.zeros(0, np.int16), np.zeros(0, bool), status)
        return out, status
    m = feats.mouth
    audio16 = np.round(np.clip(feats.audio.samples, -1, 1) * INT16_SCALE).astype(np.int16)
    _save(out, m.landmarks.astype(np.float16), m.mask, audio16, feats.speech, "ok")
    return out, "ok"


def _save(out: Path, lm, mask, audio, speech, status: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, landmarks=lm, mask=mask, audio=audio, speech=speech,
                        status=np.array(status), version=np.array(CACHE_VERSION))
    os.replace(tmp, out)


def load_cached(npz: str | os.PathLike, name: str) -> CachedClip | None:
    """Read one cache entry; None when extraction found no face or no audio."""
    with np.load(npz) as z:
        if str(z["status"]) != "ok":
            return None
        return CachedClip(name, z["landmarks"].astype(np.float32), z["mask"].astype(bool),
                          z["audio"].astype(np.float32) / INT16_SCALE, z["speech"].astype(bool))
