"""Does `avdetect listen` keep up with a live call, and how soon does it alert?

    python scripts/bench_listen.py --minutes 10 --splice-s 300 --speed 1 --claimed

Builds a call from one LibriSpeech speaker of ../shared/data (speaker 1688, utterances repeated)
with a cloned voice (a vstts clip that the shipped spoof network scores 87-89) spliced in at
--splice-s, pipes it as raw PCM into `avdetect listen -` at --speed x real time (1 = as spoken)
and prints one JSON object: lag behind the live edge (edge_lag_s: from the moment the feeder
wrote a window's last sample to the moment its line came back; lag_s: listen's own measure, from
reading that sample to printing), the windows that lagged most, the load average of the machine
before and after, the alerts and their delay after the splice, and false alerts before it. --claimed enrolls the speaker from 3 other utterances first.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from avdetect import io as avio  # noqa: E402
from avdetect.constants import SAMPLE_RATE  # noqa: E402
from listen_helpers import pcm_s16le, run_listen  # noqa: E402

DATA = REPO.parent / "shared" / "data"
SPEAKER = DATA / "speech/librispeech/1688"
WORST_SHOWN = 3  # windows listed with their lag
CLONE = DATA / "fake-speech/vstts/libritts(unseen)_speed__vstts-dur-low.flac"


def build_call(minutes: float, splice_s: float) -> np.ndarray:
    files = sorted(SPEAKER.glob("*.flac"))[3:]
    utts = [avio.load_audio(f).samples for f in files]
    n = int(minutes * 60 * SAMPLE_RATE)
    genuine = np.concatenate([utts[k % len(utts)] for k in range(n // min(map(len, utts)) + 2)])
    k = int(splice_s * SAMPLE_RATE)
    clone = avio.load_audio(CLONE).samples
    return np.concatenate([genuine[:k], clone, genuine[k:]])[:n]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--splice-s", type=float, default=300.0)
    ap.add_argument("--speed", type=float, default=1.0, help="x real time")
    ap.add_argument("--claimed", action="store_true", help="enroll the speaker and pass --claimed")
    args = ap.parse_args()
    if not SPEAKER.is_dir() or not CLONE.exists():
        sys.exit(f"needs {SPEAKER} and {CLONE}")
    call = build_call(args.minutes, args.splice_s)
    with tempfile.TemporaryDirectory(prefix="avdetect-listen-") as home:
        listen_args = ["-"]
        if args.claimed:
            os.environ["AVDETECT_HOME"] = home
            from avdetect import voices

            voices.enroll("speaker1688", [avio.load_audio(f) for f in sorted(SPEAKER.glob("*.flac"))[:3]])
            listen_args += ["--claimed", "speaker1688"]
        load_before = os.getloadavg()
        t0 = time.monotonic()
        code, lines, err = run_listen(listen_args, pcm_s16le(call), args.speed, env={"AVDETECT_HOME": home},
                                      timeout_s=args.minutes * 60 / args.speed + 600)
        wall = time.monotonic() - t0
        load_after = os.getloadavg()
    lags = np.array([e["lag_s"] for e in lines if "lag_s" in e])
    windows = [e for e in lines if e["event"] == "window"]
    edge = np.array([e["edge_lag_s"] for e in windows])
    alerts = [e for e in lines if e["event"] == "alert"]
    out = {"call_s": round(len(call) / SAMPLE_RATE, 1), "speed": args.speed, "claimed": args.claimed,
           "cpu_cores": os.cpu_count(), "exit_code": code, "wall_s": round(wall, 1),
           "windows": len(windows),
           "lag_s": {"p50": round(float(np.percentile(lags, 50)), 3), "p99": round(float(np.percentile(lags, 99)), 3),
                     "max": round(float(lags.max()), 3)},
           "edge_lag_s": {"p50": round(float(np.percentile(edge, 50)), 3),
                          "p99": round(float(np.percentile(edge, 99)), 3), "max": round(float(edge.max()), 3)},
           "worst_edge_lag": [{"t_s": e["t_s"], "edge_lag_s": e["edge_lag_s"], "lag_s": e["lag_s"]} for e in
                              sorted(windows, key=lambda e: -e["edge_lag_s"])[:WORST_SHOWN]],
           "loadavg_1_5_15_min": {"before": [round(x, 2) for x in load_before],
                                  "after": [round(x, 2) for x in load_after]},
           "splice_s": args.splice_s,
           "false_alerts_before_splice": [e["t_s"] for e in alerts if e["t_s"] <= args.splice_s],
           "alerts": [{"t_s": e["t_s"], "verdict": e["verdict"], "after_splice_s": round(e["t_s"] - args.splice_s, 1)}
                      for e in alerts],
           "end": lines[-1] if lines else None, "stderr_tail": err.strip().splitlines()[-2:]}
    print(json.dumps(out, indent=1))
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
