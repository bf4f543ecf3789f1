#!/usr/bin/env python
"""Count flagged av/wild real clips by the sync training split of their person (issue 17).

    avdetect batch ../shared/data/av/wild/video/real --out wild.jsonl -j 2 --device cpu
    PYTHONPATH=. python scripts/wild_flags.py wild.jsonl --split val

Prints, for each split asked for, how many real clips ended `suspicious` or `fake` (flagged), and
each clip's verdict, lip-sync finding and score. Splits not asked for are not printed, so a
model-selection rule can look at the validation people without seeing the test people.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

from avdetect.training.data import Split, wild_split

FLAGGED = ("suspicious", "fake")


def persons(data: Path) -> dict[str, str]:
    """Clip file name -> person, from av/wild/manifest.csv (real clips only)."""
    with open(data / "av/wild/manifest.csv", newline="") as f:
        return {Path(r["path"]).name: r["person"] for r in csv.DictReader(f) if r["label"] == "real"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("batch_jsonl", type=Path, help="output of avdetect batch over av/wild/video/real")
    ap.add_argument("--split", action="append", choices=[s.value for s in Split], required=True,
                    help="split(s) to print (repeat the flag for more than one)")
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    a = ap.parse_args()
    who = persons(a.data)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
