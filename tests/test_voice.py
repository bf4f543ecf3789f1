"""Fast tests of the voice branch on audio generated at run time (tiny random spoof model)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from avdetect.audio.channels import TELEPHONE_CHANNELS, Channel, apply_channel
from avdetect.audio.features import n_video_frames
from avdetect.checks.base import Status
from avdetect.checks.synthetic_speech import check_synthetic_speech, fmt_time, span_reasons
from avdetect.checks.base import Segment
from avdetect.constants import SAMPLE_RATE
from avdetect.models import spoof
from avdetect.models.store import ModelFileError
from avdetect.windows import window_starts

SR = SAMPLE_RATE


def voiced(seconds: float, f0: float = 120.0, seed: int = 0) -> np.ndarray:
    """(N,) speech-like float32: harmonic series with syllable-rate amplitude modulation + noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f = f0 * (1 + 0.05 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(f) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 20))
    env = 0.5 * (1 + np.sin(2 * np.pi * 4 * t)) ** 2
    return (0.2 * x * env / 4 + 0.003 * rng.standard_normal(len(t))).astype(np.float32)


def band_energy_db(x: np.ndarray, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / SR)
    return float(10 * np.log10(spec[(f >= lo) & (f < hi)].sum() + 1e-12))


# ---- channels -------------------------------------------------------------------------------

@pytest.mark.parametrize("channel", list(Channel))
def test_channel_keeps_length_and_level(channel):
    x = voiced(1.0)
    y = apply_channel(x, channel)
    assert y.dtype == np.float32 and np.isfinite(y).all()
    assert abs(len(y) - len(x)) < 0.1 * SR, (len(x), len(y))
    assert 0.2 < np.std(y) / np.std(x) < 5


@pytest.mark.parametrize("channel", TELEPHONE_CHANNELS)
def test_telephone_removes_the_upper_band(channel):
    x = voiced(1.0, f0=150)
    y = apply_channel(x, channel)
    drop = band_energy_db(x, 4500, 8000) - band_energy_db(y[: len(x)], 4500, 8000)
    assert drop > 25, drop


# ---- spoof model ----------------------------------------------------------------------------

def test_spoof_net_shapes_any_length():
    model = spoof.SpoofNet(spoof.SpoofConfig.tiny()).eval()
    for t in (50, 400, 1000):
        assert model(torch.randn(3, t, spoof.SpoofConfig().n_mels)).shape == (3,)


def test_spoof_save_load_checks_version_and_sha(tmp_path):
    torch.manual_seed(0)
    model = spoof.SpoofNet(spoof.SpoofConfig.tiny()).eval()
    model.training_record = {"steps": 1}
    c = spoof.save_model(model, tmp_path / "m")
    w = tmp_path / "m.safetensors"
    again = spoof.load_model(tmp_path / "m")
    x = torch.randn(2, 100, model.cfg.n_mels)
    assert torch.allclose(model(x), again(x))
    assert again.training_record == {"steps": 1}
    raw = json.loads(c.read_text())
    assert raw["kind"] == spoof.MODEL_KIND and raw["calibration"] == {"scale": 1.0, "bias": 0.0}
    c.write_text(json.dumps({**raw, "version": 999}))
    with pytest.raises(ModelFileError, match="version"):
        spoof.load_model(tmp_path / "m")
    c.write_text(json.dumps({**raw, "config": {**raw["config"], "channels": [8, 16]}}))
    with pytest.raises(ModelFileError, match="do not fit"):
        spoof.load_model(tmp_path / "m")
    c.write_text(json.dumps(raw))
    w.write_bytes(w.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(ModelFileError, match="sha256"):
        spoof.load_model(tmp_path / "m")


def test_spoof_calibration_is_fitted_monotonic_and_saved(tmp_path):
    """Platt scaling on held-out variants: labels that the raw logits separate stay separated
    (positive scale, EER 0), the fit moves the score, and it travels in the JSON."""
    from avdetect.training.spoof_corpus import Item
    from avdetect.training.spoof_data import Variant
    from avdetect.training.train_spoof import calibrate, is_val, window_logits

    torch.manual_seed(0)
    model = spoof.SpoofNet(spoof.SpoofConfig.tiny()).eval()
    mels = [torch.randn(150, model.cfg.n_mels) + 0.5 * torch.randn(1, model.cfg.n_mels) for _ in range(40)]
    with torch.no_grad():
        raw = np.array([float(window_logits(model, m).mean()) for m in mels])
    labels = (raw > np.median(raw)).astype(int)  # "fake" = the upper half of the model's own logits
    variants = [Variant(Item(f"i{k}", int(lab), "k", f"s{k}", "train"), "clean", m)
                for k, (lab, m) in enumerate(zip(labels, mels))]
    info = calibrate(model, variants, threshold=50.0)
    assert model.calibration_scale > 0 and info["eer"] == 0.0
    assert (model.calibration_scale, model.calibration_bias) != (1.0, 0.0)
    assert info["real_over_50"][1] < 0.5 < info["fake_over_50"][1]
    spoof.save_model(model, tmp_path / "m")
    again = spoof.load_model(tmp_path / "m")
    assert (again.calibration_scale, again.calibration_bias) == (model.calibration_scale, model.calibration_bias)
    x = torch.randn(3, 100, model.cfg.n_mels)
    with torch.no_grad():
        assert torch.allclose(model.probability(model(x)), again.probability(again(x)))
    held = [is_val(Item(f"i{k}", 0, "k", f"spk{k}", "train")) for k in range(2000)]
    assert 0.1 < np.mean(held) < 0.2  # VAL_FRACTION = 0.15 of speakers
    soundtracks = [Item(f"t{k}", lab, kind, f"lrc-ar-{k:05d}", "train")
                   for k in range(200) for lab, kind in ((0, "lrc-ar"), (1, "neuralvoc"))]
    assert not any(is_val(it) for it in soundtracks)  # unknown people: never held out


# ---- synthetic-speech check -----------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(1)
    return spoof.SpoofNet(spoof.SpoofConfig.tiny()).eval()


def test_one_class_head_scores_cosine_to_the_real_direction_with_margins(tmp_path):
    cfg = spoof.SpoofConfig(channels=(8, 8), embed_dim=8, head=spoof.Head.ocsoftmax.value)
    torch.manual_seed(0)
    net = spoof.SpoofNet(cfg).eval()
    z = net(torch.randn(3, 200, spoof.LOGSPEC_BINS))
    assert z.shape == (3,) and bool(((z >= spoof.OC_SCALE * (spoof.OC_MID - 1) - 1e-4)
                                     & (z <= spoof.OC_SCALE * (spoof.OC_MID + 1) + 1e-4)).all())
    m = spoof.OC_MARGIN_LOGIT
    real, fake = torch.tensor([0.0]), torch.tensor([1.0])
    # a real clip is only cheap once its cosine clears the real margin; a fake once below the fake one
    assert net.loss(torch.tensor([-m - 5]), real) < 0.01 < net.loss(torch.tensor([-m + 5]), real)
    assert net.loss(torch.tensor([m + 5]), fake) < 0.01 < net.loss(torch.tensor([m - 5]), fake)
    spoof.save_model(net, tmp_path / "s")
    again = spoof.load_model(tmp_path / "s")
    x = torch.randn(2, 150, spoof.LOGSPEC_BINS)
    torch.testing.assert_close(again(x), net(x))


def test_spectral_eq_is_a_bounded_smooth_curve_over_frequency():
    from avdetect.training.spoof_data import spectral_eq

    rng = np.random.default_rng(0)
    mel = torch.randn(8, 50, 128)
    out = spectral_eq(mel, rng, max_db=6.0)
    gain = out - mel  # (B, T, F): the same curve at every frame of a row
    torch.testing.assert_close(gain, gain[:, :1].expand_as(gain))
    db = gain[:, 0] * 10 / np.log(10)
    assert db.abs().max() <= 6.0 + 1e-4 and db.abs().amax(1).min() > 0
    assert db.diff(dim=1).abs().max() < 1.0  # smooth: under 1 dB between neighbouring bands
    assert not torch.allclose(db[0], db[1])  # a new curve per row
    assert spectral_eq(mel, rng, max_db=0.0) is mel


def test_windows_cover_the_clip_and_a_short_clip_is_one_window(tiny_model):
    w, h = 4 * SR, SR
    s = window_starts(10 * SR + 123, w, h)
    assert s[0] == 0 and s[-1] + w == 10 * SR + 123 and all(b - a <= h for a, b in zip(s, s[1:]))
    x = voiced(3.0)
    res = check_synthetic_speech(x, np.ones(n_video_frames(len(x)), bool), model=tiny_model)
    assert [(g.start_s, g.end_s) for g in res.segments] == [(0.0, 3.0)]


def test_check_timeline_on_long_call(tiny_model):
    x = voiced(12.0)
    speech = np.ones(n_video_frames(len(x)), bool)
    res = check_synthetic_speech(x, speech, model=tiny_model)
    assert res.status == Status.ok and 0 <= res.score <= 100
    assert len(res.segments) == len(window_starts(len(x), 4 * SR, SR)) == 9
    assert res.segments[-1].end_s == pytest.approx(12.0)
    assert res.score == pytest.approx(np.mean([s.score for s in res.segments]))
    j = res.to_json()
    assert j["status"] == "ok" and len(j["segments"]) == 9


def test_check_skips_silent_windows(tiny_model):
    x = np.concatenate([voiced(5.0), np.zeros(10 * SR, np.float32)])
    speech = np.zeros(n_video_frames(len(x)), bool)
    speech[: 5 * 25] = True
    res = check_synthetic_speech(x, speech, model=tiny_model)
    assert res.status == Status.ok
    assert max(s.start_s for s in res.segments) < 5.0


def test_check_not_applicable(tiny_model):
    silence = np.zeros(5 * SR, np.float32)
    res = check_synthetic_speech(silence, np.zeros(n_video_frames(len(silence)), bool), model=tiny_model)
    assert res.status == Status.not_applicable and res.reason == "no speech"
    short = voiced(1.5)  # under MIN_SPEECH_S (2 s)
    res = check_synthetic_speech(short, np.ones(n_video_frames(len(short)), bool), model=tiny_model)
    assert res.status == Status.not_applicable and res.reason.startswith("too short")


def test_check_with_vad_on_8k_telephone_input(tiny_model):
    x = apply_channel(voiced(6.0), Channel.tel_amr)
    res = check_synthetic_speech(x, None, model=tiny_model)  # webrtc VAD inside
    assert res.status in (Status.ok, Status.not_applicable)


def test_reasons_merge_overlapping_windows():
    segs = [Segment(0, 4, 90), Segment(1, 5, 95), Segment(2, 6, 10), Segment(8, 12, 70)]
    assert span_reasons(segs, 50) == ["synthetic voice from 00:00 to 00:05 (score 95)",
                                       "synthetic voice from 00:08 to 00:12 (score 70)"]
    assert span_reasons(segs, 99) == []
    assert fmt_time(3725) == "01:02:05"


# ---- voices and the speaker check -----------------------------------------------------------

def espeak(text: str, voice: str) -> np.ndarray:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    from avdetect.training.generators import run_to_wav

    return run_to_wav(["espeak-ng", "-v", voice, "-w", "{out}", text])


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("AVDETECT_HOME", str(tmp_path))
    return tmp_path


def test_enroll_refuses_too_little_speech(home):
    from avdetect import voices
    from avdetect.io import AudioClip

    with pytest.raises(voices.VoiceError, match="not enough speech"):
        voices.enroll("alice", [AudioClip(espeak("Hello there.", "en-us"))])
    with pytest.raises(voices.VoiceError, match="invalid voice name"):
        voices.enroll("../etc", [AudioClip(espeak("Hello there.", "en-us"))])
    assert voices.list_voices() == []


def test_enroll_check_list_remove(home):
    from avdetect import voices
    from avdetect.checks.speaker import check_speaker
    from avdetect.io import AudioClip
    from avdetect.training.text import SENTENCES

    text = " ".join(SENTENCES[:5])
    p = voices.enroll("bob", [AudioClip(espeak(text, "en-us+m1"))])
    assert p.speech_s >= 5 and (home / "voices" / "bob.npz").exists()
    assert [v.name for v in voices.list_voices()] == ["bob"]
    same = espeak(" ".join(SENTENCES[10:13]), "en-us+m1")
    res = check_speaker(same, None, "bob")
    assert res.status == Status.ok and set(res.fields) >= {"claimed", "similarity", "match", "threshold"}
    assert res.segments and all("similarity" in s.extra for s in res.segments)
    noise = np.random.default_rng(0).normal(0, 0.1, 6 * SR).astype(np.float32)
    other = check_speaker(noise, np.ones(n_video_frames(len(noise)), bool), "bob")
    assert other.fields["similarity"] < res.fields["similarity"]
    with pytest.raises(voices.VoiceError, match="no enrolled voice"):
        check_speaker(same, None, "carol")
    voices.remove("bob")
    assert voices.list_voices() == []


def test_cli_voice_commands_one_line_errors(home):
    import typer
    from typer.testing import CliRunner

    from avdetect.cli_voice import register

    app = typer.Typer()
    register(app)
    runner = CliRunner()
    r = runner.invoke(app, ["voices", "list"])
    assert r.exit_code == 0 and "no voices enrolled" in r.output
    r = runner.invoke(app, ["enroll", "dave", str(home / "missing.wav")])
    assert r.exit_code == 1 and "no such file" in r.output and "Traceback" not in r.output
    r = runner.invoke(app, ["voices", "remove", "dave"])
    assert r.exit_code == 1 and r.output.strip().count("\n") == 0


def test_training_items_leave_out_the_unseen_generators_only(tmp_path):
    from avdetect.training.spoof_corpus import Corpus, Item, Split
    from avdetect.training.train_spoof import split_items, variants_cache

    corpus = Corpus(tmp_path / "c")
    tone = np.sin(np.arange(SAMPLE_RATE) * 0.05).astype(np.float32) * 0.3
    for iid, label, kind in [("r1", 0, "librispeech"), ("f1", 1, "espeak"), ("f2", 1, "piper"), ("r2", 0, "prompt")]:
        corpus.add(Item(iid, label, kind, "spk", Split.train.value), tone)
    assert [it.id for it in split_items(corpus, Split.train)] == ["f1", "f2", "r1", "r2"]
    assert [it.id for it in split_items(corpus, Split.train, frozenset({"piper", "prompt"}))] == ["f1", "r1", "r2"]
    # the variant cache is keyed by the items used, so a different exclusion never reuses it
    assert variants_cache(corpus, Split.train, "logspec", 0) != \
        variants_cache(corpus, Split.train, "logspec", 0, frozenset({"piper"}))


def test_a_one_voice_tts_puts_a_share_of_its_training_fakes_in_the_calibration_hold_out():
    """Pretrained TTS fakes are labelled with at least MIN_TTS_SPEAKER_LABELS voice slots, so the
    hold-out by speaker neither takes all of a one-voice engine's training fakes nor none
    (with one label per voice, hibari's and Pico's single training voice both fell into it)."""
    from avdetect.training import generators as G
    from avdetect.training.spoof_corpus import MIN_TTS_SPEAKER_LABELS, Item, tts_speaker_label
    from avdetect.training.train_spoof import is_val

    for gen in (G.Generator.hibari, G.Generator.pico):
        items = [Item(f"x{i}", 1, gen.value, tts_speaker_label(gen, 2 * i, MIN_TTS_SPEAKER_LABELS), "train")
                 for i in range(120)]  # training variants are even
        held = sum(is_val(it) for it in items)
        assert len({it.speaker for it in items}) == MIN_TTS_SPEAKER_LABELS // 2
        assert 0 < held < len(items) / 2, (gen, held)
