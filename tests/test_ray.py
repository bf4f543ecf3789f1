"""Ray engine: the same records and verdicts as the local engine, on a local Ray instance."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from avdetect.batch.stages import ScanJob
from avdetect.batch.inputs import Source
from avdetect.batch.local import iter_local
from batch_helpers import CRASH_MARK, crashing_extract, make_clips

ray = pytest.importorskip("ray", reason="ray[data] not installed (pip install -e '.[ray]')")

RAY_CPUS = 2
from conftest import CORRELATION_SETTINGS

CPU = ScanJob(CORRELATION_SETTINGS)  # generated faces: the training-free check


@pytest.fixture(scope="module")
def local_ray():
    """A local 2-CPU Ray whose workers can import tests/batch_helpers.py (started once: ~10 s)."""
    tests_dir = str(Path(__file__).resolve().parent)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", os.pathsep.join(p for p in (tests_dir, os.environ.get("PYTHONPATH")) if p))
        ray.init(num_cpus=RAY_CPUS, include_dashboard=False, log_to_driver=False, configure_logging=False)
        yield
        ray.shutdown()


def _by_name(records) -> dict[str, dict]:
    return {Path(r["file"]).name: r for r in records}


def test_ray_engine_matches_local(local_ray, tmp_path):
    from avdetect.batch.ray_engine import iter_ray

    clips = make_clips(tmp_path, seed=3)
    sources = [Source.of(p) for p in clips.values()]
    via_ray = _by_name(iter_ray(sources, CPU, workers=RAY_CPUS, batch_size=2))
    local = _by_name(iter_local(sources, CPU, workers=1, batch_size=2))
    assert set(via_ray) == set(local) == {"in_sync.mp4", "late_400ms.mp4", "corrupt.mp4"}
    assert {k: r["verdict"] for k, r in via_ray.items()} == {k: r["verdict"] for k, r in local.items()} \
        == {"in_sync.mp4": "authentic", "late_400ms.mp4": "fake", "corrupt.mp4": "error"}
    for name in via_ray:
        assert via_ray[name]["source"] == local[name]["source"]
        assert via_ray[name]["score"] == local[name]["score"]
    assert via_ray["late_400ms.mp4"]["checks"]["lip_sync"]["offset_ms"] \
        == local["late_400ms.mp4"]["checks"]["lip_sync"]["offset_ms"]


def test_ray_worker_crash_is_an_error_record(local_ray, tmp_path):
    """An extraction that kills its actor (twice) fails only its own file."""
    from avdetect.batch.ray_engine import RAY_TASK_FAILED, iter_ray

    clips = make_clips(tmp_path, seed=3)
    crash = tmp_path / f"{CRASH_MARK}.mp4"
    crash.write_bytes(clips["late"].read_bytes())
    recs = _by_name(iter_ray([Source.of(clips["in_sync"]), Source.of(crash)], CPU, workers=RAY_CPUS,
                             extract_fn=crashing_extract))
    assert recs["in_sync.mp4"]["verdict"] == "authentic"
    assert recs[crash.name]["verdict"] == "error" and RAY_TASK_FAILED in recs[crash.name]["error"]
