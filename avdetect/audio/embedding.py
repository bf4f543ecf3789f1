"""Speaker embeddings with the pretrained Resemblyzer encoder (weights ship inside its wheel).

(N,) float32 16 kHz speech -> (256,) L2-normalised float32 voiceprint.
"""

from __future__ import annotations

import functools

import numpy as np

from ..constants import AUDIO_SAMPLES_PER_FRAME, SAMPLE_RATE

EMBED_DIM = 256
ENCODER_NAME = "resemblyzer-0.1.4"
MIN_EMBED_S = 0.5  # s: shorter speech gives no embedding
AUDIO_NORM_TARGET_DBFS = -30.0  # the loudness Resemblyzer was trained on


@functools.lru_cache(maxsize=2)
def encoder(device: str):
    """The Resemblyzer voice encoder on `device`, loaded once per process."""
    from resemblyzer import VoiceEncoder

    return VoiceEncoder(device=device, verbose=False)


def speech_only(samples: np.ndarray, speech: np.ndarray) -> np.ndarray:
    """(N,) + (T25,) bool -> (M,) the samples of speech frames, concatenated."""
    mask = np.repeat(speech, AUDIO_SAMPLES_PER_FRAME)[: len(samples)]
    return samples[: len(mask)][mask]


def _normalize_volume(x: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) + 1e-9
    return (x * (10 ** (AUDIO_NORM_TARGET_DBFS / 20) / rms)).astype(np.float32)


def embed(speech_samples: np.ndarray, device: str = "cpu") -> np.ndarray:
    """(M,) float32 16 kHz speech (silence already removed) -> (256,) unit-norm embedding."""
    assert speech_samples.ndim == 1 and len(speech_samples) >= MIN_EMBED_S * SAMPLE_RATE, speech_samples.shape
    e = encoder(device).embed_utterance(_normalize_volume(speech_samples))
    e = np.asarray(e, np.float32)
    assert e.shape == (EMBED_DIM,), e.shape
    return e / (np.linalg.norm(e) + 1e-9)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))
