"""Training loop and evaluation of the spoof network on the cached corpus."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np
import torch

from ..constants import MEL_FPS
from ..metrics import eer, roc_auc
from ..models.spoof import SpoofConfig, SpoofNet
from ..windows import window_starts
from .spoof_corpus import Corpus, Item, Split, speaker_known
from .spoof_data import Variant, build_variants, channel_group, random_crop, spec_augment, spectral_eq


VAL_FRACTION = 0.15  # share of training speakers/voices (by hash) held out to calibrate the score


def is_val(item: Item, fraction: float = VAL_FRACTION) -> bool:
    """Hold-out by speaker (a vocoded twin shares its source's speaker, so both land on one side).

    Soundtrack items (LRC-AR, GRID s1) never go to validation: their people are unknown per item
    (neighbouring LRC-AR clips are the same presenter; GRID s1 is one person), so held-out items
    would share speakers with training ones and make the calibration too lenient."""
    if not speaker_known(item.speaker):
        return False
    h = int(hashlib.sha1(f"val/{item.speaker}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return h < fraction


@dataclass
class TrainConfig:
    steps: int = 1600
    batch: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-3
    seed: int = 0
    threads: int = 1  # under CPU contention one thread is faster than two (measured)
    eq_db: float = 0.0  # random smooth spectral EQ per crop, peak up to this many dB (0: off)


def class_kind_weights(keys: list[tuple[int, str]]) -> np.ndarray:
    """(label, kind) per variant -> (V,) probabilities: classes 50/50; within a class a kind
    (generator/corpus) with n variants gets weight sqrt(n), so small corpora are not drowned out
    nor over-repeated."""
    kinds = Counter(keys)
    mass = {k: np.sqrt(n) for k, n in kinds.items()}
    class_mass = Counter()
    for (lab, _), m in mass.items():
        class_mass[lab] += m
    w = np.array([mass[k] / kinds[k] / class_mass[k[0]] for k in keys])
    return w / w.sum()


def sample_weights(variants: list[Variant]) -> np.ndarray:
    """(V,) training-draw probabilities of the variants (class_kind_weights)."""
    return class_kind_weights([(v.item.label, v.item.kind) for v in variants])


def train(variants: list[Variant], model_cfg: SpoofConfig, cfg: TrainConfig, log=print) -> SpoofNet:
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    model = SpoofNet(model_cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.1)
    probs = sample_weights(variants)
    labels = torch.tensor([float(v.item.label) for v in variants])
    t0, run = time.time(), []
    model.train()
    for step in range(cfg.steps):
        idx = rng.choice(len(variants), cfg.batch, p=probs)
        x = spec_augment(torch.stack([random_crop(variants[i].mel, rng) for i in idx]), rng)
        x = spectral_eq(x, rng, cfg.eq_db)
        loss = model.loss(model(x), labels[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        run.append(loss.item())
        if (step + 1) % 50 == 0:
            log(f"step {step + 1}/{cfg.steps} loss {np.mean(run[-50:]):.3f} ({time.time() - t0:.0f} s)")
    return model.eval()


@torch.no_grad()
def window_logits(model: SpoofNet, mel: torch.Tensor) -> torch.Tensor:
    """(T, F) item log-mel -> (K,) raw logits of its 4 s windows (1 s hop; one window if shorter)."""
    window, hop = int(model.cfg.window_s * MEL_FPS), int(model.cfg.hop_s * MEL_FPS)
    mel = mel.float()
    starts = window_starts(mel.shape[0], window, hop, min_length=0)
    batch = torch.stack([mel[s:s + window] for s in starts]) if mel.shape[0] >= window else mel[None]
    return model(batch)


def score_variant(model: SpoofNet, mel: torch.Tensor) -> float:
    """(T, F) item log-mel -> clip score 0-100: mean over calibrated window scores."""
    return float(100 * model.probability(window_logits(model, mel)).mean())


@torch.no_grad()
def calibrate(model: SpoofNet, variants: list[Variant], threshold: float) -> dict:
    """Fit Platt scaling (class-balanced logistic regression on window logits) on held-out
    variants, store it on the model, and return what it did: validation EER and, before/after,
    the share of real and fake clips scoring over `threshold`."""
    from sklearn.linear_model import LogisticRegression

    model.calibration_scale, model.calibration_bias = 1.0, 0.0
    logits = [window_logits(model, v.mel) for v in variants]
    x = torch.cat(logits).numpy()[:, None]
    y = np.concatenate([[v.item.label] * len(lg) for v, lg in zip(variants, logits)])
    labels = np.array([v.item.label for v in variants])

    def clip_scores() -> np.ndarray:  # (V,) mean of calibrated window scores, as score_variant
        return np.array([float(100 * model.probability(lg).mean()) for lg in logits])

    def rates(clip: np.ndarray) -> tuple[float, float]:
        return float(np.mean(clip[labels == 0] > threshold)), float(np.mean(clip[labels == 1] > threshold))

    raw = rates(clip_scores())
    lr = LogisticRegression(class_weight="balanced", C=1e6).fit(x, y)
    model.calibration_scale, model.calibration_bias = float(lr.coef_[0, 0]), float(lr.intercept_[0])
    clip = clip_scores()
    e, _ = eer(clip[labels == 0], clip[labels == 1])
    cal = rates(clip)
    return {"n_real": int((labels == 0).sum()), "n_fake": int((labels == 1).sum()), "eer": round(e, 4),
            "scale": round(model.calibration_scale, 4), "bias": round(model.calibration_bias, 4),
            f"real_over_{threshold:.0f}": [round(raw[0], 3), round(cal[0], 3)],
            f"fake_over_{threshold:.0f}": [round(raw[1], 3), round(cal[1], 3)]}


def evaluate(model: SpoofNet, variants: list[Variant]) -> list[dict]:
    """EER/AUC per generator (fakes of that generator vs all real variants) per channel group."""
    scores: dict[tuple[str, int, str], list[float]] = defaultdict(list)
    for v in variants:
        scores[(channel_group(v.channel), v.item.label, v.item.kind)].append(score_variant(model, v.mel))
    rows = []
    for group in sorted({k[0] for k in scores}):
        real = np.concatenate([s for (g, lab, _), s in scores.items() if g == group and lab == 0])
        for gen in sorted({k[2] for k in scores if k[1] == 1}):
            fake = np.array(scores.get((group, 1, gen), []))
            if len(fake) == 0:
                continue
            e, thr = eer(real, fake)
            rows.append(dict(channel=group, generator=gen, n_real=len(real), n_fake=len(fake), eer=e,
                             auc=roc_auc(real, fake), eer_threshold=thr))
    return rows


def split_items(corpus: Corpus, split: Split, exclude: frozenset[str] = frozenset()) -> list[Item]:
    """The split's items, sorted by id, without the fakes of the generators in `exclude`."""
    return sorted((it for it in corpus.items.values() if it.split == split.value
                   and not (it.label == 1 and it.kind in exclude)), key=lambda it: it.id)


def variants_cache(corpus: Corpus, split: Split, kind: str, seed: int, exclude: frozenset[str] = frozenset()) -> Path:
    """Where the channel variants of a split are cached; named by a digest of the split's item ids
    so that adding items (a new generator) builds new variants instead of reusing stale ones."""
    ids = "\n".join(it.id for it in split_items(corpus, split, exclude))
    digest = hashlib.sha1(ids.encode()).hexdigest()[:8]
    return corpus.root / f"variants_{split.value}_{kind}_s{seed}_{digest}.pt"


def variants_for(corpus: Corpus, split: Split, seed: int, kind: str,
                 channels: list[str] | None = None, exclude: frozenset[str] = frozenset()) -> list[Variant]:
    return build_variants(corpus, split_items(corpus, split, exclude), seed, kind, channels=channels)


def train_and_save(corpus_dir: Path, out_dir: Path, steps: int = TrainConfig.steps, seed: int = 0,
                   features: str = "logspec", log=print, eq_db: float = 0.0,
                   unseen: tuple[str, ...] | None = None, head: str = "linear") -> dict:
    """Train on corpus_dir's train split (unseen generators excluded) -> out_dir/spoof.{safetensors,json}.

    unseen: generators kept out of training (default spoof_corpus.UNSEEN_GENERATORS); a corpus
    built with piper training fakes (--piper-train) trains with piper seen when unseen=("vstts",).

    The channel variants of the training items are cached in corpus_dir. Returns the training record.
    """
    from ..models.spoof import Features, feature_dim, save_model
    from .spoof_corpus import UNSEEN_GENERATORS

    t0 = time.time()
    torch.set_num_threads(1)
    corpus = Corpus(corpus_dir)
    mcfg = SpoofConfig(features=Features(features).value, n_mels=feature_dim(features), head=head)
    unseen = frozenset(unseen if unseen is not None else (g.value for g in UNSEEN_GENERATORS))
    cache = variants_cache(corpus, Split.train, mcfg.features, seed, unseen)
    variants = _load_variants(cache)
    if variants is None:
        variants = variants_for(corpus, Split.train, seed=seed, kind=mcfg.features, exclude=unseen)
        torch.save(variants, cache)
    assert not any(v.item.label == 1 and v.item.kind in unseen for v in variants), \
        "an unseen generator leaked into training"
    held = [is_val(v.item) for v in variants]
    val = [v for v, h in zip(variants, held) if h]
    variants = [v for v, h in zip(variants, held) if not h]
    kinds = Counter((v.item.label, v.item.kind) for v in variants)
    log(f"{len(variants)} training variants, {len(val)} held out to calibrate ({time.time() - t0:.0f} s): "
        f"{dict(kinds)}")
    tcfg = TrainConfig(steps=steps, seed=seed, eq_db=eq_db)
    record = {"steps": tcfg.steps, "batch": tcfg.batch, "lr": tcfg.lr, "seed": tcfg.seed, "eq_db": eq_db,
              "train_kinds": {f"{'fake' if lab else 'real'}/{k}": n for (lab, k), n in kinds.items()},
              "unseen_generators": sorted(unseen)}
    model = train(variants, mcfg, tcfg, log=log)
    if val:
        record["calibration"] = calibrate(model, val, mcfg.threshold)
        log(f"calibration on held-out training speakers: {record['calibration']}")
    record["wall_time_s"] = round(time.time() - t0)
    model.training_record = record
    save_model(model, out_dir / "spoof")
    return record


def _load_variants(cache: Path) -> list[Variant] | None:
    """Cached training variants, or None when absent or written by an older layout of the code."""
    if not cache.exists():
        return None
    try:
        return torch.load(cache, weights_only=False)
    except (ImportError, AttributeError, EOFError, RuntimeError):  # pickled classes moved: rebuild
        return None
