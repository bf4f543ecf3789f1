"""Self-blended pseudo-fakes of mouth crops and the visual network's training loop.

Real-only training (after Shiohara & Yamasaki, CVPR 2022, self-blended images): a pseudo-fake
is a real crop whose mouth region is replaced, through a soft mask, by
  - the mouth of the same face at another moment of the clip, or
  - the same crop re-rendered: slightly warped, blurred / sharpened / down-up-scaled /
    JPEG-recompressed, with brightness, contrast and gamma jitter.
The mask is the outer-lip hull (or an enlarged ellipse around it, sometimes the lower face),
dilated and blurred by random amounts, at a random blend strength. Real crops and pseudo-fakes
then get the same post-processing (resolution loss, JPEG, shifts, flips), so only the blend
itself tells them apart. Label real = 0, blended = 1.

Temporal model (training-log section 15): stacks of consecutive crops, whose pseudo-fakes change
the mouth over time: each frame re-rendered on its own (texture flicker), the stack's mean mouth
in every frame (too still), one re-rendered mouth pasted over all frames (frozen texture), or the
single-crop self-blend drawn per frame. One mask per stack, one set of post-processing
parameters per stack, so a real stack does not flicker.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from ..metrics import roc_auc_labels
from ..models.visual import VisualConfig, VisualNet, frame_logits
from ..visual.landmarks import N_LIP_POINTS
from ..visual.mouth_crop import CONTEXT_PX, MODEL_PX, centre_crop

MAX_SHIFT_PX = (CONTEXT_PX - MODEL_PX) // 2  # 12: random-crop range around the centre
TRAIN_SHIFT_PX = 4  # px: random offset of the model window in training


@dataclass
class CropSet:
    """All crops of a split. grey (N, CONTEXT_PX, CONTEXT_PX) uint8, lips (N, 40, 2) float32,
    clip (N,) int32 clip index, names: clip names (index -> path)."""

    grey: np.ndarray
    lips: np.ndarray
    clip: np.ndarray
    names: list[str] = field(default_factory=list)
    frame: np.ndarray | None = None  # (N,) int32 timeline index of each crop (needed for stacks)

    def __post_init__(self) -> None:
        n = len(self.grey)
        assert self.grey.shape == (n, CONTEXT_PX, CONTEXT_PX) and self.lips.shape == (n, N_LIP_POINTS, 2)
        assert self.clip.shape == (n,) and (self.frame is None or self.frame.shape == (n,))

    def stack_starts(self, frames: int, step: int = 1) -> np.ndarray:
        """Indices i whose crops i..i+frames-1 are consecutive timeline frames of one clip, every
        `step`-th such start of each run -> (m,) int64."""
        assert self.frame is not None, "stacks need the crops' frame indices"
        n = len(self.grey) - frames + 1
        if n <= 0:
            return np.zeros(0, np.int64)
        i = np.arange(n)
        ok = (self.clip[i] == self.clip[i + frames - 1]) & (self.frame[i + frames - 1] - self.frame[i] == frames - 1)
        starts = i[ok]
        return starts[self.frame[starts] % step == 0] if step > 1 else starts


def lip_mask(outer: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(k, 2) outer-lip points in crop px -> (CONTEXT_PX, CONTEXT_PX) float32 soft mask in [0, 1]."""
    m = np.zeros((CONTEXT_PX, CONTEXT_PX), np.uint8)
    r = rng.random()
    if r < 0.5:  # the lip hull, dilated
        cv2.fillConvexPoly(m, cv2.convexHull(outer.round().astype(np.int32)), 255)
        k = int(rng.integers(1, 12)) * 2 + 1
        m = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    else:  # an ellipse around the mouth, up to the lower face
        c = outer.mean(axis=0)
        w = (outer[:, 0].max() - outer[:, 0].min()) / 2 * rng.uniform(1.05, 1.6)
        h = (outer[:, 1].max() - outer[:, 1].min()) / 2 * rng.uniform(1.2, 2.5)
        dy = rng.uniform(0, 0.5) * h if r > 0.8 else 0.0  # lower face: push down toward the chin
        cv2.ellipse(m, (int(round(c[0])), int(round(c[1] + dy))), (int(round(w)), int(round(h + dy))),
                    0, 0, 360, 255, -1)
    sigma = rng.uniform(1.0, 7.0)
    soft = cv2.GaussianBlur(m.astype(np.float32) / 255.0, (0, 0), sigma)
    return np.clip(soft * rng.uniform(0.6, 1.0) / max(soft.max(), 1e-6), 0.0, 1.0)


def jpeg(grey: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE) if ok else grey


def resample(grey: np.ndarray, factor: float) -> np.ndarray:
    """Down- then up-scale by factor (< 1 loses detail)."""
    s = grey.shape[0]
    small = cv2.resize(grey, (max(8, int(s * factor)),) * 2, interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (s, s), interpolation=cv2.INTER_LINEAR)


def rerender(grey: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A crop re-rendered: small warp, then one or two texture changes, then tone jitter -> float32."""
    s = grey.shape[0]
    ang, scale = rng.uniform(-4, 4), rng.uniform(0.94, 1.06)
    m = cv2.getRotationMatrix2D((s / 2, s / 2), ang, scale)
    m[:, 2] += rng.uniform(-2.5, 2.5, 2)
    out = cv2.warpAffine(grey, m, (s, s), borderMode=cv2.BORDER_REFLECT)
    for _ in range(int(rng.integers(1, 3))):
        op = rng.integers(0, 4)
        if op == 0:
            out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.6, 2.0))
        elif op == 1:
            blur = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.8, 2.0))
            out = np.clip(out.astype(np.float32) * 1.6 - blur * 0.6, 0, 255).astype(np.uint8)
        elif op == 2:
            out = resample(out, rng.uniform(0.35, 0.75))
        else:
            out = jpeg(out, int(rng.integers(20, 60)))
    return tone(out.astype(np.float32), rng)


def tone(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Brightness, contrast and gamma jitter of a float grey image (0-255)."""
    g = rng.uniform(0.8, 1.25)
    x = 255.0 * np.power(np.clip(x, 0, 255) / 255.0, g)
    return (x - x.mean()) * rng.uniform(0.85, 1.15) + x.mean() + rng.uniform(-12, 12)


def self_blend(crops: CropSet, i: int, rng: np.random.Generator) -> np.ndarray:
    """Pseudo-fake from crop i -> (CONTEXT_PX, CONTEXT_PX) uint8."""
    target = crops.grey[i].astype(np.float32)
    lips = crops.lips[i]
    same_clip = np.flatnonzero(crops.clip == crops.clip[i])
    if rng.random() < 0.4 and len(same_clip) > 1:  # another moment of the same clip
        j = int(rng.choice(same_clip[same_clip != i]))
        src = crops.grey[j]
        src = rerender(src, rng) if rng.random() < 0.5 else tone(src.astype(np.float32), rng)
        outer = np.concatenate([lips[:20], crops.lips[j, :20]])  # the mask covers both mouths
    else:
        src = rerender(crops.grey[i], rng)
        outer = lips[:20]
    mask = lip_mask(outer, rng)
    out = mask * src + (1.0 - mask) * target
    return np.clip(out, 0, 255).astype(np.uint8)


def appearance(grey: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Whole-crop look changes (camera, channel, grading), for real and fake alike -> uint8."""
    x = grey.astype(np.float32)
    r = rng.random()
    if r < 0.25:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.3, 1.2))
    elif r < 0.45:
        x = x * 1.5 - cv2.GaussianBlur(x, (0, 0), rng.uniform(0.8, 2.0)) * 0.5
    if rng.random() < 0.5:
        x = tone(x, rng)
    if rng.random() < 0.3:
        x = x + rng.normal(0.0, rng.uniform(2.0, 6.0), x.shape)
    return np.clip(x, 0, 255).astype(np.uint8)


def post(grey: np.ndarray, rng: np.random.Generator, shift: int = TRAIN_SHIFT_PX,
         strong: bool = False) -> np.ndarray:
    """Shared post-processing of real and fake crops -> (MODEL_PX, MODEL_PX) uint8.
    strong: also appearance() and a wider resolution range (run 2)."""
    if strong:
        grey = appearance(grey, rng)
    if rng.random() < 0.5:
        grey = resample(grey, rng.uniform(0.3 if strong else 0.45, 1.0))
    if rng.random() < 0.6:
        grey = jpeg(grey, int(rng.integers(35, 96)))
    dx, dy = rng.integers(-shift, shift + 1, 2) if shift else (0, 0)
    o = MAX_SHIFT_PX
    out = grey[o + dy:o + dy + MODEL_PX, o + dx:o + dx + MODEL_PX]
    return out[:, ::-1] if rng.random() < 0.5 else out


def batch(crops: CropSet, idx: np.ndarray, rng: np.random.Generator, shift: int = TRAIN_SHIFT_PX,
          strong: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Half real, half self-blended from crops idx -> ((2n, MODEL_PX, MODEL_PX) uint8, (2n,) labels)."""
    real = [post(crops.grey[i], rng, shift, strong) for i in idx]
    fake = [post(self_blend(crops, int(i), rng), rng, shift, strong) for i in idx]
    x = np.stack(real + fake)
    y = np.r_[np.zeros(len(idx)), np.ones(len(idx))].astype(np.float32)
    return np.ascontiguousarray(x), y


FAKE_KINDS = ("flicker", "still", "frozen", "blend")
FAKE_KIND_P = (0.3, 0.3, 0.2, 0.2)  # training-log section 15, fixed before training


def temporal_fake(crops: CropSet, start: int, frames: int, rng: np.random.Generator) -> np.ndarray:
    """Temporal pseudo-fake of crops start..start+frames-1 -> (frames, CONTEXT_PX, CONTEXT_PX) uint8."""
    idx = np.arange(start, start + frames)
    target = crops.grey[idx].astype(np.float32)  # (T, C, C)
    kind = FAKE_KINDS[int(rng.choice(len(FAKE_KINDS), p=FAKE_KIND_P))]
    if kind == "blend":
        return np.stack([self_blend(crops, int(i), rng) for i in idx])
    mask = lip_mask(crops.lips[idx, :20].reshape(-1, 2), rng)  # around every frame's mouth
    if kind == "flicker":
        src = np.stack([rerender(crops.grey[i], rng) for i in idx])
    elif kind == "still":
        src = np.broadcast_to(target.mean(0), target.shape)
    else:  # frozen
        src = np.broadcast_to(rerender(crops.grey[int(rng.choice(idx))], rng), target.shape)
    return np.clip(mask * src + (1.0 - mask) * target, 0, 255).astype(np.uint8)


def post_stack(stack: np.ndarray, rng: np.random.Generator, shift: int = TRAIN_SHIFT_PX) -> np.ndarray:
    """post() with one set of random parameters for every frame of a stack:
    (T, CONTEXT_PX, CONTEXT_PX) uint8 -> (T, MODEL_PX, MODEL_PX) uint8."""
    factor = rng.uniform(0.45, 1.0) if rng.random() < 0.5 else None
    quality = int(rng.integers(35, 96)) if rng.random() < 0.6 else None
    dx, dy = rng.integers(-shift, shift + 1, 2) if shift else (0, 0)
    flip = rng.random() < 0.5
    o = MAX_SHIFT_PX
    out = []
    for g in stack:
        g = resample(g, factor) if factor is not None else g
        g = jpeg(g, quality) if quality is not None else g
        g = g[o + dy:o + dy + MODEL_PX, o + dx:o + dx + MODEL_PX]
        out.append(g[:, ::-1] if flip else g)
    return np.stack(out)


def stack_batch(crops: CropSet, starts: np.ndarray, frames: int, rng: np.random.Generator,
                shift: int = TRAIN_SHIFT_PX) -> tuple[np.ndarray, np.ndarray]:
    """Half real, half temporal pseudo-fake stacks from `starts` ->
    ((2n, frames, MODEL_PX, MODEL_PX) uint8, (2n,) labels)."""
    real = [post_stack(crops.grey[s:s + frames], rng, shift) for s in starts]
    fake = [post_stack(temporal_fake(crops, int(s), frames, rng), rng, shift) for s in starts]
    y = np.r_[np.zeros(len(starts)), np.ones(len(starts))].astype(np.float32)
    return np.ascontiguousarray(np.stack(real + fake)), y


def centre_stacks(crops: CropSet, starts: np.ndarray, frames: int) -> np.ndarray:
    """(m,) starts -> (m, frames, MODEL_PX, MODEL_PX) uint8 centre crops, no augmentation."""
    o = MAX_SHIFT_PX
    idx = starts[:, None] + np.arange(frames)[None]
    return np.ascontiguousarray(crops.grey[idx][..., o:o + MODEL_PX, o:o + MODEL_PX])


def unit_logits(model: VisualNet, crops: CropSet, step: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Logits of every scoring unit of `crops`, centre crops without augmentation -> (logits (m,),
    clip index (m,)): one per crop for a single-crop model, one per stack starting on every
    `step`-th frame for a stack model."""
    frames = model.cfg.frames
    if frames == 1:
        return frame_logits(model, np.ascontiguousarray(centre_crop(crops.grey))), crops.clip
    starts = crops.stack_starts(frames, step)
    return frame_logits(model, centre_stacks(crops, starts, frames)), crops.clip[starts]


@dataclass
class TrainConfig:
    minutes: float = 20.0  # wall-clock training budget
    batch: int = 32  # real crops per step (as many pseudo-fakes)
    lr: float = 2e-3
    weight_decay: float = 1e-4
    eval_every: int = 200  # steps
    strong_aug: bool = False  # appearance() on real and fake crops alike (run 2)
    seed: int = 0


def train(train_set: CropSet, val_x: np.ndarray, val_y: np.ndarray, cfg: TrainConfig,
          model_cfg: VisualConfig = VisualConfig(), log=print,
          second_pool_from: int | None = None) -> tuple[VisualNet, dict]:
    """Train for cfg.minutes; keep the state with the best validation frame AUC (real vs
    pseudo-fake on held-out people). Returns (best model, record).

    second_pool_from (stack models): the clips with this index or higher are a second pool that
    gives half of every batch, whatever its size (training-log section 16)."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = VisualNet(model_cfg)
    frames = model_cfg.frames
    starts = train_set.stack_starts(frames) if frames > 1 else None
    p = None
    if starts is not None and second_pool_from is not None:
        second = train_set.clip[starts] >= second_pool_from
        assert second.any() and not second.all(), "both pools need stacks"
        p = np.where(second, 0.5 / second.sum(), 0.5 / (~second).sum())
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    best = {"auc": -1.0, "step": 0, "state": None}
    history = []
    t0, step = time.time(), 0
    while time.time() - t0 < cfg.minutes * 60:
        model.train()
        if frames > 1:
            x, y = stack_batch(train_set, rng.choice(starts, cfg.batch, p=p), frames, rng)
        else:
            x, y = batch(train_set, rng.integers(0, len(train_set.grey), cfg.batch), rng, strong=cfg.strong_aug)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(torch.from_numpy(x)), torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % cfg.eval_every == 0:
            auc = roc_auc_labels(frame_logits(model, val_x), val_y)
            history.append({"step": step, "loss": round(loss.item(), 4), "val_auc": round(auc, 4),
                            "s": round(time.time() - t0)})
            log(history[-1])
            if auc > best["auc"]:
                best = {"auc": auc, "step": step, "state": {k: v.clone() for k, v in model.state_dict().items()}}
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    record = {"steps": step, "best_step": best["step"], "best_val_auc": round(best["auc"], 4),
              "seconds": round(time.time() - t0), "history": history}
    return model.eval(), record
