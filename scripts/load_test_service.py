"""Bounded load test of `avdetect serve` on localhost: N uploads of a generated talking-face clip
from C concurrent clients; every request must be answered and every job must finish.

    python scripts/load_test_service.py --n 200 --clients 16 --clip-s 5 --workers 2

Starts its own server on a free 127.0.0.1 port (--lip-sync correlation: the clip is a generated
face) unless --url names a running one (localhost only). Clients wait out 429s as told by
Retry-After. Prints one JSON object: counts and latency percentiles (ms) of the upload request
(POST -> answer), of acceptance (first POST -> 202, waits included) and end to end (first POST ->
report done), throughput in media seconds per wall second. Exit 1 if a request went unanswered
or a job was lost.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from avdetect import synth  # noqa: E402
from service_helpers import as_json, multipart, request, start_server  # noqa: E402

POLL_S = 0.25  # s between status polls of one client
LOCAL = ("127.0.0.1", "localhost", "::1")


def percentiles(xs: list[float]) -> dict[str, float]:
    a = np.asarray(xs, float) * 1000.0
    return {f"p{q}": round(float(np.percentile(a, q)), 1) for q in (50, 90, 99)} | {"max": round(float(a.max()), 1)}


def one_job(url: str, body: bytes, ctype: str, headers: dict, stats: dict, lock: threading.Lock) -> None:
    t0 = time.monotonic()
    while True:
        t = time.monotonic()
        status, h, resp = request("POST", url + "/v1/scans", body=body, headers={"Content-Type": ctype, **headers})
        with lock:
            stats["post_s"].append(time.monotonic() - t)
            stats["codes"][status] = stats["codes"].get(status, 0) + 1
        if status == 202:
            break
        if status != 429:
            raise RuntimeError(f"upload answered {status}: {resp[:200]!r}")
        time.sleep(float(h.get("retry-after", 1)))
    accepted = time.monotonic()
    job_id = as_json(resp)["id"]
    while True:
        status, _, resp = request("GET", f"{url}/v1/scans/{job_id}", headers=headers)
        if status != 200:
            raise RuntimeError(f"status poll answered {status}")
        job = as_json(resp)
        if job["status"] in ("done", "failed"):
            break
        time.sleep(POLL_S)
    with lock:
        stats["accept_s"].append(accepted - t0)
        stats["total_s"].append(time.monotonic() - t0)
        stats["ids"].add(job_id)
        stats["status"][job["status"]] = stats["status"].get(job["status"], 0) + 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200, help="uploads in all")
    ap.add_argument("--clients", type=int, default=16, help="concurrent clients")
    ap.add_argument("--clip-s", type=float, default=5.0, help="length of the uploaded clip (s)")
    ap.add_argument("--workers", type=int, default=2, help="scan workers of the server it starts")
    ap.add_argument("--queue-size", type=int, default=8, help="queue of the server it starts")
    ap.add_argument("--url", help="a running server on localhost (default: start one)")
    args = ap.parse_args()
    assert 1 <= args.n <= 1000 and 1 <= args.clients <= 64, "bounded: --n <= 1000, --clients <= 64"
    with tempfile.TemporaryDirectory(prefix="avdetect-load-") as d:
        d = Path(d)
        frames, samples = synth.talking_face(args.clip_s, seed=7)
        clip = synth.write_av(d / "clip.mp4", frames, samples).read_bytes()
        body, ctype = multipart([("file", "clip.mp4", clip)])
        headers = {"X-API-Key": os.environ["AVDETECT_API_KEY"]} if os.environ.get("AVDETECT_API_KEY") else {}
        server = None
        if args.url:
            assert urlparse(args.url).hostname in LOCAL, "the load test only talks to localhost"
            url = args.url.rstrip("/")
        else:
            server = start_server(["--lip-sync", "correlation", "--workers", str(args.workers), "--queue-size",
                                   str(args.queue_size), "--data-dir", str(d / "service")],
                                  {"AVDETECT_HOME": str(d)}, d / "server.log")
            url = server.url
        stats = {"post_s": [], "accept_s": [], "total_s": [], "codes": {}, "status": {}, "ids": set()}
        lock, errors = threading.Lock(), []
        t0 = time.monotonic()
        try:
            with ThreadPoolExecutor(args.clients) as ex:
                futures = [ex.submit(one_job, url, body, ctype, headers, stats, lock) for _ in range(args.n)]
                for f in futures:
                    try:
                        f.result()
                    except Exception as e:  # noqa: BLE001 - counted: a request without an answer
                        errors.append(f"{type(e).__name__}: {e}")
            wall = time.monotonic() - t0
            health = as_json(request("GET", url + "/healthz")[2])
        finally:
            if server is not None:
                server.stop()
    out = {"n": args.n, "clients": args.clients, "clip_s": args.clip_s, "server_workers": health["workers"],
           "queue_size": health["queue_size"], "cpu_cores": os.cpu_count(), "wall_s": round(wall, 1),
           "jobs_finished": len(stats["ids"]), "job_status": stats["status"],
           "http_codes": {str(k): v for k, v in sorted(stats["codes"].items())}, "errors": errors[:5],
           "media_s_per_s": round(args.n * args.clip_s / wall, 2),
           "upload_request_ms": percentiles(stats["post_s"]), "accept_ms": percentiles(stats["accept_s"]),
           "end_to_end_ms": percentiles(stats["total_s"])}
    print(json.dumps(out, indent=1))
    lost = args.n - len(stats["ids"])
    return 1 if errors or lost or stats["status"].get("done", 0) != args.n else 0


if __name__ == "__main__":
    sys.exit(main())
