"""Footage augmentations of the sync training batches (avdetect.training.footage)."""

import numpy as np
import torch

from avdetect.models.sync import SyncConfig, SyncTransformer
from avdetect.training import footage
from avdetect.training.data import IGNORE, Batch
from avdetect.training.sync import train_step


def _lips(b=8, t=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    lips = 0.3 * torch.randn(b, t, 40, 2, generator=g)
    valid = torch.ones(b, t, dtype=torch.bool)
    return lips, valid


def test_retime_at_25_fps_is_the_identity_and_24_fps_repeats_about_one_frame_a_second():
    lips, valid = _lips(t=50)
    same, ok = footage.retime(lips, valid, torch.full((8,), 25.0))
    assert torch.allclose(same, lips, atol=1e-5) and torch.equal(ok, valid)
    # a ramp shows the time warp: at 24 fps the frame shown at j is the source frame nearest j / 25 s
    ramp = torch.arange(50, dtype=torch.float32)[None, :, None, None].expand(1, 50, 40, 2)
    slow, _ = footage.retime(ramp, torch.ones(1, 50, dtype=torch.bool), torch.tensor([24.0]))
    steps = np.diff(slow[0, :, 0, 0].numpy())
    assert np.all(np.abs(slow[0, :, 0, 0].numpy() - np.arange(50)) <= 25 / 24 / 2 + 1e-4)  # within half a source frame
    assert 1 <= int(np.sum(steps < 0.5)) <= 3, steps  # ~one source frame shown twice a second, over 2 s


def test_probability_zero_leaves_the_batch_alone_and_one_changes_it_finitely():
    lips, valid = _lips()
    lips[0, 5:8] = float("nan")
    valid[0, 5:8] = False
    gen = torch.Generator().manual_seed(1)
    x, v = footage.augment_lips(lips, valid, gen, footage.FootageConfig.scaled(0.0))
    assert torch.equal(x, torch.nan_to_num(lips)) and torch.equal(v, valid)
    x, v = footage.augment_lips(lips, valid, gen, footage.FootageConfig.scaled(2.0))  # every transform
    assert torch.isfinite(x).all() and not torch.allclose(x, torch.nan_to_num(lips))
    assert not v[0, 5:8].any()  # a missing face stays missing
    assert v.float().mean() < valid.float().mean()  # occlusion removed frames


def test_head_motion_moves_the_mouth_over_time_not_its_shape_alone():
    lips, _ = _lips(b=4, t=50)
    still = lips[:, :1].expand(4, 50, 40, 2).clone()  # a mouth that does not move
    moved = footage.head_motion(still, torch.Generator().manual_seed(2))
    spread = (moved - moved.mean(1, keepdim=True)).abs().amax()
    assert spread > 1e-3  # the head moved, so the still mouth's points drift over the window


def test_audio_augmentations_keep_shape_and_range_and_touch_only_picked_rows():
    gen = torch.Generator().manual_seed(3)
    audio = 0.1 * torch.randn(16, 32_000, generator=gen)
    out = footage.augment_audio(audio, gen, footage.FootageConfig(crowd=0.0, music=0.0, room=0.0))
    assert torch.equal(out, audio)
    out = footage.augment_audio(audio, gen, footage.FootageConfig(crowd=1.0, music=1.0, room=1.0))
    assert out.shape == audio.shape and out.abs().max() <= 1.0 and torch.isfinite(out).all()
    assert (out != audio).any(1).all()


def test_a_training_step_with_footage_augmentation_runs_on_a_tiny_model():
    torch.manual_seed(0)
    cfg = SyncConfig.tiny()
    model = SyncTransformer(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    lips, valid = _lips(b=4, t=20)
    batch = Batch(lips, valid, 0.1 * torch.randn(4, 20 * 640), valid.clone(),
                  torch.tensor([1.0, 0.0, 0.0, float(IGNORE)]), torch.tensor([0, IGNORE, 3, 1]))
    loss, bce, ce = train_step(model, opt, batch, torch.Generator().manual_seed(0), "cpu", footage_p=1.0)
    assert np.isfinite([loss, bce, ce]).all()
