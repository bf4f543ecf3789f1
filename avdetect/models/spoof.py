"""Spoof (synthetic speech) network: log-spectrogram window -> P(synthetic).

A small TDNN (dilated 1-D convolutions over time on the mel bins) with mean+std statistics
pooling over time, so any window length works. Shipped as models/spoof.safetensors + models/spoof.json.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..audio.features import log_mel
from ..constants import MEL_HOP, MEL_WIN, N_FFT, N_MELS

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


def log_spec(samples: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(N,) 16 kHz -> (T, 128) log power in linear 62.5 Hz bands, T = N // 160 + 1 (100 frames/s)."""
    x = torch.as_tensor(samples, dtype=torch.float32)
    assert x.ndim == 1, x.shape
    spec = torch.stft(x, N_FFT, hop_length=MEL_HOP, win_length=MEL_WIN, window=torch.hann_window(MEL_WIN),
                      center=True, return_complex=True).abs().pow(2)  # (257, T)
    bands = spec[1:].reshape(LOGSPEC_BINS, (N_FFT // 2) // LOGSPEC_BINS, -1).mean(1)  # (128, T)
    out = torch.log(bands + LOG_FLOOR).T.contiguous()
    assert out.shape == (x.shape[0] // MEL_HOP + 1, LOGSPEC_BINS), out.shape
    return out


def features(samples: np.ndarray | torch.Tensor, kind: str) -> torch.Tensor:
    """(N,) 16 kHz waveform -> (T, feature_dim(kind)) at 100 frames/s."""
    return log_mel(samples) if Features(kind) == Features.logmel else log_spec(samples)


class ConfigError(ValueError):
    """A model file that does not match this code (version, shape or checksum)."""


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
    # Platt scaling, window score = 100 * sigmoid(scale * logit + bias), fitted on held-out
    # training speakers (training/train_spoof.calibrate); identity for older weights
    calibration_scale: float = 1.0
    calibration_bias: float = 0.0
    weights_sha256: str = ""
    training: dict = field(default_factory=dict)

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
        return torch.sigmoid(self.cfg.calibration_scale * logits + self.cfg.calibration_bias)


def normalize_window(mel: torch.Tensor) -> torch.Tensor:
    """(B, T, F) log-mel -> (B, T, F) minus each window's overall mean (gain invariance), scaled."""
    return (mel - mel.mean(dim=(1, 2), keepdim=True)) / 4.0


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save(model: SpoofNet, weights: Path, config: Path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    model.cfg.weights_sha256 = file_sha256(weights)
    Path(config).write_text(json.dumps(asdict(model.cfg), indent=2) + "\n")


def load(weights: Path, config: Path, device: str = "cpu") -> SpoofNet:
    """Load and verify (config version, weights sha256). Raises ConfigError on mismatch."""
    from safetensors.torch import load_file

    raw = json.loads(Path(config).read_text())
    if raw.get("version") != SPOOF_CONFIG_VERSION:
        raise ConfigError(f"{config}: spoof config version {raw.get('version')}, "
                          f"this avdetect needs {SPOOF_CONFIG_VERSION}")
    cfg = SpoofConfig(**raw)
    if cfg.weights_sha256 and file_sha256(weights) != cfg.weights_sha256:
        raise ConfigError(f"{weights}: sha256 does not match {config} (corrupt or mixed-up model files)")
    model = SpoofNet(cfg)
    try:
        model.load_state_dict(load_file(str(weights)))
    except RuntimeError as e:
        raise ConfigError(f"{weights}: weights do not fit the config ({str(e).splitlines()[0]})") from None
    return model.to(device).eval()
