"""End-to-end scans of generated talking faces: offsets in samples, in the container, other rates."""

import numpy as np
import pytest

from avdetect import synth
from conftest import CORRELATION_SETTINGS
from avdetect.detector import Detector
from avdetect.checks.lip_sync import check_lip_sync, describe_offset
from avdetect.checks.sync_correlation import LAGS, refine_peak

TOLERANCE_MS = 40
_CORRELATION: list[Detector] = []


def scan(path):
    """Generated faces are an animated photo: these tests measure the training-free check."""
    if not _CORRELATION:
        _CORRELATION.append(Detector(CORRELATION_SETTINGS))
    return _CORRELATION[0].scan(path).to_dict()


def test_learned_model_runs_and_keeps_the_correlation_evidence(talking, tmp_path, detector):
    frames, samples = talking
    r = detector.scan(synth.write_av(tmp_path / "l.mp4", frames, synth.delay_audio(samples, 0.4))).to_dict()
    lip = _lip(r)
    assert lip["method"] == "learned" and 0 <= lip["p_sync"] <= 1
    assert lip["correlation"]["status"] == "ok" and abs(lip["correlation"]["offset_ms"] - 400) <= TOLERANCE_MS
    assert lip["segments"] and all("p_sync" in s for s in lip["segments"])


def _lip(report):
    return report["checks"]["lip_sync"]


def test_in_sync_clip_is_authentic(in_sync_mp4):
    r = scan(in_sync_mp4)
    lip = _lip(r)
    assert lip["status"] == "ok" and abs(lip["offset_ms"]) <= TOLERANCE_MS
    assert r["verdict"] == "authentic" and r["score"] < 40
    assert lip["segments"] and all(0 <= s["score"] <= 100 for s in lip["segments"])


@pytest.mark.parametrize("delay_ms,how", [(200, "samples"), (400, "container"), (-400, "samples")])
def test_audio_offsets_are_measured(talking, tmp_path, delay_ms, how):
    frames, samples = talking
    if how == "samples":
        path = synth.write_av(tmp_path / "d.mp4", frames, synth.delay_audio(samples, delay_ms / 1000))
    else:
        path = synth.write_av(tmp_path / "d.mp4", frames, samples, audio_start_s=delay_ms / 1000)
    r = scan(path)
    assert abs(_lip(r)["offset_ms"] - delay_ms) <= TOLERANCE_MS, _lip(r)
    if abs(delay_ms) >= 400:
        assert r["verdict"] == "fake" and _lip(r)["finding"] == "desync"  # over DESYNC_LARGE_MS: not capped
        word = "audio lags the lips" if delay_ms > 0 else "lips lag the audio"
        assert any(word in reason for reason in r["reasons"]), r["reasons"]


@pytest.mark.parametrize("fps", [30, 50])
def test_other_frame_rates_stay_aligned(tmp_path, fps):
    frames, samples = synth.talking_face(6.0, fps=fps, seed=1)
    path = synth.write_av(tmp_path / "r.mp4", frames, synth.delay_audio(samples, 0.2), fps=fps)
    assert abs(_lip(scan(path))["offset_ms"] - 200) <= TOLERANCE_MS


def test_variable_frame_rate(tmp_path):
    rng = np.random.default_rng(5)
    times = list(np.cumsum(rng.uniform(0.025, 0.045, 170)) - 0.025)
    frames, samples = synth.talking_face(6.0, seed=1, frame_times=times)
    path = synth.write_av(tmp_path / "v.mp4", frames, samples, frame_times=times)
    assert abs(_lip(scan(path))["offset_ms"]) <= TOLERANCE_MS


def test_audio_only_and_silent_video_are_not_applicable(talking, tmp_path):
    frames, samples = talking
    audio = synth.write_av(tmp_path / "a.wav", None, samples, audio_codec="pcm_s16le")
    lip = _lip(scan(audio))
    assert lip["status"] == "not_applicable" and "audio-only" in lip["reason"]
    silent = synth.write_av(tmp_path / "v.mp4", frames, None)
    r = scan(silent)
    assert _lip(r)["status"] == "not_applicable" and "no audio" in _lip(r)["reason"]
    assert r["verdict"] == "not_applicable"


def test_no_face_is_not_applicable(talking, tmp_path):
    _, samples = talking
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (96, 96, 3), dtype=np.uint8) for _ in range(150)]
    lip = _lip(scan(synth.write_av(tmp_path / "n.mp4", frames, samples)))
    assert lip["status"] == "not_applicable" and "no face" in lip["reason"]


def test_too_short_is_not_applicable(talking, tmp_path):
    frames, samples = talking
    path = synth.write_av(tmp_path / "s.mp4", frames[:25], samples[:16000])
    lip = _lip(scan(path))
    assert lip["status"] == "not_applicable" and "too short" in lip["reason"]


def test_check_policy_on_signals():
    assert check_lip_sync(None, None, None, None, False, True).status.value == "not_applicable"
    assert "no face" in check_lip_sync(None, np.zeros(50), np.ones(50, bool), np.zeros(32000, np.float32),
                                       True, True).reason
    peak = np.exp(-0.5 * ((LAGS - 5) / 1.5) ** 2)
    assert refine_peak(peak) == pytest.approx(5, abs=0.05)
    assert "audio lags" in describe_offset(200) and "lips lag" in describe_offset(-200)


def test_scanned_offset_is_reported_with_its_reason():
    """A clip the model doubts and scanned: its offset, confidence and reason come from the scan."""
    from avdetect.checks import learned_sync as ls
    from avdetect.checks.base import CheckResult
    from avdetect.checks.lip_sync import combine_evidence

    windows = [ls.WindowSync(k * 0.5, k * 0.5 + 2, 0.1, 400.0, 0.9, 1.0, True) for k in range(3)]
    res = ls.LearnedSync(windows, p_sync=0.1, offset_ms=400.0, offset_confidence=0.93, n_judged=3,
                         offset_method=ls.OffsetMethod.scan)
    corr = CheckResult.not_applicable("too little speech with a visible face to judge")
    out = combine_evidence(res, corr)
    assert out.fields["offset_ms"] == 400 and out.fields["offset_method"] == "scan"
    assert out.fields["confidence"] == 0.93 and out.score == pytest.approx(90)
    assert out.reasons and out.reasons[0].startswith("The audio lags the lips by 400 ms throughout; shifted back")
    assert out.fields["finding"] == "desync" and out.fields["offset_changes"] == []
    assert "rarely an encoding fault" in out.reasons[0]  # 400 ms > DESYNC_LARGE_MS
    for offset_ms, finding in ((120.0, "in_sync"), (-40.0, "in_sync"), (-80.0, "desync"), (160.0, "desync")):
        res.offset_ms = offset_ms  # viewers do not notice sound <= 45 ms early or <= 125 ms late
        out = combine_evidence(res, corr)
        assert out.fields["finding"] == finding and out.fields["offset_ms"] == offset_ms, offset_ms
        assert (out.score, out.reasons) == ((pytest.approx(7), []) if finding == "in_sync" else (pytest.approx(90), out.reasons))
    res.offset_ms, res.offset_confidence = 120.0, 0.55  # unnoticed, but no good match even realigned
    out = combine_evidence(res, corr)
    assert out.fields["finding"] == "desync" and out.score == pytest.approx(45) and out.reasons
    res.offset_ms, res.offset_confidence = 0.0, 0.93  # the best shift is none: the speech does not match
    out = combine_evidence(res, corr)
    assert "do not match the speech" in out.reasons[0] and out.fields["finding"] == "mismatch"
    res.offset_ms, res.offset_confidence = 400.0, 0.2  # no shift makes it plausible: other speech
    out = combine_evidence(res, corr)
    reason = out.reasons[0]
    assert "no time shift aligns them" in reason and "dubbed or replaced" in reason and "lags" not in reason
    assert out.fields["finding"] == "mismatch"


def _windows(offsets_ps, hop=2.0):
    """[(offset_ms, p_sync at 0, p at the offset or None when not scanned)] -> 2 s windows, hop apart."""
    from avdetect.checks import learned_sync as ls

    return [ls.WindowSync(k * hop, k * hop + 2, p0, o, 0.9, 1.0, True, p_aligned=pa)
            for k, (o, p0, pa) in enumerate(offsets_ps)]


def test_offset_changes_need_two_well_matched_sides_and_a_real_jump():
    from avdetect.checks.lip_sync import SPLICE_MIN_JUMP_MS, offset_changes

    in_sync, late = (0.0, 0.99, None), (280.0, 0.02, 0.99)
    change = offset_changes(_windows([in_sync, in_sync, in_sync, late, late, late]))
    assert [(c.at_s, c.from_ms, c.to_ms) for c in change] == [(6.0, 0.0, 280.0)]
    assert change[0].to_json() == {"at_s": 6.0, "from_ms": 0, "to_ms": 280, "between_s": [6.0, 6.0]}
    assert offset_changes(_windows([late] * 6)) == []  # constant
    assert offset_changes(_windows([in_sync, late])) == []  # one 2 s window a side is not enough
    small = (SPLICE_MIN_JUMP_MS - 40.0, 0.02, 0.99)
    assert offset_changes(_windows([in_sync, in_sync, small, small])) == []
    unsure = (280.0, 0.02, 0.6)  # matches at its shift, but not well enough to be a side
    assert offset_changes(_windows([in_sync, in_sync, unsure, unsure])) == []
    unmatched = (0.0, 0.1, 0.3)  # no shift fits it: skipped, the change lies somewhere in it
    back = offset_changes(_windows([late, late, unmatched, in_sync, in_sync]))
    assert [(c.from_ms, c.to_ms, c.after_s, c.before_s) for c in back] == [(280.0, 0.0, 4.0, 6.0)]


def test_a_splice_scores_its_shifted_windows():
    """Half in sync, half late: the clip's mean p_sync (0.5) would say suspicious; the splice is fake."""
    from avdetect.checks import learned_sync as ls
    from avdetect.checks.base import CheckResult
    from avdetect.checks.lip_sync import combine_evidence

    ws = _windows([(0.0, 0.99, None)] * 3 + [(280.0, 0.02, 0.99)] * 3)
    res = ls.LearnedSync(ws, p_sync=0.505, offset_ms=280.0, offset_confidence=0.99, n_judged=6,
                         offset_method=ls.OffsetMethod.scan)
    out = combine_evidence(res, CheckResult.not_applicable("x"))
    assert out.fields["finding"] == "desync" and len(out.fields["offset_changes"]) == 1
    assert out.score == pytest.approx(98.0) and "changes at 00:06 from 0 ms to 280 ms" in out.reasons[0]


@pytest.mark.parametrize("finding,offset_ms,changes,verdict", [
    ("desync", 200, [], "suspicious"), ("desync", -280, [], "suspicious"), ("desync", 400, [], "fake"),
    ("desync", 280, [{"at_s": 6.0, "from_ms": 0, "to_ms": 280}], "fake"), ("mismatch", 0, [], "fake")])
def test_fusion_weighs_the_findings(finding, offset_ms, changes, verdict):
    from avdetect.checks.base import CheckResult, Status
    from avdetect.fusion import DESYNC_CAP, fuse

    lip = CheckResult(Status.ok, 95.0, fields={"finding": finding, "offset_ms": offset_ms,
                                                "offset_changes": changes}, reasons=["r"])
    v, score, reasons = fuse({"lip_sync": lip}, {})
    assert v == verdict and score == (DESYNC_CAP if verdict == "suspicious" else 95.0)
    assert any("counts as suspicious at most" in r for r in reasons) == (verdict == "suspicious")


def _lag_curve_loop(visual, vmask, audio, amask, start, length):
    """The plain per-lag loop that sync_correlation.lag_curve computes at once (reference)."""
    from avdetect.checks.sync_correlation import MIN_PAIRS

    out = np.full(len(LAGS), np.nan)
    v_idx = np.arange(start, start + length)
    for j, lag in enumerate(LAGS):
        a_idx = v_idx + lag
        keep = (a_idx >= 0) & (a_idx < len(audio))
        vi, ai = v_idx[keep], a_idx[keep]
        both = vmask[vi] & amask[ai]
        if both.sum() >= MIN_PAIRS:
            a, b = visual[vi[both]] - visual[vi[both]].mean(), audio[ai[both]] - audio[ai[both]].mean()
            den = np.sqrt((a * a).sum() * (b * b).sum())
            out[j] = (a * b).sum() / den if den > 1e-9 else np.nan
    return out


@pytest.mark.parametrize("seed", range(6))
def test_lag_curve_matches_the_per_lag_definition(seed):
    from avdetect.checks.sync_correlation import lag_curve

    rng = np.random.default_rng(seed)
    n = int(rng.integers(40, 120))
    visual = rng.normal(size=n)
    vmask = rng.random(n) > 0.2
    visual[~vmask] = np.nan  # untracked frames carry NaN
    audio = rng.normal(size=n + int(rng.integers(-5, 5)))
    amask = rng.random(len(audio)) > 0.1
    if seed == 0:
        audio[:] = 1.0  # a flat signal: no correlation defined
    start = int(rng.integers(0, 10))
    length = min(50, n - start)
    got = lag_curve(visual, vmask, audio, amask, start, length)
    want = _lag_curve_loop(visual, vmask, audio, amask, start, length)
    np.testing.assert_allclose(got, want, atol=1e-12, equal_nan=True)
    assert seed == 0 or np.isfinite(got).any()
