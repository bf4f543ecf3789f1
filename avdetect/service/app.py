"""The FastAPI app of `avdetect serve` (docs/service.md has every endpoint, status and curl example).

    POST   /v1/scans                 multipart file (+ claimed) or JSON {"path", "claimed"} -> 202 {"id"}
    GET    /v1/scans/{id}            status and, when done, the JSON report of `avdetect scan`
    GET    /v1/scans/{id}/report.html
    POST   /v1/voices/{name}         enroll from uploaded recordings (field "file", repeatable)
    GET    /v1/voices                DELETE /v1/voices/{name}
    WS     /v1/stream                live screening of raw PCM (avdetect.listen)
    GET    /healthz                  GET /docs (OpenAPI page)

Every error is {"error": "one line"} with a documented status; never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Query, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__, voices
from ..checks.base import Settings
from ..io import MediaError, MediaInfo, load_audio, probe
from .jobs import QueueFull, ScanTask, WorkerPool
from .store import JobStore
from .access import check_key
from .stream import serve_stream
from .uploads import ApiError, check_content_length, receive_multipart

log = logging.getLogger("avdetect.service")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
JOB_ID_RE = re.compile(r"^[0-9a-f]{32}$")
MAX_JSON_BYTES = 64 * 1024  # a JSON scan request
MAX_VOICE_FILES = 20  # recordings per enrolment request
SCAN_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"},
        "claimed": {"type": "string", "description": "enrolled voice the speaker claims to be"}}}},
    "application/json": {"schema": {"type": "object", "required": ["path"], "properties": {
        "path": {"type": "string", "description": "a file under the server's --root"},
        "claimed": {"type": "string"}}}}}}}
VOICE_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}}}


@dataclass(frozen=True)
class ServiceConfig:
    """settings: how each worker's Detector is built; root: folder whose files JSON requests may
    name (None: only uploads); api_key: required on every endpoint but /healthz and the docs
    (None: no key); data_dir: the SQLite store and the uploads in flight."""

    settings: Settings
    data_dir: Path
    workers: int = 1
    queue_size: int = 16
    max_upload_bytes: int = 500 * 1000 * 1000
    max_duration_s: float = 600.0
    root: Path | None = None
    api_key: str | None = None


def create_app(cfg: ServiceConfig) -> FastAPI:
    """The app; models load when it starts (lifespan), once per worker."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        uploads = cfg.data_dir / "uploads"
        uploads.mkdir(parents=True, exist_ok=True)
        for stale in uploads.iterdir():  # files of jobs a killed server left behind
            stale.unlink(missing_ok=True)
        store = JobStore(cfg.data_dir / "jobs.sqlite")
        lost = store.recover()
        if lost:
            log.warning("%d job(s) were queued or running when the server stopped: marked failed", lost)
        pool = await run_in_threadpool(WorkerPool, store, cfg.settings, cfg.workers, cfg.queue_size)
        app.state.store, app.state.pool, app.state.uploads = store, pool, uploads
        app.state.stream_lock = asyncio.Lock()
        yield
        pool.stop()
        store.close()

    app = FastAPI(title="avdetect", version=__version__, lifespan=lifespan,
                  description="Audio-visual deepfake detection as a service. Errors: {\"error\": \"one line\"}.")
    _install_error_handlers(app)

    def require_key(request: Request) -> None:
        check_key(cfg.api_key, request.headers)

    auth = [Depends(require_key)]

    @app.get("/healthz")
    def healthz(request: Request) -> dict[str, Any]:
        pool: WorkerPool = request.app.state.pool
        return {"status": "ok", "version": __version__, "workers": pool.workers, "busy": pool.busy,
                "queued": pool.queue.qsize(), "queue_size": cfg.queue_size,
                "jobs": request.app.state.store.counts()}

    @app.post("/v1/scans", status_code=202, dependencies=auth, openapi_extra=SCAN_BODY,
              responses={202: {"description": "queued"}, 413: {}, 415: {}, 422: {}, 429: {}})
    async def submit_scan(request: Request, claimed: str | None = Query(None)) -> JSONResponse:
        pool: WorkerPool = request.app.state.pool
        if pool.queue.full():  # refuse before reading a byte of the upload
            raise queue_full(pool)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/json":
            body = await read_json(request)
            path, name, temporary = resolve_under_root(cfg.root, body["path"]), body["path"], False
            claimed = body.get("claimed", claimed)
        else:
            up = await receive_multipart(request, request.app.state.uploads, cfg.max_upload_bytes)
            if not up.files:
                raise ApiError(422, "no file in the upload: send it in the multipart field 'file'")
            saved = up.files[0]
            path, name, temporary = saved.path, saved.filename, True
            claimed = up.fields.get("claimed") or claimed
        try:
            if temporary and saved.size == 0:
                raise ApiError(422, f"{name}: the uploaded file is empty")
            await run_in_threadpool(validate_claim, claimed)
            info = await run_in_threadpool(probe_media, path, name)
            check_duration(info, name, cfg.max_duration_s)
            job_id = request.app.state.store.create(name, claimed or None)
            try:
                pool.submit(ScanTask(job_id, path, name, claimed or None, temporary))
            except QueueFull:
                request.app.state.store.delete(job_id)
                raise queue_full(pool) from None
        except BaseException:
            if temporary:
                path.unlink(missing_ok=True)
            raise
        return JSONResponse({"id": job_id, "status": "queued", "url": f"/v1/scans/{job_id}"}, status_code=202,
                            headers={"Location": f"/v1/scans/{job_id}"})

    @app.get("/v1/scans/{job_id}", dependencies=auth)
    def get_scan(job_id: str, request: Request) -> dict[str, Any]:
        return find_job(request, job_id).to_json()

    @app.get("/v1/scans/{job_id}/report.html", dependencies=auth, response_class=HTMLResponse)
    def get_scan_html(job_id: str, request: Request) -> HTMLResponse:
        job = find_job(request, job_id)
        html = request.app.state.store.html(job_id)
        if html is None and job.report is not None:
            from ..report.html import render_html

            html = render_html(job.report)  # an error report: no media, no key frames
        if html is None:
            raise ApiError(409, f"job {job_id} is {job.status}: no report yet"
                           + (f" ({job.error})" if job.error else ""))
        return HTMLResponse(html)

    @app.post("/v1/voices/{name}", status_code=201, dependencies=auth, openapi_extra=VOICE_BODY)
    async def enroll_voice(name: str, request: Request) -> dict[str, Any]:
        validate_voice_name(name)
        up = await receive_multipart(request, request.app.state.uploads, cfg.max_upload_bytes, MAX_VOICE_FILES)
        try:
            if not up.files:
                raise ApiError(422, "no recording in the upload: send them in the multipart field 'file'")
            profile = await run_in_threadpool(enroll_files, name, up, cfg.settings.device)
        finally:
            up.remove()
        return voice_json(profile)

    @app.get("/v1/voices", dependencies=auth)
    def list_voices() -> dict[str, Any]:
        try:
            return {"voices": [voice_json(p) for p in voices.list_voices()]}
        except voices.VoiceError as e:
            raise ApiError(500, str(e)) from None

    @app.delete("/v1/voices/{name}", dependencies=auth)
    def delete_voice(name: str) -> dict[str, Any]:
        validate_voice_name(name)
        try:
            voices.remove(name)
        except voices.VoiceError as e:
            raise ApiError(404, str(e)) from None
        return {"removed": name}

    @app.websocket("/v1/stream")
    async def stream(ws: WebSocket, claimed: str | None = None) -> None:
        await serve_stream(ws, cfg, claimed)

    return app


def queue_full(pool: WorkerPool) -> ApiError:
    retry = pool.retry_after_s()
    return ApiError(429, f"the queue is full ({pool.queue.maxsize} jobs waiting); retry in {retry} s",
                    {"Retry-After": str(retry)})


async def read_json(request: Request) -> dict[str, Any]:
    check_content_length(request, MAX_JSON_BYTES)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise ApiError(413, f"JSON body over {MAX_JSON_BYTES} bytes")
    try:
        data = json.loads(body)
    except ValueError:
        raise ApiError(400, "the body is not valid JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("path"), str) or not data["path"]:
        raise ApiError(422, "JSON body must be {\"path\": \"file under the server's --root\", \"claimed\": ...}")
    if data.get("claimed") is not None and not isinstance(data["claimed"], str):
        raise ApiError(422, "\"claimed\" must be a voice name")
    return data


def resolve_under_root(root: Path | None, path: str) -> Path:
    """A server-side path the client named -> the resolved file. 403 outside the root (links
    followed first) or with no root; 422 when it is not a file."""
    if root is None:
        raise ApiError(403, "server-side paths are disabled (start the server with --root DIR)")
    base = root.resolve()
    target = (base / path).resolve()
    if not target.is_relative_to(base):
        raise ApiError(403, f"{path}: outside the allowed root")
    if not target.is_file():
        raise ApiError(422, f"{path}: no such file under the allowed root")
    return target


def validate_claim(claimed: str | None) -> None:
    if claimed:
        try:
            voices.load(claimed)
        except voices.VoiceError as e:
            raise ApiError(422, str(e)) from None


def probe_media(path: Path, name: str | None) -> MediaInfo:
    try:
        return probe(path)
    except MediaError as e:
        shown = name or str(path)
        raise ApiError(415, f"not a media file avdetect can read: {str(e).replace(str(path), shown)}") from None


def check_duration(info: MediaInfo, name: str | None, max_s: float) -> None:
    if info.duration_s > max_s:
        raise ApiError(422, f"{name or info.path}: {info.duration_s:.0f} s long; this server takes at most "
                       f"{max_s:g} s per file (--max-duration)")


def find_job(request: Request, job_id: str):
    job = request.app.state.store.get(job_id) if JOB_ID_RE.match(job_id) else None
    if job is None:
        raise ApiError(404, f"no scan job {job_id[:64]!r}")
    return job


def validate_voice_name(name: str) -> None:
    if not voices.NAME_RE.match(name):
        raise ApiError(422, f"invalid voice name {name[:80]!r}: use letters, digits, '_', '-', '.' (max 64)")


def enroll_files(name: str, up, device: str) -> voices.VoiceProfile:
    clips = []
    for f in up.files:
        if f.size == 0:
            raise ApiError(422, f"{f.filename}: the uploaded file is empty")
        try:
            clip = load_audio(f.path)
        except MediaError as e:
            raise ApiError(415, f"not a media file avdetect can read: {str(e).replace(str(f.path), f.filename)}")
        if clip is None:
            raise ApiError(422, f"{f.filename}: has no audio stream")
        clips.append(clip)
    try:
        return voices.enroll(name, clips, device=device)
    except voices.VoiceError as e:
        raise ApiError(422, str(e)) from None


def voice_json(p: voices.VoiceProfile) -> dict[str, Any]:
    return {"name": p.name, "speech_s": round(p.speech_s, 1), "n_clips": p.n_clips, "created": p.created}


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, e: ApiError) -> JSONResponse:
        return JSONResponse({"error": e.message}, status_code=e.status, headers=e.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(e.detail)}, status_code=e.status_code, headers=e.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid request')}"}, status_code=422)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, e: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        first = (str(e).splitlines() or [""])[0][:160]
        return JSONResponse({"error": f"internal error ({type(e).__name__}: {first})"}, status_code=500)
