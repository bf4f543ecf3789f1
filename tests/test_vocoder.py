"""The neural vocoder that makes neural-vocoder fakes, and the spoof variant cache key."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from avdetect.constants import SAMPLE_RATE
from avdetect.models.store import ModelFileError
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
    weights = (tmp_path / "voc.safetensors").read_bytes()
    (tmp_path / "voc.safetensors").write_bytes(weights[:-4] + b"\0\0\0\0")
    with pytest.raises(ModelFileError, match="sha256"):
        V.load_vocoder(tmp_path / "voc")
    (tmp_path / "voc.safetensors").write_bytes(weights)
    meta["version"] = 99
    (tmp_path / "voc.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="version"):
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


def _write_manifest(data, rows):
    lines = ["path,modality,label,kind,speaker,source,license"]
    lines += [f"{p},av,real,{kind},unknown,test,test" for p, kind in rows]
    (data / "manifest.csv").write_text("\n".join(lines) + "\n")


def test_soundtracks_and_vocoder_twins(tmp_path):
    """Real soundtracks of AV clips become joined real items (sync's splits, a corrupt clip
    skipped), and every real kind gets neural-vocoder twins in its own split."""
    from avdetect.synth import synthetic_speech, write_av
    from avdetect.training.spoof_corpus import (SOUNDTRACK_CLIPS_PER_ITEM, CorpusPlan, build_soundtracks,
                                                build_vocoder_twins)

    data = tmp_path / "data"
    rows = []
    for i in range(40):  # LRC-AR by number: 30 train, 4 sync-val (left out), 6 test
        rel = f"av/lrc_ar/video/{i:05d}.mp4"
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        write_av(data / rel, None, synthetic_speech(1.2, seed=i)[0])
        rows.append((rel, "lrc-ar"))
    (data / "av/lrc_ar/video/00003.mp4").write_bytes(b"not a video")  # corrupt: skipped, not fatal
    for i in range(4):
        rel = f"av/grid_s1/video/g{i}.mp4"
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        write_av(data / rel, None, synthetic_speech(3.0, seed=100 + i)[0])
        rows.append((rel, "grid"))
    _write_manifest(data, rows)

    corpus = Corpus(tmp_path / "corpus")
    build_soundtracks(corpus, data, log=lambda m: None)
    items = list(corpus.items.values())
    lrc = [it for it in items if it.kind == "lrc-ar"]
    per = SOUNDTRACK_CLIPS_PER_ITEM["lrc-ar"]
    assert sorted(it.split for it in lrc) == ["test"] + ["train"] * (30 // per)
    assert {it.split for it in items if it.kind == "grid"} == {"train"} and len(items) == len(lrc) + 2
    first = corpus.audio("real__soundtrack__lrc-ar__00000")
    assert len(first) > 1.5 * 1.2 * SAMPLE_RATE  # clips 0-4 (3 corrupt) joined: longer than any one clip
    assert all(it.label == 0 for it in items)

    build_vocoder_twins(corpus, V.Vocoder().eval(), CorpusPlan(), log=lambda m: None)
    twins = [it for it in corpus.items.values() if it.kind == "neuralvoc"]
    assert len(twins) == len(items) and all(it.label == 1 for it in twins)
    for t in twins:
        src = corpus.items[t.id.removeprefix("fake__neuralvoc__")]
        assert (t.split, t.speaker) == (src.split, src.speaker)
