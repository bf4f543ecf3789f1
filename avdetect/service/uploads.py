"""Multipart uploads streamed to disk chunk by chunk (never whole in memory), with a size limit
checked from Content-Length before reading and again while the bytes arrive."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

MULTIPART_OVERHEAD_BYTES = 64 * 1024  # boundaries, part headers and small form fields around the file(s)
MAX_FIELD_BYTES = 4096  # a form field that is not a file (e.g. claimed)
SUFFIX_RE = re.compile(r"^\.[A-Za-z0-9]{1,8}$")


class ApiError(Exception):
    """An HTTP error with a one-line message (the app answers {"error": message})."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def too_large(max_bytes: int) -> ApiError:
    return ApiError(413, f"upload too large: the limit is {max_bytes / 1e6:g} MB per request (--max-upload-mb)")


def check_content_length(request: Request, max_bytes: int) -> None:
    """413 at once when the declared body is over the limit (nothing of it is read)."""
    raw = request.headers.get("content-length")
    if raw is None:
        return  # chunked: checked while streaming
    try:
        declared = int(raw)
    except ValueError:
        raise ApiError(400, f"bad Content-Length header {raw[:40]!r}") from None
    if declared > max_bytes + MULTIPART_OVERHEAD_BYTES:
        raise too_large(max_bytes)


@dataclass
class SavedFile:
    field: str
    filename: str
    path: Path
    size: int = 0


@dataclass
class Upload:
    """What a multipart request carried: form fields and the files saved on disk."""

    fields: dict[str, str] = field(default_factory=dict)
    files: list[SavedFile] = field(default_factory=list)

    def remove(self) -> None:
        for f in self.files:
            f.path.unlink(missing_ok=True)


class _Receiver:
    """python-multipart callbacks: file parts go to temporary files in `folder`, fields to memory."""

    def __init__(self, folder: Path, max_bytes: int, max_files: int) -> None:
        self.folder, self.max_bytes, self.max_files = folder, max_bytes, max_files
        self.upload = Upload()
        self.header_field = self.header_value = b""
        self.headers: dict[bytes, bytes] = {}
        self.name: str | None = None
        self.file = None
        self.value = bytearray()
        self.total = 0
        self.error: ApiError | None = None

    def callbacks(self) -> dict:
        return {"on_part_begin": self.part_begin, "on_part_data": self.part_data, "on_part_end": self.part_end,
                "on_header_field": self.hfield, "on_header_value": self.hvalue, "on_header_end": self.hend,
                "on_headers_finished": self.headers_done}

    def part_begin(self) -> None:
        self.headers, self.name, self.file, self.value = {}, None, None, bytearray()

    def hfield(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def hvalue(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def hend(self) -> None:
        self.headers[self.header_field.lower()] = self.header_value
        self.header_field = self.header_value = b""

    def headers_done(self) -> None:
        _, params = parse_options_header(self.headers.get(b"content-disposition", b""))
        self.name = params.get(b"name", b"").decode("utf-8", "replace")
        filename = params.get(b"filename")
        if filename is None:
            return
        if len(self.upload.files) >= self.max_files:
            self.error = ApiError(422, f"too many files: at most {self.max_files} per request")
            return
        name = Path(filename.decode("utf-8", "replace").replace("\\", "/")).name or "upload"
        suffix = Path(name).suffix if SUFFIX_RE.match(Path(name).suffix) else ""
        fd, tmp = tempfile.mkstemp(prefix="upload-", suffix=suffix, dir=self.folder)
        self.file = os.fdopen(fd, "wb")
        self.upload.files.append(SavedFile(self.name, name, Path(tmp)))

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self.error is not None:
            return
        if self.file is not None:
            saved = self.upload.files[-1]
            saved.size += end - start
            if saved.size > self.max_bytes:
                self.error = too_large(self.max_bytes)
                return
            self.file.write(data[start:end])
        else:
            self.value += data[start:end]
            if len(self.value) > MAX_FIELD_BYTES:
                self.error = ApiError(422, f"form field {self.name!r} is over {MAX_FIELD_BYTES} bytes")

    def part_end(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
        elif self.name is not None and self.error is None:
            self.upload.fields[self.name] = self.value.decode("utf-8", "replace")

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


async def receive_multipart(request: Request, folder: Path, max_bytes: int, max_files: int = 1) -> Upload:
    """Stream a multipart/form-data body to `folder` -> Upload. Raises ApiError (413 too large,
    400 malformed, 415 not multipart); on error nothing is left on disk."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise ApiError(415, "send the file as multipart/form-data (field 'file'), or JSON {\"path\": ...}")
    check_content_length(request, max_bytes)
    rx = _Receiver(folder, max_bytes, max_files)
    parser = MultipartParser(params[b"boundary"], rx.callbacks())
    limit = max_bytes * max_files + MULTIPART_OVERHEAD_BYTES
    ok = False
    try:
        async for chunk in request.stream():
            rx.total += len(chunk)
            if rx.total > limit:
                rx.error = rx.error or too_large(max_bytes)
            if rx.error is None:
                rx.error = _feed(parser.write, chunk) or rx.error
            if rx.error is not None:
                raise rx.error
        rx.error = _feed(parser.finalize) or rx.error
        if rx.error is not None:
            raise rx.error
        ok = True
    finally:
        rx.close()
        if not ok:  # an error or a client that went away: nothing stays on disk
            rx.upload.remove()
    return rx.upload


def _feed(step, *args) -> ApiError | None:
    """Run one parser step; python-multipart's parse errors -> a 400 ApiError."""
    try:
        step(*args)
    except Exception as e:  # noqa: BLE001 - a malformed body is the client's error, in one line
        return ApiError(400, f"malformed multipart body: {(str(e).splitlines() or [''])[0][:120]}")
    return None
