"""The report contract as a JSON Schema (report.schema.json, shipped as package data)."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

SCHEMA_FILE = "report.schema.json"


@functools.lru_cache(maxsize=1)
def report_schema() -> dict[str, Any]:
    """The JSON Schema every report (and batch record) follows; docs/report.md explains it."""
    return json.loads(resources.files("avdetect.report").joinpath(SCHEMA_FILE).read_text(encoding="utf-8"))
