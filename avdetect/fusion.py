"""Verdict from the checks: the most incriminating applicable check decides (after its weight,
the `weight` of its Check class: how much of its score counts toward the verdict).

Thresholds on the 0-100 score (higher = more likely manipulated):
  score >= 70 -> fake, 40 <= score < 70 -> suspicious, below 40 -> authentic.
No applicable check -> not_applicable.

Claimed identity (scan --claimed NAME): a voice the speaker check matches to NAME is what a clone
of NAME is made to be, so there the synthetic-speech check counts more: when the voice matches
and the synthetic-speech score is at or above CLAIMED_SYNTHETIC_AT, the verdict is at least
suspicious (never fake from this rule alone: the spoof model is near chance on current cloning
systems) and the first reason of that check says so. docs/voice.md has how the mark was chosen.

Lip-sync findings (`SyncFinding`) count differently: a `desync` (a constant offset that a shift of
the audio fixes) counts as suspicious at most unless it is larger than DESYNC_LARGE_MS; an offset
that changes within the clip (a splice) and a `mismatch` (no shift aligns lips and speech) count
with their full score.
"""

from __future__ import annotations

import enum

from .checks.base import CheckResult, Status, SyncFinding

FAKE_THRESHOLD = 70.0
SUSPICIOUS_THRESHOLD = 40.0
# Speaker check: cosine similarity to the enrolled voiceprint -> 0-100 mismatch score, 50 at the
# threshold. Calibrated on LibriSpeech test-other (10 speakers x 10 utterances, 1 utterance vs the
# 9-utterance profile); see scripts/eval_speaker.py and the README for the measured EER.
SPEAKER_SIMILARITY_THRESHOLD = 0.72  # between the EER points 0.70 (utt-utt, fsdd) and 0.75 (utt-profile)
SPEAKER_SCORE_SLOPE = 25.0  # 1/similarity: 0.1 below the threshold -> score 92
# Claimed identity: synthetic_speech score (0-100) from which a voice that matches the claimed
# person is suspicious. Chosen by scripts/eval_claimed.py before its test part is scored: the
# lowest integer mark that leaves >= 95 % of its validation real clips (real references of
# fake-speech/clones that its test never uses) below it. Tied to the shipped spoof model: rerun
# the script when the model changes.
CLAIMED_SYNTHETIC_AT = 54.0
SPEAKER_CHECK = "speaker"  # check names the claimed rule reads (fusion cannot import the checks)
SYNTHETIC_CHECK = "synthetic_speech"
# A constant lip-sync offset up to this is often a production or transcoding fault (real clips of
# av/wild carry 120-240 ms, issue 17): such a desync makes a file suspicious at most. Larger ones
# (the +-400 ms of the offset evaluations) count in full.
DESYNC_LARGE_MS = 300.0  # ms
DESYNC_CAP = FAKE_THRESHOLD - 1.0  # 69: the most a small constant offset counts


class Verdict(enum.StrEnum):  # str(v) is its value: print(report.verdict) -> fake
    authentic = "authentic"
    suspicious = "suspicious"
    fake = "fake"
    not_applicable = "not_applicable"
    error = "error"


def verdict_for(score: float) -> Verdict:
    if score >= FAKE_THRESHOLD:
        return Verdict.fake
    if score >= SUSPICIOUS_THRESHOLD:
        return Verdict.suspicious
    return Verdict.authentic


def contribution_cap(result: CheckResult) -> float:
    """The most a check's score may count toward the verdict (100: no cap): DESYNC_CAP for a
    lip-sync desync whose offset is constant (no offset_changes) and at most DESYNC_LARGE_MS."""
    f = result.fields
    small_constant = not f.get("offset_changes") and abs(f.get("offset_ms") or 0) <= DESYNC_LARGE_MS
    return DESYNC_CAP if f.get("finding") == SyncFinding.desync and small_constant else 100.0


def label(name: str) -> str:
    """A check's name as people read it: lip_sync -> "lip-sync"."""
    return name.replace("_", "-")


def claimed_clone_reason(checks: dict[str, CheckResult], at: float | None = CLAIMED_SYNTHETIC_AT) -> str | None:
    """The reason of the claimed-identity rule when it applies, else None (at None: rule off).

    It applies when the speaker check judged the voice to match the claimed person and the
    synthetic-speech check scored at or above `at`.
    """
    spk, syn = checks.get(SPEAKER_CHECK), checks.get(SYNTHETIC_CHECK)
    if at is None or spk is None or syn is None or spk.status != Status.ok or syn.status != Status.ok:
        return None
    if not is_claimed_clone(spk.fields.get("match"), syn.score, at):
        return None
    return claimed_clone_words(spk.fields.get("claimed"), syn.score)


def is_claimed_clone(match: bool | None, synthetic: float, at: float | None = CLAIMED_SYNTHETIC_AT) -> bool:
    """The claimed-identity rule's test: the voice matches the claimed person (`match` True) and
    the synthetic-speech score is at or above `at` (None: rule off). Shared with `listen`."""
    return at is not None and match is True and synthetic >= at


def claimed_clone_words(claimed: str | None, synthetic: float) -> str:
    """The claimed-identity rule's sentence (also `listen`'s, per window)."""
    return (f"voice matches the enrolled voice of {claimed}, but the speech is likely "
            f"machine-made (score {synthetic:.0f})")


def fuse(checks: dict[str, CheckResult], weights: dict[str, float],
         marks: dict[str, float] | None = None,
         claimed_at: float | None = CLAIMED_SYNTHETIC_AT) -> tuple[Verdict, float | None, list[str]]:
    """-> (verdict, clip score or None, reasons ordered by the score of their check).

    weights: check name -> share of its score that counts (1.0 when absent);
    marks: check name -> its own suspicious mark (Check.suspicious_at; SUSPICIOUS_THRESHOLD when
    absent). A check at or above its mark, or whose weighted score reaches SUSPICIOUS_THRESHOLD,
    always gives a reason; one whose weight keeps it below the verdict's mark says so in words.
    claimed_at: the claimed-identity mark (claimed_clone_reason; None turns the rule off): when it
    applies, the synthetic-speech check counts at least SUSPICIOUS_THRESHOLD and its reasons
    start with the rule's sentence.
    """
    applicable = {k: c for k, c in checks.items() if c.status == Status.ok}
    if not applicable:
        return Verdict.not_applicable, None, [f"{k}: {c.reason}" for k, c in checks.items()]
    marks = marks or {}
    weighted = {k: min(c.score * weights.get(k, 1.0), contribution_cap(c)) for k, c in applicable.items()}
    clone = claimed_clone_reason(applicable, claimed_at)
    if clone:
        weighted[SYNTHETIC_CHECK] = max(weighted[SYNTHETIC_CHECK], SUSPICIOUS_THRESHOLD)
    score = max(weighted.values())
    reasons = []
    for k in sorted(applicable, key=lambda k: -weighted[k]):
        c, mark = applicable[k], marks.get(k, SUSPICIOUS_THRESHOLD)
        counts = weighted[k] >= SUSPICIOUS_THRESHOLD
        if not counts and c.score < mark:
            continue
        if clone and k == SYNTHETIC_CHECK:  # the rule makes it count: no "alone does not change" sentence
            reasons += [clone, *c.reasons]
            continue
        reasons += c.reasons or [f"The {label(k)} check scored {c.score:.0f}, at or above its mark {mark:.0f}"]
        if counts and weighted[k] < c.score * weights.get(k, 1.0):
            reasons.append(f"A constant offset of at most {DESYNC_LARGE_MS:.0f} ms counts as suspicious at most "
                           f"({label(k)} score {c.score:.0f} -> {weighted[k]:.0f})")
        if not counts:
            reasons.append(f"The {label(k)} check alone does not change the verdict: it counts "
                           f"{weights.get(k, 1.0):g}x toward it (score {c.score:.0f} -> {weighted[k]:.0f}, "
                           f"under {SUSPICIOUS_THRESHOLD:.0f} for suspicious)")
    return verdict_for(score), score, reasons
