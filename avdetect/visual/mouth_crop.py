"""Eye-line-aligned grey mouth crops from FaceMesh pixel landmarks.

A crop is centred on the outer-lip centroid, rotated so the outer eye corners lie on a
horizontal line, and scaled by the inter-ocular distance (IOD, outer eye corners), so a
mouth fills the same share of the crop whatever the face size, position or roll.

CONTEXT_PX x CONTEXT_PX covers CONTEXT_IOD inter-ocular distances; the network sees the
centre MODEL_PX x MODEL_PX of it (MODEL_PX / CONTEXT_PX * CONTEXT_IOD = 1.1 IOD). The margin
is room for training-time shifts and blending.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .landmarks import EYE_OUTER, LIP_POINTS, LIPS_OUTER

CONTEXT_PX = 112  # px: side of the stored crop
MODEL_PX = 88  # px: side of the network's input (centre of the stored crop)
CONTEXT_IOD = 1.4  # inter-ocular distances covered by CONTEXT_PX
MAX_WARP_SHRINK = 0.7  # a crop shrinking the image more than this is area-downscaled first
MIN_IOD_PX = 20.0  # px: a face smaller than this gives no crop (too few pixels to judge texture)


@dataclass
class MouthCrop:
    """grey: (CONTEXT_PX, CONTEXT_PX) uint8; lips: (40, 2) float32 lip points in crop pixels;
    iod_px: inter-ocular distance in source pixels (face size)."""

    grey: np.ndarray
    lips: np.ndarray
    iod_px: float


def crop_matrix(points: np.ndarray, size: int = CONTEXT_PX, span_iod: float = CONTEXT_IOD) -> tuple[np.ndarray, float]:
    """(468, 2) pixel landmarks -> ((2, 3) affine image->crop matrix, IOD px).

    Crop x runs along the eye line (left to right in the image), the outer-lip centroid lands
    at the crop centre, and span_iod IODs span `size` pixels.
    """
    left, right = points[EYE_OUTER[0]].astype(np.float64), points[EYE_OUTER[1]].astype(np.float64)
    d = right - left
    iod = float(np.hypot(*d))
    c, s = d / (iod or 1.0)
    centre = points[list(LIPS_OUTER)].astype(np.float64).mean(axis=0)
    k = size / (span_iod * (iod or 1.0))  # crop px per image px
    rot = k * np.array([[c, s], [-s, c]])  # image -> crop: rotate the eye line onto +x, scale
    shift = size / 2.0 - rot @ centre
    return np.hstack([rot, shift[:, None]]).astype(np.float64), iod


def mouth_crop(rgb: np.ndarray, points: np.ndarray) -> MouthCrop | None:
    """rgb (H, W, 3) uint8 + (468, 2) pixel landmarks (NaN outside USED_POINTS) -> MouthCrop,
    or None when the face is too small or the needed points are missing."""
    import cv2

    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8, rgb.shape
    assert points.shape == (468, 2), points.shape
    needed = points[list(LIP_POINTS + EYE_OUTER)]
    if not np.isfinite(needed).all():
        return None
    m, iod = crop_matrix(points)
    if iod < MIN_IOD_PX:
        return None
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    k = CONTEXT_PX / (CONTEXT_IOD * iod)  # crop px per image px
    if k < MAX_WARP_SHRINK:  # shrink with area averaging first: a warp alone would alias
        f = k / MAX_WARP_SHRINK
        small = cv2.resize(grey, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        f_xy = np.array([small.shape[1] / grey.shape[1], small.shape[0] / grey.shape[0]])
        warp = np.hstack([m[:, :2] / f_xy, m[:, 2:]])
        grey = small
    else:
        warp = m
    out = cv2.warpAffine(grey, warp, (CONTEXT_PX, CONTEXT_PX), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    lips = points[list(LIP_POINTS)].astype(np.float64) @ m[:, :2].T + m[:, 2]
    return MouthCrop(out, lips.astype(np.float32), iod)


def centre_crop(grey: np.ndarray, size: int = MODEL_PX) -> np.ndarray:
    """(..., S, S) -> (..., size, size): the centre of a stored crop (the network's input)."""
    s = grey.shape[-1]
    o = (s - size) // 2
    return grey[..., o:o + size, o:o + size]
