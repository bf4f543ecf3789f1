"""Shared fixtures: media generated at run time (nothing is committed). Every report the suite
produces, in this process or in those it starts, is checked against the JSON Schema
(tests/report_hook/report_validation.py)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

REPORT_HOOK = Path(__file__).resolve().parent / "report_hook"
sys.path.insert(0, str(REPORT_HOOK))
os.environ["AVDETECT_TEST_REPORT_LOG"] = os.path.join(tempfile.mkdtemp(prefix="avdetect-reports-"), "reports.jsonl")
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPORT_HOOK), os.environ.get("PYTHONPATH")) if p)

from report_validation import LOG_ENV, install, read_log  # noqa: E402

install()

from avdetect import synth  # noqa: E402
from avdetect.checks.base import LipSyncMethod, Settings  # noqa: E402
from avdetect.detector import Detector  # noqa: E402

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


def pytest_sessionfinish(session, exitstatus):
    """Fail the run if any process logged a report that breaks the schema."""
    ok, bad = read_log(os.environ[LOG_ENV])
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"report schema: {ok} reports validated, {len(bad)} invalid")
    if bad:
        for b in bad[:5]:
            print(f"INVALID REPORT ({b['invalid']}): {b['report']}", file=sys.stderr)
        session.exitstatus = 1
