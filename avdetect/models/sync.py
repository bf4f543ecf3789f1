"""Cross-modal transformer for lip sync: lip landmarks + audio features -> in-sync prob, AV offset.

A window of T video frames (25 fps, T <= max_frames) gives T visual features (40 lip points
(x, y) with the window's mean shape removed, + velocity) and T audio features, pooled by a
strided conv from 2 frozen Whisper-base encoder frames (the shipped weights) or 4 log-mel
frames of 10 ms (format-1 weights) per video frame (SyncConfig.audio_frontend). By default (TokenLayout.fused)
each frame's two features become one token; a CLS token attends over them with time
embeddings (modality embeddings tag the token kinds). Heads read the CLS token:
    sync_logit:    (B,)     in-sync logit (audio and lips of the same speech, offset 0)
    offset_logits: (B, 31)  class k <-> offset k - 15 frames; +5 = audio lags lips by 200 ms

The model owns its input processing, for training and scanning alike: windows of at least
MIN_WINDOW_FRAMES frames, their audio (window_audio) and audio features (window_features).

Weights ship as <stem>.safetensors with <stem>.json (models.store: config, version, sha256, calibration).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..audio.features import log_mel
from ..audio.whisper import WHISPER_DIM, WHISPER_SAMPLES_PER_FEATURE, whisper_encoder
from ..constants import (AUDIO_SAMPLES_PER_FRAME, MEL_FRAMES_PER_VIDEO_FRAME, N_MELS, SYNC_MAX_LAG_FRAMES,
                         SYNC_WINDOW_FRAMES)
from ..visual.landmarks import N_LIP_POINTS

from . import store
from .store import ModelFileError  # re-exported: what load_model raises

WHISPER_PER_FRAME = AUDIO_SAMPLES_PER_FRAME // WHISPER_SAMPLES_PER_FEATURE  # 640 // 320 = 2 frames of 50 Hz
MIN_WINDOW_FRAMES = 20  # 0.8 s: shortest window trained on / judged

MODEL_KIND = "avdetect.sync"
MODEL_VERSION = 2  # bump when the architecture or the input preprocessing changes
READABLE_VERSIONS = (1, 2)  # 1: log-mel front end only (no audio_frontend field); 2: audio_frontend
NORM_EPS = 1e-5


class TokenLayout(str, enum.Enum):
    """Which tokens the encoder attends over (T = window frames).

    fused:    T tokens MLP([visual_t, audio_t]) -- cheapest; lag-0 pairing is explicit and
              other lags are compared through attention across time
    separate: T visual + T audio tokens with modality embeddings (3x the attention cost;
              learned nothing on the toy problem in the tests within 150 steps)
    both:     separate + fused (3T tokens)
    """

    fused = "fused"
    separate = "separate"
    both = "both"


class AudioFrontend(str, enum.Enum):
    """What the audio tokens are made from (per 25 fps video frame).

    logmel:  4 frames of 80-band log-mel (10 ms hop), standardised per window
    whisper: 2 frames of the frozen Whisper-base encoder's output (512-d, 20 ms hop), run on
             the window's audio zero-padded to 2 s (avdetect.audio.whisper)
    """

    logmel = "logmel"
    whisper = "whisper"


@dataclass(frozen=True)
class SyncConfig:
    version: int = MODEL_VERSION
    max_frames: int = SYNC_WINDOW_FRAMES  # 50 frames = 2 s per window at most
    n_mels: int = N_MELS
    mel_per_frame: int = MEL_FRAMES_PER_VIDEO_FRAME  # 4 mel frames (10 ms) per video frame
    n_points: int = N_LIP_POINTS
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 3
    ff_mult: int = 2
    dropout: float = 0.1
    max_offset: int = SYNC_MAX_LAG_FRAMES  # offsets -15..+15 frames (+-600 ms)
    tokens: str = "fused"  # a TokenLayout value
    audio_frontend: str = "logmel"  # an AudioFrontend value

    @property
    def n_offsets(self) -> int:
        return 2 * self.max_offset + 1

    @property
    def feat_per_frame(self) -> int:
        """Audio feature frames per video frame: 4 log-mel frames or 2 Whisper frames."""
        return self.mel_per_frame if self.audio_frontend == AudioFrontend.logmel else WHISPER_PER_FRAME

    @property
    def feat_dim(self) -> int:
        return self.n_mels if self.audio_frontend == AudioFrontend.logmel else WHISPER_DIM

    @classmethod
    def tiny(cls) -> "SyncConfig":
        """A few thousand parameters: for tests only."""
        return cls(d_model=16, n_heads=2, n_layers=1, ff_mult=1, dropout=0.0)


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int) -> torch.Tensor:
    """Mean of x over `dim` where mask (broadcastable to x) is True; 0 when none is."""
    m = mask.to(x.dtype)
    return (x * m).sum(dim, keepdim=True) / m.sum(dim, keepdim=True).clamp_min(1.0)


def prepare_lips(lips: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """lips (B, T, P, 2) (NaN allowed where invalid), valid (B, T) -> (B, T, 4P + 1).

    Per window: remove the mean mouth shape (identity), keep motion; add velocity and a
    validity flag; invalid frames are zeros.
    """
    b, t, p, _ = lips.shape
    assert valid.shape == (b, t), (lips.shape, valid.shape)
    v = valid[..., None, None]
    x = torch.where(v, torch.nan_to_num(lips), torch.zeros_like(lips))
    x = (x - masked_mean(x, v, 1)) * v
    vel = torch.zeros_like(x)
    both = (valid[:, 1:] & valid[:, :-1])[..., None, None]
    vel[:, 1:] = (x[:, 1:] - x[:, :-1]) * both
    out = torch.cat([x.reshape(b, t, 2 * p), vel.reshape(b, t, 2 * p), valid[..., None].to(x.dtype)], -1)
    assert out.shape == (b, t, 4 * p + 1)
    return out


def normalise_mel(mel: torch.Tensor, frame_valid: torch.Tensor, mel_per_frame: int) -> torch.Tensor:
    """mel (B, 4T, M) log-mel, frame_valid (B, T) -> per-window standardised (B, 4T, M)."""
    m = frame_valid.repeat_interleave(mel_per_frame, 1)[..., None]  # (B, 4T, 1)
    mu = masked_mean(mel, m, 1).mean(-1, keepdim=True)
    var = masked_mean((mel - mu) ** 2, m, 1).mean(-1, keepdim=True)
    return (mel - mu) / (var + NORM_EPS).sqrt() * m


def window_audio(samples: np.ndarray, starts: list[int], length: int) -> np.ndarray:
    """samples (N,) -> (W, length * 640): the audio of each window of `length` video frames
    starting at frame starts[w] (every window must lie inside samples)."""
    idx = np.asarray(starts)[:, None] + np.arange(length)[None]
    a_idx = idx[:, :, None] * AUDIO_SAMPLES_PER_FRAME + np.arange(AUDIO_SAMPLES_PER_FRAME)
    return samples[a_idx.reshape(len(starts), -1)]


def window_mel(audio: torch.Tensor) -> torch.Tensor:
    """audio (B, T * 640) -> log-mel (B, 4T, 80): audio.features.log_mel, cut to the window's frames."""
    b, n = audio.shape
    t = n // AUDIO_SAMPLES_PER_FRAME
    assert n == t * AUDIO_SAMPLES_PER_FRAME, n
    out = log_mel(audio)[:, : t * MEL_FRAMES_PER_VIDEO_FRAME]
    assert out.shape == (b, t * MEL_FRAMES_PER_VIDEO_FRAME, N_MELS), out.shape
    return out.contiguous()


def window_features(cfg: SyncConfig, audio: torch.Tensor, device: str = "cpu") -> torch.Tensor:
    """audio (B, T * 640) -> the model's audio input (B, kT, F) for cfg.audio_frontend:
    log-mel (B, 4T, 80) or frozen Whisper-base features (B, 2T, 512), on `device`."""
    if cfg.audio_frontend == AudioFrontend.logmel:
        return window_mel(audio.to(device))
    return whisper_encoder(str(device))(audio).to(device)


class SyncTransformer(nn.Module):
    def __init__(self, cfg: SyncConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.calibration = Calibration()  # load_model sets the shipped one
        d = cfg.d_model
        k = cfg.feat_per_frame
        self.audio_in = nn.Sequential(  # (B, F, kT) -> (B, d, T): 25 Hz audio tokens
            nn.Conv1d(cfg.feat_dim, d, 3, padding=1), nn.GELU(), nn.Conv1d(d, d, k, stride=k), nn.GELU())
        self.audio_conv = nn.Conv1d(d, d, 3, padding=1)
        self.visual_in = nn.Sequential(nn.Linear(4 * cfg.n_points + 1, d), nn.GELU(), nn.Linear(d, d))
        self.visual_conv = nn.Conv1d(d, d, 3, padding=1)
        self.time_emb = nn.Embedding(cfg.max_frames, d)
        self.modality_emb = nn.Embedding(4, d)  # 0 cls, 1 visual, 2 audio, 3 fused
        self.layout = TokenLayout(cfg.tokens)
        self.fuse = nn.Sequential(nn.Linear(2 * d, d), nn.GELU(), nn.Linear(d, d))
        self.cls = nn.Parameter(torch.zeros(1, 1, d))
        layer = nn.TransformerEncoderLayer(d, cfg.n_heads, cfg.ff_mult * d, cfg.dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, 1 + cfg.n_offsets)

    def forward(self, lips: torch.Tensor, lip_valid: torch.Tensor, mel: torch.Tensor,
                frame_valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """lips (B, T, 40, 2), lip_valid (B, T) face found, mel (B, kT, F) audio features (log-mel
        (B, 4T, 80) or Whisper (B, 2T, 512), cfg.audio_frontend), frame_valid (B, T) False on
        padding -> (sync_logit (B,), offset_logits (B, 31))."""
        b, t = frame_valid.shape
        c = self.cfg
        assert t <= c.max_frames and lips.shape == (b, t, c.n_points, 2), lips.shape
        assert mel.shape == (b, t * c.feat_per_frame, c.feat_dim), mel.shape
        lv = lip_valid & frame_valid
        keep = frame_valid[..., None].to(mel.dtype)  # padding must not leak through the convs
        v = self.visual_in(prepare_lips(lips, lv)) * keep
        v = v + self.visual_conv(v.transpose(1, 2)).transpose(1, 2)
        if c.audio_frontend == AudioFrontend.logmel:
            feats = normalise_mel(mel, frame_valid, c.mel_per_frame)
        else:
            feats = mel * frame_valid.repeat_interleave(c.feat_per_frame, 1)[..., None].to(mel.dtype)
        a = self.audio_in(feats.transpose(1, 2)).transpose(1, 2) * keep
        a = a + self.audio_conv(a.transpose(1, 2)).transpose(1, 2)
        pos = self.time_emb(torch.arange(t, device=mel.device))[None]
        mod = self.modality_emb.weight
        parts = [self.cls.expand(b, 1, -1) + mod[0]]
        if self.layout != TokenLayout.fused:
            parts += [v + pos + mod[1], a + pos + mod[2]]
        if self.layout != TokenLayout.separate:
            parts.append(self.fuse(torch.cat([v, a], -1)) + pos + mod[3])
        tokens = torch.cat(parts, 1)
        pad = torch.cat([torch.zeros(b, 1, dtype=torch.bool, device=mel.device)]
                        + [~frame_valid] * (len(parts) - 1), 1)
        h = self.norm(self.encoder(tokens, src_key_padding_mask=pad)[:, 0])
        out = self.head(h)
        return out[:, 0], out[:, 1:]


def offset_to_class(offset_frames: torch.Tensor, cfg: SyncConfig) -> torch.Tensor:
    return offset_frames + cfg.max_offset




def save_model(model: SyncTransformer, stem: str | Path, extra: dict | None = None) -> Path:
    """Write <stem>.safetensors and <stem>.json (models.store schema; extra["calibration"] becomes
    the calibration block, other keys free-form metadata). Returns the json path."""
    extra = dict(extra or {})
    calibration = extra.pop("calibration", None)
    return store.save(stem, MODEL_KIND, model.cfg.version, dataclasses.asdict(model.cfg), model.state_dict(),
                      calibration, **extra)


def load_model(stem: str | Path, device: str | torch.device = "cpu") -> SyncTransformer:
    """Load <stem>.json + weights; checks kind, version, sha256 and shapes (raises ModelFileError).
    Returns an eval-mode model with its calibration."""
    meta, state = store.load(stem, MODEL_KIND, READABLE_VERSIONS)
    model = store.load_weights(SyncTransformer(store.config_from(SyncConfig, meta)), state, meta)
    cal = meta.calibration
    model.calibration = Calibration(float(cal.get("scale", 1.0)), float(cal.get("bias", 0.0)))
    return model.to(device).eval()


@dataclasses.dataclass(frozen=True)
class Calibration:
    """p_sync = sigmoid(scale * sync_logit + bias): Platt scaling fitted on the validation split
    (scripts/calibrate_sync.py) so that 0-100 scores mean the same across retrained weights."""

    scale: float = 1.0
    bias: float = 0.0

    def __call__(self, logit: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.scale * logit + self.bias)
