"""Helpers for the batch tests that worker processes must be able to import (spawn)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from avdetect import synth
from avdetect.batch.inputs import Source
from avdetect.batch.stages import Extracted, ScanJob, extract_one

BATCH_CLIP_S = 3.0  # seconds per generated clip: enough 2 s windows for the lip-sync check
CRASH_MARK = "crash_worker"  # a file whose name contains this kills its worker process
STUCK_MARK = "stuck_worker"  # ... makes its worker hang (writes its pid to <file>.pid first)
HOG_MARK = "hog_worker"  # ... makes its worker allocate memory until it is stopped
HOG_STEP_BYTES = 64 << 20  # bytes allocated (and touched) per step
HOG_MAX_BYTES = 6 << 30  # the hog stops there (the memory limit in the tests is far below)


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


def hostile_extract(source: Source, job: ScanJob) -> Extracted:
    """The real extract stage, except on marked files: STUCK_MARK hangs (a decoder in an endless
    loop), HOG_MARK allocates memory without end (a forged header), CRASH_MARK dies."""
    name = Path(source.path).name
    if STUCK_MARK in name:
        Path(source.path + ".pid").write_text(str(os.getpid()))
        while True:
            time.sleep(1)
    if HOG_MARK in name:
        held = []
        while sum(len(b) for b in held) < HOG_MAX_BYTES:
            held.append(b"\x01" * HOG_STEP_BYTES)  # every page written: resident
            time.sleep(0.05)
        while True:
            time.sleep(1)
    return crashing_extract(source, job)
