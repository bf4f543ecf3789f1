"""Batch auditing: many files -> one JSONL of reports (resumable), CSV summary, HTML pages.

inputs.py   expand files / folders / list files into media paths, with their source keys
results.py  append-only JSONL (flushed + fsync'd per file), resume keys, CSV summary
stages.py   the two pipeline stages: extract (CPU workers) and run_checks_batch (models)
local.py    local engine: spawn-safe worker processes + the model stage in the main process
ray_engine.py  the same stages on Ray Data
"""
