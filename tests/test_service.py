"""`avdetect serve`: the real server (uvicorn in a subprocess on a free localhost port) over HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from avdetect import synth
from avdetect.constants import SAMPLE_RATE
from avdetect.service.store import LOST_MESSAGE

from listen_helpers import wav_bytes
from service_helpers import REPO, as_json, multipart, request, start_server

KEY = "test-key-0123456789"
AUTH = {"X-API-Key": KEY}
MAX_UPLOAD_MB = 2
MAX_DURATION_S = 30
POLL_S = 0.1


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("service_media")
    frames, samples = synth.talking_face(4.0, seed=1)
    synth.write_av(d / "clip.mp4", frames, samples)
    voice, _ = synth.synthetic_speech(8.0, seed=3)
    (d / "voice.wav").write_bytes(wav_bytes(voice))
    (d / "long.wav").write_bytes(wav_bytes(np.tile(voice, 5)))  # 40 s: over MAX_DURATION_S
    return d


@pytest.fixture(scope="module")
def server(media, tmp_path_factory):
    home = tmp_path_factory.mktemp("service_home")
    s = start_server(["--lip-sync", "correlation", "--workers", "1", "--queue-size", "2",
                      "--max-upload-mb", str(MAX_UPLOAD_MB), "--max-duration", str(MAX_DURATION_S),
                      "--root", str(media), "--data-dir", str(home / "service")],
                     {"AVDETECT_API_KEY": KEY, "AVDETECT_HOME": str(home)}, home / "server.log")
    yield s
    s.stop()


def post_file(url: str, name: str, data: bytes, fields: dict | None = None, headers: dict | None = None):
    body, ctype = multipart([("file", name, data)], fields)
    return request("POST", url, body=body, headers={"Content-Type": ctype, **AUTH, **(headers or {})})


def submit(server, name: str, data: bytes, fields: dict | None = None) -> str:
    """Upload like a polite client: wait out 429s (Retry-After) -> job id."""
    for _ in range(200):
        status, headers, body = post_file(server.url + "/v1/scans", name, data, fields)
        if status != 429:
            assert status == 202, (status, body)
            return as_json(body)["id"]
        time.sleep(min(float(headers["retry-after"]), 1.0))
    raise AssertionError("queue never freed")


def wait_job(server, job_id: str, timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status, _, body = request("GET", f"{server.url}/v1/scans/{job_id}", headers=AUTH)
        assert status == 200, body
        job = as_json(body)
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(POLL_S)
    raise AssertionError(f"job {job_id} not finished in {timeout_s} s")


def test_scan_upload_gives_the_report_of_avdetect_scan(server, media, correlation_detector):
    job_id = submit(server, "clip.mp4", (media / "clip.mp4").read_bytes())
    job = wait_job(server, job_id)
    assert job["status"] == "done" and job["file"] == "clip.mp4" and job["error"] is None
    direct = correlation_detector.scan(media / "clip.mp4").to_dict()
    assert job["report"] == {**direct, "file": "clip.mp4"}
    assert job["report"]["checks"]["lip_sync"]["status"] == "ok"
    status, headers, html = request("GET", f"{server.url}/v1/scans/{job_id}/report.html", headers=AUTH)
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"clip.mp4" in html and b"data:image/png;base64" in html
    assert not list((Path(server.log).parent / "service" / "uploads").iterdir())  # temporary file removed


def test_scan_by_path_under_the_root_only(server, media, tmp_path):
    url = server.url + "/v1/scans"
    hdr = {"Content-Type": "application/json", **AUTH}
    status, _, body = request("POST", url, body=json.dumps({"path": "clip.mp4"}).encode(), headers=hdr)
    assert status == 202, body
    assert wait_job(server, as_json(body)["id"])["status"] == "done"
    (tmp_path / "secret.mp4").write_bytes((media / "clip.mp4").read_bytes())
    link = media / "escape.mp4"
    link.unlink(missing_ok=True)
    link.symlink_to(tmp_path / "secret.mp4")
    for path in ("../etc/passwd", "/etc/passwd", str(tmp_path / "secret.mp4"), "escape.mp4"):
        status, _, body = request("POST", url, body=json.dumps({"path": path}).encode(), headers=hdr)
        assert status == 403 and "outside the allowed root" in as_json(body)["error"], (path, body)
    status, _, body = request("POST", url, body=json.dumps({"path": "missing.mp4"}).encode(), headers=hdr)
    assert status == 422 and "no such file" in as_json(body)["error"]
    status, _, body = request("POST", url, body=b"{not json", headers=hdr)
    assert status == 400 and as_json(body)["error"] == "the body is not valid JSON"


def test_api_key_required_constant_time_compare(server, media):
    body, ctype = multipart([("file", "clip.mp4", b"x")])
    for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}):
        status, h, resp = request("POST", server.url + "/v1/scans", body=body,
                                  headers={"Content-Type": ctype, **headers})
        assert status == 401 and "API key" in as_json(resp)["error"] and h["www-authenticate"] == "Bearer"
    assert request("GET", server.url + "/v1/voices")[0] == 401
    assert request("GET", server.url + "/v1/voices", headers={"Authorization": f"Bearer {KEY}"})[0] == 200
    assert request("GET", server.url + "/healthz")[0] == 200
    status, _, page = request("GET", server.url + "/docs")
    assert status == 200 and b"swagger" in page.lower()
    spec = as_json(request("GET", server.url + "/openapi.json")[2])
    assert {"/v1/scans", "/v1/scans/{job_id}", "/v1/voices/{name}", "/healthz"} <= set(spec["paths"])


@pytest.mark.parametrize("name,data,status,message", [
    ("empty.mp4", b"", 422, "empty.mp4: the uploaded file is empty"),
    ("notes.txt", b"hello, this is text\n" * 20, 415, "not a media file avdetect can read: notes.txt"),
    ("cut.mp4", None, 415, "not a media file avdetect can read: cut.mp4"),
])
def test_bad_uploads_get_a_status_and_one_line(server, media, name, data, status, message):
    if data is None:
        data = (media / "clip.mp4").read_bytes()[:3000]  # truncated: the header is cut
    got, _, body = post_file(server.url + "/v1/scans", name, data)
    err = as_json(body)["error"]
    assert got == status and err.startswith(message) and "\n" not in err and "Traceback" not in err


def test_bad_requests_one_line(server):
    url = server.url + "/v1/scans"
    status, _, body = request("POST", url, body=b"abc", headers={"Content-Type": "text/plain", **AUTH})
    assert status == 415 and "multipart/form-data" in as_json(body)["error"]
    body, ctype = multipart([], {"claimed": "x"})
    status, _, resp = request("POST", url, body=body, headers={"Content-Type": ctype, **AUTH})
    assert status == 422 and as_json(resp)["error"].startswith("no file in the upload")
    status, _, resp = request("POST", url, body=b"--zz\r\ngarbage", headers={
        "Content-Type": "multipart/form-data; boundary=other", **AUTH})
    assert status == 400 and as_json(resp)["error"].startswith("malformed multipart body")
    status, _, resp = post_file(url, "clip.mp4", b"x", {"claimed": "nobody"})
    assert status == 422 and "no enrolled voice named 'nobody'" in as_json(resp)["error"]
    assert request("GET", server.url + "/v1/scans/123", headers=AUTH)[0] == 404


def raw_http(port: int, head: str, chunks: list[bytes]) -> tuple[str, float]:
    """Send a request by hand -> (the response's status line and body, seconds until it came)."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head.encode())
        try:
            for c in chunks:
                s.sendall(c)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed: read what it said
        data = b""
        try:
            while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
                got = s.recv(65536)
                if not got:
                    break
                data += got
        except ConnectionResetError:
            pass
    return data.decode("latin-1"), time.monotonic() - t0


def test_size_limit_from_content_length_and_while_streaming(server):
    head = (f"POST /v1/scans HTTP/1.1\r\nHost: x\r\nX-API-Key: {KEY}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n")
    resp, took = raw_http(server.port, head + "Content-Length: 2000000000\r\n\r\n", [b"--b\r\n"])
    assert resp.startswith("HTTP/1.1 413") and "upload too large" in resp and took < 5, (resp, took)
    part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n\r\n'
    payload = [part] + [b"\0" * 65536] * (MAX_UPLOAD_MB * 16 + 8)  # ~2.5 MB, no Content-Length
    chunked = [b"%x\r\n%s\r\n" % (len(c), c) for c in payload]
    resp, _ = raw_http(server.port, head + "Transfer-Encoding: chunked\r\n\r\n", chunked)
    assert resp.startswith("HTTP/1.1 413") and "upload too large" in resp, resp[:300]


def test_duration_limit(server, media):
    status, _, body = post_file(server.url + "/v1/scans", "long.wav", (media / "long.wav").read_bytes())
    assert status == 422
    assert as_json(body)["error"] == f"long.wav: 40 s long; this server takes at most {MAX_DURATION_S} s " \
                                     "per file (--max-duration)"


def test_queue_full_answers_429_with_retry_after_and_loses_no_job(server, media):
    data = (media / "voice.wav").read_bytes()
    answers: list[tuple[int, dict, bytes]] = []

    def one():
        answers.append(post_file(server.url + "/v1/scans", "voice.wav", data))

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(a[0] for a in answers)
    assert set(codes) == {202, 429} and codes.count(202) <= 3 + 1, codes  # 1 worker + 2 queued (+1 freed)
    for status, headers, body in answers:
        if status == 429:
            assert int(headers["retry-after"]) >= 1 and "queue is full" in as_json(body)["error"]
    for status, _, body in answers:
        if status == 202:
            assert wait_job(server, as_json(body)["id"])["status"] == "done"


def test_enroll_list_scan_claimed_remove_voices(server, media):
    url = server.url + "/v1/voices"
    body, ctype = multipart([("file", "voice.wav", (media / "voice.wav").read_bytes())])
    status, _, resp = request("POST", url + "/alice", body=body, headers={"Content-Type": ctype, **AUTH})
    assert status == 201, resp
    assert as_json(resp)["name"] == "alice" and as_json(resp)["speech_s"] >= 5
    names = [v["name"] for v in as_json(request("GET", url, headers=AUTH)[2])["voices"]]
    assert names == ["alice"]
    job = wait_job(server, submit(server, "voice.wav", (media / "voice.wav").read_bytes(), {"claimed": "alice"}))
    speaker = job["report"]["checks"]["speaker"]
    assert job["claimed"] == "alice" and speaker["claimed"] == "alice" and speaker["match"] is True
    short, _ = synth.synthetic_speech(2.0, seed=4)
    body, ctype = multipart([("file", "short.wav", wav_bytes(short))])
    status, _, resp = request("POST", url + "/bob", body=body, headers={"Content-Type": ctype, **AUTH})
    assert status == 422 and "not enough speech to enroll 'bob'" in as_json(resp)["error"]
    status, _, resp = request("POST", url + "/..evil", body=body, headers={"Content-Type": ctype, **AUTH})
    assert status == 422 and "invalid voice name" in as_json(resp)["error"]
    assert request("DELETE", url + "/alice", headers=AUTH)[0] == 200
    status, _, resp = request("DELETE", url + "/alice", headers=AUTH)
    assert status == 404 and "no enrolled voice named 'alice'" in as_json(resp)["error"]
    assert as_json(request("GET", url, headers=AUTH)[2])["voices"] == []


def test_non_local_bind_needs_an_api_key(tmp_path):
    r = subprocess.run([sys.executable, "-m", "avdetect", "serve", "--host", "0.0.0.0", "--port", "1"],
                       cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.strip().startswith("error: binding to 0.0.0.0 needs an API key")


def test_kill_mid_job_keeps_finished_reports_and_fails_the_lost_job(media, tmp_path):
    voice, _ = synth.synthetic_speech(8.0, seed=3)
    long_call = wav_bytes(np.tile(voice, 40))  # 320 s: still running when the server is killed
    args = ["--lip-sync", "correlation", "--data-dir", str(tmp_path / "service")]
    env = {"AVDETECT_API_KEY": KEY, "AVDETECT_HOME": str(tmp_path)}
    server = start_server(args, env, tmp_path / "server.log")
    try:
        done = wait_job(server, submit(server, "clip.mp4", (media / "clip.mp4").read_bytes()))
        assert done["status"] == "done"
        lost = submit(server, "call.wav", long_call)
        deadline = time.monotonic() + 60
        while as_json(request("GET", f"{server.url}/v1/scans/{lost}", headers=AUTH)[2])["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        server.kill()
        assert list((tmp_path / "service" / "uploads").iterdir())  # the killed job's upload is left behind
        server = start_server(args, env, tmp_path / "server.log", port=server.port)
        again = as_json(request("GET", f"{server.url}/v1/scans/{done['id']}", headers=AUTH)[2])
        assert again == done
        assert request("GET", f"{server.url}/v1/scans/{done['id']}/report.html", headers=AUTH)[0] == 200
        failed = as_json(request("GET", f"{server.url}/v1/scans/{lost}", headers=AUTH)[2])
        assert failed["status"] == "failed" and failed["error"] == LOST_MESSAGE and failed["report"] is None
        assert not list((tmp_path / "service" / "uploads").iterdir())  # removed at restart
    finally:
        server.stop()


def test_websocket_stream_screens_raw_pcm(server):
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    ws_url = f"ws://127.0.0.1:{server.port}/v1/stream"
    with pytest.raises(InvalidStatus):
        with connect(ws_url):
            pass  # no API key: the handshake is refused
    voice, _ = synth.synthetic_speech(6.0, seed=5)
    pcm = (np.clip(voice, -1, 1) * 32767).astype("<i2").tobytes()
    events = []
    with connect(ws_url, additional_headers=AUTH, open_timeout=60) as ws:
        for i in range(0, len(pcm), 3333):  # odd sizes: a sample may straddle two messages
            ws.send(pcm[i:i + 3333])
        ws.send("end")
        for msg in ws:
            events.append(json.loads(msg))
    assert [e["t_s"] for e in events if e["event"] == "window"] == [2.0, 4.0, 6.0]
    assert events[-1]["event"] == "end" and events[-1]["t_s"] == 6.0
    with connect(ws_url + "?claimed=nobody", additional_headers=AUTH) as ws:
        assert "no enrolled voice named 'nobody'" in json.loads(ws.recv())["error"]


def doc_block(path: Path, heading: str) -> str:
    """The first ```bash block after `heading` in a markdown file."""
    text = path.read_text(encoding="utf-8")
    start = text.index("```bash\n", text.index(heading)) + len("```bash\n")
    return text[start:text.index("```", start)]


def expected_lines(block: str) -> list[str]:
    """The block's own-line `# ...` comments: the output its commands print."""
    return [ln.strip()[2:] for ln in block.splitlines() if ln.strip().startswith("# ")]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_the_curl_examples_of_the_service_docs_run_as_written(tmp_path):
    """docs/service.md's curl block, run by bash in an empty folder (port 8000 -> a free one):
    it exits 0 and prints every `# ...` line it documents (`...` standing for any text)."""
    block = doc_block(REPO / "docs" / "service.md", "### curl")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "AVDETECT_HOME": str(tmp_path / "home")}
    env.pop("AVDETECT_API_KEY", None)
    proc = subprocess.Popen(["bash", "-c", block.replace("8000", str(port))], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=600)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the server it started in the background, if still up
    assert proc.returncode == 0, out[-3000:]
    for line in expected_lines(block):
        pattern = ".*?".join(re.escape(part) for part in line.split("..."))
        assert re.search(pattern, out), (line, out[-3000:])
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")
