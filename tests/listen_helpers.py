"""Feed a call to `avdetect listen` through stdin at a chosen speed (1.0 = real time)."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import numpy as np

from avdetect.constants import SAMPLE_RATE

REPO = Path(__file__).resolve().parents[1]
FEED_CHUNK_S = 0.1  # s of audio per write


def pcm_s16le(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def wav_bytes(samples: np.ndarray) -> bytes:
    """(N,) float 16 kHz mono -> the bytes of a 16-bit PCM WAV file."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm_s16le(samples))
    return buf.getvalue()


def feed(stdin, data: bytes, speed: float, t0: float,
         chunk_bytes: int = 2 * int(FEED_CHUNK_S * SAMPLE_RATE)) -> None:
    """Write `data` in chunks, each when its audio would have been spoken at `speed`x real time
    (the call starts at t0, time.monotonic())."""
    try:
        for k, i in enumerate(range(0, len(data), chunk_bytes)):
            wait = t0 + k * FEED_CHUNK_S / speed - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            stdin.write(data[i:i + chunk_bytes])
            stdin.flush()
    except BrokenPipeError:
        pass  # listen exited (an error it reports on stderr)
    finally:
        try:
            stdin.close()
        except BrokenPipeError:
            pass


def read_all(fd: int, into: list[bytes]) -> None:
    """Read a pseudo-terminal's master side until the child closes it."""
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the other side is closed
            break
        if not data:
            break
        into.append(data)
    os.close(fd)


def run_listen(args: list[str], data: bytes, speed: float, env: dict[str, str] | None = None,
               timeout_s: float = 600, stderr_tty: bool = False) -> tuple[int, list[dict], str]:
    """`avdetect listen ARGS` with `data` on stdin -> (exit code, JSON lines of stdout, stderr).

    Each line gets "edge_lag_s": how long after the audio at its t_s was written to stdin the
    line came back (the lag behind the live edge, pipe and start-up included). stderr_tty: its
    stderr is a pseudo-terminal (as in a shell), stdout stays a pipe.
    """
    err_chunks: list[bytes] = []
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    if stderr_tty:
        master, slave = pty.openpty()
        env.update(TERM="xterm-256color", COLUMNS="120", LINES="40")
    proc = subprocess.Popen([sys.executable, "-m", "avdetect", "listen", *args], cwd=REPO, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=slave if stderr_tty else subprocess.PIPE)
    if stderr_tty:
        os.close(slave)
        reader = threading.Thread(target=read_all, args=(master, err_chunks), daemon=True)
    else:
        reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)
    reader.start()
    first = proc.stdout.readline()  # the start event: models loaded (empty: listen failed)
    lines = [json.loads(first)] if first.strip() else []
    t0 = time.monotonic()
    feeder = threading.Thread(target=feed, args=(proc.stdin, data, speed, t0), daemon=True)
    feeder.start()
    for raw in proc.stdout:  # until listen exits (the feeder closes stdin at the end of the call)
        if raw.strip():
            e = json.loads(raw)
            e["edge_lag_s"] = round(time.monotonic() - (t0 + e["t_s"] / speed), 3)
            lines.append(e)
    proc.wait(timeout_s)
    feeder.join(5)
    reader.join(5)
    err = b"".join(err_chunks)
    return proc.returncode, lines, err.decode(errors="replace")
