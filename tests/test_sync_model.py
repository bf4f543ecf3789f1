"""Sync model: shapes, save/load checks, a toy problem it must learn, inference on real data."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from avdetect.checks.learned_sync import score_learned_sync
from avdetect.constants import AUDIO_SAMPLES_PER_FRAME, SYNC_HOP_S, SYNC_WINDOW_FRAMES, VIDEO_FPS
from avdetect.models.sync import (ModelFileError, SyncConfig, SyncTransformer, TokenLayout,
                                  load_model, prepare_lips, save_model, window_mel)
from avdetect.training.data import IGNORE, Example, Kind, augment_audio, augment_lips, collate
from avdetect.visual.landmarks import MouthTrack
from avdetect.windows import window_starts

STEPS, LR = 150, 1e-2  # toy problem budget
DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def _inputs(b: int, t: int, cfg: SyncConfig, gen: torch.Generator):
    lips = torch.randn(b, t, cfg.n_points, 2, generator=gen) * 0.1
    valid = torch.ones(b, t, dtype=torch.bool)
    mel = torch.randn(b, t * cfg.mel_per_frame, cfg.n_mels, generator=gen)
    return lips, valid, mel, valid.clone()


@pytest.mark.parametrize("layout", list(TokenLayout))
def test_forward_shapes_and_padding_invariance(layout):
    torch.manual_seed(0)
    cfg = dataclasses.replace(SyncConfig.tiny(), tokens=layout.value)
    m = SyncTransformer(cfg).eval()
    lips, lv, mel, fv = _inputs(3, 30, cfg, torch.Generator().manual_seed(0))
    s, o = m(lips, lv, mel, fv)
    assert s.shape == (3,) and o.shape == (3, cfg.n_offsets)
    # padding 30 -> 40 frames (masked) must not change the outputs
    pad_l = torch.cat([lips, torch.full((3, 10, cfg.n_points, 2), float("nan"))], 1)
    pad_m = torch.cat([mel, torch.zeros(3, 10 * cfg.mel_per_frame, cfg.n_mels)], 1)
    fv2 = torch.cat([fv, torch.zeros(3, 10, dtype=torch.bool)], 1)
    lv2 = torch.cat([lv, torch.zeros(3, 10, dtype=torch.bool)], 1)
    s2, o2 = m(pad_l, lv2, pad_m, fv2)
    assert torch.allclose(s, s2, atol=1e-5) and torch.allclose(o, o2, atol=1e-5)


def test_prepare_lips_removes_mean_shape_and_ignores_missing_frames():
    lips = torch.randn(2, 10, 40, 2)
    valid = torch.ones(2, 10, dtype=torch.bool)
    valid[0, 3] = False
    lips[0, 3] = float("nan")
    x = prepare_lips(lips + 5.0, valid)  # a constant offset (identity) must vanish
    assert x.shape == (2, 10, 161) and torch.isfinite(x).all()
    assert torch.allclose(x, prepare_lips(lips, valid), atol=1e-4)
    assert (x[0, 3] == 0).all()


def test_save_load_round_trip_checks_version_and_sha(tmp_path):
    torch.manual_seed(0)
    m = SyncTransformer(SyncConfig.tiny()).eval()
    js = save_model(m, tmp_path / "sync")
    m2 = load_model(tmp_path / "sync")
    x = _inputs(2, 25, m.cfg, torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(m(*x)[0], m2(*x)[0])
    meta = json.loads(js.read_text())
    meta["version"] += 1
    js.write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="version"):
        load_model(tmp_path / "sync")
    meta["version"] -= 1
    js.write_text(json.dumps(meta))
    w = tmp_path / "sync.safetensors"
    w.write_bytes(w.read_bytes()[:-1] + b"\0")
    with pytest.raises(ModelFileError, match="sha256"):
        load_model(tmp_path / "sync")


def test_average_weights_is_the_mean_of_the_parameters_and_records_its_sources(tmp_path):
    from avdetect.training.sync import average_weights

    torch.manual_seed(0)
    a, b = SyncTransformer(SyncConfig.tiny()), SyncTransformer(SyncConfig.tiny())
    save_model(a, tmp_path / "a")
    save_model(b, tmp_path / "b")
    js = average_weights([str(tmp_path / "a"), str(tmp_path / "b")], str(tmp_path / "soup"), [0.25, 0.75])
    soup = load_model(tmp_path / "soup")  # sha256 and version checked
    for k, v in soup.state_dict().items():
        if v.is_floating_point():
            torch.testing.assert_close(v, 0.25 * a.state_dict()[k] + 0.75 * b.state_dict()[k])
    src = json.loads(js.read_text())["training"]["averaged_from"]
    assert [s["weight"] for s in src] == [0.25, 0.75] and all(len(s["sha256"]) == 64 for s in src)
    assert all("training" in s for s in src)  # each source's training record travels with the average
    other = SyncTransformer(dataclasses.replace(SyncConfig.tiny(), d_model=SyncConfig.tiny().d_model * 2))
    save_model(other, tmp_path / "c")
    with pytest.raises(ValueError, match="config differs"):
        average_weights([str(tmp_path / "a"), str(tmp_path / "c")], str(tmp_path / "bad"))


def test_loss_decreases_on_toy_sync_problem():
    """Audio energy follows mouth opening (sync) or an unrelated signal (not): must learn it."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    cfg = SyncConfig.tiny()
    m = SyncTransformer(cfg)
    opt = torch.optim.Adam(m.parameters(), lr=LR)
    b, t = 32, 20

    def batch():
        drive = torch.rand(b, t, generator=gen)
        other = torch.rand(b, t, generator=gen)
        y = (torch.rand(b, generator=gen) < 0.5).float()
        lips = torch.zeros(b, t, cfg.n_points, 2)
        lips[..., 1] = drive[..., None] * torch.linspace(-1, 1, cfg.n_points)
        env = torch.where(y[:, None] > 0, drive, other).repeat_interleave(cfg.mel_per_frame, 1)
        mel = env[..., None].expand(b, t * cfg.mel_per_frame, cfg.n_mels).clone()
        valid = torch.ones(b, t, dtype=torch.bool)
        return lips, valid, mel, valid, y

    losses = []
    for _ in range(STEPS):
        lips, lv, mel, fv, y = batch()
        s, _ = m(lips, lv, mel, fv)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(s, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:10]), losses


def test_collate_augment_and_mel_shapes():
    gen = torch.Generator().manual_seed(0)
    ex = [Example(np.zeros((n, 40, 2), np.float32), np.ones(n, bool),
                  np.zeros(n * AUDIO_SAMPLES_PER_FRAME, np.float32), 1.0, 0, Kind.positive) for n in (20, 33)]
    ex[1].offset, ex[1].sync = IGNORE, 0.0
    b = collate(ex)
    assert b.lips.shape == (2, 33, 40, 2) and b.frame_valid.sum() == 53
    assert b.offset.tolist() == [0, IGNORE]
    assert window_mel(augment_audio(b.audio, gen)).shape == (2, 33 * 4, 80)
    lips, valid = augment_lips(b.lips, b.lip_valid, gen)
    assert lips.shape == b.lips.shape and valid.shape == b.lip_valid.shape


def test_window_grid_and_score_api():
    hop = SYNC_HOP_S * VIDEO_FPS  # 12.5 frames
    assert window_starts(50, 50, hop) == [0]
    assert window_starts(80, 50, hop) == [0, 12, 25, 30]
    assert window_starts(130, 50, 2.0 * VIDEO_FPS) == [0, 50, 80]  # Whisper models: windows do not overlap
    torch.manual_seed(0)
    m = SyncTransformer(SyncConfig.tiny()).eval()
    t = 90
    lm = np.random.default_rng(0).normal(size=(t, 40, 2)).astype(np.float32)
    mouth = MouthTrack(lm, np.ones(t, bool), np.zeros(t, np.float32), 50.0)
    samples = np.zeros(t * AUDIO_SAMPLES_PER_FRAME - 100, np.float32)
    r = score_learned_sync(mouth, samples, np.ones(t, bool), model=m)
    assert len(r.windows) == len(window_starts(t, SYNC_WINDOW_FRAMES, hop)) and r.n_judged == len(r.windows)
    assert 0 <= r.p_sync <= 1 and r.offset_ms % 40 == 0
    short = MouthTrack(lm[:10], np.ones(10, bool), np.zeros(10, np.float32), 50.0)
    assert score_learned_sync(short, samples[:6400], np.ones(10, bool), model=m).p_sync is None


@pytest.mark.integration
def test_shipped_model_on_shared_clip():
    """The shipped model on a real GRID clip: in sync beats the same audio 400 ms late."""
    clip = DATA / "av" / "grid_s1" / "video" / "bbaf2n.mp4"
    if not clip.exists():
        pytest.skip(f"shared data not found at {DATA.resolve()} (needs ../shared/data next to the repo)")
    stem = Path(__file__).resolve().parents[1] / "avdetect" / "models" / "weights" / "sync"
    if not stem.with_suffix(".json").exists():
        pytest.skip("avdetect/models/weights/sync.json not shipped in this checkout")
    from avdetect.features import extract

    f = extract(clip)
    model = load_model(stem)
    real = score_learned_sync(f.mouth, f.audio.samples, f.speech, model=model)
    late = np.concatenate([np.zeros(10 * AUDIO_SAMPLES_PER_FRAME, np.float32), f.audio.samples])
    shifted = score_learned_sync(f.mouth, late, np.r_[np.zeros(10, bool), f.speech], model=model)
    assert real.n_judged > 0
    assert real.p_sync > shifted.p_sync
    assert abs(real.offset_ms) <= 40
    # the model doubts the late clip, so its offset comes from the scan, which finds the delay
    assert shifted.offset_method == "scan" and abs(shifted.offset_ms - 400) <= 40, shifted.offset_ms


def test_offset_scan_returns_a_lag_in_range():
    from avdetect.checks.learned_sync import OffsetMethod

    torch.manual_seed(0)
    m = SyncTransformer(SyncConfig.tiny()).eval()
    t = 60
    lm = np.random.default_rng(1).normal(size=(t, 40, 2)).astype(np.float32)
    mouth = MouthTrack(lm, np.ones(t, bool), np.zeros(t, np.float32), 50.0)
    samples = np.random.default_rng(2).normal(size=t * AUDIO_SAMPLES_PER_FRAME).astype(np.float32) * 0.1
    r = score_learned_sync(mouth, samples, np.ones(t, bool), model=m, offset_method=OffsetMethod.scan)
    assert abs(r.offset_ms) <= m.cfg.max_offset * 40 and r.offset_ms % 40 == 0
    assert 0 <= r.offset_confidence <= 1


def test_auto_offset_scans_only_doubted_clips_with_full_windows(monkeypatch):
    from avdetect.checks import learned_sync
    from avdetect.checks.learned_sync import OffsetMethod, score_learned_sync_many

    torch.manual_seed(0)
    m = SyncTransformer(SyncConfig.tiny()).eval()
    rng = np.random.default_rng(3)
    clips = []
    for t in (75, 40):  # 3 s: 2 s windows; 1.6 s: one shorter window
        lm = rng.normal(size=(t, 40, 2)).astype(np.float32)
        x = (rng.normal(size=t * AUDIO_SAMPLES_PER_FRAME) * 0.1).astype(np.float32)
        clips.append((MouthTrack(lm, np.ones(t, bool), np.zeros(t, np.float32), 50.0), x, np.ones(t, bool)))
    head = score_learned_sync_many(clips, model=m, offset_method=OffsetMethod.head)
    scan = score_learned_sync_many(clips, model=m, offset_method=OffsetMethod.scan)
    for h, s in zip(head, scan):
        assert h.p_sync == pytest.approx(s.p_sync)  # the scan changes offsets, not scores
        assert s.offset_method == "scan" and h.offset_method == "head"
    monkeypatch.setattr(learned_sync, "SCAN_BELOW_P", 1.0)  # every clip is doubted
    auto = score_learned_sync_many(clips, model=m, offset_method=OffsetMethod.auto)
    assert auto[0].offset_method == "scan" and auto[0].offset_ms == scan[0].offset_ms
    assert auto[1].offset_method == "head"  # no full 2 s window: the scan is unreliable there
    monkeypatch.setattr(learned_sync, "SCAN_BELOW_P", 0.0)  # none is
    assert [r.offset_method for r in score_learned_sync_many(clips, model=m)] == ["head", "head"]


def test_training_windows_of_every_kind_may_end_in_digital_silence():
    """Exact zeros at a window's end must not be a fake cue: positives get them too."""
    from avdetect.training.data import donor_pools, sample_example
    from avdetect.training.sync_corpus import CachedClip

    rng = np.random.default_rng(0)
    n = 75

    def clip(name):
        audio = (rng.standard_normal(n * AUDIO_SAMPLES_PER_FRAME) * 0.1).astype(np.float32)
        return CachedClip(name, rng.standard_normal((n, 40, 2)).astype(np.float32), np.ones(n, bool), audio,
                          np.ones(n, bool))

    clips = [clip(f"av/grid_s1/video/{i}.mp4") for i in range(3)] + [clip(f"av/lrc_ar/video/{i}.mp4") for i in range(3)]
    same, other = donor_pools(clips)
    tts = [(rng.standard_normal(8000) * 0.1).astype(np.float32)]  # shorter than most windows: padded
    zero_end: dict[str, list[bool]] = {}
    for _ in range(600):
        e = sample_example(rng, clips, same, other, tts)
        ends = (e.audio[:AUDIO_SAMPLES_PER_FRAME], e.audio[-AUDIO_SAMPLES_PER_FRAME:])
        zero_end.setdefault(e.kind.value, []).append(any(not x.any() for x in ends))
    rate = {k: float(np.mean(v)) for k, v in zero_end.items()}
    assert 0.1 < rate["positive"] < 0.4 and 0.1 < rate["tts"] < 0.4, rate


def test_learned_sync_uses_only_frames_fully_covered_by_audio():
    cfg = SyncConfig(n_layers=1, d_model=16, n_heads=2)
    model = SyncTransformer(cfg).eval()
    n = 40
    mouth = MouthTrack(np.random.default_rng(0).standard_normal((n, 40, 2)).astype(np.float32) * 0.1,
                       np.ones(n, bool), np.zeros(n, np.float32), 1.0)
    samples = np.random.default_rng(1).standard_normal(int(38.5 * AUDIO_SAMPLES_PER_FRAME)).astype(np.float32) * 0.1
    r = score_learned_sync(mouth, samples, np.ones(n, bool), model=model)
    assert r.windows and max(w.end_s for w in r.windows) == pytest.approx(38 / 25)


def test_hard_dub_negatives_pick_the_donor_whose_loudness_follows_the_lips():
    from avdetect.training.data import donor_audio, envelope_match
    from avdetect.training.sync_corpus import CachedClip
    from avdetect.visual.landmarks import INNER_GAP_PAIRS, LIP_POINTS

    t = 40
    wave = 0.5 + 0.5 * np.sin(np.arange(t) * 0.6)  # (T,) mouth opening, 0..1
    lips = np.zeros((t, 40, 2), np.float32)
    for _, lo in INNER_GAP_PAIRS:
        lips[:, LIP_POINTS.index(lo), 1] = wave
    rng = np.random.default_rng(0)

    def clip(name, env):
        audio = (rng.standard_normal(t * AUDIO_SAMPLES_PER_FRAME) * np.repeat(0.01 + env, AUDIO_SAMPLES_PER_FRAME)).astype(np.float32)
        return CachedClip(name, lips, np.ones(t, bool), audio, np.ones(t * 4, bool))

    face = clip("face", wave)
    matched, anti = clip("matched", wave), clip("anti", 1 - wave)
    assert envelope_match(lips, matched.audio) > 0.8 and envelope_match(lips, anti.audio) < -0.8
    donors = [anti] * 9 + [matched]
    picks = [donor_audio(np.random.default_rng(s), donors, face, 30, 20, lips[:30]) for s in range(10)]
    assert all(envelope_match(lips[:30], a) > 0.5 for a in picks)
    randoms = [donor_audio(np.random.default_rng(s), donors, face, 30) for s in range(10)]
    assert sum(envelope_match(lips[:30], a) > 0.5 for a in randoms) < 5  # random donors: mostly anti


def test_grow_layer_adds_an_identity_layer_that_training_can_use():
    from avdetect.training.sync import grow_layer

    torch.manual_seed(0)
    cfg = SyncConfig.tiny()
    m = SyncTransformer(cfg).eval()
    grown = grow_layer(m)
    assert grown.cfg.n_layers == cfg.n_layers + 1
    t = 24
    lips, valid = torch.randn(3, t, cfg.n_points, 2) * 0.1, torch.ones(3, t, dtype=torch.bool)
    mel = torch.randn(3, cfg.mel_per_frame * t, cfg.n_mels)
    with torch.no_grad():
        (s0, o0), (s1, o1) = m(lips, valid, mel, valid), grown(lips, valid, mel, valid)
    torch.testing.assert_close(s0, s1)
    torch.testing.assert_close(o0, o1)
    # the zeroed weights still get gradients, so the new layer can learn
    grown.train()
    s, _ = grown(lips, valid, mel, valid)
    s.sum().backward()
    assert grown.encoder.layers[-1].linear2.weight.grad.abs().sum() > 0


def test_speed_perturbed_copy_keeps_lips_and_audio_in_step_and_is_never_a_donor_for_its_source():
    from avdetect.training.data import base_name, donor_audio, envelope_match, speed_perturbed
    from avdetect.training.sync_corpus import CachedClip
    from avdetect.visual.landmarks import INNER_GAP_PAIRS, LIP_POINTS

    t = 50
    wave = 0.5 + 0.5 * np.sin(np.arange(t) * 0.5)  # mouth opening, and the loudness that follows it
    lips = np.zeros((t, 40, 2), np.float32)
    for _, lo in INNER_GAP_PAIRS:
        lips[:, LIP_POINTS.index(lo), 1] = wave
    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(t * AUDIO_SAMPLES_PER_FRAME) * np.repeat(0.01 + wave, AUDIO_SAMPLES_PER_FRAME))
    mask = np.ones(t, bool)
    mask[10] = False
    clip = CachedClip("av/grid_s1/video/x.mp4", lips, mask, audio.astype(np.float32), np.ones(t, bool))
    for rate in (0.9, 1.1):
        fast = speed_perturbed(clip, rate)
        assert abs(fast.n_frames - t / rate) <= 1 and base_name(fast.name) == clip.name
        assert not fast.mask.all()  # a frame without a face stays without one
        n = fast.n_frames
        assert envelope_match(fast.landmarks[:n], fast.audio[:n * AUDIO_SAMPLES_PER_FRAME]) > 0.8
    # a re-timed copy of the clip itself would be a near-positive: never drawn as its dub donor
    picks = [donor_audio(np.random.default_rng(s), [speed_perturbed(clip, 0.9)], clip, 30) for s in range(5)]
    assert all(p is None for p in picks)


def test_sparse_window_grid_adds_judged_windows_when_too_few_are_judged():
    from avdetect.checks.learned_sync import plan_windows

    n, face = 76, np.ones(76, bool)
    speech = np.zeros(n, bool)
    speech[:36] = True  # speech in the first 1.4 s only: the 1.04-3.04 s window has 20 % speech
    assert plan_windows(n, 50, 2.0, np.ones(n, bool), face) == [0, 26]  # both judged: nothing added
    assert plan_windows(n, 50, 2.0, speech, face) == [0, 12, 26]  # 0.48-2.48 s from the 0.5 s grid
    assert plan_windows(n, 50, 0.5, speech, face) == [0, 12, 25, 26]  # the dense grid as it was
    assert plan_windows(n, 50, 2.0, np.zeros(n, bool), face) == [0, 26]  # nothing to judge anywhere


def test_wild_clips_are_split_by_person_and_dubbed_from_their_own_pool():
    """A person's av/wild clips share one split whatever the manifest's identification note says;
    a wild clip without a person is test; wild clips are a donor corpus of their own."""
    from avdetect.training.data import Split, assign_splits, corpus_of, donor_pools, person_key, wild_split
    from avdetect.training.sync_corpus import CachedClip

    assert person_key("Lily Aldridge (visual ID; same woman as pose517600055)") == \
        person_key("Lily Aldridge (visual ID, unverified)") == "lily aldridge"
    assert person_key("unknown man (LivePortrait d20)") != person_key("unknown child (LivePortrait d11)")
    people = [f"person {i}" for i in range(200)]
    shares = {s: sum(wild_split(p) == s for p in people) / len(people) for s in Split}
    assert 0.4 < shares[Split.train] < 0.6 and 0.1 < shares[Split.val] < 0.3 and 0.2 < shares[Split.test] < 0.4, shares
    names = [f"av/wild/video/real/{p.replace(' ', '_')}_seg{k}.mp4" for p in people for k in (1, 2)]
    persons = {n: f"{p} (visual ID, unverified)" for n, p in zip(names, [p for p in people for _ in (1, 2)])}
    split = assign_splits(names + ["av/wild/video/real/nobody.mp4", "av/grid_s1/video/a.mp4"], persons)
    assert all(split[names[2 * i]] == split[names[2 * i + 1]] == wild_split(p) for i, p in enumerate(people))
    assert split["av/wild/video/real/nobody.mp4"] == Split.test and split["av/grid_s1/video/a.mp4"] == Split.train

    def clip(name):
        return CachedClip(name, np.zeros((50, 40, 2), np.float32), np.ones(50, bool), np.zeros(32000, np.float32),
                          np.ones(50, bool))

    clips = [clip(n) for n in ("av/grid_s1/video/a.mp4", "av/lrc_ar/video/1.mp4", "av/wild/video/real/en_multivsr_x.mp4")]
    same, other = donor_pools(clips)
    assert [c.name for c in same["wild"]] == [clips[2].name] and corpus_of(clips[2].name) == "wild"
    assert {c.name for c in other["wild"]} == {clips[0].name, clips[1].name}
