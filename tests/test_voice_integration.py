"""Integration tests of the voice checks on ../shared/data (skipped with a reason when absent)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from avdetect.checks.base import Status
from avdetect.constants import SAMPLE_RATE

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MODELS = Path(__file__).resolve().parents[1] / "avdetect" / "models" / "weights"
LIBRI = DATA / "speech" / "librispeech"

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not LIBRI.exists(), reason=f"shared data not found at {DATA}")]


def libri(speaker: str, k: int) -> np.ndarray:
    from avdetect.training.spoof_corpus import read_audio

    return read_audio(sorted((LIBRI / speaker).glob("*.flac"))[k])


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("AVDETECT_HOME", str(tmp_path))
    return tmp_path


def test_speaker_match_and_mismatch_on_librispeech(home):
    from avdetect import voices
    from avdetect.checks.speaker import check_speaker
    from avdetect.io import AudioClip

    voices.enroll("ls1688", [AudioClip(libri("1688", k)) for k in range(3)])
    same = check_speaker(libri("1688", 5), None, "ls1688")
    other = check_speaker(libri("2609", 0), None, "ls1688")
    assert same.status == other.status == Status.ok
    assert same.fields["similarity"] > other.fields["similarity"]
    assert same.fields["match"] and not other.fields["match"]
    assert other.score > 50 > same.score and other.reasons


def test_speaker_check_on_8k_digits(home):
    from avdetect import voices
    from avdetect.checks.speaker import check_speaker
    from avdetect.io import AudioClip
    from avdetect.training.spoof_corpus import read_audio

    fsdd = DATA / "speech" / "fsdd"
    george = [read_audio(p) for p in sorted(fsdd.glob("*_george_*.flac"))[:24]]
    voices.enroll("george", [AudioClip(np.concatenate(george[:20]))])
    res = check_speaker(np.concatenate(george[20:24]), None, "george")
    assert res.status == Status.ok and 0 <= res.score <= 100


@pytest.mark.skipif(not (MODELS / "spoof.safetensors").exists(), reason="no shipped spoof model")
@pytest.mark.skipif(shutil.which("text2wave") is None, reason="festival not installed")
def test_spoof_timeline_finds_the_synthetic_stretch():
    from avdetect.checks.synthetic_speech import check_synthetic_speech, load_model
    from avdetect.training.generators import festival
    from avdetect.training.text import SENTENCES

    real = [libri("3005", k) for k in range(2)]
    fake = festival(" ".join(SENTENCES[3:6]), 0, 0)
    call = np.concatenate([real[0], fake, real[1]]).astype(np.float32)
    res = check_synthetic_speech(call, None, model=load_model())
    assert res.status == Status.ok
    a, b = len(real[0]) / SAMPLE_RATE, (len(real[0]) + len(fake)) / SAMPLE_RATE
    inside = [s.score for s in res.segments if s.start_s >= a - 0.5 and s.end_s <= b + 0.5]
    outside = [s.score for s in res.segments if s.end_s <= a or s.start_s >= b]
    assert inside and outside and np.mean(inside) > np.mean(outside)
