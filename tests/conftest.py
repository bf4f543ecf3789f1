"""Shared fixtures: media generated at run time (nothing is committed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from avdetect import synth
from avdetect.checks.base import LipSyncMethod, Settings
from avdetect.detector import Detector

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CLIP_S = 6.0

torch.set_num_threads(1)  # tiny models: extra threads only add contention on shared CPUs

CORRELATION_SETTINGS = Settings(device="cpu", lip_sync=LipSyncMethod.correlation)


@pytest.fixture(scope="session")
def correlation_detector() -> Detector:
    """Generated faces are an animated photo: most tests measure the training-free lip-sync check."""
    return Detector(CORRELATION_SETTINGS)


@pytest.fixture(scope="session")
def detector() -> Detector:
    """The shipped models on the CPU, loaded once for the session."""
    return Detector(Settings(device="cpu"))


@pytest.fixture(scope="session")
def talking():
    """(frames, samples) of a 6 s synthetic talking face at 25 fps."""
    return synth.talking_face(CLIP_S, seed=1)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def in_sync_mp4(talking, media_dir) -> Path:
    frames, samples = talking
    return synth.write_av(media_dir / "in_sync.mp4", frames, samples)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "manifest.csv").exists():
        pytest.skip(f"shared data not found at {SHARED_DATA} (integration tests need ../shared/data)")
    return SHARED_DATA


def index_frames(n: int, size: int = 64) -> list[np.ndarray]:
    """Flat frames whose colour encodes the source frame index: R = 16 (k % 16), B = 16 (k // 16)."""
    assert n <= 256
    return [np.full((size, size, 3), (16 * (k % 16), 128, 16 * (k // 16)), np.uint8) for k in range(n)]


def frame_index(img: np.ndarray) -> int:
    r, _, b = img.reshape(-1, 3).mean(0)
    return int(round(r / 16)) + 16 * int(round(b / 16))
