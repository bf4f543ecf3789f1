"""avdetect command line: a thin typer layer over the library (avdetect.detector, avdetect.batch)."""

from __future__ import annotations

import enum
import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from . import __version__
from .checks.base import LipSyncMethod
from .cli_eval import register as register_eval_command
from .cli_help import FlagGroup
from .cli_options import (CLAIMED_HELP, DEVICE_HELP, LIP_SYNC_HELP, detector_or_exit, fail, max_duration_or_exit,
                          output_dir_or_exit, output_file_or_exit, settings_or_exit)
from .cli_serve import register as register_serve_commands
from .cli_train import register as register_train_commands
from .cli_voice import register as register_voice_commands

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, cls=FlagGroup,
                  help="Detect audio-visual deepfakes: lip-sync forgeries and synthetic voices.")


class Format(str, enum.Enum):
    json = "json"
    text = "text"


def _version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print the version and exit.")) -> None:
    """avdetect: is this recording manipulated, where, and why?"""


def _emit(reports: list[dict], fmt: Format, out: Optional[Path]) -> None:
    from .report import format_text

    if fmt == Format.json:
        text = "\n".join(json.dumps(r, ensure_ascii=False) for r in reports)
    else:
        text = "\n\n".join(format_text(r) for r in reports)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")
    else:
        typer.echo(text)


@app.command()
def scan(
    files: List[Path] = typer.Argument(..., help="Media files (video or audio)."),
    format: Format = typer.Option(Format.json, "--format", "-f", help="json: one object per line."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the reports here."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    max_duration: Optional[float] = typer.Option(None, "--max-duration", help="Analyse at most this many seconds."),
    html: Optional[Path] = typer.Option(None, "--html", help="Write an HTML report here (a folder for several files)."),
    pdf: Optional[Path] = typer.Option(None, "--pdf", help="Write a PDF evidence report here (a folder for several)."),
    claimed: Optional[str] = typer.Option(None, "--claimed", help=CLAIMED_HELP),
    lip_sync: LipSyncMethod = typer.Option(LipSyncMethod.learned, "--lip-sync", help=LIP_SYNC_HELP),
) -> None:
    """Scan recordings; print one JSON report per file (exit 1 if any file failed).

    Files of 10 s or more get a progress bar on stderr when it is a terminal."""
    from .cli_progress import scan_with_progress

    settings = settings_or_exit(device, lip_sync, claimed)
    max_duration_or_exit(max_duration)
    output_file_or_exit(out, "--out")  # before scanning: a long scan is not lost to a bad path
    (output_file_or_exit if len(files) == 1 else output_dir_or_exit)(html, "--html")
    (output_file_or_exit if len(files) == 1 else output_dir_or_exit)(pdf, "--pdf")
    detector = detector_or_exit(settings)
    reports = []
    for f in files:
        r = scan_with_progress(detector, f, claimed, max_duration).to_dict()
        if r["verdict"] == "error":
            typer.echo(f"error: {r['error']}", err=True)
        reports.append(r)
        if html is not None:
            from .report.html import html_name, write_html

            write_html(r, html if len(files) == 1 else html / html_name(r), media_path=f)
        if pdf is not None:
            from .report.html import html_name
            from .report.pdf import write_pdf

            write_pdf(r, pdf if len(files) == 1 else pdf / Path(html_name(r)).with_suffix(".pdf"), media_path=f)
    _emit(reports, format, out)
    if any(r["verdict"] == "error" for r in reports):
        raise typer.Exit(1)


@app.command()
def batch(
    inputs: List[Path] = typer.Argument(..., help="Files, folders (recursive) or .txt/.lst files listing paths."),
    out: Path = typer.Option(..., "--out", "-o", help="JSONL of reports; appended to, and read to resume."),
    csv: Optional[Path] = typer.Option(None, "--csv", help="Write a one-row-per-file CSV summary here."),
    html_dir: Optional[Path] = typer.Option(None, "--html-dir", help="Write an HTML page per file + index.html."),
    workers: int = typer.Option(0, "--workers", "-j", help="Feature-extraction processes (0: one per CPU core)."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP + " (for the models)"),
    batch_size: int = typer.Option(8, "--batch-size", help="Clips per model call."),
    engine: str = typer.Option("local", "--engine", help="local | ray"),
    force: bool = typer.Option(False, "--force", help="Redo files that are already in --out."),
    max_duration: Optional[float] = typer.Option(None, "--max-duration", help="Analyse at most this many seconds."),
    claimed: Optional[str] = typer.Option(None, "--claimed", help=CLAIMED_HELP),
    lip_sync: LipSyncMethod = typer.Option(LipSyncMethod.learned, "--lip-sync", help=LIP_SYNC_HELP),
    file_timeout: Optional[float] = typer.Option(None, "--file-timeout", help="Seconds a file may take before "
                                                 "its worker is replaced and it gets an error record (default: "
                                                 "max(60, 5 x its duration))."),
    worker_memory: Optional[float] = typer.Option(None, "--worker-memory", help="GiB of memory per worker before "
                                                  "it is replaced and its file gets an error record (default: 3/4 "
                                                  "of the machine's memory shared by the workers; 0: no limit)."),
) -> None:
    """Audit many recordings: resumable JSONL, counts by verdict at the end (exit 1 if any file failed)."""
    import os

    from .batch.inputs import InputError, expand_inputs
    from .batch.run import BatchOptions, Engine, format_counts, format_failures, run_batch
    from .batch.stages import Limits, ScanJob
    from .models.store import ModelFileError

    settings = settings_or_exit(device, lip_sync, claimed)
    max_duration_or_exit(max_duration)
    output_file_or_exit(out, "--out")
    output_file_or_exit(csv, "--csv")
    output_dir_or_exit(html_dir, "--html-dir")
    try:
        job = ScanJob(settings, claimed, max_duration)
        opts = BatchOptions(job, Engine(engine), workers or os.cpu_count() or 1, batch_size, force, html_dir, csv)
        assert opts.workers >= 1 and opts.batch_size >= 1, "--workers and --batch-size must be positive"
        assert (file_timeout or 0) >= 0 and (worker_memory or 0) >= 0, "--file-timeout and --worker-memory must be >= 0"
        opts.limits = Limits(file_timeout, None if worker_memory is None else int(worker_memory * 2**30))
    except (ValueError, AssertionError) as e:
        fail(str(e))
    try:
        sources = expand_inputs(inputs)
    except InputError as e:
        fail(str(e))
    try:
        summary = run_batch(sources, out, opts)
    except ModelFileError as e:
        fail(f"cannot load the models: {e}")
    typer.echo(format_counts(summary), err=True)
    for line in format_failures(summary):  # the failed files, after the progress bar
        typer.echo(line, err=True)
    if summary.failed:
        raise typer.Exit(1)


@app.command()
def demo(
    out_dir: Path = typer.Option(Path("avdetect-demo"), "--out-dir", help="Where to write the demo clips."),
    format: Format = typer.Option(Format.text, "--format", "-f"),
) -> None:
    """Make an in-sync and an out-of-sync talking-face clip from built-in material and scan both.

    The clips are an animated photo with a synthetic voice, so the demo uses the interpretable
    training-free lip-sync check; the learned model (trained on real faces) is for real footage.
    """
    from .synth import make_demo_clips

    output_dir_or_exit(out_dir, "--out-dir")
    detector = detector_or_exit(settings_or_exit("cpu", LipSyncMethod.correlation))
    clips = make_demo_clips(out_dir)
    typer.echo(f"demo clips in {out_dir}/ (an animated photo + synthetic voice; lip sync by the "
               "training-free correlation check)", err=True)
    _emit([r.to_dict() for r in detector.scan_many(clips)], format, None)


register_voice_commands(app)
register_eval_command(app)
register_train_commands(app)
register_serve_commands(app)


def run() -> None:  # pragma: no cover - console entry for `python -m avdetect`
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
