"""Ray engine: the same two stages on Ray Data, writing the same records.

    sources ─► map(ExtractStage)   CPU actors, one FaceMeshTracker each (decode, landmarks, audio)
            ─► map_batches(ModelStage)  one actor: the models, on the GPU when torch sees one
            ─► records, streamed back to the driver (written one by one, like the local engine)

Uses the running Ray cluster when ray.init() was called (or RAY_ADDRESS is set), else starts a
local one with the given number of CPUs. Features cross the object store pickled (bytes column).
The local engine's limits (--file-timeout, --worker-memory) are not applied here: Ray's memory
monitor kills tasks under memory pressure (then a retry, then an error record), and the processes
of a cluster that ray.init() started die with the driver (Ray's own PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import json
import os
import pickle
from typing import Any, Iterator

import numpy as np

from ..report import error_report
from .inputs import Source
from .local import ExtractFn
from .stages import Extracted, ScanJob, extract_one, init_worker, model_stage, record_for, worker_detector

EXTRACT_RETRIES = 1  # a file that kills its actor is tried once more, then reported as an error
RAY_TASK_FAILED = "processing failed in the Ray pipeline (worker crash or task error)"
MODEL_ACTOR_CPUS = 0.5  # the model actor mostly waits for batches; leave the cores to extraction


class ExtractStage:
    """Ray Data callable class: {source json} -> {pickled Extracted}. One tracker per actor."""

    def __init__(self, job: ScanJob, extract_fn: ExtractFn = extract_one) -> None:
        init_worker()
        self.job, self.extract_fn = job, extract_fn

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        src = Source.from_json(json.loads(row["source"]))
        return {"extracted": pickle.dumps(self.extract_fn(src, self.job), protocol=pickle.HIGHEST_PROTOCOL)}


class ModelStage:
    """Ray Data callable class: a batch of pickled Extracted -> a batch of JSON records.
    The actor builds its Detector once (device resolved by the driver; this actor holds the GPU)."""

    def __init__(self, job: ScanJob, batch_size: int) -> None:
        self.job, self.batch_size = job, batch_size
        self.detector = worker_detector(job.settings)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        items = [pickle.loads(b) for b in batch["extracted"]]
        records = [x if isinstance(x, dict) else None for x in items]
        todo = [i for i, x in enumerate(items) if isinstance(x, Extracted)]
        for i, r in zip(todo, model_stage([items[i] for i in todo], self.detector, self.job, self.batch_size)):
            records[i] = r
        assert all(r is not None for r in records)
        return {"record": np.array([json.dumps(r, ensure_ascii=False) for r in records], dtype=object)}


def _ensure_ray(workers: int):
    import ray

    if not ray.is_initialized():
        kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
        if not os.environ.get("RAY_ADDRESS"):
            kwargs["num_cpus"] = workers
        ray.init(**kwargs)
    return ray


def _gpus_for(job: ScanJob) -> float:
    """1 GPU for the model actor only when the models run on CUDA and torch sees a device."""
    if job.settings.device != "cuda":
        return 0.0
    import torch

    return 1.0 if torch.cuda.is_available() else 0.0


def iter_ray(sources: list[Source], job: ScanJob, workers: int = 2, batch_size: int = 8,
             extract_fn: ExtractFn = extract_one) -> Iterator[dict[str, Any]]:
    """Yield one record per source as the pipeline completes it (any order).

    A file whose extraction kills its actor twice (segfault, OOM) fails its block; Ray Data
    goes on (max_errored_blocks) and the file gets an error record at the end.
    """
    if not sources:
        return
    seen: set[str] = set()
    for record in _run_pipeline(sources, job, workers, batch_size, extract_fn):
        seen.add(record["source"]["path"])
        yield record
    for src in sources:
        if src.path not in seen:
            yield record_for(src, error_report(src.path, f"{src.path}: {RAY_TASK_FAILED}"))


def _run_pipeline(sources: list[Source], job: ScanJob, workers: int, batch_size: int,
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
    ds = ds.map(ExtractStage, fn_constructor_args=(job, extract_fn), num_cpus=1,
                compute=pool(size=n_extract, max_tasks_in_flight_per_actor=1), max_task_retries=EXTRACT_RETRIES)
    ds = ds.map_batches(ModelStage, fn_constructor_args=(job, batch_size), batch_size=batch_size,
                        compute=pool(size=1), num_cpus=MODEL_ACTOR_CPUS, num_gpus=_gpus_for(job),
                        batch_format="numpy")
    for row in ds.iter_rows():
        yield json.loads(row["record"])
