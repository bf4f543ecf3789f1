"""Synthetic-speech check: windowed spoof-model scores -> per-segment timeline and clip score.

Windows of SpoofConfig.window_s (4 s) every hop_s (1 s) over the 16 kHz waveform; a window is
judged when at least MIN_WINDOW_SPEECH_FRACTION of it is speech. The clip score is the mean of
the judged windows' scores. Score = 100 * P(synthetic).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..audio.features import n_video_frames
from ..audio.vad import VadBackend, speech_activity
from ..constants import AUDIO_SAMPLES_PER_FRAME, MEL_HOP, SAMPLE_RATE, VIDEO_FPS
from ..features import ClipFeatures
from ..models import spoof as spoof_model
from ..models.store import model_dir as shipped_model_dir
from ..windows import window_starts
from .base import CheckResult, Reliability, ScanContext, Segment, Settings, Status, fmt_time

# s of detected speech needed to judge a clip at all. Real speech cut to 1.2 s scored >= 70 in
# 24 % of held-out clips, 12 % at 2 s, 8 % at 3 s (the network is trained on 3 s crops).
MIN_SPEECH_S = 2.0
MIN_WINDOW_SPEECH_FRACTION = 0.3
BATCH_WINDOWS = 64  # windows per forward pass (bounded memory on long calls)


def load_model(model_dir: str | os.PathLike | None = None, device: str = "cpu") -> spoof_model.SpoofNet:
    """The shipped spoof model ("spoof" in model_dir; None: the package's), loaded and verified."""
    return spoof_model.load_model(Path(model_dir or shipped_model_dir()) / "spoof", device)


@torch.no_grad()
def score_windows(model: spoof_model.SpoofNet, samples: np.ndarray, starts: list[int], window: int,
                  device: str = "cpu") -> np.ndarray:
    """(N,) float32 16 kHz + K window offsets -> (K,) scores 0-100 (batched, one mel pass)."""
    mel = spoof_model.features(samples, model.cfg.features)  # (T100, F)
    frames = max(1, min(window, len(samples)) // MEL_HOP)
    idx = torch.as_tensor([s // MEL_HOP for s in starts])[:, None] + torch.arange(frames)[None]
    idx = idx.clamp(max=mel.shape[0] - 1)
    out = []
    for b in range(0, len(starts), BATCH_WINDOWS):
        batch = mel[idx[b:b + BATCH_WINDOWS]].to(device)  # (B, frames, F)
        out.append(model.probability(model(batch)).cpu())
    scores = (100.0 * torch.cat(out)).numpy().astype(np.float64)
    assert scores.shape == (len(starts),), scores.shape
    return scores


def span_reasons(segments: list[Segment], threshold: float) -> list[str]:
    """Merge overlapping windows over threshold into spans; one sentence per span."""
    spans: list[list[float]] = []
    for s in segments:
        if s.score < threshold:
            continue
        if spans and s.start_s <= spans[-1][1]:
            spans[-1][1] = s.end_s
            spans[-1][2] = max(spans[-1][2], s.score)
        else:
            spans.append([s.start_s, s.end_s, s.score])
    return [f"synthetic voice from {fmt_time(a)} to {fmt_time(b)} (score {sc:.0f})" for a, b, sc in spans]


def check_synthetic_speech(samples: np.ndarray, speech: np.ndarray | None, device: str = "cpu", *,
                           model: spoof_model.SpoofNet) -> CheckResult:
    """samples (N,) float32 16 kHz, speech (T25,) bool per 40 ms (None: webrtc VAD) -> CheckResult.

    score/segments: 0-100, higher = more likely synthetic; fields: n_windows, threshold.
    """
    assert samples.ndim == 1 and samples.dtype == np.float32, (samples.shape, samples.dtype)
    if speech is None:
        speech = speech_activity(samples, VadBackend.webrtc)
    assert speech.ndim == 1 and len(speech) == n_video_frames(len(samples)), (speech.shape, len(samples))
    speech_s = float(speech.sum()) / VIDEO_FPS
    if speech_s == 0:
        return CheckResult.not_applicable("no speech")
    if speech_s < MIN_SPEECH_S:
        return CheckResult.not_applicable(f"too short: {speech_s:.1f} s of speech, need {MIN_SPEECH_S:.0f} s")
    cfg = model.cfg
    window, hop = int(cfg.window_s * SAMPLE_RATE), int(cfg.hop_s * SAMPLE_RATE)
    # the last window ends at the clip end; a clip shorter than a window is one short window
    starts = [s for s in window_starts(len(samples), window, hop, min_length=0)
              if _speech_fraction(speech, s, min(window, len(samples))) >= MIN_WINDOW_SPEECH_FRACTION]
    if not starts:
        return CheckResult.not_applicable("too short: no window with enough speech")
    scores = score_windows(model, samples, starts, window, device)
    segs = [Segment(s / SAMPLE_RATE, min(s + window, len(samples)) / SAMPLE_RATE, float(sc))
            for s, sc in zip(starts, scores)]
    threshold = float(cfg.threshold)
    clip = float(np.mean(scores))
    reasons = span_reasons(segs, threshold) if clip >= threshold or scores.max() >= threshold else []
    return CheckResult(Status.ok, clip, None, segs, fields={"threshold": threshold, "n_windows": len(segs)},
                       reasons=reasons)


def _speech_fraction(speech: np.ndarray, start: int, length: int) -> float:
    """speech (T25,) bool, a window of `length` samples from `start` -> share of its 40 ms frames with speech."""
    a = start // AUDIO_SAMPLES_PER_FRAME
    b = max(a + 1, (start + length) // AUDIO_SAMPLES_PER_FRAME)
    return float(speech[a:b].mean())


def audio_applicability(feats: ClipFeatures, **fields) -> CheckResult | None:
    """not_applicable (naming the failed condition) when the clip has no speech to judge: no audio,
    an empty track, or sound the VAD took for speech that is a tone, noise or music
    (fields: extra fields of that result)."""
    if feats.audio is None or len(feats.audio.samples) == 0 or feats.speech is None:
        why = "no audio track" if feats.audio is None else "audio track is empty"
        return CheckResult.not_applicable(why, **fields)
    like = feats.speech_like
    if like is not None and not like.ok and feats.speech.any():
        return CheckResult.not_applicable(f"no speech: {like.reason}", **fields)
    return None


class SyntheticSpeechCheck:
    """Check: is the voice machine-made (spoof network over 4 s windows)?"""

    name = "synthetic_speech"
    # The spoof model is weak (models/MODEL_CARD_spoof.md: EER 26-34 % on unseen generators, 9 % of
    # real LibriSpeech clips above 50), so on its own it can make a recording suspicious
    # (score >= 67), never fake.
    weight = 0.6
    csv_fields = ("score",)
    detail_fields = ()
    timeline = True
    suspicious_at = spoof_model.SpoofConfig.threshold  # the config default; an instance takes its model's
    # models/MODEL_CARD_spoof.md: EER 26-34 % on generators it never saw, ~49 % (chance) on the
    # real-world clones of /shared/data/fake-speech/clones
    reliability = Reliability.limited
    limits = "it misses many voices from cloning systems it was not trained on"
    models = ("spoof",)

    def __init__(self, model: spoof_model.SpoofNet) -> None:
        self.model = model
        self.suspicious_at = float(model.cfg.threshold)

    @classmethod
    def load(cls, settings: Settings) -> "SyntheticSpeechCheck":
        return cls(load_model(settings.model_dir, settings.device))

    def applicable(self, feats: ClipFeatures, ctx: ScanContext) -> CheckResult | None:
        return audio_applicability(feats)

    def run(self, feats: list[ClipFeatures], ctx: ScanContext) -> list[CheckResult]:
        return [check_synthetic_speech(f.audio.samples, f.speech, ctx.device, model=self.model) for f in feats]
