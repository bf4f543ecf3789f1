"""Claimed identity on real-world voice clones: does `scan --claimed NAME` call a clone of NAME authentic?

Data: ../shared/data/fake-speech/clones (manifest.csv: path,label,generator,family,speaker,pair).
The split is fixed here, before anything is scored:

  test speakers:  every speaker with >= 2 real references. Each is enrolled (voices.enroll, in a
                  temporary $AVDETECT_HOME, never the user's store) from its first 2 real clips
                  by path; its other real clips are the genuine calls (only speakers with >= 3
                  reals have any), its fakes are the clones; all are scanned with claimed=NAME.
  validation:     the real clips of the speakers with exactly 1 real reference (never enrolled,
                  never in the test), scanned without a claim.
  more genuine:   LibriSpeech test-other (shared manifest, the 10 speakers with 10 utterances of
                  8 s): each enrolled from its first 2 utterances, the other 8 scanned with the
                  claim (another channel than the clones' pages; test only, not used for T).

T_claimed rule (fusion.CLAIMED_SYNTHETIC_AT): the lowest integer mark T such that >= 95 % of the
judged validation reals have a synthetic_speech score below T, i.e. the new rule may turn at most
5 % of genuine matching calls suspicious. No fake is used to pick T, so every family is held out.

The scan runs the two voice checks (on audio-only files the lip-sync checks are not applicable,
so the verdict is the one `avdetect scan` gives). Verdicts are then fused twice from the same
check results: without the claimed rule (claimed_at None, as before) and with it.
Usage: PYTHONPATH=. python scripts/eval_claimed.py [--data ../shared/data] [--json out.json]
       (~300 clips of 3.5 s; a few minutes on one core)
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

import avdetect
from avdetect import voices
from avdetect.checks.speaker import SpeakerCheck
from avdetect.checks.synthetic_speech import SyntheticSpeechCheck
from avdetect.fusion import CLAIMED_SYNTHETIC_AT, SYNTHETIC_CHECK, Verdict, fuse
from avdetect.io import load_audio
from avdetect.metrics import eer, roc_auc

ROOT = Path(__file__).resolve().parents[1]
GENUINE_AUTHENTIC_TARGET = 0.95  # share of validation reals that must stay under T
ENROLL_CLIPS = 2
LIBRI_UTTERANCES = 10  # LibriSpeech speakers with this many utterances form the extra genuine set


def pick_mark(real_scores: list[float], keep: float = GENUINE_AUTHENTIC_TARGET) -> int:
    """Lowest integer T in 0..101 with share(score < T) >= keep (the rule in the module docstring)."""
    n = len(real_scores)
    assert n > 0, "no judged validation reals"
    for t in range(0, 102):
        if sum(s < t for s in real_scores) >= keep * n:
            return t
    return 101


def verdict(report, infos, claimed_at: float | None) -> Verdict:
    """The report's verdict re-fused from its check results with the claimed rule at claimed_at."""
    v, _, _ = fuse(report.checks, {k: i.weight for k, i in infos.items()},
                   {k: i.suspicious_at for k, i in infos.items()}, claimed_at=claimed_at)
    return v


def share(xs: list[bool]) -> str:
    return f"{sum(xs)}/{len(xs)} = {100 * sum(xs) / len(xs):.0f} %" if xs else "-"


def read_clones(folder: Path) -> tuple[dict[str, list[dict]], dict[str, list[dict]]]:
    """The clones manifest -> (real rows by speaker, fake rows by speaker), each sorted by path."""
    with open(folder / "manifest.csv") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: r["path"])
    reals, fakes = defaultdict(list), defaultdict(list)
    for r in rows:
        (reals if r["label"] == "real" else fakes)[r["speaker"]].append(r)
    return reals, fakes


def read_librispeech(data: Path) -> dict[str, list[dict]]:
    """LibriSpeech rows of the shared manifest by speaker (sorted by path), for speakers with
    LIBRI_UTTERANCES utterances or more."""
    libri = defaultdict(list)
    with open(data / "manifest.csv") as f:
        for r in csv.DictReader(f):
            if r["kind"] == "librispeech":
                libri[r["speaker"]].append({**r, "family": "librispeech", "generator": "real"})
    return {s: sorted(v, key=lambda r: r["path"]) for s, v in sorted(libri.items()) if len(v) >= LIBRI_UTTERANCES}


def validation_mark(det, folder: Path, rows: list[dict]) -> tuple[int, list[float]]:
    """Scan the validation reals without a claim -> (the mark pick_mark chooses, their judged scores)."""
    val = [rep.checks.get(SYNTHETIC_CHECK) for rep in det.scan_many([folder / r["path"] for r in rows])]
    scores = [c.score for c in val if c is not None and c.score is not None]
    mark = pick_mark(scores)
    print(f"validation: {len(scores)} of {len(rows)} reals judged by synthetic_speech; "
          f"picked T_claimed = {mark} (shipped CLAIMED_SYNTHETIC_AT = {CLAIMED_SYNTHETIC_AT:g})")
    if not math.isclose(mark, CLAIMED_SYNTHETIC_AT):
        print("  NOTE: the shipped mark differs from the one this rule picks; the test uses the shipped one")
    return mark, scores


def print_numbers(out: list[dict], val_scores: list[float]) -> None:
    """The tables of docs/voice.md from the scanned rows."""
    clone_scores = [o["synthetic"] for o in out if o["kind"] == "clone" and o["synthetic"] is not None]
    neg, pos = np.array(val_scores), np.array(clone_scores)
    print(f"synthetic_speech score, clones vs validation reals: AUC {roc_auc(neg, pos):.2f}, "
          f"EER {100 * eer(neg, pos)[0]:.0f} %")
    for kind in ("genuine", "genuine-librispeech", "clone"):
        sel = [o for o in out if o["kind"] == kind]
        print(f"\n{kind} calls: {len(sel)} (speaker match {share([o['match'] is True for o in sel])})")
        print(f"  authentic before (no claimed rule): {share([o['before'] == 'authentic' for o in sel])}")
        print(f"  authentic with T_claimed {CLAIMED_SYNTHETIC_AT:g}:      {share([o['after'] == 'authentic' for o in sel])}")
    print("\nby family (clones authentic before -> with the rule; genuine authentic with the rule):")
    for fam in sorted({o["family"] for o in out if o["kind"] != "genuine-librispeech"}):
        cl = [o for o in out if o["family"] == fam and o["kind"] == "clone"]
        ge = [o for o in out if o["family"] == fam and o["kind"] == "genuine"]
        print(f"  {fam:20s} clones {share([o['before'] == 'authentic' for o in cl]):>16s} -> "
              f"{share([o['after'] == 'authentic' for o in cl]):>16s}   genuine "
              f"{share([o['after'] == 'authentic' for o in ge])}")
    print("\nfor information only (not used to pick T): clones / genuine authentic at other marks")
    for t in (20, 30, 40, 50, 60):
        cl, ge, gl = ([verdict_at(o, t) for o in out if o["kind"] == k]
                      for k in ("clone", "genuine", "genuine-librispeech"))
        print(f"  T {t:3d}: clones {share(cl)}, genuine {share(ge)}, genuine LibriSpeech {share(gl)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--json", help="write the per-clip rows here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = Path(args.data)
    folder = data / "fake-speech" / "clones"
    reals, fakes = read_clones(folder)
    test_spk = sorted(s for s in reals if len(reals[s]) >= ENROLL_CLIPS)
    val_rows = [r for s in reals if len(reals[s]) < ENROLL_CLIPS for r in reals[s]]
    print(f"test speakers (>= {ENROLL_CLIPS} reals): {len(test_spk)}; validation reals "
          f"(speakers with 1 real): {len(val_rows)}")
    t0 = time.time()
    det = avdetect.load("cpu", checks=[SyntheticSpeechCheck, SpeakerCheck])
    mark, val_scores = validation_mark(det, folder, val_rows)  # 1. T from validation reals only
    out = []  # 2. test: enroll, then scan genuine calls and clones with the claim
    with tempfile.TemporaryDirectory() as home:
        os.environ["AVDETECT_HOME"] = home  # never the user's voice store
        for spk in test_spk:
            calls = [("genuine", r) for r in reals[spk][ENROLL_CLIPS:]] + [("clone", r) for r in fakes[spk]]
            out += enroll_and_scan(det, folder, spk, reals[spk][:ENROLL_CLIPS], calls)
        for spk, utts in read_librispeech(data).items():
            out += enroll_and_scan(det, data, spk, utts[:ENROLL_CLIPS],
                                   [("genuine-librispeech", r) for r in utts[ENROLL_CLIPS:]])
    print(f"scanned {len(val_rows) + len(out)} clips in {time.time() - t0:.0f} s")
    print_numbers(out, val_scores)  # 3. the numbers
    if args.json:
        Path(args.json).write_text(json.dumps({"mark_picked": mark, "validation_scores": val_scores,
                                               "rows": out}, indent=1))


def enroll_and_scan(det, folder: Path, spk: str, enroll_rows: list[dict], calls: list[tuple[str, dict]]) -> list[dict]:
    """Enroll `spk` from enroll_rows, scan calls [(kind, manifest row)] claiming it -> one row per call
    (none when the enrolment fails: printed)."""
    name = "spk_" + "".join(ch if ch.isalnum() or ch in "_.-" else "_" for ch in spk)
    try:
        voices.enroll(name, [load_audio(folder / r["path"]) for r in enroll_rows])
    except voices.VoiceError as e:
        print(f"  skipped {spk}: {e}")
        return []
    rows = []
    for (kind, r), rep in zip(calls, det.scan_many([folder / r["path"] for _, r in calls], claimed=name)):
        if rep.verdict == Verdict.error:
            print(f"  error on {r['path']}: {rep.error}")
            continue
        spk_res, syn = rep.checks["speaker"], rep.checks[SYNTHETIC_CHECK]
        rows.append({"path": r["path"], "kind": kind, "speaker": spk, "family": r["family"],
                     "generator": r["generator"], "match": spk_res.fields.get("match"),
                     "similarity": spk_res.fields.get("similarity"), "synthetic": syn.score,
                     "before": verdict(rep, det.infos, None).value,
                     "after": verdict(rep, det.infos, CLAIMED_SYNTHETIC_AT).value, "reasons": rep.reasons})
    return rows


def verdict_at(o: dict, t: float) -> bool:
    """Whether a scanned call would end authentic with the claimed mark at t (from its row: the
    rule only adds 'suspicious' to a matching voice scoring >= t, so the rest is the 'before' verdict)."""
    return o["before"] == "authentic" and not (o["match"] is True and o["synthetic"] is not None
                                               and o["synthetic"] >= t)


if __name__ == "__main__":
    main()
