"""Visual mouth branch (experiment): mouth crops, self-blended pseudo-fakes, model save/load."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from avdetect import io
from avdetect.models import store
from avdetect.models.visual import VisualConfig, VisualNet, frame_logits, load_model, save_model
from avdetect.visual.landmarks import EYE_OUTER, LIP_POINTS, FaceMeshTracker
from avdetect.visual.mouth_crop import CONTEXT_IOD, CONTEXT_PX, MODEL_PX, centre_crop, mouth_crop

TINY = VisualConfig(channels=(4, 8), double_from=1)


@pytest.fixture(scope="module")
def grid_frame(shared_data):
    """(rgb, (468, 2) landmarks) of frame 5 of a real GRID clip."""
    tracker = FaceMeshTracker()
    try:
        for k, rgb in io.iter_video_frames(shared_data / "av/grid_s1/video/bbaf2n.mp4", max_duration_s=0.3):
            faces = tracker(k, rgb)
    finally:
        tracker.close()
    assert len(faces) == 1
    return rgb, faces[0]


def test_mouth_crop_is_centred_and_scaled_by_eye_distance(grid_frame):
    rgb, pts = grid_frame
    crop = mouth_crop(rgb, pts)
    assert crop.grey.shape == (CONTEXT_PX, CONTEXT_PX) and crop.grey.dtype == np.uint8
    outer = crop.lips[:20]
    np.testing.assert_allclose(outer.mean(axis=0), [CONTEXT_PX / 2, CONTEXT_PX / 2], atol=0.5)
    width_iod = (outer[:, 0].max() - outer[:, 0].min()) / CONTEXT_PX * CONTEXT_IOD
    assert 0.3 < width_iod < 0.8, width_iod  # a mouth is about half the outer-eye-corner distance
    iod = float(np.hypot(*(pts[EYE_OUTER[1]] - pts[EYE_OUTER[0]])))
    assert crop.iod_px == pytest.approx(iod)
    assert centre_crop(crop.grey).shape == (MODEL_PX, MODEL_PX)


def test_mouth_crop_undoes_head_roll(grid_frame):
    """The same face rolled by 20 degrees gives the same crop (eye-line alignment)."""
    rgb, pts = grid_frame
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 20, 1.0)
    rolled = cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    pts_rolled = pts @ m[:, :2].T + m[:, 2]
    a, b = mouth_crop(rgb, pts), mouth_crop(rolled, pts_rolled)
    np.testing.assert_allclose(a.lips, b.lips, atol=0.05)
    diff = np.abs(centre_crop(a.grey).astype(float) - centre_crop(b.grey).astype(float)).mean()
    assert diff < 4.0, diff  # grey levels: resampling only
    unrotated = np.abs(centre_crop(a.grey).astype(float) - centre_crop(mouth_crop(rolled, pts).grey).astype(float))
    assert unrotated.mean() > 2 * diff  # the test can fail: wrong landmarks give another crop


def test_mouth_crop_refuses_missing_points_and_tiny_faces(grid_frame):
    rgb, pts = grid_frame
    broken = pts.copy()
    broken[LIP_POINTS[3]] = np.nan
    assert mouth_crop(rgb, broken) is None
    centre = pts[list(EYE_OUTER)].mean(axis=0)
    assert mouth_crop(rgb, (pts - centre) * 0.1 + centre) is None


def test_self_blend_changes_only_the_mouth_region(grid_frame):
    from avdetect.training.visual import CropSet, self_blend

    rgb, pts = grid_frame
    c = mouth_crop(rgb, pts)
    crops = CropSet(np.stack([c.grey, c.grey]), np.stack([c.lips, c.lips]), np.zeros(2, np.int32))
    rng = np.random.default_rng(0)
    changed = 0
    for _ in range(10):
        fake = self_blend(crops, 0, rng).astype(int)
        d = np.abs(fake - c.grey.astype(int))
        assert d[:12].max() <= 1 and d[:, :10].max() <= 1  # far from the mouth: untouched
        changed += d[48:64, 40:72].mean() > 0.5
    assert changed >= 8  # almost every pseudo-fake alters the mouth


def test_tiny_model_round_trip(tmp_path):
    torch.manual_seed(0)
    model = VisualNet(TINY).eval()
    model.threshold_logit = 0.25
    model.training_record = {"steps": 3}
    stem = tmp_path / "visual"
    save_model(model, stem)
    back = load_model(stem)
    crops = np.random.default_rng(0).integers(0, 256, (5, MODEL_PX, MODEL_PX), dtype=np.uint8)
    np.testing.assert_array_equal(frame_logits(model, crops), frame_logits(back, crops))
    assert back.cfg == TINY and back.threshold_logit == 0.25 and back.training_record == {"steps": 3}
    with pytest.raises(store.ModelFileError, match="kind/version"):
        store.load(stem, "avdetect.sync", (1,))
    weights = tmp_path / "visual.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    with pytest.raises(store.ModelFileError, match="sha256"):
        load_model(stem)


def test_network_is_brightness_and_contrast_invariant():
    model = VisualNet(TINY).eval()
    crops = np.random.default_rng(1).integers(40, 200, (3, MODEL_PX, MODEL_PX)).astype(np.float32)
    a = model(torch.from_numpy(crops))
    b = model(torch.from_numpy(crops * 0.8 + 20))
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def _clip_stack(c, n: int = 7, first_frame: int = 10):
    """CropSet of n crops of one clip on consecutive frames, with a gap after the 4th."""
    from avdetect.training.visual import CropSet

    frame = np.arange(first_frame, first_frame + n, dtype=np.int32)
    frame[4:] += 1  # frames 10-13, then 15-17: no stack of 5 spans the gap
    return CropSet(np.stack([c.grey] * n), np.stack([c.lips] * n), np.zeros(n, np.int32), ["a"], frame)


def test_stacks_are_consecutive_frames_of_one_clip(grid_frame):
    rgb, pts = grid_frame
    crops = _clip_stack(mouth_crop(rgb, pts), n=7)
    assert crops.stack_starts(3).tolist() == [0, 1, 4]  # 10-12, 11-13, 15-17
    assert crops.stack_starts(5).tolist() == []
    assert crops.stack_starts(3, step=2).tolist() == [0]  # starts on even frames only


def test_temporal_pseudo_fakes_and_shared_post_processing(grid_frame):
    from avdetect.training.visual import FAKE_KINDS, post_stack, stack_batch, temporal_fake

    rgb, pts = grid_frame
    c = mouth_crop(rgb, pts)
    crops = _clip_stack(c, n=5)
    crops.frame[:] = np.arange(5)
    rng = np.random.default_rng(0)
    for _ in range(20):  # a still, real stack stays still through the post-processing
        out = post_stack(crops.grey[:5], rng)
        assert out.shape == (5, MODEL_PX, MODEL_PX) and (out == out[:1]).all()
    changed = 0
    for _ in range(40):
        fake = temporal_fake(crops, 0, 5, rng).astype(int)
        assert fake.shape == (5, CONTEXT_PX, CONTEXT_PX)
        assert np.abs(fake - c.grey.astype(int))[:, :12].max() <= 1  # far from the mouth: untouched
        changed += np.abs(fake - c.grey.astype(int))[:, 48:64, 40:72].mean() > 0.5
    assert changed >= 20  # identical frames: only "still" (p 0.3) leaves the mouth as it was
    x, y = stack_batch(crops, np.array([0, 0]), 5, rng)
    assert x.shape == (4, 5, MODEL_PX, MODEL_PX) and y.tolist() == [0, 0, 1, 1]
    assert len(FAKE_KINDS) == 4


def test_stack_model_round_trip_and_inputs(tmp_path):
    cfg = VisualConfig(channels=(4, 8), double_from=1, frames=3)
    torch.manual_seed(0)
    model = VisualNet(cfg).eval()
    stacks = np.random.default_rng(2).integers(0, 256, (4, 3, MODEL_PX, MODEL_PX), dtype=np.uint8)
    save_model(model, tmp_path / "visual")
    back = load_model(tmp_path / "visual")
    assert back.cfg.frames == 3
    np.testing.assert_array_equal(frame_logits(model, stacks), frame_logits(back, stacks))
    with pytest.raises(AssertionError):
        model(torch.from_numpy(stacks[:, 0]))  # a stack model refuses single crops
    # one standardisation per stack: a stack whose frames differ only in brightness keeps the difference
    flat = torch.full((1, 3, MODEL_PX, MODEL_PX), 100.0)
    flat[:, 1] += 30
    z = model(flat)
    torch.testing.assert_close(z, model(flat * 0.8 + 20), atol=1e-4, rtol=1e-4)
    assert not torch.allclose(z, model(torch.full((1, 3, MODEL_PX, MODEL_PX), 100.0)))


def test_second_pool_needs_stacks_in_both_pools(grid_frame):
    """train(second_pool_from=k): clips >= k give half of every batch; a pool without stacks is refused."""
    from avdetect.training.visual import CropSet, TrainConfig, stack_batch, train

    rgb, pts = grid_frame
    c = mouth_crop(rgb, pts)
    n = 6
    crops = CropSet(np.stack([c.grey] * n), np.stack([c.lips] * n), np.r_[np.zeros(3), np.ones(3)].astype(np.int32),
                    ["a", "b"], np.r_[np.arange(3), np.arange(3)].astype(np.int32))
    cfg = VisualConfig(channels=(4, 8), double_from=1, frames=3)
    val_x, val_y = stack_batch(crops, np.array([0, 3]), 3, np.random.default_rng(0), shift=0)
    tiny = TrainConfig(minutes=0.002, batch=4, eval_every=1)
    model, record = train(crops, val_x, val_y, tiny, cfg, log=lambda d: None, second_pool_from=1)
    assert record["steps"] >= 1 and model.cfg.frames == 3
    with pytest.raises(AssertionError, match="both pools"):
        train(crops, val_x, val_y, tiny, cfg, log=lambda d: None, second_pool_from=2)
