"""avdetect.models.store: the one save/load of model weights, and the shipped package data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

import avdetect
from avdetect.models import store
from avdetect.models.store import ModelFileError

KIND = "test.tiny"


def tiny_net(width: int = 3) -> nn.Module:
    return nn.Sequential(nn.Linear(4, width), nn.ReLU(), nn.Linear(width, 1))


@pytest.fixture
def saved(tmp_path):
    """A tiny random model saved as tmp_path/tiny.{safetensors,json} -> (model, stem)."""
    torch.manual_seed(0)
    model = tiny_net()
    stem = tmp_path / "tiny"
    store.save(stem, KIND, 2, {"width": 3}, model.state_dict(), {"scale": 0.5, "bias": -1.0},
               training={"steps": 7})
    return model, stem


def one_line_error(fn, match: str) -> str:
    with pytest.raises(ModelFileError, match=match) as info:
        fn()
    msg = str(info.value)
    assert msg and "\n" not in msg, msg
    return msg


def test_round_trip_keeps_weights_schema_and_metadata(saved):
    model, stem = saved
    meta, state = store.load(stem, KIND, (1, 2))
    again = store.load_weights(tiny_net(meta.config["width"]), state, meta)
    x = torch.randn(5, 4)
    assert torch.equal(model(x), again(x))
    doc = json.loads(stem.with_suffix(".json").read_text())
    assert list(doc)[:6] == list(store.SCHEMA_KEYS) and doc["weights"] == "tiny.safetensors"
    assert doc["sha256"] == store.sha256_file(stem.with_suffix(".safetensors"))
    assert (meta.kind, meta.version, meta.calibration) == (KIND, 2, {"scale": 0.5, "bias": -1.0})
    assert meta.extra == {"training": {"steps": 7}}  # free-form keys travel, unchecked


def test_sha256_helpers_agree():
    data = b"avdetect" * 1000
    assert store.sha256_bytes(data) == store.sha256_bytes(bytearray(data)) != store.sha256_bytes(data[:-1])
    assert len(store.sha256_bytes(b"")) == 64


def test_sha256_file_matches_bytes(tmp_path):
    p = tmp_path / "blob"
    p.write_bytes(bytes(range(256)) * 5000)  # > one hashing chunk
    assert store.sha256_file(p) == store.sha256_bytes(p.read_bytes())


def test_changed_weights_fail_the_sha256(saved):
    _, stem = saved
    w = stem.with_suffix(".safetensors")
    w.write_bytes(w.read_bytes()[:-1] + b"\0")
    msg = one_line_error(lambda: store.load(stem, KIND, (2,)), "sha256")
    assert "tiny.safetensors" in msg


def test_wrong_kind_or_version_is_refused(saved):
    _, stem = saved
    one_line_error(lambda: store.load(stem, "avdetect.sync", (2,)), "kind/version test.tiny/2")
    one_line_error(lambda: store.load(stem, KIND, (1,)), "reads test.tiny version 1")


def test_missing_files_are_named(saved, tmp_path):
    _, stem = saved
    assert "nothing.json" in one_line_error(lambda: store.load(tmp_path / "nothing", KIND, (2,)), "missing")
    stem.with_suffix(".safetensors").unlink()
    assert "tiny.safetensors" in one_line_error(lambda: store.load(stem, KIND, (2,)), "missing")


def test_a_json_without_the_schema_keys_is_refused(saved):
    _, stem = saved
    js = stem.with_suffix(".json")
    doc = json.loads(js.read_text())
    del doc["calibration"]
    js.write_text(json.dumps(doc))
    one_line_error(lambda: store.load(stem, KIND, (2,)), "missing calibration")
    js.write_text("{not json")
    one_line_error(lambda: store.load(stem, KIND, (2,)), "not readable JSON")


def test_weights_that_do_not_fit_the_config(saved):
    _, stem = saved
    meta, state = store.load(stem, KIND, (2,))
    one_line_error(lambda: store.load_weights(tiny_net(5), state, meta), "do not fit the config")


def test_config_from_rejects_unknown_keys_and_restores_tuples(saved):
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Cfg:
        width: int = 3
        sizes: tuple = (1,)

    _, stem = saved
    meta = store.read_meta(stem, KIND, (2,))
    assert store.config_from(Cfg, meta) == Cfg(3)
    listed = store.ModelMeta(meta.path, KIND, 2, {"sizes": [1, 2]}, "", {}, "x", {})
    assert store.config_from(Cfg, listed).sizes == (1, 2)
    bad = store.ModelMeta(meta.path, KIND, 2, {"depth": 9}, "", {}, "x", {})
    one_line_error(lambda: store.config_from(Cfg, bad), "config does not fit Cfg")


def test_model_dir_is_the_package_data_folder_with_the_shipped_weights(monkeypatch, tmp_path):
    monkeypatch.delenv(store.MODEL_DIR_ENV, raising=False)
    d = store.model_dir()
    assert d == Path(avdetect.__file__).resolve().parent / "models" / "weights"
    for name in ("sync", "spoof"):
        assert (d / f"{name}.safetensors").is_file() and (d / f"{name}.json").is_file(), name
    monkeypatch.setenv(store.MODEL_DIR_ENV, str(tmp_path))
    assert store.model_dir() == tmp_path


@pytest.mark.parametrize("stem,kind,versions", [("sync", "avdetect.sync", (1, 2)), ("spoof", "avdetect.spoof", (1,)),
                                                ("vocoder", "avdetect.vocoder", (1,))])
def test_shipped_weights_match_their_manifests(stem, kind, versions):
    meta, state = store.load(store.PACKAGE_MODEL_DIR / stem, kind, versions)
    assert meta.weights == f"{stem}.safetensors" and state


def test_shipped_spoof_calibration_is_the_fitted_one():
    from avdetect.models.spoof import load_model

    model = load_model(store.PACKAGE_MODEL_DIR / "spoof")
    assert (model.calibration_scale, model.calibration_bias) == (0.6492972373962402, -1.0199519395828247)
    assert model.training_record["unseen_generators"] == ["piper", "vstts"]


def test_whisper_manifest_names_the_wheel_parts_the_code_joins():
    from avdetect.audio import whisper

    meta = store.read_meta(store.PACKAGE_MODEL_DIR / whisper.MANIFEST_STEM, whisper.MANIFEST_KIND,
                           whisper.MANIFEST_VERSIONS)
    parts = tuple((p["package"], Path(p["file"]).name) for p in meta.config["parts"])
    assert parts == whisper.WHEEL_PARTS
    assert meta.config["joined_bytes"] == sum(p["bytes"] for p in meta.config["parts"])
    with pytest.raises(ModelFileError, match="sha256"):
        whisper.verify_model_bin(b"not the model")
