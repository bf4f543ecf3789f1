"""The one way model weights are saved and loaded: <stem>.safetensors + <stem>.json.

Every model's JSON has the same schema:

    {"kind": "avdetect.sync",          # which network (a loader accepts only its own)
     "version": 2,                     # the architecture/preprocessing version of that kind
     "config": {...},                  # the config dataclass, as a dict
     "sha256": "7ec1...",              # hex sha256 of the weights file's bytes
     "calibration": {...} or {},       # score calibration (e.g. Platt scale and bias)
     "weights": "sync.safetensors",    # the weights file, next to the JSON
     ...}                              # free-form metadata ("training", "init_from", ...): not checked

Shipped weights are package data in avdetect/models/weights/; $AVDETECT_MODEL_DIR overrides
the folder. Anything wrong with a model file raises ModelFileError with a one-line message.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

MODEL_DIR_ENV = "AVDETECT_MODEL_DIR"
PACKAGE_MODEL_DIR = Path(__file__).resolve().parent / "weights"  # shipped as package data
SCHEMA_KEYS = ("kind", "version", "config", "sha256", "calibration", "weights")
WEIGHTS_SUFFIX = ".safetensors"
HASH_CHUNK = 1 << 20  # bytes read at a time when hashing a file

C = TypeVar("C")
M = TypeVar("M", bound=nn.Module)


class ModelFileError(Exception):
    """A model file that is missing, corrupt, or does not match this code (kind, version, shapes).
    str() is one line naming the file and what is wrong."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


@dataclasses.dataclass(frozen=True)
class ModelMeta:
    """A model's JSON, checked against the schema. extra: the free-form keys (not checked)."""

    path: Path  # the JSON file
    kind: str
    version: int
    config: dict
    sha256: str
    calibration: dict
    weights: str
    extra: dict

    @property
    def weights_path(self) -> Path:
        return self.path.parent / self.weights


def model_dir() -> Path:
    """The folder shipped weights are read from: $AVDETECT_MODEL_DIR, else the package data
    folder avdetect/models/weights/."""
    return Path(os.environ.get(MODEL_DIR_ENV) or PACKAGE_MODEL_DIR)


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of `data` (64 characters)."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of the file's bytes (64 characters), read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(HASH_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def json_path(stem: str | os.PathLike) -> Path:
    """<stem>.json (a stem may be given with or without the .json suffix)."""
    stem = Path(stem)
    return stem if stem.suffix == ".json" else stem.with_name(stem.name + ".json")


def save(stem: str | os.PathLike, kind: str, version: int, config: dict, state: dict[str, torch.Tensor],
         calibration: dict | None = None, **meta: Any) -> Path:
    """Write <stem>.safetensors (the tensors, moved to the CPU) and <stem>.json (the schema
    above, then `meta`'s keys). Returns the JSON path."""
    from safetensors.torch import save_file

    clash = set(meta) & set(SCHEMA_KEYS)
    assert not clash, f"metadata keys {sorted(clash)} are schema keys"
    js = json_path(stem)
    weights = js.with_suffix(WEIGHTS_SUFFIX)
    js.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(weights))
    doc = {"kind": kind, "version": int(version), "config": config, "sha256": sha256_file(weights),
           "calibration": dict(calibration or {}), "weights": weights.name, **meta}
    js.write_text(json.dumps(doc, indent=2) + "\n")
    return js


def read_meta(stem: str | os.PathLike, kind: str, versions: tuple[int, ...]) -> ModelMeta:
    """<stem>.json, checked: present, valid JSON with the schema's keys, this kind, one of
    `versions`. Does not read the weights. Raises ModelFileError."""
    js = json_path(stem)
    if not js.is_file():
        raise ModelFileError(f"{js}: model file missing")
    try:
        doc = json.loads(js.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFileError(f"{js}: not readable JSON ({e})") from None
    if not isinstance(doc, dict):
        raise ModelFileError(f"{js}: not a model file (a JSON object is needed)")
    if doc.get("kind") != kind or doc.get("version") not in versions:
        raise ModelFileError(f"{js}: kind/version {doc.get('kind')}/{doc.get('version')}, "
                             f"this avdetect reads {kind} version {'/'.join(map(str, versions))}")
    missing = [k for k in SCHEMA_KEYS if k not in doc]
    if missing:
        raise ModelFileError(f"{js}: missing {', '.join(missing)} (not in the model file schema)")
    return ModelMeta(js, doc["kind"], doc["version"], dict(doc["config"]), str(doc["sha256"]),
                     dict(doc["calibration"] or {}), str(doc["weights"]),
                     {k: v for k, v in doc.items() if k not in SCHEMA_KEYS})


def check_sha256(meta: ModelMeta, digest: str, what: str | os.PathLike) -> None:
    """Raise ModelFileError unless `digest` (hex sha256 of `what`) is the one meta records."""
    if digest != meta.sha256:
        raise ModelFileError(f"{what}: sha256 does not match {meta.path.name} (corrupt or replaced)")


def load(stem: str | os.PathLike, kind: str, versions: tuple[int, ...]) -> tuple[ModelMeta, dict[str, torch.Tensor]]:
    """<stem>.json + its weights file, verified (read_meta's checks, the weights present and their
    sha256). Returns (meta, state dict of CPU tensors). Raises ModelFileError."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    meta = read_meta(stem, kind, versions)
    weights = meta.weights_path
    if not weights.is_file():
        raise ModelFileError(f"{weights}: weights file missing (named by {meta.path.name})")
    check_sha256(meta, sha256_file(weights), weights)
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as e:
        raise ModelFileError(f"{weights}: not a safetensors file ({e})") from None
    return meta, state


def config_from(cls: type[C], meta: ModelMeta) -> C:
    """cls(**meta.config) with JSON lists turned back into tuples. Raises ModelFileError when the
    config has keys or values this code does not accept."""
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in meta.config.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError, AssertionError) as e:
        raise ModelFileError(f"{meta.path}: config does not fit {cls.__name__} ({e})") from None


def load_weights(model: M, state: dict[str, torch.Tensor], meta: ModelMeta) -> M:
    """model with `state` loaded (strict). Returns the model. Raises ModelFileError when the
    weights do not fit the config (missing, unexpected or mis-shaped tensors)."""
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        first = next((line.strip() for line in str(e).splitlines()[1:] if line.strip()), str(e))
        raise ModelFileError(f"{meta.weights_path}: weights do not fit the config in {meta.path.name} "
                             f"({first})") from None
    return model


def shipped_models(folder: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """{"name", "kind", "version", "sha256"} of every model JSON in folder (None: model_dir()),
    sorted by name; for the evidence report. Unreadable files are listed with kind "unreadable"."""
    out = []
    for js in sorted(Path(folder or model_dir()).glob("*.json")):
        try:
            doc = json.loads(js.read_text())
            out.append({"name": js.stem, "kind": str(doc.get("kind")), "version": doc.get("version"),
                        "sha256": str(doc.get("sha256"))})
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            out.append({"name": js.stem, "kind": "unreadable", "version": None, "sha256": ""})
    return out
