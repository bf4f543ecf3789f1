"""Visual mouth network: grey mouth crop(s) -> logit of "machine-rendered / blended mouth".

A small CNN (conv-BN-ReLU-pool blocks, global average pool, linear head) on the centre
MODEL_PX x MODEL_PX of an eye-line-aligned crop (visual.mouth_crop). Each crop is
standardised (zero mean, unit std) so overall brightness and contrast carry no score.
With `frames` > 1 the input is a stack of that many consecutive crops, standardised as a whole
and fed as the frames plus their frame-to-frame differences (2 * frames - 1 channels), so the
network sees how the mouth's texture changes over time.
Saved and loaded only through models.store (kind avdetect.visual).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..visual.mouth_crop import MODEL_PX
from . import store

MODEL_KIND = "avdetect.visual"
VISUAL_CONFIG_VERSION = 1
STD_FLOOR = 1e-3  # grey levels / 255: a flat crop is not blown up to noise


@dataclass(frozen=True)
class VisualConfig:
    in_px: int = MODEL_PX
    channels: tuple[int, ...] = (16, 32, 48, 64)
    double_from: int = 2  # blocks from this index on have two convolutions (the first ones one: cost)
    dropout: float = 0.2
    frames: int = 1  # consecutive crops per input (1: one crop)
    version: int = VISUAL_CONFIG_VERSION

    def __post_init__(self) -> None:
        assert self.in_px >= 2 ** len(self.channels), (self.in_px, self.channels)
        assert all(c > 0 for c in self.channels) and 0.0 <= self.dropout < 1.0 and self.frames >= 1

    @property
    def in_channels(self) -> int:
        return 2 * self.frames - 1


def conv(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


def block(c_in: int, c_out: int, double: bool) -> nn.Sequential:
    """(B, c_in, H, W) -> (B, c_out, H/2, W/2): 3x3 conv(s), BN, ReLU, 2x2 max pool."""
    return nn.Sequential(*conv(c_in, c_out), *(conv(c_out, c_out) if double else []), nn.MaxPool2d(2))


class VisualNet(nn.Module):
    def __init__(self, cfg: VisualConfig = VisualConfig()):
        super().__init__()
        self.cfg = cfg
        chans = (cfg.in_channels,) + tuple(cfg.channels)
        self.blocks = nn.Sequential(*[block(a, b, k >= cfg.double_from)
                                      for k, (a, b) in enumerate(zip(chans[:-1], chans[1:]))])
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(chans[-1], 1)
        self.threshold_logit = 0.0  # clip mean logit at the held-out real 95th percentile (calibration)
        self.training_record: dict = {}

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        """(B, in_px, in_px) uint8 or float grey crops, or (B, frames, in_px, in_px) stacks when
        frames > 1 -> (B,) logits (positive = rendered/blended)."""
        px = (self.cfg.in_px, self.cfg.in_px)
        if self.cfg.frames == 1:
            assert crops.ndim == 3 and crops.shape[1:] == px, crops.shape
            x = standardise(crops)[:, None]
        else:
            assert crops.ndim == 4 and crops.shape[1:] == (self.cfg.frames, *px), crops.shape
            z = standardise(crops.flatten(1, 2)).view(crops.shape)  # one mean and std per stack
            x = torch.cat([z, z[:, 1:] - z[:, :-1]], dim=1)  # (B, 2T - 1, H, W)
        h = self.blocks(x).mean(dim=(2, 3))  # (B, C)
        return self.head(self.drop(h))[:, 0]


def standardise(crops: torch.Tensor) -> torch.Tensor:
    """(B, H, W) grey (0-255) -> (B, H, W) float32, each crop zero mean and unit std."""
    x = crops.float() / 255.0
    mean = x.mean(dim=(1, 2), keepdim=True)
    std = x.std(dim=(1, 2), keepdim=True).clamp_min(STD_FLOOR)
    return (x - mean) / std


@torch.no_grad()
def frame_logits(model: VisualNet, crops: np.ndarray, batch: int = 256) -> np.ndarray:
    """(n, in_px, in_px) uint8 crops (or (n, frames, in_px, in_px) stacks) -> (n,) float32 logits (eval mode)."""
    model.eval()
    out = [model(torch.from_numpy(np.ascontiguousarray(crops[i:i + batch]))) for i in range(0, len(crops), batch)]
    return torch.cat(out).numpy().astype(np.float32) if out else np.zeros(0, np.float32)


def save_model(model: VisualNet, stem: str | Path) -> Path:
    """Write <stem>.safetensors + <stem>.json (models.store schema). Returns the json path."""
    return store.save(stem, MODEL_KIND, model.cfg.version, asdict(model.cfg), model.state_dict(),
                      {"threshold_logit": model.threshold_logit}, training=model.training_record)


def load_model(stem: str | Path) -> VisualNet:
    """Load <stem>.json + weights, verified by models.store (raises store.ModelFileError).
    Returns an eval-mode model with its threshold and training record."""
    meta, state = store.load(stem, MODEL_KIND, (VISUAL_CONFIG_VERSION,))
    model = store.load_weights(VisualNet(store.config_from(VisualConfig, meta)), state, meta)
    model.threshold_logit = float(meta.calibration.get("threshold_logit", 0.0))
    model.training_record = dict(meta.extra.get("training") or {})
    return model.eval()
