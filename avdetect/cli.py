"""avdetect command line: a thin typer layer over avdetect.api."""

from __future__ import annotations

import enum
import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from . import __version__
from .cli_eval import register as register_eval_command
from .cli_train import register as register_train_commands
from .cli_voice import register as register_voice_commands

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Detect audio-visual deepfakes: lip-sync forgeries and synthetic voices.")


class Format(str, enum.Enum):
    json = "json"
    text = "text"


class LipSyncMethod(str, enum.Enum):
    learned = "learned"
    correlation = "correlation"


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


def _scan_options(device: str, max_duration: Optional[float], claimed: Optional[str],
                  lip_sync: "LipSyncMethod"):
    """Validate the shared options up front; a bad one is a one-line error and exit 2."""
    from .api import Device, ScanOptions, resolve_device
    from .io import MediaError
    from .voices import VoiceError, load

    try:
        try:
            dev = resolve_device(Device(device))
        except ValueError:
            raise MediaError(f"--device must be auto, cpu or cuda, not {device!r}") from None
        if claimed:
            load(claimed)  # unknown names fail here, not once per file
    except (MediaError, VoiceError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2)
    return ScanOptions(device=dev, max_duration_s=max_duration, claimed=claimed,
                       learned_sync=lip_sync == LipSyncMethod.learned)


LIP_SYNC_HELP = "learned: the sync transformer (default); correlation: the training-free check alone."
CLAIMED_HELP = "Check the voice against this enrolled person (see `avdetect enroll`)."


@app.command()
def scan(
    files: List[Path] = typer.Argument(..., help="Media files (video or audio)."),
    format: Format = typer.Option(Format.json, "--format", "-f", help="json: one object per line."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the reports here."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    max_duration: Optional[float] = typer.Option(None, "--max-duration", help="Analyse at most this many seconds."),
    html: Optional[Path] = typer.Option(None, "--html", help="Write an HTML report here (a folder for several files)."),
    claimed: Optional[str] = typer.Option(None, "--claimed", help=CLAIMED_HELP),
    lip_sync: LipSyncMethod = typer.Option(LipSyncMethod.learned, "--lip-sync", help=LIP_SYNC_HELP),
) -> None:
    """Scan recordings; print one JSON report per file (exit 1 if any file failed)."""
    from .api import scan as scan_file

    options = _scan_options(device, max_duration, claimed, lip_sync)
    reports = []
    for f in files:
        r = scan_file(f, options)
        if r["verdict"] == "error":
            typer.echo(f"error: {r['error']}", err=True)
        reports.append(r)
        if html is not None:
            from .report.html import html_name, write_html

            write_html(r, html if len(files) == 1 else html / html_name(r), media_path=f)
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
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda (for the models)"),
    batch_size: int = typer.Option(8, "--batch-size", help="Clips per model call."),
    engine: str = typer.Option("local", "--engine", help="local | ray"),
    force: bool = typer.Option(False, "--force", help="Redo files that are already in --out."),
    max_duration: Optional[float] = typer.Option(None, "--max-duration", help="Analyse at most this many seconds."),
    claimed: Optional[str] = typer.Option(None, "--claimed", help=CLAIMED_HELP),
    lip_sync: LipSyncMethod = typer.Option(LipSyncMethod.learned, "--lip-sync", help=LIP_SYNC_HELP),
) -> None:
    """Audit many recordings: resumable JSONL, counts by verdict at the end (exit 1 if any file failed)."""
    import os

    from .batch.inputs import expand_inputs
    from .batch.run import BatchOptions, Engine, format_counts, run_batch

    scan_options = _scan_options(device, max_duration, claimed, lip_sync)
    try:
        opts = BatchOptions(scan_options, Engine(engine), workers or os.cpu_count() or 1, batch_size, force,
                            html_dir, csv)
        assert opts.workers >= 1 and opts.batch_size >= 1, "--workers and --batch-size must be positive"
    except (ValueError, AssertionError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2)
    summary = run_batch(expand_inputs(inputs), out, opts)
    typer.echo(format_counts(summary), err=True)
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
    from .api import ScanOptions, scan as scan_file
    from .synth import make_demo_clips

    clips = make_demo_clips(out_dir)
    typer.echo(f"demo clips in {out_dir}/ (an animated photo + synthetic voice; lip sync by the "
               "training-free correlation check)", err=True)
    reports = [scan_file(p, ScanOptions(learned_sync=False)) for p in clips]
    _emit(reports, format, None)


register_voice_commands(app)
register_eval_command(app)
register_train_commands(app)


def run() -> None:  # pragma: no cover - console entry for `python -m avdetect`
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
