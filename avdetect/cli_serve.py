"""`avdetect serve` (the HTTP service); register(app) adds it and `avdetect listen` (cli_listen) to
the main CLI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from .checks.base import LipSyncMethod
from .cli_options import DEVICE_HELP, LIP_SYNC_HELP, fail, settings_or_exit

API_KEY_ENV = "AVDETECT_API_KEY"


def serve_cmd(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; anything but localhost needs "
                                                          f"${API_KEY_ENV}."),
    port: int = typer.Option(8000, "--port"),
    workers: int = typer.Option(1, "--workers", "-j", help="Scan workers (each loads the models once)."),
    queue_size: int = typer.Option(16, "--queue-size", help="Jobs waiting beyond the busy workers; more -> 429."),
    max_upload_mb: float = typer.Option(500.0, "--max-upload-mb", help="Largest upload per request (MB)."),
    max_duration: float = typer.Option(600.0, "--max-duration", help="Longest recording accepted (s)."),
    root: Optional[Path] = typer.Option(None, "--root", help="Folder whose files JSON requests may name "
                                                             "({\"path\": ...}); none: uploads only."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="SQLite job store and uploads in flight "
                                                                     "(default $AVDETECT_HOME/service)."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    lip_sync: LipSyncMethod = typer.Option(LipSyncMethod.learned, "--lip-sync", help=LIP_SYNC_HELP),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level"),
) -> None:
    """Run the HTTP service (OpenAPI page at /docs). Models load once per worker at start."""
    from .service.app import LOCAL_HOSTS, ServiceConfig, create_app
    from .service.jobs import default_data_dir

    api_key = os.environ.get(API_KEY_ENV) or None
    if host not in LOCAL_HOSTS and api_key is None:
        fail(f"binding to {host} needs an API key: set {API_KEY_ENV} (only localhost may run without one)")
    if workers < 1 or queue_size < 1 or max_upload_mb <= 0 or max_duration <= 0:
        fail("--workers, --queue-size, --max-upload-mb and --max-duration must be positive")
    if root is not None and not root.is_dir():
        fail(f"--root {root}: not a folder")
    settings = settings_or_exit(device, lip_sync)
    cfg = ServiceConfig(settings, data_dir or default_data_dir(), workers, queue_size, int(max_upload_mb * 1e6),
                        max_duration, root, api_key)
    import uvicorn

    try:
        uvicorn.run(create_app(cfg), host=host, port=port, log_level=log_level, timeout_keep_alive=30)
    except Exception as e:  # noqa: BLE001 - e.g. missing weights at start: one line
        fail(f"cannot start the service: {e}")


def register(app: typer.Typer) -> None:
    """Add `serve` and `listen` to the main avdetect app."""
    from .cli_listen import listen_cmd

    app.command("serve")(serve_cmd)
    app.command("listen")(listen_cmd)
