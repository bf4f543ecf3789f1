"""The neural vocoder that makes neural-vocoder fakes, and the spoof variant cache key."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from avdetect.constants import SAMPLE_RATE
from avdetect.training import vocoder as V
from avdetect.training.spoof_corpus import Corpus, Item, Split
from avdetect.training.train_spoof import variants_cache


def test_vocoder_shapes_and_resynthesis_length():
    model = V.Vocoder().eval()
    mel = torch.randn(2, V.N_MELS, 7)
    assert model(mel).shape == (2, 7 * V.HOP)
    x = (0.3 * np.sin(2 * np.pi * 200 * np.arange(SAMPLE_RATE) / SAMPLE_RATE)).astype(np.float32)
    y = V.resynthesize(model, x)
    assert y.shape == x.shape and y.dtype == np.float32 and np.isfinite(y).all()


def test_vocoder_learns_a_tone_and_round_trips(tmp_path):
    """A few steps on a tone must lower the loss; save/load keeps the weights; versions are checked."""
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    waves = [(0.5 * np.sin(2 * np.pi * f * t)).astype(np.float32) for f in (150, 220, 330)]
    logs = []
    cfg = V.VocoderTrainConfig(steps=200, batch=4, segment=8 * V.HOP, lr=3e-3)
    model = V.train_vocoder(waves, cfg, log=logs.append)
    losses = [float(m.split("loss ")[1]) for m in logs if "loss" in m]
    assert losses[-1] < losses[0], losses
    V.save_vocoder(model, tmp_path / "voc", {"steps": 200})
    again = V.load_vocoder(tmp_path / "voc")
    mel = V.log_mel(torch.from_numpy(waves[0][None]))
    assert torch.allclose(model(mel), again(mel))
    meta = json.loads((tmp_path / "voc.json").read_text())
    meta["version"] = 99
    (tmp_path / "voc.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="version"):
        V.load_vocoder(tmp_path / "voc")


def test_variants_cache_changes_when_items_are_added(tmp_path):
    corpus = Corpus(tmp_path)
    x = np.random.default_rng(0).standard_normal(SAMPLE_RATE).astype(np.float32) * 0.1
    corpus.add(Item("real__a", 0, "librispeech", "s1", Split.train.value), x)
    before = variants_cache(corpus, Split.train, "logspec", 0)
    corpus.add(Item("fake__neuralvoc__a", 1, "neuralvoc", "s1", Split.train.value), x)
    after = variants_cache(corpus, Split.train, "logspec", 0)
    assert before != after
    assert variants_cache(Corpus(tmp_path), Split.train, "logspec", 0) == after
