"""`avdetect train sync|spoof`: train the shipped models from their cached corpora.

The corpora come from scripts/build_sync_corpus.py + build_tts_bank.py and
scripts/build_spoof_corpus.py (they read ../shared/data). The main CLI calls register(app).
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Optional

import typer


class Features(str, enum.Enum):  # mirrors models.spoof.Features without importing torch at CLI start
    logmel = "logmel"
    logspec = "logspec"


class AudioFrontend(str, enum.Enum):  # mirrors models.sync.AudioFrontend, same reason
    logmel = "logmel"
    whisper = "whisper"

train_app = typer.Typer(help="Train the lip-sync or the synthetic-speech model (CPU; CUDA when present).",
                        no_args_is_help=True)


def _missing(path: Path, how: str) -> None:
    if not path.exists():
        typer.echo(f"error: {path} not found (build it first: {how})", err=True)
        raise typer.Exit(2)


@train_app.command("sync")
def train_sync_cmd(
    cache: Path = typer.Option(Path("cache/sync"), help="Feature cache of scripts/build_sync_corpus.py."),
    tts_bank: Path = typer.Option(Path("cache/tts/bank.npz"), help="TTS negatives (scripts/build_tts_bank.py)."),
    out: Path = typer.Option(Path("runs/sync/best"), help="Writes OUT.safetensors + OUT.json (best validation)."),
    log_dir: Path = typer.Option(Path("runs/sync"), help="Training curves (CSV)."),
    steps: int = typer.Option(3000),
    max_minutes: float = typer.Option(25.0, help="Stop when the wall clock says so."),
    lr: float = typer.Option(2e-3),
    seed: int = typer.Option(0),
    device: str = typer.Option("cpu", help="cpu | cuda | cuda:N"),
    init_from: Optional[str] = typer.Option(None, help="Continue from these weights (path stem)."),
    mirror_p: float = typer.Option(0.0, help="Share of training windows with mirrored lips."),
    kind_probs: Optional[str] = typer.Option(None, help="positive,offset,dub_same,dub_other,tts shares."),
    hard_dub_k: int = typer.Option(1, help="Dubbed negatives: best lips/loudness match of this many donors."),
    audio_frontend: Optional[AudioFrontend] = typer.Option(
        None, help="Audio features (default: INIT_FROM's, else logmel); whisper is the frozen Whisper-base encoder."),
) -> None:
    """Train the cross-modal lip-sync transformer (fixed seeds; logged curves; best checkpoint)."""
    from .training.sync import TrainConfig, train

    _missing(cache, "python scripts/build_sync_corpus.py")
    _missing(tts_bank, "python scripts/build_tts_bank.py")
    best = train(TrainConfig(cache_dir=str(cache), tts_bank=str(tts_bank), out=str(out), log_dir=str(log_dir),
                             steps=steps, max_minutes=max_minutes, lr=lr, seed=seed, device=device,
                             init_from=init_from, mirror_p=mirror_p, kind_probs=kind_probs,
                             hard_dub_k=hard_dub_k, audio_frontend=audio_frontend.value if audio_frontend else None))
    typer.echo(json.dumps(best, indent=2))


@train_app.command("spoof")
def train_spoof_cmd(
    corpus: Path = typer.Option(Path("cache/spoof"), help="Corpus of scripts/build_spoof_corpus.py."),
    out: Path = typer.Option(Path("runs/spoof"), help="Writes OUT/spoof.safetensors + OUT/spoof.json."),
    steps: int = typer.Option(1600),
    seed: int = typer.Option(0),
    features: Features = typer.Option(Features.logspec),
) -> None:
    """Train the synthetic-speech detector without the held-out generators."""
    from .training.train_spoof import train_and_save

    _missing(corpus / "index.jsonl", "python scripts/build_spoof_corpus.py")
    record = train_and_save(corpus, out, steps, seed, features.value, log=lambda m: typer.echo(m, err=True))
    typer.echo(json.dumps(record))


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
