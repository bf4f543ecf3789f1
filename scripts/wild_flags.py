#!/usr/bin/env python
"""Count flagged av/wild real clips by the sync training split of their person (issue 17).

    avdetect batch ../shared/data/av/wild/video/real --out wild.jsonl -j 2 --device cpu
    PYTHONPATH=. python scripts/wild_flags.py wild.jsonl --split val

Prints, for each split asked for, how many real clips ended `suspicious` or `fake` (flagged), and
each clip's verdict, lip-sync finding and score. Splits not asked for are not printed, so a
model-selection rule can look at the validation people without seeing the test people.
With `--generated GEN.jsonl` (batch over av/wild/video/generated) it also prints the ROC AUC of
the overall score and of the lip-sync score, generated vs the real clips of the splits asked for,
for all generated clips and per generator (a clip a check could not judge scores 0).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

from avdetect.evaluate import OVERALL, score_of
from avdetect.metrics import roc_auc
from avdetect.training.data import Split, wild_split

FLAGGED = ("suspicious", "fake")


def manifest(data: Path) -> list[dict[str, str]]:
    with open(data / "av/wild/manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


def scores(r: dict) -> tuple[float, float]:
    """A report -> (overall score, lip-sync score), 0 where none was given."""
    return float(score_of(r, OVERALL) or 0.0), float(score_of(r, "lip_sync") or 0.0)


def auc_table(real: list[dict], gen: list[dict], generator: dict[str, str]) -> None:
    """Print AUC (overall, lip_sync) of generated vs real, all and per generator."""
    neg = [scores(r) for r in real]
    groups = {"all": gen}
    for r in gen:
        groups.setdefault(generator.get(Path(r["file"]).name, "?"), []).append(r)
    print(f"generated vs {len(real)} real: AUC overall / lip_sync")
    for name, rs in groups.items():
        pos = [scores(r) for r in rs]
        aucs = [roc_auc([n[i] for n in neg], [p[i] for p in pos]) for i in (0, 1)]
        print(f"  {name:16s} n={len(rs):3d}  {aucs[0]:.3f} / {aucs[1]:.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("batch_jsonl", type=Path, help="output of avdetect batch over av/wild/video/real")
    ap.add_argument("--split", action="append", choices=[s.value for s in Split], required=True,
                    help="split(s) to print (repeat the flag for more than one)")
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--generated", type=Path, help="batch output over av/wild/video/generated")
    a = ap.parse_args()
    rows_m = manifest(a.data)
    who = {Path(r["path"]).name: r["person"] for r in rows_m if r["label"] == "real"}
    rows: dict[str, list[dict]] = {s: [] for s in a.split}
    for line in a.batch_jsonl.read_text().splitlines():
        r = json.loads(line)
        name = Path(r["file"]).name
        if name not in who:
            continue
        split = wild_split(who[name]).value
        if split in rows:
            rows[split].append(r)
    for split, rs in rows.items():
        verdicts = Counter(r.get("verdict", "error") for r in rs)
        flagged = sum(verdicts[v] for v in FLAGGED)
        print(f"{split}: {flagged} of {len(rs)} flagged ({dict(sorted(verdicts.items()))})")
        for r in sorted(rs, key=lambda r: r["file"]):
            ls = r.get("checks", {}).get("lip_sync", {})
            print(f"  {Path(r['file']).name:48s} {r.get('verdict', 'error'):15s} "
                  f"lip_sync {ls.get('score')} {ls.get('finding')}")
    if a.generated:
        gen = [json.loads(line) for line in a.generated.read_text().splitlines()]
        generator = {Path(r["path"]).name: r["generator"] for r in rows_m if r["label"] != "real"}
        auc_table([r for rs in rows.values() for r in rs], gen, generator)
    return 0


if __name__ == "__main__":
    sys.exit(main())
