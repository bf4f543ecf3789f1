"""Probe (training-log section 17): Whisper-base's confidence in its own transcript as a
synthetic-speech cue, per generator family of fake-speech/clones. Nothing is trained.

    PYTHONPATH=. python scripts/probe_asr_confidence.py extract   # ~55 min on one core -> /work/cache/asr_conf.json
    PYTHONPATH=. python scripts/probe_asr_confidence.py eval      # AUC per family, both cues

Each clip: `whisper_layers.equalise` (as section 9), zero-padded to 30 s, Whisper-base
(CTranslate2 int8, 1 thread), language detected, greedy decoding without timestamps. Cues:
`score` (length-normalised log-probability of the transcript; higher = more likely synthetic)
and `no_speech` (Whisper's no-speech probability; lower = more likely synthetic).
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import time
from pathlib import Path

import numpy as np
import torch

from avdetect import io
from avdetect.audio import whisper as W
from avdetect.metrics import roc_auc
from avdetect.training.whisper_layers import equalise

WHISPER_CHUNK_S = 30  # s: Whisper decodes 30 s windows
N_LIBRI = 100  # LibriSpeech test-other clips (10 speakers x 10)
CUES = (("score", 1), ("no_speech", -1))  # (field, sign): sign * value is higher for "more likely synthetic"


def clip_cues(model, path: str) -> dict:
    """One file -> Whisper's language, transcript score, no-speech probability and token count."""
    import ctranslate2

    a = io.load_audio(path, io.probe(path))
    x = equalise(a.samples.astype(np.float32), np.random.default_rng(0))
    n = WHISPER_CHUNK_S * 16000
    buf = np.zeros(n, np.float32)
    buf[:min(n, len(x))] = x[:n]
    mel = np.ascontiguousarray(W.whisper_log_mel(torch.from_numpy(buf)[None]).numpy())
    sv = ctranslate2.StorageView.from_array(mel)
    lang = model.detect_language(sv)[0][0]
    r = model.generate(sv, [["<|startoftranscript|>", lang[0], "<|transcribe|>", "<|notimestamps|>"]],
                       return_scores=True, return_no_speech_prob=True, beam_size=1)[0]
    return {"score": float(r.scores[0]), "no_speech": float(r.no_speech_prob), "lang": lang[0],
            "lang_p": float(lang[1]), "ntok": len(r.sequences_ids[0]), "dur": len(x) / 16000}


def extract(data: Path, out: Path) -> None:
    import ctranslate2

    torch.set_num_threads(1)
    model = ctranslate2.models.Whisper("whisper-base", device="cpu", compute_type="int8", intra_threads=1,
                                       files=W.whisper_model_files())
    rows = list(csv.DictReader(open(data / "fake-speech/clones/manifest.csv")))
    ls = [r for r in csv.DictReader(open(data / "manifest.csv")) if r["kind"] == "librispeech"]
    per_speaker = collections.Counter(r["speaker"] for r in ls)
    libri = [r for r in ls if per_speaker[r["speaker"]] >= 10][:N_LIBRI]  # test-other: 10 per speaker
    t0, res = time.time(), []
    for r in rows:
        s = clip_cues(model, str(data / "fake-speech/clones" / r["path"]))
        res.append(dict(s, label=r["label"], family=r["family"], generator=r["generator"], source_repo=r["source_repo"]))
    for r in libri:
        s = clip_cues(model, str(data / r["path"]))
        res.append(dict(s, label="real", family="librispeech", generator="real", source_repo="libri"))
    out.write_text(json.dumps(res))
    print(f"{len(res)} clips in {time.time() - t0:.0f} s -> {out}")


def evaluate(path: Path) -> None:
    d = json.loads(path.read_text())
    libri = [x for x in d if x["family"] == "librispeech"]
    fams = sorted({x["family"] for x in d} - {"librispeech"})
    for cue, sign in CUES:
        print(f"cue {cue} (sign {sign:+d})")
        aucs = []
        for f in fams:
            fk = [sign * x[cue] for x in d if x["family"] == f and x["label"] == "fake"]
            rl = [sign * x[cue] for x in d if x["family"] == f and x["label"] == "real"]
            li = [sign * x[cue] for x in libri]
            aucs.append(roc_auc(rl, fk))
            print(f"  {f:20s} fakes {len(fk):3d} refs {len(rl):3d}  AUC vs refs {aucs[-1]:.3f}  "
                  f"vs LibriSpeech {roc_auc(li, fk):.3f}")
        print(f"  mean over families {np.mean(aucs):.3f}  min {np.min(aucs):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("step", choices=("extract", "eval"))
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--json", type=Path, default=Path("/work/cache/asr_conf.json"))
    a = ap.parse_args()
    extract(a.data, a.json) if a.step == "extract" else evaluate(a.json)


if __name__ == "__main__":
    main()
