"""Helpers for the batch tests that worker processes must be able to import (spawn)."""

from __future__ import annotations

import os
from pathlib import Path

from avdetect import synth
from avdetect.batch.inputs import Source
from avdetect.batch.stages import Extracted, ScanJob, extract_one

BATCH_CLIP_S = 3.0  # seconds per generated clip: enough 2 s windows for the lip-sync check
CRASH_MARK = "crash_worker"  # a file whose name contains this kills its worker process


def crashing_extract(source: Source, job: ScanJob) -> Extracted:
    """The real extract stage, except that it kills the worker process on CRASH_MARK files
    (stands in for a decoder segfault or an OOM kill)."""
    if CRASH_MARK in Path(source.path).name:
        os._exit(3)
    return extract_one(source, job)


def make_clips(folder: Path, seed: int = 1) -> dict[str, Path]:
    """in_sync.mp4, late_400ms.mp4 (3 s talking faces), corrupt.mp4 (junk bytes)."""
    folder.mkdir(parents=True, exist_ok=True)
    frames, samples = synth.talking_face(BATCH_CLIP_S, seed=seed)
    clips = {"in_sync": synth.write_av(folder / "in_sync.mp4", frames, samples),
             "late": synth.write_av(folder / "late_400ms.mp4", frames, synth.delay_audio(samples, 0.4))}
    clips["corrupt"] = folder / "corrupt.mp4"
    clips["corrupt"].write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    return clips
