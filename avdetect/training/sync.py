"""Training loop for the lip-sync transformer (CPU-capable, CUDA when asked), fixed seeds.

    from avdetect.training.sync import TrainConfig, train
    train(TrainConfig(cache_dir="cache/sync", tts_bank="cache/tts/bank.npz", out="avdetect/models/weights/sync"))
"""

from __future__ import annotations

import csv
import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..metrics import eer_labels, roc_auc_labels
from ..models.sync import (MODEL_VERSION, AudioFrontend, SyncConfig, SyncTransformer, load_model, offset_to_class,
                           save_model, window_features, window_mel)
from . import footage
from .data import (IGNORE, Batch, Split, augment_audio, augment_lips, augment_mel, collate, corpus_of, donor_pools,
                   load_corpus, load_tts_bank, narrowband, parse_kind_probs, sample_example, speed_perturbed)

OFFSET_LOSS_WEIGHT = 0.5


@dataclass
class TrainConfig:
    cache_dir: str = "cache/sync"
    tts_bank: str = "cache/tts/bank.npz"
    out: str = "avdetect/models/weights/sync"  # writes <out>.safetensors + <out>.json (best validation)
    log_dir: str = "runs/sync"
    steps: int = 3000
    max_minutes: float = 25.0  # stop early when the wall clock says so
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    eval_every: int = 150
    n_val: int = 768  # fixed validation windows
    seed: int = 0
    device: str = "cpu"
    init_from: str | None = None  # continue from these weights (stem), e.g. a previous best
    threads: int = 1  # more threads on a shared, busy CPU slowed steps ~10x (spin waits)
    mirror_p: float = 0.0  # share of training windows whose lips are mirrored (stage 7: 0.5)
    kind_probs: str | None = None  # "p_pos,p_offset,p_dub_same,p_dub_other,p_tts"; None: data.KIND_PROBS
    hard_dub_k: int = 1  # > 1: each dubbed negative is the best envelope match of this many donors
    speed_rates: tuple[float, ...] = ()  # e.g. (0.9, 1.1): re-timed copies of every training clip join it
    audio_frontend: str | None = None  # an AudioFrontend value; None: model.audio_frontend or init_from's
    wild_repeat: int = 1  # each av/wild training clip is drawn this many times as often as another clip
    footage: float = 0.0  # scales footage.FootageConfig's probabilities (0: off, 1: its defaults)
    model: SyncConfig = SyncConfig()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def losses(model: SyncTransformer, batch: Batch, mel: torch.Tensor, lips: torch.Tensor,
           lip_valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """-> (total, sync BCE, offset CE, sync logits (B,), offset logits (B, 31))."""
    sync_logit, off_logits = model(lips, lip_valid, mel, batch.frame_valid)
    has_sync = batch.sync != IGNORE
    bce = F.binary_cross_entropy_with_logits(sync_logit[has_sync], batch.sync[has_sync]) \
        if has_sync.any() else sync_logit.sum() * 0
    target = torch.where(batch.offset == IGNORE, IGNORE, offset_to_class(batch.offset, model.cfg))
    ce = F.cross_entropy(off_logits, target, ignore_index=IGNORE) if (target != IGNORE).any() \
        else off_logits.sum() * 0
    return bce + OFFSET_LOSS_WEIGHT * ce, bce, ce, sync_logit, off_logits


def _to(batch: Batch, device: str) -> Batch:
    return Batch(*(getattr(batch, f).to(device) for f in batch.__dataclass_fields__))


def train_step(model, opt, batch: Batch, gen: torch.Generator, device: str,
               mirror_p: float = 0.0, footage_p: float = 0.0) -> tuple[float, float, float]:
    lips, lv = augment_lips(batch.lips, batch.lip_valid, gen, mirror_p)
    audio = batch.audio
    if footage_p > 0:
        fcfg = footage.FootageConfig.scaled(footage_p)
        lips, lv = footage.augment_lips(lips, lv, gen, fcfg)
        audio = footage.augment_audio(audio, gen, fcfg)
    audio = augment_audio(audio, gen)
    if model.cfg.audio_frontend == AudioFrontend.logmel:
        mel = augment_mel(window_mel(audio), gen)
    else:
        mel = window_features(model.cfg, narrowband(audio, gen))
    b = _to(batch, device)
    model.train()
    loss, bce, ce, _, _ = losses(model, b, mel.to(device), lips.to(device), lv.to(device))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss.item(), bce.item(), ce.item()


@torch.no_grad()
def evaluate(model: SyncTransformer, batches: list[Batch], device: str) -> dict[str, float]:
    """Validation: loss, AUC/EER of (1 - p_sync) for negatives vs positives, offset accuracy
    (+-1 frame) on the shifted pairs."""
    model.eval()
    tot, p, y, off_ok = [], [], [], []
    for batch in batches:
        b = _to(batch, device)
        loss, _, _, s, o = losses(model, b, window_features(model.cfg, batch.audio, device), b.lips, b.lip_valid)
        tot.append(float(loss))
        keep = (b.sync != IGNORE).cpu()
        p.append(torch.sigmoid(s).cpu()[keep])
        y.append((b.sync.cpu()[keep] == 0))
        has = ((b.offset != IGNORE) & (b.offset != 0)).cpu()  # shifted pairs only
        pred = o.argmax(-1).cpu() - model.cfg.max_offset
        off_ok.append(((pred - b.offset.cpu()).abs() <= 1)[has])
    fake = (1 - torch.cat(p)).numpy()
    lab = torch.cat(y).numpy()
    return {"val_loss": float(np.mean(tot)), "val_auc": roc_auc_labels(fake, lab), "val_eer": eer_labels(fake, lab),
            "val_offset_acc": float(torch.cat(off_ok).float().mean())}


def fixed_batches(clips, pools, tts, n: int, batch_size: int, seed: int) -> list[Batch]:
    rng = np.random.default_rng(seed)
    ex = [sample_example(rng, clips, *pools, tts) for _ in range(n)]
    return [collate(ex[i:i + batch_size]) for i in range(0, n, batch_size)]


def lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    frac = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))


def train(cfg: TrainConfig) -> dict[str, float]:
    """Train, log curves to <log_dir>/curves.csv, keep the best validation model at cfg.out."""
    seed_everything(cfg.seed)
    torch.set_num_threads(cfg.threads)
    corpus = load_corpus(cfg.cache_dir)
    tr, va = corpus[Split.train], corpus[Split.val]
    tr = tr + [speed_perturbed(c, r) for r in cfg.speed_rates for c in tr]
    tr = tr + [c for c in tr if corpus_of(c.name) == "wild"] * (cfg.wild_repeat - 1)
    tts_tr = load_tts_bank(cfg.tts_bank, Split.train)
    print(f"train clips {len(tr)}, val clips {len(va)}, test clips {len(corpus[Split.test])}, "
          f"tts utterances {len(tts_tr)}", flush=True)
    pools = donor_pools(tr)
    probs = parse_kind_probs(cfg.kind_probs) if cfg.kind_probs else None
    val = fixed_batches(va, donor_pools(va), tts_tr, cfg.n_val, 128, cfg.seed + 1)
    wild_va = [c for c in va if corpus_of(c.name) == "wild"]
    wild_val = fixed_batches(wild_va, donor_pools(va), tts_tr, cfg.n_val // 2, 128, cfg.seed + 2) if wild_va else []
    model = SyncTransformer(cfg.model).to(cfg.device)
    if cfg.init_from:
        model = load_model(cfg.init_from, cfg.device)
    if cfg.audio_frontend and AudioFrontend(cfg.audio_frontend) != model.cfg.audio_frontend:
        model = switch_frontend(model, AudioFrontend(cfg.audio_frontend), cfg.seed).to(cfg.device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng, gen = np.random.default_rng(cfg.seed), torch.Generator().manual_seed(cfg.seed)
    Path(cfg.log_dir).mkdir(parents=True, exist_ok=True)
    log = open(Path(cfg.log_dir) / "curves.csv", "w", newline="")
    writer = csv.writer(log)
    writer.writerow(["step", "minutes", "lr", "train_loss", "train_bce", "train_ce",
                     "val_loss", "val_auc", "val_eer", "val_offset_acc", "wild_val_auc"])
    t0, best, run = time.time(), {"score": -1.0}, []
    for step in range(cfg.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        batch = collate([sample_example(rng, tr, *pools, tts_tr, probs, cfg.hard_dub_k)
                         for _ in range(cfg.batch_size)])
        run.append(train_step(model, opt, batch, gen, cfg.device, cfg.mirror_p, cfg.footage))
        minutes = (time.time() - t0) / 60
        last = step == cfg.steps - 1 or minutes >= cfg.max_minutes
        if (step + 1) % cfg.eval_every == 0 or last:
            m = evaluate(model, val, cfg.device)
            if wild_val:
                m["wild_val_auc"] = evaluate(model, wild_val, cfg.device)["val_auc"]
            tl = np.mean(run, 0)
            run = []
            writer.writerow([step + 1, f"{minutes:.2f}", f"{lr_at(step, cfg):.2e}", *(f"{v:.4f}" for v in tl),
                             *(f"{m[k]:.4f}" for k in ("val_loss", "val_auc", "val_eer", "val_offset_acc")),
                             f"{m.get('wild_val_auc', float('nan')):.4f}"])
            log.flush()
            print(f"step {step + 1} {minutes:.1f} min train {tl[0]:.3f} | " +
                  " ".join(f"{k} {v:.3f}" for k, v in m.items()), flush=True)
            score = m["val_auc"] + m["val_offset_acc"] + m.get("wild_val_auc", 0.0)  # wild: real footage of other people
            if score > best["score"]:
                best = {"score": score, "step": step + 1, **m}
                save_model(model, cfg.out, extra={"training": {
                    "step": step + 1, **{k: round(v, 4) for k, v in m.items()},
                    "config": {k: v for k, v in asdict(cfg).items() if k != "model"}}})
        if last:
            break
    log.close()
    return best


def average_weights(stems: list[str], out: str, weights: list[float] | None = None) -> Path:
    """Uniform (or weighted) average of the parameters of models of one config -> out.{safetensors,json}.

    Meant for fine-tunes of one another (stage n and its continuation), which lie in one basin
    where the average is itself a good model ("model soup"); the result needs its own calibration
    (scripts/calibrate_sync.py). Buffers that are not floating point are taken from the first model."""
    assert stems, "nothing to average"
    weights = weights or [1.0 / len(stems)] * len(stems)
    assert len(weights) == len(stems) and abs(sum(weights) - 1) < 1e-6, weights
    models = [load_model(s, "cpu") for s in stems]
    cfg = models[0].cfg
    for s, m in zip(stems, models):
        if m.cfg != cfg:
            raise ValueError(f"{s}: config differs from {stems[0]}; only models of one config can be averaged")
    states = [m.state_dict() for m in models]
    avg = {k: (sum(w * st[k] for w, st in zip(weights, states)) if v.is_floating_point() else v)
           for k, v in states[0].items()}
    soup = SyncTransformer(cfg)
    soup.load_state_dict(avg)
    metas = [json.loads(Path(s).with_suffix(".json").read_text()) for s in stems]
    extra = {"training": {"averaged_from": [{"stem": str(s), "weight": w, "sha256": m["sha256"],
                                             "training": m.get("training")}
                                            for s, w, m in zip(stems, weights, metas)]}}
    return save_model(soup, out, extra)


def switch_frontend(model: SyncTransformer, frontend: AudioFrontend, seed: int = 0) -> SyncTransformer:
    """A copy of `model` that reads `frontend` features: the audio input layers (audio_in) are new
    (drawn with `seed`), every other parameter is carried over, so lips, fusion, transformer and
    heads start from what `model` learned. The calibration is reset (refit after training)."""
    import dataclasses

    cfg = dataclasses.replace(model.cfg, audio_frontend=frontend.value, version=MODEL_VERSION)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        new = SyncTransformer(cfg)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("audio_in.")}
    missing, unexpected = new.load_state_dict(state, strict=False)
    assert not unexpected and all(k.startswith("audio_in.") for k in missing), (missing, unexpected)
    return new.eval()


def grow_layer(model: SyncTransformer, seed: int = 0) -> SyncTransformer:
    """A copy of `model` with one more transformer layer (the last) that starts as the identity.

    With pre-norm residual blocks, zeroing the new layer's attention output projection and its
    feed-forward output makes it add nothing, so the grown model computes exactly what `model`
    did; training then uses the extra depth. The calibration is carried over. The new layer's
    other weights are drawn with `seed` (the global RNG is left as it was)."""
    import dataclasses

    cfg = dataclasses.replace(model.cfg, n_layers=model.cfg.n_layers + 1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        grown = SyncTransformer(cfg)
    missing, unexpected = grown.load_state_dict(model.state_dict(), strict=False)
    new = f"encoder.layers.{cfg.n_layers - 1}."
    assert not unexpected and missing and all(k.startswith(new) for k in missing), (missing, unexpected)
    layer = grown.encoder.layers[cfg.n_layers - 1]
    with torch.no_grad():
        for p in (layer.self_attn.out_proj.weight, layer.self_attn.out_proj.bias, layer.linear2.weight,
                  layer.linear2.bias):
            p.zero_()
    grown.calibration = model.calibration
    return grown.eval()
