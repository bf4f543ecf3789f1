"""Peak memory and time of `avdetect scan` on long media made here (nothing is downloaded).

    PYTHONPATH=. python scripts/bench_long_media.py OUT_DIR [--video-min 120] [--video-fps 1]
        [--call-min 30] [--talk-min 10]

Makes: a long video (default the issue's case: 2 h of 1 fps black frames with silent audio),
a call (audio-only speech, synthetic voice, 30 min) and a talking-face video at 25 fps (the
normal case, for the real-time factor), then scans each with the CLI in a child process and
prints wall time, real-time factor and peak RSS (resource.getrusage of the child).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from avdetect import synth
from avdetect.constants import SAMPLE_RATE

CHUNK_S = 8.0  # s: generated speech/faces are made once per chunk and tiled


def write_tiled(path: Path, frames: list[np.ndarray] | None, audio: np.ndarray, seconds: float, fps: float) -> Path:
    """Stream `frames` (looped) at fps and `audio` (looped) for `seconds` into an MP4/M4A."""
    with av.open(str(path), "w") as c:
        vs = None
        if frames:
            vs = c.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
            vs.options = {"preset": "ultrafast"}
        as_ = c.add_stream("aac", rate=SAMPLE_RATE)
        as_.layout = "mono"
        n_frames = int(seconds * fps) if vs is not None else 0
        frame_len = as_.codec_context.frame_size or 1024
        n_audio = int(seconds * SAMPLE_RATE)
        a_pos = 0
        for k in range(max(n_frames, 1)):
            if vs is not None and k < n_frames:
                for p in vs.encode(av.VideoFrame.from_ndarray(frames[k % len(frames)], format="rgb24")):
                    c.mux(p)
            t_end = n_audio if vs is None else min(n_audio, int((k + 1) / fps * SAMPLE_RATE))
            while a_pos < t_end:
                m = min(frame_len, t_end - a_pos)
                idx = (a_pos + np.arange(m)) % len(audio)
                fr = av.AudioFrame.from_ndarray(audio[idx][None, :].astype(np.float32), format="flt", layout="mono")
                fr.sample_rate, fr.pts = SAMPLE_RATE, a_pos
                for p in as_.encode(fr):
                    c.mux(p)
                a_pos += m
        for s in [x for x in (vs, as_) if x is not None]:
            for p in s.encode(None):
                c.mux(p)
    return path


def scan(path: Path, extra: list[str]) -> dict:
    """Scan in a child process -> {seconds, peak_rss_mb, verdict}."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "avdetect", "scan", str(path), *extra], capture_output=True, text=True)
    seconds = time.monotonic() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB, the largest child so far
    try:
        verdict = json.loads(r.stdout)["verdict"]
    except (json.JSONDecodeError, KeyError):
        verdict = f"exit {r.returncode}: {r.stderr.strip()[-200:]}"
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(max(peak, before) / 1024),
            "rss_is_new_peak": peak > before, "verdict": verdict}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--video-min", type=float, default=120.0)
    ap.add_argument("--video-fps", type=float, default=1.0)
    ap.add_argument("--call-min", type=float, default=30.0)
    ap.add_argument("--talk-min", type=float, default=10.0)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    frames, speech = synth.talking_face(CHUNK_S, seed=0)
    jobs = []
    if args.call_min > 0:
        jobs.append(("call", write_tiled(out / "call.m4a", None, speech, args.call_min * 60, 25), args.call_min))
    if args.talk_min > 0:
        jobs.append(("talking video 25 fps", write_tiled(out / "talk.mp4", frames, speech, args.talk_min * 60, 25),
                     args.talk_min))
    if args.video_min > 0:
        black = [np.zeros((360, 640, 3), np.uint8)]
        silence = np.zeros(SAMPLE_RATE, np.float32)
        jobs.append((f"black video {args.video_fps:g} fps, silent audio",
                     write_tiled(out / "long.mp4", black, silence, args.video_min * 60, args.video_fps), args.video_min))
    for name, path, minutes in sorted(jobs, key=lambda j: j[2]):  # smallest first: RSS peaks stay attributable
        res = scan(path, ["--lip-sync", "correlation"] if "talking" in name else [])
        rtf = res["seconds"] / (minutes * 60)
        print(f"{name:36s} {minutes:6.1f} min  {res['seconds']:8.1f} s  RTF {rtf:.3f}  peak RSS "
              f"{res['peak_rss_mb']} MB{'' if res['rss_is_new_peak'] else ' (max so far)'}  {res['verdict']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
