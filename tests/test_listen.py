"""`avdetect listen`: a call piped through stdin as it is spoken (or faster), JSON lines out."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from avdetect import io as avio
from avdetect import synth, voices
from avdetect.constants import SAMPLE_RATE
from avdetect.listen import STEP_S, screen

from listen_helpers import pcm_s16le, run_listen, wav_bytes

# a voice-cloning TTS clip that the shipped spoof network scores 87-89 on every 4 s window
CLONE = "fake-speech/vstts/libritts(unseen)_speed__vstts-dur-low.flac"
GENUINE_SPEAKER = "speech/librispeech/1688"  # its windows score <= 20 (a quiet genuine baseline)
SPLICE_S = 21.5  # s into the call where the cloned voice starts
ALERT_WITHIN_S = 4.0


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("listen_home")


@pytest.fixture(scope="module")
def call() -> np.ndarray:
    samples, _ = synth.synthetic_speech(10.0, seed=3)
    return samples


def windows(lines: list[dict]) -> list[dict]:
    return [e for e in lines if e["event"] == "window"]


def test_raw_pcm_on_stdin_json_line_every_2s_with_claimed_voice(call, home, monkeypatch):
    monkeypatch.setenv("AVDETECT_HOME", str(home))
    voices.enroll("caller", [avio.AudioClip(synth.synthetic_speech(8.0, seed=3)[0])])
    code, lines, err = run_listen(["-", "--claimed", "caller"], pcm_s16le(call), speed=5.0,
                                  env={"AVDETECT_HOME": str(home)})
    assert code == 0, err
    w = windows(lines)
    assert [e["t_s"] for e in w] == [2.0, 4.0, 6.0, 8.0, 10.0]
    for e in w:
        assert set(e) >= {"t_s", "synthetic_speech", "similarity", "match", "speaker_score", "verdict",
                          "running_verdict", "lag_s"}
    judged = [e for e in w if e["similarity"] is not None]
    assert judged and all(e["match"] for e in judged)  # the enrolled voice itself
    assert lines[-1]["event"] == "end" and lines[-1]["t_s"] == 10.0
    assert not [e for e in lines if e["event"] == "alert"] and lines[-1]["verdict"] == "authentic"


def test_container_on_stdin(call):
    code, lines, err = run_listen(["-", "--format", "auto"], wav_bytes(call), speed=20.0)
    assert code == 0, err
    assert [e["t_s"] for e in windows(lines)] == [2.0, 4.0, 6.0, 8.0, 10.0]


def test_a_growing_file_is_read_until_it_stops_growing(call, tmp_path, correlation_detector):
    growing = tmp_path / "call.raw"
    growing.write_bytes(b"")
    data = pcm_s16le(call)

    def write_slowly():
        with open(growing, "ab") as f:
            for i in range(0, len(data), 32000):  # 1 s of audio every 0.1 s
                f.write(data[i:i + 32000])
                f.flush()
                time.sleep(0.1)

    writer = threading.Thread(target=write_slowly)
    writer.start()
    events = list(correlation_detector.stream(str(growing), fmt="s16le", follow_s=1.0))
    writer.join()
    assert [e["t_s"] for e in windows(events)] == [2.0, 4.0, 6.0, 8.0, 10.0] and events[-1]["event"] == "end"


def test_bad_sources_one_line(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from avdetect.cli import app

    monkeypatch.setenv("AVDETECT_HOME", str(tmp_path))
    (tmp_path / "text.txt").write_text("not audio\n" * 100)
    for args, code, message in ((["missing.wav"], 1, "missing.wav: no such file"),
                                (["-", "--format", "mp3x"], 2, "--format must be s16le or auto"),
                                (["-", "--claimed", "nobody"], 2, "no enrolled voice named 'nobody'"),
                                ([str(tmp_path / "text.txt"), "--follow", "0"], 1, "text.txt: cannot open the stream")):
        r = CliRunner().invoke(app, ["listen", *args], input=b"")
        err = r.stderr.strip() if r.stderr_bytes is not None else r.output.strip()
        assert r.exit_code == code and err.startswith("error: ") and message in err and "\n" not in err, (args, err)


def test_generator_api_matches_the_step(call, correlation_detector):
    chunks = [call[i:i + 1234] for i in range(0, len(call), 1234)]  # odd chunk sizes
    events = list(screen(correlation_detector, chunks))
    assert [e["t_s"] for e in windows(events)] == [STEP_S * k for k in range(1, 6)]
    assert events[-1]["event"] == "end"


@pytest.mark.integration
def test_alert_within_4s_of_a_cloned_voice_spliced_into_a_genuine_call(shared_data, tmp_path):
    """LibriSpeech speaker 1688, then a cloned voice (vstts) from SPLICE_S, fed at 2x real time."""
    files = sorted((shared_data / GENUINE_SPEAKER).glob("*.flac"))
    clone = shared_data / CLONE
    if len(files) < 8 or not clone.exists():
        pytest.skip(f"needs {GENUINE_SPEAKER} (8+ utterances) and {CLONE} in {shared_data}")
    genuine = np.concatenate([avio.load_audio(f).samples for f in files[3:]])
    k = int(SPLICE_S * SAMPLE_RATE)
    call = np.concatenate([genuine[:k], avio.load_audio(clone).samples, genuine[k:k + 6 * SAMPLE_RATE]])
    code, lines, err = run_listen(["-"], pcm_s16le(call), speed=2.0, env={"AVDETECT_HOME": str(tmp_path)})
    assert code == 0, err
    alerts = [e for e in lines if e["event"] == "alert"]
    assert alerts, [(e["t_s"], e["synthetic_speech"]) for e in windows(lines)]
    assert SPLICE_S < alerts[0]["t_s"] <= SPLICE_S + ALERT_WITHIN_S, alerts
    assert alerts[0]["verdict"] in ("suspicious", "fake") and "synthetic voice" in alerts[0]["reasons"][0]
    assert "ALERT at" in err
    before = [e for e in windows(lines) if e["t_s"] <= SPLICE_S]
    assert before and all(e["running_verdict"] in ("not_applicable", "authentic") for e in before)
    assert before[-1]["running_verdict"] == "authentic"
    assert lines[-1]["event"] == "end" and lines[-1]["verdict"] in ("suspicious", "fake")
    assert lines[-1]["max_lag_s"] < 1.0  # kept up with audio arriving at twice the speed of speech
