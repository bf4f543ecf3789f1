"""`avdetect scan`'s progress bar: frames tracked, then the checks, on the terminal's stderr.

Shown only for media longer than PROGRESS_MIN_S when stderr is a terminal (silent when piped).
MediaPipe's chatter is silenced by pointing fd 2 at /dev/null while faces are tracked
(visual.landmarks.quiet_stderr), so the bar writes to its own copy of the terminal's fd 2.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator

from .constants import VIDEO_FPS

PROGRESS_MIN_S = 10.0  # s of media from which `scan` shows a progress bar


def wants_progress(duration_s: float, stream=None) -> bool:
    """A bar for media of at least PROGRESS_MIN_S when the stream (default stderr) is a terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return tty and duration_s >= PROGRESS_MIN_S


class CountingTracker:
    """A FaceMeshTracker that advances the bar by one step per frame it is given."""

    def __init__(self, tracker, advance) -> None:
        self.tracker, self.advance = tracker, advance

    def __call__(self, index: int, rgb):
        self.advance(index)
        return self.tracker(index, rgb)

    def close(self) -> None:
        self.tracker.close()


class ScanProgress:
    """stage(text) names what runs; frame(k) moves the bar to timeline frame k."""

    def __init__(self, name: str, duration_s: float, has_video: bool) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.frames = int(duration_s * VIDEO_FPS) if has_video else 0
        self._file = os.fdopen(os.dup(2), "w", buffering=1)
        self._p = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                           TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                           console=Console(file=self._file, force_terminal=True), transient=True)
        self._name = name
        self._task = self._p.add_task(f"{name}: decoding", total=self.frames + 1)

    def stage(self, text: str) -> None:
        self._p.update(self._task, description=f"{self._name}: {text}")

    def frame(self, k: int) -> None:
        self._p.update(self._task, completed=min(k + 1, self.frames))

    def done_extracting(self) -> None:
        self._p.update(self._task, completed=self.frames, description=f"{self._name}: running the checks")

    def __enter__(self) -> "ScanProgress":
        self._p.start()
        return self

    def __exit__(self, *exc) -> None:
        self._p.update(self._task, completed=self.frames + 1)
        self._p.stop()
        self._file.close()


@contextmanager
def scan_progress(name: str, duration_s: float, has_video: bool) -> Iterator[ScanProgress | None]:
    """A ScanProgress when wants_progress(duration_s), else None."""
    if not wants_progress(duration_s):
        yield None
        return
    with ScanProgress(name, duration_s, has_video) as bar:
        yield bar


def scan_with_progress(detector, path: os.PathLike | str, claimed: str | None, max_duration_s: float | None):
    """detector.scan(path), with a progress bar on a terminal's stderr for long media -> Report."""
    from . import io

    try:
        info = io.probe(path)
    except io.MediaError:
        return detector.scan(path, claimed, max_duration_s=max_duration_s)  # its error report
    duration = info.duration_s if max_duration_s is None else min(info.duration_s, max_duration_s)
    with scan_progress(os.path.basename(os.fspath(path)), duration, info.has_video) as bar:
        if bar is None:
            return detector.scan(path, claimed, max_duration_s=max_duration_s)
        from .visual.landmarks import FaceMeshTracker, quiet_stderr

        with quiet_stderr():
            tracker = CountingTracker(FaceMeshTracker(), bar.frame)
        try:
            bar.stage("decoding and tracking the face" if info.has_video else "decoding the audio")
            feats = detector.features_or_error(path, max_duration_s=max_duration_s, tracker=tracker)
        finally:
            tracker.close()
        bar.done_extracting()
        return detector.reports([(os.fspath(path), feats)], claimed)[0]
