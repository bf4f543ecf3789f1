"""`avdetect eval MANIFEST`: ROC AUC / EER per kind and channel, through the scan pipeline.

The main CLI calls register(app). Reports are kept in a resumable JSONL (--reports), so a long
evaluation that is stopped picks up where it was.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import List, Optional

import typer

from .checks.base import LipSyncMethod
from .cli_options import DEVICE_HELP, LIP_SYNC_HELP, fail, output_file_or_exit, settings_or_exit
from .evaluate import eval_target, evaluate, format_table, read_manifest, rows_to_json
from .io import MediaError


def eval_cmd(
    manifest: Path = typer.Argument(..., help="CSV with path,label[,kind,channel,offset_ms] (see docs)."),
    check: str = typer.Option(..., "--check", help="The check whose score is evaluated: lip_sync, "
                              "synthetic_speech, speaker (any check in the report) or overall (the fused score)."),
    where: List[str] = typer.Option([], "--where", help="Keep rows with COLUMN=VALUE (repeatable)."),
    reports: Optional[Path] = typer.Option(None, "--reports", help="Keep the scan reports in this JSONL (resumable)."),
    workers: int = typer.Option(0, "--workers", "-j", help="Feature-extraction processes (0: one per CPU core)."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    lip_sync: str = typer.Option("learned", "--lip-sync", help=LIP_SYNC_HELP),
    format: str = typer.Option("text", "--format", "-f", help="text (a markdown table) | json"),
) -> None:
    """Evaluate one check on labelled recordings: ROC AUC and EER per kind of fake and per channel."""
    from .batch.inputs import Source
    from .batch.results import latest_by_source, read_records
    from .batch.run import BatchOptions, run_batch
    from .batch.stages import ScanJob

    try:
        filters = dict(_split(w) for w in where)
        clips = read_manifest(manifest, filters)
        check = eval_target(check)
        method = LipSyncMethod(lip_sync)
        assert format in ("text", "json"), "--format must be text or json"
    except (MediaError, ValueError, AssertionError) as e:
        fail(str(e))
    output_file_or_exit(reports, "--reports")
    job = ScanJob(settings_or_exit(device, method))
    with tempfile.TemporaryDirectory() as tmp:
        out = reports or Path(tmp) / "reports.jsonl"
        sources = [Source.of(p) for p in dict.fromkeys(c.path for c in clips)]
        run_batch(sources, out, BatchOptions(job, workers=workers or os.cpu_count() or 1))
        by_path = {r["source"]["path"]: r for r in latest_by_source(read_records(out)) if "source" in r}
    rows = evaluate(clips, by_path, check)
    failed = sum(1 for c in clips if by_path.get(c.path, {}).get("verdict", "error") == "error")
    if failed:
        typer.echo(f"{failed} of {len(clips)} files could not be analysed (error records)", err=True)
    if format == "json":
        typer.echo(json.dumps({"manifest": str(manifest), "check": check, "rows": rows_to_json(rows)}))
    else:
        typer.echo(format_table(rows, check))


def _split(expr: str) -> tuple[str, str]:
    col, sep, value = expr.partition("=")
    if not sep or not col:
        raise ValueError(f"--where wants COLUMN=VALUE, not {expr!r}")
    return col, value


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_cmd)
