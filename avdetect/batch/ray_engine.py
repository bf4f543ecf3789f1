"""Ray engine: the same two stages on Ray Data, writing the same records.

    sources ─► map(ExtractStage)   CPU actors, one FaceMeshTracker each (decode, landmarks, audio)
            ─► map_batches(ModelStage)  one actor: the models, on the GPU when torch sees one
            ─► records, streamed back to the driver (written one by one, like the local engine)

Uses the running Ray cluster when ray.init() was called (or RAY_ADDRESS is set), else starts a
local one with the given number of CPUs. Features cross the object store pickled (bytes column).
"""

from __future__ import annotations

import json
import os
import pickle
from typing import Any, Iterator

import numpy as np

from ..api import ScanOptions
from .inputs import Source
from .stages import extract_one, init_worker, model_stage

MODEL_ACTOR_CPUS = 0.5  # the model actor mostly waits for batches; leave the cores to extraction


class ExtractStage:
    """Ray Data callable class: {source json} -> {pickled Extracted}. One tracker per actor."""

    def __init__(self, options: ScanOptions) -> None:
        init_worker()
        self.options = options

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        src = Source.from_json(json.loads(row["source"]))
        return {"extracted": pickle.dumps(extract_one(src, self.options), protocol=pickle.HIGHEST_PROTOCOL)}


class ModelStage:
    """Ray Data callable class: a batch of pickled Extracted -> a batch of JSON records."""

    def __init__(self, options: ScanOptions, batch_size: int) -> None:
        self.options = options  # device already resolved by the driver; this actor holds the GPU
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        items = [pickle.loads(b) for b in batch["extracted"]]
        records = model_stage(items, self.options, self.batch_size)
        assert len(records) == len(items)
        return {"record": np.array([json.dumps(r, ensure_ascii=False) for r in records], dtype=object)}


def _ensure_ray(workers: int):
    import ray

    if not ray.is_initialized():
        kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
        if not os.environ.get("RAY_ADDRESS"):
            kwargs["num_cpus"] = workers
        ray.init(**kwargs)
    return ray


def _gpus_for(options: ScanOptions) -> float:
    """1 GPU for the model actor only when the models run on CUDA and torch sees a device."""
    if options.device != "cuda":
        return 0.0
    import torch

    return 1.0 if torch.cuda.is_available() else 0.0


def iter_ray(sources: list[Source], options: ScanOptions, workers: int = 2,
             batch_size: int = 8) -> Iterator[dict[str, Any]]:
    """Yield one record per source as the pipeline completes it (any order)."""
    if not sources:
        return
    ray = _ensure_ray(workers)
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = False
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    n_extract = max(1, min(workers, len(sources), int(ray.cluster_resources().get("CPU", workers))))
    ds = ray.data.from_items([{"source": json.dumps(s.to_json())} for s in sources],
                             override_num_blocks=len(sources))
    pool = ray.data.ActorPoolStrategy
    ds = ds.map(ExtractStage, fn_constructor_args=(options,), compute=pool(size=n_extract), num_cpus=1)
    ds = ds.map_batches(ModelStage, fn_constructor_args=(options, batch_size), batch_size=batch_size,
                        compute=pool(size=1), num_cpus=MODEL_ACTOR_CPUS, num_gpus=_gpus_for(options),
                        batch_format="numpy")
    for row in ds.iter_rows():
        yield json.loads(row["record"])
