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
from .local import ExtractFn
from .stages import extract_one, init_worker, model_stage, record_for

EXTRACT_RETRIES = 1  # a file that kills its actor is tried once more, then reported as an error
RAY_TASK_FAILED = "processing failed in the Ray pipeline (worker crash or task error)"
MODEL_ACTOR_CPUS = 0.5  # the model actor mostly waits for batches; leave the cores to extraction


class ExtractStage:
    """Ray Data callable class: {source json} -> {pickled Extracted}. One tracker per actor."""

    def __init__(self, options: ScanOptions, extract_fn: ExtractFn = extract_one) -> None:
        init_worker()
        self.options, self.extract_fn = options, extract_fn

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        src = Source.from_json(json.loads(row["source"]))
        return {"extracted": pickle.dumps(self.extract_fn(src, self.options), protocol=pickle.HIGHEST_PROTOCOL)}


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


def iter_ray(sources: list[Source], options: ScanOptions, workers: int = 2, batch_size: int = 8,
             extract_fn: ExtractFn = extract_one) -> Iterator[dict[str, Any]]:
    """Yield one record per source as the pipeline completes it (any order).

    A file whose extraction kills its actor twice (segfault, OOM) fails its block; Ray Data
    goes on (max_errored_blocks) and the file gets an error record at the end.
    """
    if not sources:
        return
    seen: set[str] = set()
    for record in _run_pipeline(sources, options, workers, batch_size, extract_fn):
        seen.add(record["source"]["path"])
        yield record
    for src in sources:
        if src.path not in seen:
            yield record_for(src, None, None, f"{src.path}: {RAY_TASK_FAILED}")


def _run_pipeline(sources: list[Source], options: ScanOptions, workers: int, batch_size: int,
                  extract_fn: ExtractFn) -> Iterator[dict[str, Any]]:
    ray = _ensure_ray(workers)
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = False
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.max_errored_blocks = len(sources)  # one file per block: a failing file does not end the batch
    n_extract = max(1, min(workers, len(sources), int(ray.cluster_resources().get("CPU", workers))))
    ds = ray.data.from_items([{"source": json.dumps(s.to_json())} for s in sources],
                             override_num_blocks=len(sources))
    pool = ray.data.ActorPoolStrategy
    # one file at a time per actor: an actor that dies takes only its own file with it
    ds = ds.map(ExtractStage, fn_constructor_args=(options, extract_fn), num_cpus=1,
                compute=pool(size=n_extract, max_tasks_in_flight_per_actor=1), max_task_retries=EXTRACT_RETRIES)
    ds = ds.map_batches(ModelStage, fn_constructor_args=(options, batch_size), batch_size=batch_size,
                        compute=pool(size=1), num_cpus=MODEL_ACTOR_CPUS, num_gpus=_gpus_for(options),
                        batch_format="numpy")
    for row in ds.iter_rows():
        yield json.loads(row["record"])
