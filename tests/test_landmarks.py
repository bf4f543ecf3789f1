import numpy as np
import pytest

from avdetect.synth import animate_mouth, face_image, talking_face
from avdetect.visual.landmarks import (EYE_OUTER, LIP_POINTS, FaceMeshTracker, extract_mouth, mirror_lips,
                                       mouth_opening, normalise_face)


def _random_face(rng):
    return rng.uniform(100, 300, (468, 2)).astype(np.float32)


def test_normalisation_removes_position_scale_and_roll():
    rng = np.random.default_rng(0)
    pts = _random_face(rng)
    ref, scale, _ = normalise_face(pts)
    a = np.deg2rad(17)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], np.float32)
    moved = (pts @ rot.T) * 2.5 + np.array([40, -13], np.float32)
    got, scale2, _ = normalise_face(moved)
    assert got.shape == (len(LIP_POINTS), 2)
    np.testing.assert_allclose(got, ref, atol=1e-4)
    assert scale2 == pytest.approx(2.5 * scale, rel=1e-5)
    eyes, _, _ = normalise_face(pts)
    assert np.isfinite(eyes).all() and EYE_OUTER == (33, 263)


def test_face_mesh_sees_the_mouth_open():
    face = face_image()
    tracker = FaceMeshTracker()
    try:
        closed = tracker(0, face)
        opened = tracker(1, animate_mouth(face, 1.0))
    finally:
        tracker.close()
    assert len(closed) == 1 and len(opened) == 1
    o0 = mouth_opening(normalise_face(closed[0])[0])
    o1 = mouth_opening(normalise_face(opened[0])[0])
    assert o1 > o0 + 0.05


def test_mirror_lips_matches_face_mesh_on_the_mirrored_image():
    """The permutation must pair each lip point with its mirror twin: FaceMesh on the flipped
    picture gives (up to tracking noise) the mirrored lips of the original."""
    face = animate_mouth(face_image(), 0.7)
    tracker = FaceMeshTracker()
    try:
        direct = normalise_face(tracker(0, face)[0])[0]
        tracker.close()
        tracker = FaceMeshTracker()
        flipped = normalise_face(tracker(0, np.ascontiguousarray(face[:, ::-1]))[0])[0]
    finally:
        tracker.close()
    err = np.abs(mirror_lips(direct) - flipped).max()
    shuffled = np.abs(direct * [-1, 1] - flipped).max()  # x flipped without swapping the points
    assert err < 0.05 < shuffled, (err, shuffled)
    np.testing.assert_array_equal(mirror_lips(mirror_lips(direct)), direct)


def test_extract_mouth_masks_frames_without_face():
    frames, _ = talking_face(2.0, seed=2)
    blank = np.full_like(frames[0], 127)
    seq = [(k, blank if 10 <= k < 20 else f) for k, f in enumerate(frames)]
    m = extract_mouth(seq, len(frames))
    assert m is not None and m.landmarks.shape == (50, 40, 2)
    assert not m.mask[10:20].any() and m.mask[:10].all() and m.mask[25:].all()
    assert np.isnan(m.landmarks[12]).all() and m.opening[12] == 0


def test_no_face_gives_none():
    rng = np.random.default_rng(0)
    frames = [(k, rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)) for k in range(10)]
    assert extract_mouth(frames, 10) is None


def test_speaking_face_is_chosen_among_two():
    frames, _ = talking_face(3.0, seed=4)
    still = face_image()
    pair = [(k, np.concatenate([still, f], axis=1)) for k, f in enumerate(frames)]
    m = extract_mouth(pair, len(frames))
    assert m is not None and m.n_tracks == 2
    assert m.opening[m.mask].std() > 0.02  # the animated (right-hand) face, not the still one


def test_mirror_lips_is_the_same_on_torch_tensors_and_leaves_its_input_alone():
    import torch

    lips = np.random.default_rng(0).standard_normal((3, 40, 2)).astype(np.float32)
    t = torch.from_numpy(lips.copy())
    np.testing.assert_array_equal(mirror_lips(t).numpy(), mirror_lips(lips))
    np.testing.assert_array_equal(t.numpy(), lips)  # the input is not modified
    assert mirror_lips(lips)[0, 0, 0] == -lips[0, 10, 0]  # right corner <- left corner, x negated
