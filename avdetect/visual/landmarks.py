"""Lip landmarks from MediaPipe FaceMesh (tracking mode), normalised per face.

Coordinates are normalised for face position, size and roll: origin at the midpoint of the
outer eye corners, unit = inter-ocular distance, x along the eye line. Frames without a face
keep their slot on the timeline with mask False.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Iterable

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "3")  # silence MediaPipe's C++ logging (set before import)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# MediaPipe FaceMesh indices (468-point topology)
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
LIPS_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)
LIP_POINTS = LIPS_OUTER + LIPS_INNER
N_LIP_POINTS = len(LIP_POINTS)  # 40
# Each loop runs from the right mouth corner (image left) along the lower lip to the left corner
# and back along the upper lip, 20 points, so position i mirrors to (10 - i) mod 20 (the corners
# 0 <-> 10, the midlines 5 and 15 onto themselves), e.g. 61 <-> 291, 146 <-> 375, 0 <-> 0.
LIP_MIRROR = tuple(base + (10 - i) % 20 for base in (0, 20) for i in range(20))
EYE_OUTER = (33, 263)  # right eye outer corner, left eye outer corner (image left to right)
INNER_GAP_PAIRS = ((82, 87), (13, 14), (312, 317))  # upper / lower inner lip, left to right

FACE_DETECT_EVERY = 25  # frames: look for newly appeared faces once per second
MAX_FACES = 4
TRACK_MATCH_DIST = 1.0  # inter-ocular distances: a face this close to a track continues it


@dataclass
class MouthTrack:
    """One face's mouth on the timeline.

    landmarks: (T, 40, 2) float32 normalised (outer 20 then inner 20), NaN where masked
    mask:      (T,) bool, True where this face was found
    opening:   (T,) float32 inner-lip gap / inter-ocular distance, 0 where masked
    """

    landmarks: np.ndarray
    mask: np.ndarray
    opening: np.ndarray
    face_px: float  # median inter-ocular distance in pixels (face size)
    track_id: int = 0
    n_tracks: int = 1

    def __post_init__(self) -> None:
        t = self.mask.shape[0]
        assert self.landmarks.shape == (t, N_LIP_POINTS, 2), self.landmarks.shape
        assert self.opening.shape == (t,)

    @property
    def coverage(self) -> float:
        return float(self.mask.mean()) if len(self.mask) else 0.0


def normalise_face(points: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """(468, 2) pixel coords -> ((40, 2) normalised lips, inter-ocular px, (2,) eye centre px)."""
    assert points.ndim == 2 and points.shape[1] == 2, points.shape
    left, right = points[EYE_OUTER[0]], points[EYE_OUTER[1]]
    centre = 0.5 * (left + right)
    d = right - left
    scale = float(np.hypot(*d)) or 1.0
    c, s = d / scale  # cos, sin of the roll angle
    rot = np.array([[c, s], [-s, c]], np.float32)  # rotates the eye line onto +x
    lips = (points[list(LIP_POINTS)] - centre) @ rot.T / scale
    return lips.astype(np.float32), scale, centre


def mirror_lips(lips):
    """(..., 40, 2) normalised lips (numpy array or torch tensor) -> the same mouth seen in a
    mirror (x -> -x, left and right points swapped), a new array: a plausible other face for
    augmentation; the motion keeps its timing."""
    assert tuple(lips.shape[-2:]) == (N_LIP_POINTS, 2), lips.shape
    out = lips[..., list(LIP_MIRROR), :]  # advanced indexing copies, in numpy and torch alike
    out[..., 0] = -out[..., 0]
    return out


def lip_height(lips: np.ndarray) -> np.ndarray:
    """(..., 40, 2) normalised lips -> (...,) outer-lip height (upper to lower lip midpoint)."""
    idx = {p: i for i, p in enumerate(LIP_POINTS)}
    return lips[..., idx[17], 1] - lips[..., idx[0], 1]


def mouth_opening(lips: np.ndarray) -> np.ndarray:
    """(..., 40, 2) normalised lips -> (...,) mean vertical inner-lip gap."""
    idx = {p: i for i, p in enumerate(LIP_POINTS)}
    gaps = [lips[..., idx[lo], 1] - lips[..., idx[up], 1] for up, lo in INNER_GAP_PAIRS]
    return np.mean(gaps, axis=0)


@contextlib.contextmanager
def quiet_stderr():
    """MediaPipe/TFLite print start-up chatter straight to fd 2; keep the CLI's stderr clean."""
    try:
        fd = os.dup(2)
    except OSError:
        yield
        return
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(fd, 2)
            os.close(fd)


USED_POINTS = sorted(set(LIP_POINTS + EYE_OUTER))  # the 42 of 468 points avdetect reads
N_MESH_POINTS = 468


def _used_points(landmark) -> np.ndarray:
    """MediaPipe landmark list -> (468, 2) normalised coords, NaN except USED_POINTS.

    Copying 42 points instead of 468 out of the protobuf saves ~0.5 ms a frame.
    """
    out = np.full((N_MESH_POINTS, 2), np.nan, np.float32)
    out[USED_POINTS] = [(landmark[i].x, landmark[i].y) for i in USED_POINTS]
    return out


class FaceMeshTracker:
    """MediaPipe FaceMesh in tracking mode; grows max faces when a detector sees more."""

    def __init__(self) -> None:
        import mediapipe as mp  # heavy import, only when faces are needed

        self._mp = mp
        self.max_faces = 1
        self._mesh = self._new_mesh(1)
        self._detector = mp.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=0.6)

    def _new_mesh(self, n: int):
        return self._mp.solutions.face_mesh.FaceMesh(
            static_image_mode=False, max_num_faces=n, refine_landmarks=False,
            min_detection_confidence=0.5, min_tracking_confidence=0.5)

    def __call__(self, index: int, rgb: np.ndarray) -> list[np.ndarray]:
        """rgb (H, W, 3) uint8 -> list of (468, 2) pixel landmarks, one per face (NaN except USED_POINTS)."""
        assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8, rgb.shape
        if index % FACE_DETECT_EVERY == 0:
            self._maybe_grow(rgb)
        res = self._mesh.process(rgb)
        if not res.multi_face_landmarks:
            return []
        h, w = rgb.shape[:2]
        scale = np.array([w, h], np.float32)
        return [_used_points(face.landmark) * scale for face in res.multi_face_landmarks]

    def _maybe_grow(self, rgb: np.ndarray) -> None:
        det = self._detector.process(rgb)
        n = min(MAX_FACES, len(det.detections or []))
        if n > self.max_faces:
            self._mesh.close()
            self.max_faces = n
            self._mesh = self._new_mesh(n)

    def reset(self) -> None:
        """Forget all tracking state (start of a new file) without reloading the models.

        Restarts the FaceMesh graph run (~10-25 ms; a new tracker costs ~100 ms); the face
        detector works image by image and keeps no state.
        """
        if self.max_faces != 1:
            self._mesh.close()
            self.max_faces = 1
            self._mesh = self._new_mesh(1)
        else:
            self._mesh.reset()  # no landmarks carried over to the next file's first frame

    def close(self) -> None:
        self._mesh.close()
        self._detector.close()


class _Track:
    def __init__(self, n_frames: int) -> None:
        self.lips = np.full((n_frames, N_LIP_POINTS, 2), np.nan, np.float32)
        self.mask = np.zeros(n_frames, bool)
        self.scales: list[float] = []
        self.centre = np.zeros(2, np.float32)
        self.last_scale = 1.0

    def add(self, k: int, lips: np.ndarray, scale: float, centre: np.ndarray) -> None:
        self.lips[k], self.mask[k] = lips, True
        self.scales.append(scale)
        self.centre, self.last_scale = centre, scale

    def to_mouth(self, track_id: int, n_tracks: int) -> MouthTrack:
        opening = np.where(self.mask, mouth_opening(np.nan_to_num(self.lips)), 0.0).astype(np.float32)
        return MouthTrack(self.lips, self.mask, opening, float(np.median(self.scales)),
                          track_id, n_tracks)


def _assign(tracks: list[_Track], faces: list[tuple[np.ndarray, float, np.ndarray]],
            k: int, n_frames: int) -> None:
    """Greedy nearest-centre association of this frame's faces to existing tracks."""
    used: set[int] = set()
    for lips, scale, centre in sorted(faces, key=lambda f: -f[1]):
        best, best_d = None, TRACK_MATCH_DIST
        for i, tr in enumerate(tracks):
            if i in used or tr.mask[k]:
                continue
            d = float(np.hypot(*(centre - tr.centre))) / max(tr.last_scale, 1.0)
            if d < best_d:
                best, best_d = i, d
        if best is None:
            tracks.append(_Track(n_frames))
            best = len(tracks) - 1
        used.add(best)
        tracks[best].add(k, lips, scale, centre)


def speaking_score(track: MouthTrack) -> float:
    """Mouth motion energy x coverage: the face that talks moves its lips the most."""
    if track.mask.sum() < 3:
        return 0.0
    both = track.mask[1:] & track.mask[:-1]
    vel = np.abs(np.diff(track.opening))[both]
    return float(vel.mean() if len(vel) else 0.0) * track.coverage


def extract_mouth(frames: Iterable[tuple[int, np.ndarray]], n_frames: int,
                  tracker: FaceMeshTracker | None = None) -> MouthTrack | None:
    """Run FaceMesh over timeline frames; return the speaking face's track (None: no face)."""
    own = tracker is None
    tracks: list[_Track] = []
    with quiet_stderr():  # MediaPipe logs from its own threads while it runs
        tracker = tracker or FaceMeshTracker()
        try:
            for k, rgb in frames:
                if k >= n_frames:
                    break
                faces = [normalise_face(p) for p in tracker(k, rgb)]
                if faces:
                    _assign(tracks, faces, k, n_frames)
        finally:
            if own:
                tracker.close()
    if not tracks:
        return None
    mouths = [t.to_mouth(i, len(tracks)) for i, t in enumerate(tracks)]
    return max(mouths, key=speaking_score)
