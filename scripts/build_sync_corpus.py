#!/usr/bin/env python
"""Extract lip landmarks + raw audio once for every AV clip and cache them (git-ignored cache/).

    PYTHONPATH=. python scripts/build_sync_corpus.py --data ../shared/data --workers 2

Writes cache/sync/v1/<sha[:2]>/<sha>.npz per clip and cache/sync/index.csv (name,sha,status,person;
person from av/wild/manifest.csv for the real av/wild clips, which training splits by person).
Re-running skips clips already cached.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

AV_DIRS = ("av/grid_s1/video", "av/lrc_ar/video", "av/multi", "av/wild/video/real")
WILD_MANIFEST = "av/wild/manifest.csv"


def _work(args: tuple[str, str, str]) -> tuple[str, str, str]:
    import torch

    torch.set_num_threads(1)
    from avdetect.training.sync_corpus import extract_to_cache, file_sha256

    root, name, cache = args
    try:
        out, status = extract_to_cache(Path(root) / name, cache)
        return name, out.stem, status
    except Exception as e:  # noqa: BLE001 - one bad clip must not stop the corpus
        return name, file_sha256(Path(root) / name), f"error: {str(e).splitlines()[0][:120]}"


def list_clips(root: Path) -> list[str]:
    names = []
    for d in AV_DIRS:
        names += sorted(str(p.relative_to(root)) for p in (root / d).glob("*.mp4"))
    return names


def wild_persons(root: Path) -> dict[str, str]:
    """Clip name (relative to the data root) -> the person av/wild's manifest names."""
    path = root / WILD_MANIFEST
    if not path.is_file():
        return {}
    with open(path, newline="") as f:
        return {str(Path(WILD_MANIFEST).parent / r["path"]): r["person"] for r in csv.DictReader(f)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--cache", default="cache/sync")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="only the first N clips (smoke test)")
    a = ap.parse_args()
    root = Path(a.data).resolve()
    names = list_clips(root)
    if a.limit:
        names = names[: a.limit]
    os.makedirs(a.cache, exist_ok=True)
    rows, t0 = [], time.time()
    with ProcessPoolExecutor(a.workers) as ex:
        futs = [ex.submit(_work, (str(root), n, a.cache)) for n in names]
        for i, f in enumerate(as_completed(futs), 1):
            rows.append(f.result())
            if i % 100 == 0 or i == len(names):
                print(f"{i}/{len(names)} clips, {time.time() - t0:.0f} s", flush=True)
    rows.sort()
    persons = wild_persons(root)
    with open(Path(a.cache) / "index.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["name", "sha256", "status", "person"])
        w.writerows([*r, persons.get(r[0], "")] for r in rows)
    bad = [r for r in rows if r[2] != "ok" and r[2] != "cached"]
    print(f"done: {len(rows)} clips, {len(bad)} without usable features", flush=True)
    for r in bad[:20]:
        print("  ", *r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
