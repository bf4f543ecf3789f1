"""Options and checks shared by the CLI commands (scan, batch, eval): one-line errors, exit 2."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import NoReturn

import typer

from .checks.base import LipSyncMethod, Settings

LIP_SYNC_HELP = "learned: the sync transformer (default); correlation: the training-free check alone."
CLAIMED_HELP = "Check the voice against this enrolled person (see `avdetect enroll`)."
DEVICE_HELP = "auto | cpu | cuda"


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def settings_or_exit(device: str, lip_sync: LipSyncMethod | str, claimed: str | None = None) -> Settings:
    """Validated Settings for a Detector (device resolved, claimed voice enrolled), else exit 2."""
    from .detector import settings_for
    from .io import MediaError
    from .voices import VoiceError, load

    try:
        settings = settings_for(device, lip_sync)
        if claimed:
            load(claimed)  # unknown names fail here, not once per file
    except (MediaError, VoiceError, ValueError) as e:
        fail(str(e))
    return settings


def detector_or_exit(settings: Settings):
    """The Detector with its models loaded, else one line (missing or corrupt weights) and exit 2."""
    from .detector import Detector

    try:
        return Detector(settings)
    except Exception as e:  # noqa: BLE001 - the CLI shows one line, never a traceback
        fail(f"cannot load the models: {e}")


def max_duration_or_exit(seconds: float | None) -> None:
    """Exit 2 unless --max-duration is absent or a positive, finite number of seconds."""
    if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
        fail(f"--max-duration must be a positive number of seconds, not {seconds}")


def output_file_or_exit(path: Path | None, option: str) -> None:
    """Exit 2 with one line unless a file can be written at `path` (checked before any scanning,
    so a long run is not lost at the end). Missing parent folders are created, as the writers do."""
    if path is None:
        return
    problem = _file_problem(Path(path))
    if problem:
        fail(f"{option} {path}: {problem}")


def output_dir_or_exit(path: Path | None, option: str) -> None:
    """Exit 2 with one line unless `path` is (or can be made) a folder we can write files in."""
    if path is None:
        return
    path = Path(path)
    try:
        if path.exists() and not path.is_dir():
            fail(f"{option} {path}: is a file, not a folder")
        blocked = _blocking_file(path)
        if blocked is not None:
            fail(f"{option} {path}: {blocked} is a file, not a folder")
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as e:
        fail(f"{option} {path}: cannot write there ({e.strerror or e})")


def _file_problem(path: Path) -> str | None:
    """Why no file can be written at path, None when one can (an existing file is left as it is)."""
    try:
        if path.is_dir():
            return "is a folder; give a file name"
        blocked = _blocking_file(path.parent)
        if blocked is not None:
            return f"{blocked} is a file, not a folder"
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            open(path, "ab").close()
        else:
            open(path, "xb").close()
            os.unlink(path)
    except OSError as e:
        return f"cannot write there ({e.strerror or e})"
    return None


def _blocking_file(folder: Path) -> Path | None:
    """The first existing ancestor of folder (itself included) when it is not a folder."""
    for p in (folder, *folder.parents):
        if p.exists():
            return None if p.is_dir() else p
    return None
