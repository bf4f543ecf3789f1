"""Neural networks and their config dataclasses (models receive tensors, never paths)."""

import os
from pathlib import Path

SHIPPED_DIR = Path(__file__).resolve().parents[2] / "models"  # the checkout's models/ folder
MODEL_DIR_ENV = "AVDETECT_MODEL_DIR"


def models_dir() -> Path:
    """Where shipped weights are read from: $AVDETECT_MODEL_DIR, else the checkout's models/."""
    return Path(os.environ.get(MODEL_DIR_ENV, SHIPPED_DIR))
