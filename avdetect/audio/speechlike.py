"""Is the sound the VAD calls speech really speech? Tones, noise and music fool VADs.

Three measures over the frames the VAD marks as speech (the whole clip when it marks none):
- spectral flatness (100-4000 Hz): white or coloured noise is flat, voiced speech is peaky;
- syllabic modulation: speech loudness rises and falls 3-8 times a second by 15-40 dB, a
  steady tone, hum or noise barely moves (10th-90th percentile spread of the 10 ms log energy);
- voicing: speech has pitched (voiced) stretches, a clear autocorrelation peak at a 60-400 Hz
  lag in at least a fifth of its frames; random codec frames (AMR) and noise rarely do;
- spectral change: the spectrum of speech changes from one 40 ms frame to the next (formants
  move, voiced/unvoiced alternate), held musical notes and tones do not (median cosine
  distance between consecutive log spectra).

Thresholds were set on real speech (LibriSpeech, GRID, Arabic TV news: all pass) against
white, pink and brown noise, tones and sweeps, synthetic chords and melodies and random AMR
frames (all fail); scripts/eval_speechlike.py measures both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from ..constants import AUDIO_SAMPLES_PER_FRAME, SAMPLE_RATE

FRAME = 400  # samples: 25 ms analysis frame
HOP = 160  # samples: 10 ms
BAND_HZ = (100.0, 4_000.0)
MAX_FLATNESS = 0.30  # median spectral flatness above this: noise
MIN_MODULATION_DB = 12.0  # 10th-90th percentile spread of the frame energy below this: steady sound
MIN_CHANGE = 0.080  # median spectral change below this: held tones
MIN_VOICED = 0.20  # share of sounding 40 ms frames with a clear pitch (autocorrelation peak); speech >= 0.24
VOICED_PEAK = 0.5  # normalised autocorrelation peak (60-400 Hz lags) of a voiced frame
MIN_MODULATION_S = 3.0  # s: the loudness-spread rule needs this much sound (1 s of news speech may not pause)
MIN_FRAMES = 30  # 0.3 s of analysed frames needed to judge at all (less: undecided, counted as speech;
#                  the checks' own minimum seconds of speech then decide)
MAX_ANALYSED_S = 120.0  # s: long recordings are judged on evenly spread excerpts of this total length
EXCERPT_S = 10.0


@dataclass(frozen=True)
class SpeechLikeness:
    """ok: the sound looks like speech; reason: why not (empty when ok); measures for reports."""

    ok: bool
    reason: str
    flatness: float
    modulation_db: float
    change: float
    voiced: float = 1.0

    def to_json(self) -> dict:
        return {"speech_like": self.ok, "flatness": round(self.flatness, 3),
                "modulation_db": round(self.modulation_db, 1), "spectral_change": round(self.change, 3),
                "voiced": round(self.voiced, 3)}


def _excerpts(samples: np.ndarray, speech: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Long inputs -> evenly spread EXCERPT_S pieces totalling MAX_ANALYSED_S (bounded cost)."""
    n_max = int(MAX_ANALYSED_S * SAMPLE_RATE)
    if len(samples) <= n_max:
        return samples, speech
    piece = int(EXCERPT_S * SAMPLE_RATE) // AUDIO_SAMPLES_PER_FRAME * AUDIO_SAMPLES_PER_FRAME
    k = n_max // piece
    starts = np.linspace(0, len(samples) - piece, k).astype(int) // AUDIO_SAMPLES_PER_FRAME * AUDIO_SAMPLES_PER_FRAME
    x = np.concatenate([samples[s:s + piece] for s in starts])
    if speech is None:
        return x, None
    f = piece // AUDIO_SAMPLES_PER_FRAME
    sp = np.concatenate([speech[s // AUDIO_SAMPLES_PER_FRAME:s // AUDIO_SAMPLES_PER_FRAME + f] for s in starts])
    return x, sp


def _spectra(x: np.ndarray) -> np.ndarray:
    """(N,) -> (T, F) power spectra of 25 ms frames every 10 ms within BAND_HZ."""
    n = 1 + max(0, len(x) - FRAME) // HOP
    idx = np.arange(FRAME)[None, :] + HOP * np.arange(n)[:, None]
    frames = x[np.minimum(idx, len(x) - 1)] * np.hanning(FRAME).astype(np.float32)
    spec = np.abs(scipy.fft.rfft(frames, 512, axis=1)) ** 2  # float32 frames: a float32 FFT
    freqs = np.fft.rfftfreq(512, 1 / SAMPLE_RATE)
    band = (freqs >= BAND_HZ[0]) & (freqs <= BAND_HZ[1])
    return spec[:, band].astype(np.float64)


def speech_likeness(samples: np.ndarray, speech: np.ndarray | None = None) -> SpeechLikeness:
    """samples (N,) float32 16 kHz, speech (T25,) bool VAD mask (None: all) -> SpeechLikeness."""
    assert samples.ndim == 1, samples.shape
    x, sp = _excerpts(samples.astype(np.float32, copy=False), speech)
    if len(x) < FRAME:
        return SpeechLikeness(True, "", 0.0, 0.0, 0.0)
    spec = _spectra(x)
    energy = spec.sum(1)
    loud = energy > 1e-10 * FRAME
    active = loud.copy()
    if sp is not None and sp.any():  # frames of the VAD's speech (10 ms frames -> 40 ms mask)
        mask = np.repeat(sp, AUDIO_SAMPLES_PER_FRAME // HOP)[:len(active)]
        mask = np.pad(mask, (0, len(active) - len(mask)))
        active &= mask
    if active.sum() < MIN_FRAMES:
        return SpeechLikeness(True, "", 0.0, 0.0, 0.0)
    s = spec[active] + 1e-12
    flat = float(np.median(np.exp(np.log(s).mean(1)) / s.mean(1)))
    db = 10 * np.log10(energy[loud] + 1e-12)  # modulation over all sounding frames (pauses count)
    mod = float(np.percentile(db, 90) - np.percentile(db, 10))
    logs = np.log(spec[::4] + 1e-9 * energy.max())  # 40 ms steps
    logs -= logs.mean(1, keepdims=True)
    norms = np.linalg.norm(logs, axis=1) + 1e-12
    cos = (logs[1:] * logs[:-1]).sum(1) / (norms[1:] * norms[:-1])
    act4 = active[::4]
    both = act4[1:] & act4[:-1]
    change = float(np.median(1 - cos[both])) if both.sum() >= 5 else 0.0
    voiced = _voiced_share(x, active)
    if flat > MAX_FLATNESS:
        why = f"the sound is noise-like (spectral flatness {flat:.2f}, speech stays under {MAX_FLATNESS:.2f})"
    elif mod < MIN_MODULATION_DB and loud.sum() * HOP >= MIN_MODULATION_S * SAMPLE_RATE:
        why = (f"the sound is steady, without the rise and fall of syllables (loudness varies {mod:.0f} dB, "
               f"speech at least {MIN_MODULATION_DB:.0f} dB)")
    elif change < MIN_CHANGE:
        why = (f"the sound holds steady tones, like music or a signal tone (spectral change {change:.3f}, "
               f"speech at least {MIN_CHANGE:.3f})")
    elif voiced < MIN_VOICED:
        why = (f"the sound is hardly ever pitched like a voice ({100 * voiced:.0f} % voiced frames, speech at "
               f"least {100 * MIN_VOICED:.0f} %)")
    else:
        why = ""
    return SpeechLikeness(not why, why, flat, mod, change, voiced)


def _voiced_share(x: np.ndarray, active: np.ndarray) -> float:
    """Share of active 40 ms frames (every 20 ms) whose normalised autocorrelation peaks above
    VOICED_PEAK at a 60-400 Hz pitch lag. active: (T,) bool per 10 ms hop."""
    win, hop = 640, 320
    n = max(0, (len(x) - win) // hop)
    if n == 0:
        return 1.0
    idx = np.arange(win)[None, :] + hop * np.arange(n)[:, None]
    frames = x[idx].astype(np.float32)
    frames -= frames.mean(1, keepdims=True)
    spec = scipy.fft.rfft(frames, 2 * win, axis=1)
    ac = scipy.fft.irfft((spec * spec.conj()).real, axis=1)[:, :win]
    lo, hi = SAMPLE_RATE // 400, SAMPLE_RATE // 60
    peak = ac[:, lo:hi].max(1) / (ac[:, 0] + 1e-12)
    act = active[::hop // HOP][:n]
    act = np.pad(act, (0, n - len(act)))
    return float((peak[act] > VOICED_PEAK).mean()) if act.sum() >= 5 else 1.0
