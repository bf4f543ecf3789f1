"""The lip_sync check: do the lips move with the speech, and by how much is the sound late?

By default the learned sync transformer (`learned_sync`, avdetect/models/weights/sync.*) gives the score:
100 * (1 - mean in-sync probability over windows with speech and a face). The training-free
correlation check stays in the report as `correlation`. `offset_ms` of a clip the model doubts
comes from the model's offset scan (re-score with the audio moved by each of +-15 frames; clips
with 2 s windows), else from the correlation check (clips of 1.4-2 s), else from the model's
offset head; `offset_method` says which.

`finding` (SyncFinding) names what was found: in_sync; desync (a shift of the audio makes the lips
match: one constant offset, or one that changes within the clip, `offset_changes`, a splice);
mismatch (no shift aligns them: dubbed or replaced audio). fusion.py weighs them differently. A
constant offset viewers do not notice (ITU-R BT.1359: sound up to 45 ms early or 125 ms late) is
no finding: such a clip is scored as realigned and is in_sync when it then matches.

Training-free policy over the correlation evidence of `sync_correlation`:
- offset: |offset| beyond the tolerance of natural speech (100 ms) with a confident peak;
- weak coupling: even the best lag within +-80 ms correlates poorly (audio may be replaced).
score = 100 * max(offset term, WEAK_WEIGHT * weak term), higher = more likely manipulated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..audio.speechlike import SpeechLikeness
from ..constants import (MIN_LIPSYNC_FPS, REALIGNED_MIN_P_SYNC, SYNC_CLIP_MIN_SPEECH_FACE_COVERAGE,
                         SYNC_WINDOW_FRAMES, VIDEO_FPS)
from ..fusion import DESYNC_LARGE_MS, FAKE_THRESHOLD, SUSPICIOUS_THRESHOLD
from ..visual.landmarks import MouthTrack
from . import learned_sync
from . import sync_correlation as sc
from ..features import ClipFeatures
from .base import (CheckResult, LipSyncMethod, Reliability, ScanContext, Segment, Settings, Status, SyncFinding,
                   fmt_time)

# natural lip-audio asynchrony: where the correlation check's offset term starts to rise, and the
# least offset a window or splice side counts as shifted (symmetric; the learned path's
# "not noticed" range for a constant offset is UNNOTICED_* below)
OFFSET_TOLERANCE_MS = 100.0
# ITU-R BT.1359 detectability thresholds: viewers do not notice sound up to 45 ms early or 125 ms
# late. A constant offset found inside them is no finding: the clip is scored as realigned.
UNNOTICED_LEAD_MS = 45.0  # ms the audio may lead the lips (offset_ms >= -45)
UNNOTICED_LAG_MS = 125.0  # ms the audio may lag the lips (offset_ms <= +125)
OFFSET_FULL_MS = 250.0  # offsets this large score fully
CONFIDENCE_FULL = 0.35  # peak-minus-median correlation of a clear peak (GRID median: 0.49)
NEAR_ZERO_LAGS = 2  # frames: +-80 ms counts as "in sync"
WEAK_GOOD = 0.8  # best correlation within +-80 ms of a real clip (GRID 10th percentile: 0.77)
WEAK_SPAN = 0.4
WEAK_WEIGHT = 0.7
BAD_WINDOW_SCORE = 50.0  # reasons span the windows scored at least this (more likely manipulated than not)
CLIP_PRIOR = 0.5  # windows are judged on their curve blended with the clip's (2 s alone is noisy)
# one judged 2 s window (a clip under 2.5 s) can make a clip suspicious, not fake
MIN_WINDOWS_FOR_FAKE = learned_sync.MIN_JUDGED_FOR_FAKE
SINGLE_WINDOW_CAP = FAKE_THRESHOLD - 1.0  # 69: suspicious at most
# splices: per-window offsets (the scan's) that change within a clip
OFFSET_AGREE_MS = 80.0  # ms: windows whose offsets differ by at most this (2 frames) share one offset
SPLICE_MIN_JUMP_MS = 200.0  # ms: smaller changes are not reported (real footage's per-window spread)
SPLICE_MIN_P = 0.8  # a window counts on a side of a change when it matches this well at its offset
SPLICE_MIN_SIDE_S = 4.0  # s: each side of a change spans two 2 s windows (one alone is one noisy observation)


@dataclass
class OffsetChange:
    """The audio offset changes between after_s and before_s (the windows either side), at_s
    their midpoint, from from_ms to to_ms (+ = the sound after the lips)."""

    at_s: float
    from_ms: float
    to_ms: float
    after_s: float
    before_s: float

    def to_json(self) -> dict:
        return {"at_s": round(self.at_s, 2), "from_ms": int(round(self.from_ms)), "to_ms": int(round(self.to_ms)),
                "between_s": [round(self.after_s, 2), round(self.before_s, 2)]}

    def words(self) -> str:
        return f"at {fmt_time(self.at_s)} from {self.from_ms:.0f} ms to {self.to_ms:.0f} ms"


def score_curve(curve: np.ndarray) -> tuple[float, float, float]:
    """(31,) curve -> (score 0-100, offset_ms, confidence)."""
    off, weak, offset_ms, conf = curve_terms(curve)
    return float(100 * max(off, WEAK_WEIGHT * weak)), offset_ms, conf


def curve_terms(curve: np.ndarray) -> tuple[float, float, float, float]:
    """(31,) curve -> (offset term 0-1, weak-coupling term 0-1, offset_ms, confidence)."""
    if not np.isfinite(curve).any():
        return 0.0, 0.0, float("nan"), 0.0
    offset_ms = sc.lag_to_ms(sc.refine_peak(curve))
    conf = sc.curve_confidence(curve)
    centre = len(curve) // 2
    around = curve[centre - NEAR_ZERO_LAGS:centre + NEAR_ZERO_LAGS + 1]
    near = float(np.nanmax(around)) if np.isfinite(around).any() else 0.0
    off = np.clip((abs(offset_ms) - OFFSET_TOLERANCE_MS) / (OFFSET_FULL_MS - OFFSET_TOLERANCE_MS), 0, 1)
    off *= np.clip(conf / CONFIDENCE_FULL, 0, 1)
    weak = np.clip((WEAK_GOOD - near) / WEAK_SPAN, 0, 1)
    return float(off), float(weak), offset_ms, conf


def curve_finding(curve: np.ndarray) -> SyncFinding:
    """The correlation check's finding: desync when its offset term gives the score (a clear peak
    away from 0), mismatch when weak coupling does, in_sync under suspicious."""
    off, weak, _, _ = curve_terms(curve)
    if 100 * max(off, WEAK_WEIGHT * weak) < SUSPICIOUS_THRESHOLD:
        return SyncFinding.in_sync
    return SyncFinding.desync if off >= WEAK_WEIGHT * weak else SyncFinding.mismatch


def desync_words(offset_ms: float) -> str:
    """What a constant offset means, for a fact-checker."""
    if abs(offset_ms) <= DESYNC_LARGE_MS:
        return "often an encoding fault, not by itself a sign of manipulation"
    return f"an offset over {DESYNC_LARGE_MS:.0f} ms is rarely an encoding fault"


def describe_offset(offset_ms: float) -> str:
    ms = int(round(abs(offset_ms)))
    return f"the audio lags the lips by {ms} ms" if offset_ms > 0 else f"the lips lag the audio by {ms} ms"


def _reasons(finding: SyncFinding, offset_ms: float, segments: list[Segment], duration_s: float) -> list[str]:
    out = []
    bad = [s for s in segments if s.score >= BAD_WINDOW_SCORE and abs(s.extra["offset_ms"]) > OFFSET_TOLERANCE_MS]
    if finding == SyncFinding.desync:
        same = [s for s in bad if np.sign(s.extra["offset_ms"]) == np.sign(offset_ms)]
        if same and (same[0].start_s > 0.5 or same[-1].end_s < duration_s - 0.5):
            span = f" from {fmt_time(same[0].start_s)} to {fmt_time(same[-1].end_s)}"
        else:
            span = ""
        out.append(f"{describe_offset(offset_ms)}{span}: {desync_words(offset_ms)}".capitalize())
    elif finding == SyncFinding.mismatch:
        out.append("lip movements do not follow the speech (weak audio-visual correlation at any small offset)"
                   .capitalize())
    return out


MIN_OVERLAP_S = 0.8  # s: audio and video must overlap for at least one sync window (MIN_WINDOW_FRAMES)


def applicability(face_mask: np.ndarray | None, envelope: np.ndarray | None, speech: np.ndarray | None,
                  has_video: bool, has_audio: bool, *, video_fps: float | None = None,
                  overlap_s: float | None = None, speech_like: "SpeechLikeness | None" = None) -> CheckResult | None:
    """A not_applicable result naming the failed condition when no lip-sync method can judge, else None.

    Conditions, in order: video and audio present; video at >= MIN_LIPSYNC_FPS (measured);
    >= MIN_OVERLAP_S of overlap; speech that is speech (not a tone, noise or music); a tracked
    face during >= SYNC_CLIP_MIN_SPEECH_FACE_COVERAGE of all the speech (speech outside the
    video counts as uncovered: 1 s of video over 8 s of talk is not judged).
    """
    if not has_video:
        return CheckResult.not_applicable("audio-only input: no picture to compare the lips with")
    if not has_audio or envelope is None or speech is None:
        return CheckResult.not_applicable("video has no audio track")
    if video_fps is not None and video_fps < MIN_LIPSYNC_FPS:
        return CheckResult.not_applicable(f"the video has {video_fps:.1f} frames per second; lip sync needs at "
                                          f"least {MIN_LIPSYNC_FPS:.0f}")
    if overlap_s is not None and overlap_s < MIN_OVERLAP_S:
        return CheckResult.not_applicable(f"audio and video overlap for only {overlap_s:.1f} s; lip sync needs "
                                          f"{MIN_OVERLAP_S:.1f} s")
    if not speech.any():
        return CheckResult.not_applicable("no speech detected")
    if speech_like is not None and not speech_like.ok:
        return CheckResult.not_applicable(f"no speech: {speech_like.reason}")
    if face_mask is None or not face_mask.any():
        return CheckResult.not_applicable("no face found in the video")
    n = min(len(face_mask), len(speech))
    covered = float(face_mask[:n][speech[:n]].sum()) / max(1, int(speech.sum()))
    if covered < SYNC_CLIP_MIN_SPEECH_FACE_COVERAGE:
        return CheckResult.not_applicable(
            f"a face is tracked during only {100 * covered:.0f} % of the speech (needs "
            f"{100 * SYNC_CLIP_MIN_SPEECH_FACE_COVERAGE:.0f} %; the video covers {n / VIDEO_FPS:.1f} s of "
            f"{len(speech) / VIDEO_FPS:.1f} s of audio)")
    return None


def check_lip_sync(mouth: MouthTrack | None, envelope: np.ndarray | None, speech: np.ndarray | None,
                   samples: np.ndarray | None, has_video: bool, has_audio: bool,
                   device: str = "cpu", learned: bool = True,
                   scored: "learned_sync.LearnedSync | None" = None) -> CheckResult:
    """mouth: the speaking face's track (Tv,); envelope, speech (Ta,); samples (N,) 16 kHz.

    scored: the learned model's result when a caller already ran it (batched across clips).
    """
    na = applicability(mouth.mask if mouth is not None else None, envelope, speech, has_video, has_audio)
    if na is not None:
        return na
    corr = check_correlation(mouth.landmarks, mouth.mask, envelope, speech, has_video, has_audio)
    if not learned or scored is None:
        return corr
    if scored.p_sync is None or scored.n_judged == 0:
        return corr
    return combine_evidence(scored, corr)


def combine_evidence(res: "learned_sync.LearnedSync", corr: CheckResult) -> CheckResult:
    """Learned score and timeline. Offset: the model's scan when it ran (a doubted clip with 2 s
    windows), else the correlation check's for a doubted clip it could judge, else the head's.

    offset_found is False when the scan ran and no shift makes the pair plausible (other speech,
    not late speech): offset_ms is then only the best shift tried, not a finding. shift_scan (scan
    only): the in-sync probability per shift tried. capped: a clip with fewer than
    MIN_WINDOWS_FOR_FAKE judged windows whose score was cut to SINGLE_WINDOW_CAP. finding and
    offset_changes: `classify`; a splice scores its shifted windows (100 * (1 - their p_sync));
    a constant scanned offset viewers do not notice (`unnoticed`) scores the clip as realigned
    (100 * (1 - the in-sync probability at that shift)), in_sync when that is under suspicious.
    """
    raw = 100.0 * (1.0 - res.p_sync)
    scanned = res.offset_method == learned_sync.OffsetMethod.scan
    # in sync per the model: a far correlation peak is a side peak, the model's offset stands
    use_corr = not scanned and corr.status == Status.ok and raw >= SUSPICIOUS_THRESHOLD
    offset_ms = corr.fields["offset_ms"] if use_corr else res.offset_ms
    finding, changes = classify(raw, res, corr if use_corr else None)
    if changes:
        raw = max(raw, splice_score(res, changes))
    elif finding == SyncFinding.desync and scanned and unnoticed(offset_ms):
        raw = min(raw, 100.0 * (1.0 - res.offset_confidence))  # scored as realigned by that shift
        finding = SyncFinding.in_sync if raw < SUSPICIOUS_THRESHOLD else finding
    capped = res.n_judged < MIN_WINDOWS_FOR_FAKE and raw > SINGLE_WINDOW_CAP
    score = min(raw, SINGLE_WINDOW_CAP) if capped else raw
    segments = [Segment(w.start_s, w.end_s, 100.0 * (1.0 - w.p_sync),
                        {"p_sync": round(w.p_sync, 3), "offset_ms": round(w.offset_ms)})
                for w in res.windows if w.judged]
    fields = {"offset_ms": int(round(offset_ms)),
              "offset_found": not (scanned and res.offset_confidence < REALIGNED_MIN_P_SYNC),
              "confidence": corr.fields["confidence"] if use_corr else round(res.offset_confidence, 3),
              "p_sync": round(res.p_sync, 3), "method": "learned",
              "offset_method": "correlation" if use_corr else res.offset_method.value,
              "capped": capped, "finding": finding, "offset_changes": [c.to_json() for c in changes],
              "correlation": {"status": corr.status.value, "reason": corr.reason,
                              "score": None if corr.score is None else round(corr.score, 1),
                              **{k: corr.fields.get(k) for k in ("offset_ms", "confidence")}}}
    if res.scan_curve:
        fields["shift_scan"] = {"offset_ms": [int(round(o)) for o, _ in res.scan_curve],
                                "p_sync": [round(p, 3) for _, p in res.scan_curve]}
    reasons = _learned_reasons(finding, changes, res, offset_ms, segments, corr if use_corr else None)
    if capped:
        reasons.append(f"Only {res.n_judged} stretch of at most 2 s could be judged: a clip this short is "
                       f"suspicious at most, never fake (lip-sync score {raw:.0f} capped at {SINGLE_WINDOW_CAP:.0f})")
    return CheckResult(Status.ok, score, None, segments, fields=fields, reasons=reasons)


def unnoticed(offset_ms: float) -> bool:
    """A constant offset viewers do not notice (ITU-R BT.1359): audio <= 45 ms early, <= 125 ms late."""
    return -UNNOTICED_LEAD_MS <= offset_ms <= UNNOTICED_LAG_MS


def classify(score: float, res: "learned_sync.LearnedSync",
             corr: CheckResult | None) -> tuple[SyncFinding, list[OffsetChange]]:
    """The finding of a clip scored `score` (0-100) by the model, with its offset changes.

    Scanned clips: desync with offset_changes when the windows either side of a time match well
    at offsets SPLICE_MIN_JUMP_MS or more apart; desync when one non-zero shift makes the scanned
    windows plausible (mean p_sync there >= REALIGNED_MIN_P_SYNC); else mismatch. Unscanned
    doubted clips (1.4-2 s): the correlation check's finding when it gave the offset, else mismatch.
    """
    if score < SUSPICIOUS_THRESHOLD:
        return SyncFinding.in_sync, []
    if res.offset_method == learned_sync.OffsetMethod.scan:
        changes = offset_changes(res.windows)
        if changes:
            return SyncFinding.desync, changes
        if res.offset_confidence >= REALIGNED_MIN_P_SYNC and res.offset_ms != 0:
            return SyncFinding.desync, []
        return SyncFinding.mismatch, []
    if corr is not None and corr.fields.get("finding") == SyncFinding.desync:
        return SyncFinding.desync, []
    return SyncFinding.mismatch, []


def window_offsets(windows: "list[learned_sync.WindowSync]") -> list[tuple["learned_sync.WindowSync", float]]:
    """Judged windows that match well at a known offset -> [(window, offset_ms)] in time order:
    scanned ones at their best shift, unscanned ones the model finds in sync at 0."""
    out = []
    for w in sorted((w for w in windows if w.judged), key=lambda w: w.start_s):
        if w.p_aligned is not None and w.p_aligned >= SPLICE_MIN_P:
            out.append((w, w.offset_ms))
        elif w.p_aligned is None and w.p_sync >= SPLICE_MIN_P:
            out.append((w, 0.0))
    return out


def offset_changes(windows: "list[learned_sync.WindowSync]") -> list[OffsetChange]:
    """Where the offset of well-matched windows changes by SPLICE_MIN_JUMP_MS or more, each side
    spanning at least SPLICE_MIN_SIDE_S ([] for a constant offset)."""
    runs: list[list[tuple]] = []
    for w, o in window_offsets(windows):
        if runs and abs(o - runs[-1][0][1]) <= OFFSET_AGREE_MS:
            runs[-1].append((w, o))
        else:
            runs.append([(w, o)])
    sides = [r for r in runs if r[-1][0].end_s - r[0][0].start_s >= SPLICE_MIN_SIDE_S]
    out = []
    for a, b in zip(sides, sides[1:]):
        from_ms, to_ms = float(np.median([o for _, o in a])), float(np.median([o for _, o in b]))
        if abs(to_ms - from_ms) >= SPLICE_MIN_JUMP_MS:
            lo, hi = sorted((a[-1][0].end_s, b[0][0].start_s))
            out.append(OffsetChange((lo + hi) / 2, from_ms, to_ms, lo, hi))
    return out


def splice_score(res: "learned_sync.LearnedSync", changes: list[OffsetChange]) -> float:
    """0-100: 100 * (1 - mean p_sync) of the windows whose audio is shifted (offset beyond
    OFFSET_TOLERANCE_MS either side of a change): the clip's mean dilutes a shifted part."""
    shifted = [w.p_sync for w, o in window_offsets(res.windows) if abs(o) > OFFSET_TOLERANCE_MS]
    return 100.0 * (1.0 - float(np.mean(shifted))) if shifted and changes else 0.0


def _span(segments: list[Segment]) -> str:
    """" throughout", or " from MM:SS to MM:SS" over the windows scored BAD_WINDOW_SCORE or more."""
    bad = [s for s in segments if s.score >= BAD_WINDOW_SCORE] or segments
    if len(segments) <= 1:
        return ""
    if bad[0].start_s <= segments[0].start_s and bad[-1].end_s >= segments[-1].end_s:
        return " throughout"
    return f" from {fmt_time(bad[0].start_s)} to {fmt_time(bad[-1].end_s)}"


def _learned_reasons(finding: SyncFinding, changes: list[OffsetChange], res: "learned_sync.LearnedSync",
                     offset_ms: float, segments: list[Segment], corr: CheckResult | None) -> list[str]:
    if finding == SyncFinding.in_sync:
        return []
    if corr is not None and corr.reasons and finding == SyncFinding.desync:
        return list(corr.reasons)
    if changes:
        where = " and ".join(c.words() for c in changes)
        return [f"The offset between audio and lips changes {where} (a cut or splice): on each side a "
                f"shift of the audio makes the lips match (in-sync probability {SPLICE_MIN_P:.1f} or more), "
                f"which no constant encoding delay does"]
    span = _span(segments)
    if finding == SyncFinding.desync:
        return [f"{describe_offset(offset_ms)}{span}; shifted back, the lips match (in-sync probability "
                f"{res.offset_confidence:.2f} once realigned, {res.p_sync:.2f} as recorded): "
                f"{desync_words(offset_ms)}".capitalize()]
    if res.offset_method == learned_sync.OffsetMethod.scan:
        # no shift makes the pair plausible: not a delay, other speech (dubbed or replaced audio)
        most = max((abs(o) for o, _ in res.scan_curve), default=0.0)
        within = f" by up to {most:.0f} ms" if most else ""
        if res.offset_confidence < REALIGNED_MIN_P_SYNC:
            return [f"The lip movements do not match the speech{span}, and no time shift aligns them "
                    f"(in-sync probability {res.p_sync:.2f}, at most {res.offset_confidence:.2f} when shifted"
                    f"{within}): the audio may be dubbed or replaced, so there is no time offset to report"]
    return [f"The lip movements do not match the speech{span} (in-sync probability {res.p_sync:.2f})"]


def check_correlation(lips: np.ndarray | None, face_mask: np.ndarray | None,
                      envelope: np.ndarray | None, speech: np.ndarray | None,
                      has_video: bool, has_audio: bool) -> CheckResult:
    """Training-free check. lips (Tv, 40, 2) + face_mask (Tv,); envelope, speech (Ta,)."""
    na = applicability(face_mask if lips is not None else None, envelope, speech, has_video, has_audio)
    if na is not None:
        return na
    n = min(len(face_mask), len(envelope))
    if n < sc.MIN_CLIP_FRAMES:
        need_s = sc.MIN_CLIP_FRAMES / VIDEO_FPS
        return CheckResult.not_applicable(f"too short: {n / VIDEO_FPS:.1f} s (needs {need_s:.1f} s)")
    signals = sc.make_signals(lips, face_mask, envelope, speech)
    windows = sc.correlate(signals, face_mask, speech)
    clip = sc.clip_curve(signals)
    score, offset_ms, conf = score_curve(clip)
    if not np.isfinite(offset_ms):
        return CheckResult.not_applicable("too little speech with a visible face to judge")
    segments = []
    for w in windows:
        if not w.valid:
            continue
        s, o, c = score_curve((1 - CLIP_PRIOR) * w.curve + CLIP_PRIOR * clip)
        length = min(SYNC_WINDOW_FRAMES, n - w.start_frame)
        segments.append(Segment(w.start_frame / VIDEO_FPS, (w.start_frame + length) / VIDEO_FPS, s,
                                {"offset_ms": round(o), "confidence": round(c, 3)}))
    finding = curve_finding(clip)
    return CheckResult(
        Status.ok, score, None, segments,
        fields={"offset_ms": int(round(offset_ms)), "confidence": round(conf, 3),
                "method": "correlation", "finding": finding},
        reasons=_reasons(finding, offset_ms, segments, n / VIDEO_FPS))


class LipSyncCheck:
    """Check: do the lips move with the speech (learned sync model, or the correlation check alone)."""

    name = "lip_sync"
    weight = 1.0
    csv_fields = ("score", "finding", "offset_ms")
    detail_fields = ("finding", "offset_ms", "confidence")
    timeline = True
    suspicious_at = SUSPICIOUS_THRESHOLD
    reliability = Reliability.normal
    limits = ""
    models = ("sync", "whisper-base")  # the learned method's; the correlation method reads none

    def __init__(self, model: "learned_sync.SyncTransformer | None" = None) -> None:
        self.model = model  # None: the training-free correlation check alone

    @classmethod
    def load(cls, settings: Settings) -> "LipSyncCheck":
        if LipSyncMethod(settings.lip_sync) == LipSyncMethod.correlation:
            return cls(None)
        return cls(learned_sync.load_model(settings.model_dir, settings.device))

    def applicable(self, feats: ClipFeatures, ctx: ScanContext) -> CheckResult | None:
        m = feats.mouth
        return applicability(m.mask if m is not None else None, feats.envelope, feats.speech,
                             feats.info.has_video, feats.audio is not None, video_fps=feats.info.video_fps,
                             overlap_s=feats.info.overlap_s if feats.audio is not None else None,
                             speech_like=feats.speech_like)

    def run(self, feats: list[ClipFeatures], ctx: ScanContext) -> list[CheckResult]:
        """The sync model sees the windows of all clips together; then each clip's policy."""
        scored: list = [None] * len(feats)
        if self.model is not None:
            clips = [(f.mouth, f.audio.samples, f.speech) for f in feats]
            scored = learned_sync.score_learned_sync_many(clips, ctx.device, model=self.model)
        out = []
        for f, res in zip(feats, scored):
            lip = check_lip_sync(f.mouth, f.envelope, f.speech, f.audio.samples, f.info.has_video, True,
                                 ctx.device, self.model is not None, scored=res)
            if lip.status == Status.ok:
                lip.fields["faces"] = f.mouth.n_tracks
            out.append(lip)
        return out
