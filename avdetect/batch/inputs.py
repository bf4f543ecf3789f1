"""Expand batch inputs (files, folders, text files listing paths) into media paths."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# Extensions a folder walk picks up (explicitly named files are taken whatever their name).
MEDIA_EXTENSIONS = frozenset({
    ".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".flv", ".wmv", ".3gp",
    ".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".opus", ".wma", ".amr",
})
LIST_EXTENSIONS = frozenset({".txt", ".lst", ".list"})  # a file of paths, one per line


class InputError(ValueError):
    """A list file that cannot be read (unreadable, not UTF-8); str(error) is one line for the user."""


@dataclass(frozen=True)
class Source:
    """The identity of an input for resuming: absolute path, size in bytes, mtime in seconds.
    given: the name as the user gave it (a folder walk: the folder as given joined with the
    file's path inside it); not part of the identity."""

    path: str
    size: int | None
    mtime: float | None
    given: str | None = field(default=None, compare=False)

    @classmethod
    def of(cls, path: str | os.PathLike) -> "Source":
        given = os.fspath(path)
        p = os.path.abspath(given)
        try:
            st = os.stat(p)
            return cls(p, st.st_size, round(st.st_mtime, 6), given)
        except OSError:  # missing: still a key (its error record is kept like any other)
            return cls(p, None, None, given)

    def to_json(self) -> dict:
        return {"path": self.path, "size": self.size, "mtime": self.mtime}

    @classmethod
    def from_json(cls, d: dict) -> "Source":
        return cls(d["path"], d.get("size"), d.get("mtime"))


def _is_list_file(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in LIST_EXTENSIONS


def _walk(folder: Path) -> list[Path]:
    found = [Path(root) / f for root, _, files in os.walk(folder) for f in files
             if Path(f).suffix.lower() in MEDIA_EXTENSIONS]
    return sorted(found)


def _read_list(list_file: Path) -> list[Path]:
    """Non-empty, non-# lines; relative paths are relative to the list file's folder.
    Raises InputError (naming the file and line) for an unreadable file or a line not in UTF-8."""
    try:
        raw = list_file.read_bytes()
    except OSError as e:
        raise InputError(f"{list_file}: cannot read the list file ({e.strerror or e})") from None
    out = []
    for number, bline in enumerate(raw.splitlines(), start=1):
        try:
            line = bline.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise InputError(f"{list_file}: line {number} is not valid UTF-8 (a list file holds one path "
                             f"per line, in UTF-8)") from None
        if "\0" in line:
            raise InputError(f"{list_file}: line {number} holds a NUL byte (not a path)")
        if line and not line.startswith("#"):
            p = Path(line).expanduser()
            out.append(p if p.is_absolute() else list_file.parent / p)
    return out


def expand_inputs(inputs: list[str | os.PathLike]) -> list[Source]:
    """Files as given, folders walked recursively (media extensions), list files read.

    Order is kept (folders sorted), duplicates (same absolute path) dropped. A missing path
    is kept: it becomes an error record, like any other unreadable input. Raises InputError
    for a list file that cannot be read.
    """
    seen: set[str] = set()
    out: list[Source] = []

    def add(p: Path) -> None:
        src = Source.of(p)
        if src.path not in seen:
            seen.add(src.path)
            out.append(src)

    for item in map(Path, inputs):
        if item.is_dir():
            for p in _walk(item):
                add(p)
        elif _is_list_file(item):
            for p in _read_list(item):
                for q in (_walk(p) if p.is_dir() else [p]):
                    add(q)
        else:
            add(item)
    return out
