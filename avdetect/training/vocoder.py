"""A small neural vocoder we train ourselves, to make neural-vocoder fakes for the spoof model.

Almost every modern TTS and voice-cloning system ends in a neural vocoder that turns a mel
spectrogram into a waveform with learned up-sampling convolutions (HiFi-GAN, MelGAN, the
decoder of VITS/piper). Resynthesising real speech through such a network gives fakes whose
words, speaker and recording channel are those of the real item, so the only difference the
detector can learn is the vocoder's own trace. No pretrained vocoder ships in a wheel, so we
train a HiFi-GAN-style generator (no discriminator: multi-resolution STFT + mel losses) on the
training-split LibriSpeech speakers only.

Shapes: mel (B, N_MELS, T) at HOP = 256 samples (62.5 frames/s) -> wave (B, T * HOP) at 16 kHz.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio
from torch import nn

from ..constants import SAMPLE_RATE
from ..models import store

N_FFT = 1024  # samples (64 ms)
HOP = 256  # samples (16 ms); the product of the up-sampling factors
N_MELS = 80
LOG_FLOOR = 1e-5
STFT_RESOLUTIONS = ((512, 128), (1024, 256), (256, 64))  # (n_fft, hop) pairs of the loss
MODEL_KIND = "avdetect.vocoder"
VOCODER_VERSION = 1


@dataclass(frozen=True)
class VocoderConfig:
    version: int = VOCODER_VERSION
    upsample: tuple[int, ...] = (8, 8, 4)  # product must equal HOP
    channels: int = 128  # after the input conv; halved at every up-sampling stage
    dilations: tuple[int, ...] = (1, 3, 5)

    def __post_init__(self) -> None:
        assert int(np.prod(self.upsample)) == HOP, (self.upsample, HOP)


_MEL = torchaudio.transforms.MelSpectrogram(SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS,
                                            f_min=0.0, f_max=SAMPLE_RATE / 2, power=1.0, center=True)


def log_mel(wave: torch.Tensor) -> torch.Tensor:
    """(B, N) float32 -> (B, N_MELS, N // HOP + 1) log magnitude mel."""
    assert wave.dim() == 2, wave.shape
    return torch.log(torch.clamp(_MEL.to(wave.device)(wave), min=LOG_FLOOR))


class _ResBlock(nn.Module):
    def __init__(self, ch: int, dilations: tuple[int, ...]):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(ch, ch, 3, dilation=d, padding=d) for d in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = x + conv(F.leaky_relu(x, 0.1))
        return x


class Vocoder(nn.Module):
    """HiFi-GAN-like generator: (B, N_MELS, T) -> (B, T * HOP) in [-1, 1]."""

    def __init__(self, cfg: VocoderConfig = VocoderConfig()):
        super().__init__()
        self.cfg = cfg
        ch = cfg.channels
        self.pre = nn.Conv1d(N_MELS, ch, 7, padding=3)
        ups, blocks = [], []
        for u in cfg.upsample:
            ups.append(nn.ConvTranspose1d(ch, ch // 2, 2 * u, stride=u, padding=u // 2))
            ch //= 2
            blocks.append(_ResBlock(ch, cfg.dilations))
        self.ups, self.blocks = nn.ModuleList(ups), nn.ModuleList(blocks)
        self.post = nn.Conv1d(ch, 1, 7, padding=3)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        b, m, t = mel.shape
        assert m == N_MELS, mel.shape
        x = self.pre(mel)
        for up, block in zip(self.ups, self.blocks):
            x = block(up(F.leaky_relu(x, 0.1)))
        wave = torch.tanh(self.post(F.leaky_relu(x, 0.1))).squeeze(1)
        assert wave.shape == (b, t * HOP), (wave.shape, t)
        return wave


def stft_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, N), (B, N) -> scalar: spectral convergence + log magnitude L1 over STFT_RESOLUTIONS."""
    loss = pred.new_zeros(())
    for n_fft, hop in STFT_RESOLUTIONS:
        win = torch.hann_window(n_fft, device=pred.device)
        p = torch.stft(pred, n_fft, hop, window=win, return_complex=True).abs().clamp_min(1e-7)
        t = torch.stft(target, n_fft, hop, window=win, return_complex=True).abs().clamp_min(1e-7)
        loss = loss + torch.linalg.norm(t - p) / torch.linalg.norm(t) + F.l1_loss(p.log(), t.log())
    return loss / len(STFT_RESOLUTIONS)


@dataclass(frozen=True)
class VocoderTrainConfig:
    steps: int = 5000
    batch: int = 8
    segment: int = 32 * HOP  # samples (0.51 s) per training crop
    lr: float = 2e-3
    mel_weight: float = 1.0
    seed: int = 0
    max_minutes: float = 25.0


def train_vocoder(waves: list[np.ndarray], cfg: VocoderTrainConfig, log=print) -> Vocoder:
    """Fit a Vocoder on real (N,) float32 16 kHz waveforms (each at least cfg.segment long)."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    waves = [w for w in waves if len(w) > cfg.segment]
    model = Vocoder()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.8, 0.99))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.steps, pct_start=0.05)
    t0 = time.time()
    for step in range(1, cfg.steps + 1):
        batch = []
        for i in rng.integers(0, len(waves), cfg.batch):
            a = int(rng.integers(0, len(waves[i]) - cfg.segment))
            batch.append(waves[i][a:a + cfg.segment] * rng.uniform(0.3, 1.0))
        target = torch.from_numpy(np.stack(batch).astype(np.float32))
        mel = log_mel(target)[:, :, : cfg.segment // HOP]
        pred = model(mel)
        loss = stft_loss(pred, target) + cfg.mel_weight * F.l1_loss(log_mel(pred), log_mel(target))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sched.step()
        minutes = (time.time() - t0) / 60
        if step % 100 == 0:
            log(f"step {step} {minutes:.1f} min loss {loss.item():.3f}")
        if minutes > cfg.max_minutes:
            log(f"stopped at the time limit after step {step}")
            break
    return model.eval()


def save_vocoder(model: Vocoder, path: Path, training: dict) -> Path:
    """path.safetensors + path.json (models.store schema, the training record as metadata).
    Returns the json path."""
    return store.save(path, MODEL_KIND, VOCODER_VERSION, asdict(model.cfg), model.state_dict(), training=training)


def load_vocoder(path: Path) -> Vocoder:
    """path.json + path.safetensors, verified (raises store.ModelFileError). Returns an eval-mode vocoder."""
    meta, state = store.load(path, MODEL_KIND, (VOCODER_VERSION,))
    return store.load_weights(Vocoder(store.config_from(VocoderConfig, meta)), state, meta).eval()


@torch.no_grad()
def resynthesize(model: Vocoder, x: np.ndarray) -> np.ndarray:
    """(N,) float32 16 kHz real speech -> (N,) float32 its neural-vocoder copy."""
    peak = float(np.abs(x).max()) + 1e-9
    wave = torch.from_numpy((x / peak * 0.9).astype(np.float32))[None]
    y = model(log_mel(wave))[0].numpy()
    y = np.pad(y, (0, max(0, len(x) - len(y))))[: len(x)]
    return (y * peak / 0.9).astype(np.float32)
