"""Speaker check: is this the voice of the enrolled person it claims to be?

Cosine similarity between the clip's Resemblyzer embedding (speech frames only) and the
enrolled voiceprint; per-segment similarity on SEGMENT_S windows. The score (0-100, higher =
more likely NOT the claimed speaker) is a logistic map of (threshold - similarity).
"""

from __future__ import annotations

import numpy as np

from .. import voices
from ..audio.embedding import MIN_EMBED_S, cosine, embed, encoder, speech_only
from ..audio.features import n_video_frames
from ..audio.vad import VadBackend, speech_activity
from ..constants import AUDIO_SAMPLES_PER_FRAME, SAMPLE_RATE, VIDEO_FPS
from ..features import ClipFeatures
from ..fusion import SPEAKER_SCORE_SLOPE, SPEAKER_SIMILARITY_THRESHOLD, SUSPICIOUS_THRESHOLD
from ..windows import window_starts
from .base import CheckResult, Reliability, ScanContext, Segment, Settings, Status
from .synthetic_speech import audio_applicability

MIN_SPEECH_S = 1.0  # s of speech needed to judge
SEGMENT_S = 4.0  # s per timeline segment
SEGMENT_HOP_S = 2.0
MIN_SEGMENT_SPEECH_S = 1.5


def similarity_score(similarity: float, threshold: float = SPEAKER_SIMILARITY_THRESHOLD) -> float:
    """Cosine similarity -> 0-100 mismatch score (50 at the threshold)."""
    return float(100.0 / (1.0 + np.exp(-SPEAKER_SCORE_SLOPE * (threshold - similarity))))


def segment_bounds(n_frames: int) -> list[tuple[int, int]]:
    """Timeline segments [a, b) in 40 ms frames: SEGMENT_S long, every SEGMENT_HOP_S, cut at the
    clip end. A start counts while its segment reaches past the previous one's end (longer than
    seg - hop frames); a clip shorter than that is one segment."""
    seg, hop = int(SEGMENT_S * VIDEO_FPS), int(SEGMENT_HOP_S * VIDEO_FPS)
    return [(a, min(a + seg, n_frames))
            for a in window_starts(n_frames, seg - hop + 1, hop, tail=False, min_length=0)]


def _segments(samples: np.ndarray, speech: np.ndarray, profile: np.ndarray, device: str) -> list[Segment]:
    """samples (N,), speech (T25,) -> one Segment per segment_bounds window with enough speech."""
    per = AUDIO_SAMPLES_PER_FRAME
    out = []
    for a, b in segment_bounds(len(speech)):
        if speech[a:b].sum() / VIDEO_FPS < MIN_SEGMENT_SPEECH_S:
            continue
        sp = speech_only(samples[a * per:b * per], speech[a:b])
        if len(sp) < MIN_EMBED_S * SAMPLE_RATE:
            continue
        sim = cosine(embed(sp, device), profile)
        out.append(Segment(a / VIDEO_FPS, b / VIDEO_FPS, similarity_score(sim), {"similarity": round(sim, 3)}))
    return out


def check_speaker(samples: np.ndarray, speech: np.ndarray | None, claimed: str,
                  device: str = "cpu", threshold: float = SPEAKER_SIMILARITY_THRESHOLD) -> CheckResult:
    """samples (N,) float32 16 kHz, speech (T25,) bool or None -> CheckResult with fields
    claimed, similarity, match, threshold; segments carry per-window similarity.

    Raises voices.VoiceError when `claimed` is not enrolled.
    """
    assert samples.ndim == 1 and samples.dtype == np.float32, (samples.shape, samples.dtype)
    profile = voices.load(claimed)
    if speech is None:
        speech = speech_activity(samples, VadBackend.webrtc)
    assert len(speech) == n_video_frames(len(samples)), (len(speech), len(samples))
    fields = {"claimed": claimed, "similarity": None, "match": None, "threshold": threshold}
    speech_s = float(speech.sum()) / VIDEO_FPS
    if speech_s == 0:
        return CheckResult.not_applicable("no speech", **fields)
    if speech_s < MIN_SPEECH_S:
        return CheckResult.not_applicable(f"too short: {speech_s:.1f} s of speech, need {MIN_SPEECH_S:.0f} s",
                                          **fields)
    sim = cosine(embed(speech_only(samples, speech), device), profile.embedding)
    match = sim >= threshold
    fields.update(similarity=round(sim, 3), match=bool(match))
    score = similarity_score(sim, threshold)
    if not match:
        reasons = [f"voice does not match the enrolled voice of {claimed} (similarity {sim:.2f}, threshold "
                   f"{threshold:.2f})"]
    elif score >= SUSPICIOUS_THRESHOLD:  # a match this close to the threshold counts as suspicious
        reasons = [f"voice only just matches the enrolled voice of {claimed} (similarity {sim:.2f}, threshold "
                   f"{threshold:.2f}): too close to tell"]
    else:
        reasons = []
    return CheckResult(Status.ok, score, None,
                       _segments(samples, speech, profile.embedding, device), fields=fields, reasons=reasons)


class SpeakerCheck:
    """Check: is this the voice of the enrolled person it claims to be (needs ScanContext.claimed)?"""

    name = "speaker"
    weight = 1.0
    csv_fields = ("score",)
    detail_fields = ("claimed", "similarity", "threshold")
    timeline = False
    suspicious_at = 50.0  # similarity_score at the similarity threshold
    reliability = Reliability.normal
    limits = ""
    models = ()  # the resemblyzer encoder ships inside its own wheel

    @classmethod
    def load(cls, settings: Settings) -> "SpeakerCheck":
        encoder(settings.device)  # the Resemblyzer encoder (weights in its wheel), loaded once
        return cls()

    def applicable(self, feats: ClipFeatures, ctx: ScanContext) -> CheckResult | None:
        na = audio_applicability(feats, claimed=ctx.claimed)
        if na is None and not ctx.claimed:
            return CheckResult.not_applicable("no claimed identity (use --claimed NAME)")
        return na

    def run(self, feats: list[ClipFeatures], ctx: ScanContext) -> list[CheckResult]:
        assert ctx.claimed, "applicable() keeps clips without a claim out"
        return [check_speaker(f.audio.samples, f.speech, ctx.claimed, ctx.device) for f in feats]
