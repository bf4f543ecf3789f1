"""Spoof (synthetic speech) network: log-spectrogram window -> P(synthetic).

A small TDNN (dilated 1-D convolutions over time on the mel bins) with mean+std statistics
pooling over time, so any window length works. Shipped as spoof.safetensors + spoof.json in
models.store.model_dir() (save_model / load_model; the Platt calibration travels in the JSON).
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..audio.features import log_mel
from ..constants import MEL_HOP, MEL_WIN, N_FFT, N_MELS
from . import store

MODEL_KIND = "avdetect.spoof"
SPOOF_CONFIG_VERSION = 1
LOGSPEC_BINS = 128  # linear-frequency bins, 62.5 Hz each (0-8 kHz): fine resolution up high
LOG_FLOOR = 1e-6


class Features(str, enum.Enum):
    logmel = "logmel"  # 80 mel bands (audio.features.log_mel)
    logspec = "logspec"  # 128 linear-frequency bands (vocoder artefacts live in the upper band)


class Head(str, enum.Enum):
    """linear: a logit from the embedding (binary cross-entropy). ocsoftmax: one-class softmax
    (Zhang et al., 2021): real speech is pulled within a tight cone around a learnt direction
    (cosine >= OC_MARGIN_REAL), fakes only pushed out of a wide one (cosine <= OC_MARGIN_FAKE),
    so the model describes real speech rather than the fakes it was shown."""

    linear = "linear"
    ocsoftmax = "ocsoftmax"


OC_SCALE = 20.0  # alpha: cosine -> logit scale
OC_MARGIN_REAL, OC_MARGIN_FAKE = 0.9, 0.2
OC_MID = (OC_MARGIN_REAL + OC_MARGIN_FAKE) / 2  # logit 0 here
OC_MARGIN_LOGIT = OC_SCALE * (OC_MARGIN_REAL - OC_MID)  # 7.0: both margins in logit units


def feature_dim(kind: str) -> int:
    return N_MELS if Features(kind) == Features.logmel else LOGSPEC_BINS


LOGSPEC_BLOCK_FRAMES = 6000  # 10 ms frames per STFT block (60 s)


def log_spec(samples: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(N,) 16 kHz -> (T, 128) log power in linear 62.5 Hz bands, T = N // 160 + 1 (100 frames/s)."""
    x = torch.as_tensor(samples, dtype=torch.float32)
    assert x.ndim == 1, x.shape
    t = x.shape[0] // MEL_HOP + 1
    half = N_FFT // 2  # stft(center=True) pads by reflection: done once, then blocks without centring
    xp = torch.nn.functional.pad(x[None, None], (half, half), mode="reflect")[0, 0] if x.shape[0] > half else x
    window = torch.hann_window(MEL_WIN)
    parts = []
    for a in range(0, t, LOGSPEC_BLOCK_FRAMES):  # bounded memory on long calls
        b = min(t, a + LOGSPEC_BLOCK_FRAMES)
        if xp is x:  # shorter than half a window: torch's own padding
            spec = torch.stft(x, N_FFT, hop_length=MEL_HOP, win_length=MEL_WIN, window=window, center=True,
                              return_complex=True).abs().pow(2)
        else:
            seg = xp[a * MEL_HOP:(b - 1) * MEL_HOP + N_FFT]
            spec = torch.stft(seg, N_FFT, hop_length=MEL_HOP, win_length=MEL_WIN, window=window, center=False,
                              return_complex=True).abs().pow(2)  # (257, b - a)
        bands = spec[1:].reshape(LOGSPEC_BINS, (N_FFT // 2) // LOGSPEC_BINS, -1).mean(1)  # (128, b - a)
        parts.append(torch.log(bands + LOG_FLOOR).T)
    out = torch.cat(parts).contiguous()
    assert out.shape == (x.shape[0] // MEL_HOP + 1, LOGSPEC_BINS), out.shape
    return out


def features(samples: np.ndarray | torch.Tensor, kind: str) -> torch.Tensor:
    """(N,) 16 kHz waveform -> (T, feature_dim(kind)) at 100 frames/s."""
    return log_mel(samples) if Features(kind) == Features.logmel else log_spec(samples)


@dataclass
class SpoofConfig:
    version: int = SPOOF_CONFIG_VERSION
    features: str = Features.logspec.value
    n_mels: int = LOGSPEC_BINS  # input feature bins (mel or linear, see `features`)
    channels: tuple[int, ...] = (128, 128, 128, 128)
    embed_dim: int = 64
    dropout: float = 0.2
    window_s: float = 4.0  # s: scoring window
    hop_s: float = 1.0  # s: scoring hop
    threshold: float = 50.0  # score (0-100) above which a window is reported as synthetic
    head: str = Head.linear.value

    def __post_init__(self) -> None:
        self.channels = tuple(self.channels)
        assert self.n_mels == feature_dim(self.features), (self.features, self.n_mels)

    @classmethod
    def tiny(cls) -> "SpoofConfig":
        """Randomly initialised toy size for tests."""
        return cls(channels=(8, 8), embed_dim=8)


class _Block(nn.Module):
    """Conv1d over time (dilated) + BN + ReLU, residual when shapes allow."""

    def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int, stride: int):
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, kernel, stride=stride, dilation=dilation,
                              padding=dilation * (kernel // 2), bias=False)
        self.bn = nn.BatchNorm1d(c_out)
        self.residual = c_in == c_out and stride == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn(self.conv(x)))
        return x + y if self.residual else y


class SpoofNet(nn.Module):
    """(B, T, n_mels) log features -> (B,) logits (positive = synthetic).

    A TDNN-style stack (frequency bins as channels, dilated convolutions over time; the first
    layer has stride 2) followed by mean+std statistics pooling: cheap enough for 2 CPU cores.
    """

    KERNELS = (5, 3, 3, 3)
    DILATIONS = (1, 2, 3, 4)

    def __init__(self, cfg: SpoofConfig):
        super().__init__()
        self.cfg = cfg
        # Platt scaling, window score = 100 * sigmoid(scale * logit + bias), fitted on held-out
        # training speakers (training/train_spoof.calibrate); identity until fitted or loaded
        self.calibration_scale, self.calibration_bias = 1.0, 0.0
        self.training_record: dict = {}  # the JSON's "training" metadata (what it trained on)
        assert len(cfg.channels) <= len(self.KERNELS), cfg.channels
        chans = (cfg.n_mels, *cfg.channels)
        self.blocks = nn.Sequential(*[
            _Block(a, b, k, d, 2 if i == 0 else 1)
            for i, (a, b, k, d) in enumerate(zip(chans[:-1], chans[1:], self.KERNELS, self.DILATIONS))])
        self.proj = nn.Linear(2 * cfg.channels[-1], cfg.embed_dim)
        if Head(cfg.head) == Head.linear:
            self.head = nn.Sequential(nn.ReLU(), nn.Dropout(cfg.dropout), nn.Linear(cfg.embed_dim, 1))
        else:
            self.center = nn.Parameter(torch.randn(cfg.embed_dim))  # the direction of real speech

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        assert mel.ndim == 3 and mel.shape[2] == self.cfg.n_mels, mel.shape
        h = self.blocks(normalize_window(mel).transpose(1, 2))  # (B, C, T')
        stats = torch.cat([h.mean(2), h.std(2, unbiased=False)], 1)  # (B, 2C)
        if Head(self.cfg.head) == Head.linear:
            return self.head(self.proj(stats))[:, 0]
        cos = nn.functional.cosine_similarity(self.proj(stats), self.center[None], dim=1)  # (B,)
        return OC_SCALE * (OC_MID - cos)  # positive = synthetic, as for the linear head

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """(B,) logits, (B,) float labels (1 = synthetic) -> mean training loss for this head."""
        if Head(self.cfg.head) == Head.linear:
            return nn.functional.binary_cross_entropy_with_logits(logits, labels)
        sign = 1 - 2 * labels  # real: +1 (wants logit <= -margin), fake: -1 (wants logit >= margin)
        return nn.functional.softplus(OC_MARGIN_LOGIT + sign * logits).mean()

    def probability(self, logits: torch.Tensor) -> torch.Tensor:
        """(B,) logits -> (B,) calibrated probabilities of "synthetic"."""
        return torch.sigmoid(self.calibration_scale * logits + self.calibration_bias)


def normalize_window(mel: torch.Tensor) -> torch.Tensor:
    """(B, T, F) log-mel -> (B, T, F) minus each window's overall mean (gain invariance), scaled."""
    return (mel - mel.mean(dim=(1, 2), keepdim=True)) / 4.0


def save_model(model: SpoofNet, stem: str | Path) -> Path:
    """Write <stem>.safetensors + <stem>.json (models.store schema: config, calibration, and the
    training record as metadata). Returns the json path."""
    calibration = {"scale": model.calibration_scale, "bias": model.calibration_bias}
    return store.save(stem, MODEL_KIND, model.cfg.version, asdict(model.cfg), model.state_dict(), calibration,
                      training=model.training_record)


def load_model(stem: str | Path, device: str = "cpu") -> SpoofNet:
    """Load <stem>.json + weights, verified (kind, version, sha256, shapes; raises
    store.ModelFileError). Returns an eval-mode model with its calibration and training record."""
    meta, state = store.load(stem, MODEL_KIND, (SPOOF_CONFIG_VERSION,))
    model = store.load_weights(SpoofNet(store.config_from(SpoofConfig, meta)), state, meta)
    model.calibration_scale = float(meta.calibration.get("scale", 1.0))
    model.calibration_bias = float(meta.calibration.get("bias", 0.0))
    model.training_record = dict(meta.extra.get("training") or {})
    return model.to(device).eval()
