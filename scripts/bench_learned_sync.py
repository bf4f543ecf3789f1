#!/usr/bin/env python
"""Time the learned sync check against feature extraction (FaceMesh dominates a scan).

    PYTHONPATH=. python scripts/bench_learned_sync.py --model avdetect/models/weights/sync FILE [FILE ...]
    PYTHONPATH=. python scripts/bench_learned_sync.py --whole-scan FILE [FILE ...]

--whole-scan times `Detector.scan` (all checks, the shipped models) with and without the
learned sync model, alternating per file, after one warm-up scan of the first file each way.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from avdetect.checks.learned_sync import OffsetMethod, score_learned_sync
from avdetect.features import extract
from avdetect.models.sync import load_model


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--model", default="avdetect/models/weights/sync")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's, as in `avdetect scan`)")
    ap.add_argument("--offset-method", choices=[m.value for m in OffsetMethod], default="auto",
                    help="auto (as in scan): the offset scan only for clips the model doubts")
    ap.add_argument("--whole-scan", action="store_true",
                    help="time the whole scan with and without the learned model instead")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.whole_scan:
        return whole_scan(a.files)
    model = load_model(a.model)
    t_ext = t_sync = dur = 0.0
    for f in a.files:
        t0 = time.perf_counter()
        feats = extract(f)
        t1 = time.perf_counter()
        r = score_learned_sync(feats.mouth, feats.audio.samples, feats.speech, model=model,
                               offset_method=OffsetMethod(a.offset_method))
        t2 = time.perf_counter()
        t_ext, t_sync, dur = t_ext + t1 - t0, t_sync + t2 - t1, dur + feats.duration_s
        print(f"{f}: {feats.duration_s:.1f} s media, extract {t1 - t0:.2f} s, learned sync {t2 - t1:.3f} s "
              f"({len(r.windows)} windows), p_sync {r.p_sync:.2f}, offset {r.offset_ms:+.0f} ms ({r.offset_method.value})")
    print(f"total {dur:.1f} s media: extract {t_ext:.2f} s, learned sync {t_sync:.3f} s "
          f"= {100 * t_sync / t_ext:.1f} % of extraction")
    return 0


def whole_scan(files: list[str]) -> int:
    from avdetect.checks.base import LipSyncMethod, Settings
    from avdetect.detector import Detector

    with_model, without = Detector(Settings()), Detector(Settings(lip_sync=LipSyncMethod.correlation))
    with_model.scan(files[0]), without.scan(files[0])  # warm up once each way
    t_with = t_without = 0.0
    for f in files:
        t0 = time.perf_counter()
        r = without.scan(f).to_dict()
        t1 = time.perf_counter()
        r2 = with_model.scan(f).to_dict()
        t2 = time.perf_counter()
        t_without, t_with = t_without + t1 - t0, t_with + t2 - t1
        print(f"{f}: {r.get('duration_s', 0):.1f} s media, scan {t1 - t0:.2f} s without the learned model "
              f"({r.get('verdict')}), {t2 - t1:.2f} s with it ({r2.get('verdict')})")
    print(f"total: {t_without:.2f} s without, {t_with:.2f} s with = +{100 * (t_with / t_without - 1):.1f} % scan time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
