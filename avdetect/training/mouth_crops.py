"""Mouth-crop extraction and cache for the visual branch (training and evaluation side).

One .npz per clip under a cache folder outside git:
    grey   (n, CONTEXT_PX, CONTEXT_PX) uint8   eye-line-aligned mouth crops
    lips   (n, 40, 2) float32                  lip points in crop pixels
    frame  (n,) int32                          25 fps timeline index of each crop
    iod    (n,) float32                        inter-ocular distance, source px
Frames are decoded by avdetect.io and tracked by FaceMesh on every frame (tracking needs the
sequence); a crop is kept every `every` frames, of the largest face.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .. import io
from ..visual.landmarks import FaceMeshTracker, quiet_stderr
from ..visual.mouth_crop import CONTEXT_PX, mouth_crop

CACHE_DIR = Path(os.environ.get("AVDETECT_MOUTH_CACHE", "/work/cache/mouth"))


def clip_crops(path: str | os.PathLike, tracker: FaceMeshTracker, every: int = 1,
               max_duration_s: float | None = None) -> dict[str, np.ndarray]:
    """Crops of one clip (the arrays of the module docstring; n may be 0). Raises io.MediaError."""
    greys, lips, frames, iods = [], [], [], []
    tracker.reset()
    with quiet_stderr():
        for k, rgb in io.iter_video_frames(path, max_duration_s=max_duration_s):
            faces = tracker(k, rgb)
            if not faces or k % every:
                continue
            crops = [c for c in (mouth_crop(rgb, p) for p in faces) if c is not None]
            if not crops:
                continue
            best = max(crops, key=lambda c: c.iod_px)
            greys.append(best.grey)
            lips.append(best.lips)
            frames.append(k)
            iods.append(best.iod_px)
    n = len(greys)
    return {"grey": np.array(greys, np.uint8).reshape(n, CONTEXT_PX, CONTEXT_PX),
            "lips": np.array(lips, np.float32).reshape(n, 40, 2),
            "frame": np.array(frames, np.int32), "iod": np.array(iods, np.float32)}


def cache_path(root: Path, rel: str) -> Path:
    """The .npz for a clip path relative to the data folder."""
    return root / (rel.replace("/", "__") + ".npz")


def load_cached(root: Path, rel: str) -> dict[str, np.ndarray] | None:
    """The cached arrays of one clip, or None when not extracted."""
    p = cache_path(root, rel)
    if not p.is_file():
        return None
    with np.load(p) as z:
        return {k: z[k] for k in z.files}


def extract_all(data_dir: Path, rels: list[str], root: Path = CACHE_DIR, every: int = 1,
                max_duration_s: float | None = None) -> dict[str, int]:
    """Extract and cache crops for clips `rels` (relative to data_dir), skipping cached ones.
    Returns {rel: number of crops}; clips that fail to decode get -1."""
    root.mkdir(parents=True, exist_ok=True)
    tracker = FaceMeshTracker()
    counts: dict[str, int] = {}
    try:
        for rel in rels:
            out = cache_path(root, rel)
            if out.is_file():
                counts[rel] = int(np.load(out)["frame"].shape[0])
                continue
            try:
                arrays = clip_crops(data_dir / rel, tracker, every, max_duration_s)
            except io.MediaError:
                counts[rel] = -1
                continue
            np.savez_compressed(out, **arrays)
            counts[rel] = int(arrays["frame"].shape[0])
    finally:
        tracker.close()
    return counts


LRC_TRAIN_SHARE = 0.75  # first share of LRC-AR clip numbers (sorted) is the training pool
LRC_VAL_START = 0.80  # clips from this share on are the validation pool (a gap between: same-person runs)
N_LRC_TRAIN, N_LRC_VAL, N_GRID_TRAIN = 400, 100, 100  # clips taken, evenly spread over each pool


def spread(items: list[str], n: int) -> list[str]:
    """n items evenly spread over the sorted list (all when it has fewer)."""
    if len(items) <= n:
        return list(items)
    idx = np.linspace(0, len(items) - 1, n).round().astype(int)
    return [items[i] for i in idx]


def real_splits(manifest_rows: list[dict[str, str]]) -> dict[str, list[str]]:
    """{'train': [...], 'val': [...]} clip paths of the real training sources, split by person:
    LRC-AR by clip-number range (neighbouring numbers share presenters), GRID s1 (one speaker)
    in train, av/multi (five other GRID speakers and LRS2) in val. av/wild is never used."""
    lrc = sorted(r["path"] for r in manifest_rows if r["path"].startswith("av/lrc_ar/video/"))
    grid = sorted(r["path"] for r in manifest_rows if r["path"].startswith("av/grid_s1/video/"))
    multi = sorted(r["path"] for r in manifest_rows if r["path"].startswith("av/multi/"))
    n = len(lrc)
    train = spread(lrc[:int(LRC_TRAIN_SHARE * n)], N_LRC_TRAIN) + spread(grid, N_GRID_TRAIN)
    val = spread(lrc[int(LRC_VAL_START * n):], N_LRC_VAL) + multi
    return {"train": train, "val": val}
