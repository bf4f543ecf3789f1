import numpy as np
import pytest
import torch

from avdetect.audio.features import log_mel, n_video_frames, speech_envelope
from avdetect.audio.vad import VadBackend, speech_activity
from avdetect.constants import AUDIO_SAMPLES_PER_FRAME, MEL_FRAMES_PER_VIDEO_FRAME, MEL_HOP, N_MELS, SAMPLE_RATE
from avdetect.synth import synthetic_speech


def test_log_mel_shape():
    x = np.zeros(SAMPLE_RATE, np.float32)
    assert tuple(log_mel(x).shape) == (101, N_MELS)


def test_log_mel_of_a_batch_is_the_log_mel_of_each_row():
    """One log-mel for the checks and the sync model's windows: (..., N) -> (..., T, 80)."""
    from avdetect.models.sync import window_mel

    x = torch.from_numpy(np.random.default_rng(0).standard_normal((3, 20 * AUDIO_SAMPLES_PER_FRAME))
                         .astype(np.float32) * 0.1)
    batch = log_mel(x)
    assert batch.shape == (3, 20 * AUDIO_SAMPLES_PER_FRAME // MEL_HOP + 1, N_MELS)
    for row, one in zip(x, batch):
        torch.testing.assert_close(log_mel(row), one)
    torch.testing.assert_close(window_mel(x), batch[:, : 20 * MEL_FRAMES_PER_VIDEO_FRAME])


def test_envelope_is_on_the_video_timeline():
    x = np.zeros(2 * SAMPLE_RATE, np.float32)
    t = np.arange(AUDIO_SAMPLES_PER_FRAME * 3) / SAMPLE_RATE
    start = 25 * AUDIO_SAMPLES_PER_FRAME  # frame 25 = 1.0 s
    x[start:start + len(t)] = 0.5 * np.sin(2 * np.pi * 1000 * t)
    env = speech_envelope(x)
    assert env.shape == (n_video_frames(len(x)),) == (50,)
    loud = np.nonzero(env > env.max() - 3)[0]
    assert loud.min() >= 24 and loud.max() <= 28 and 25 in loud


def test_envelope_ignores_out_of_band_energy():
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    low = speech_envelope((0.5 * np.sin(2 * np.pi * 100 * t)).astype(np.float32)).mean()
    mid = speech_envelope((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)).mean()
    assert mid > low + 3


@pytest.mark.parametrize("backend", list(VadBackend))
def test_vad_finds_voice_not_silence(backend):
    voice, env = synthetic_speech(4.0, seed=3)
    x = np.concatenate([np.zeros(SAMPLE_RATE, np.float32), voice])
    act = speech_activity(x, backend)
    assert act.shape == (n_video_frames(len(x)),)
    assert not act[:20].any()  # the first 0.8 s is digital silence
    loud = np.repeat(env[::AUDIO_SAMPLES_PER_FRAME] > 0.3, 1)[: len(act) - 25]
    assert act[25:][loud[: len(act) - 25]].mean() > 0.7
