"""Voice commands for the avdetect CLI: `enroll NAME FILE...`, `voices list`, `voices remove NAME`.

The main CLI calls register(app). Errors print one line to stderr and exit with status 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import typer

from . import voices
from .io import MediaError, load_audio

voices_app = typer.Typer(help="Manage enrolled voiceprints (stored under $AVDETECT_HOME/voices).",
                         no_args_is_help=True)


def _fail(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(1)


def enroll_cmd(name: str = typer.Argument(..., help="Name of the person (letters, digits, _ - .)"),
               files: List[Path] = typer.Argument(..., help="Recordings of this person only (>= 5 s of speech)"),
               device: str = typer.Option("cpu", help="torch device for the voice encoder")) -> None:
    """Enroll a voiceprint from one or more recordings of one person."""
    from .detector import resolve_device

    clips = []
    try:
        device = resolve_device(device)
        voices.ready_to_enroll(name)
        for f in files:
            clip = load_audio(f)
            if clip is None:
                _fail(f"{f}: has no audio stream")
            clips.append(clip)
        profile = voices.enroll(name, clips, device=device)
    except (MediaError, voices.VoiceError) as e:
        _fail(str(e))
    typer.echo(f"enrolled {profile.name}: {profile.speech_s:.1f} s of speech from {profile.n_clips} "
               f"recording(s) -> {profile.path}")


@voices_app.command("list")
def list_cmd() -> None:
    """List enrolled voices."""
    try:
        found, skipped = voices.list_store()
    except voices.VoiceError as e:
        _fail(str(e))
    for line in skipped:
        typer.echo(f"warning: {line}", err=True)
    if not found:
        typer.echo(f"no voices enrolled in {voices.voices_dir()}")
    for p in found:
        typer.echo(f"{p.name}\t{p.speech_s:.1f} s speech\t{p.n_clips} clip(s)\t{p.created}")


@voices_app.command("remove")
def remove_cmd(name: str = typer.Argument(..., help="Enrolled voice to delete")) -> None:
    """Delete an enrolled voice."""
    try:
        voices.remove(name)
    except voices.VoiceError as e:
        _fail(str(e))
    typer.echo(f"removed {name}")


def register(app: typer.Typer) -> None:
    """Add `enroll` and the `voices` sub-commands to the main avdetect app."""
    app.command("enroll")(enroll_cmd)
    app.add_typer(voices_app, name="voices")


def main() -> None:  # standalone entry point until the main CLI calls register()
    app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
    register(app)
    app()


if __name__ == "__main__":
    main()
