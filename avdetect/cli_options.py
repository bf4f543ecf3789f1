"""Options and checks shared by the CLI commands (scan, batch, eval): one-line errors, exit 2."""

from __future__ import annotations

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
