"""Feed a call to `avdetect listen` through stdin at a chosen speed (1.0 = real time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from avdetect.constants import SAMPLE_RATE

REPO = Path(__file__).resolve().parents[1]
FEED_CHUNK_S = 0.1  # s of audio per write


def pcm_s16le(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def feed(stdin, data: bytes, speed: float, chunk_bytes: int = 2 * int(FEED_CHUNK_S * SAMPLE_RATE)) -> None:
    """Write `data` in chunks, each when its audio would have been spoken at `speed`x real time."""
    t0 = time.monotonic()
    try:
        for k, i in enumerate(range(0, len(data), chunk_bytes)):
            wait = t0 + k * FEED_CHUNK_S / speed - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            stdin.write(data[i:i + chunk_bytes])
            stdin.flush()
    finally:
        stdin.close()


def run_listen(args: list[str], data: bytes, speed: float, env: dict[str, str] | None = None,
               timeout_s: float = 600) -> tuple[int, list[dict], str]:
    """`avdetect listen ARGS` with `data` on stdin -> (exit code, JSON lines of stdout, stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "avdetect", "listen", *args], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})}, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    feeder = threading.Thread(target=feed, args=(proc.stdin, data, speed), daemon=True)
    feeder.start()
    err_chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)
    reader.start()
    out = proc.stdout.read()  # until listen exits (the feeder closes stdin at the end of the call)
    proc.wait(timeout_s)
    feeder.join(5)
    reader.join(5)
    err = b"".join(err_chunks)
    lines = [json.loads(x) for x in out.decode().splitlines() if x.strip()]
    return proc.returncode, lines, err.decode()
