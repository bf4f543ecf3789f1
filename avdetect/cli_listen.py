"""`avdetect listen SOURCE`: live call screening (avdetect.listen) from the command line.

JSON lines to stdout; an alert also as a human line on stderr; with stderr on a terminal, a live
rich view (live_view) on stderr, redrawn at every event.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
from typing import Any, Optional

import typer

from .checks.base import LipSyncMethod
from .cli_options import DEVICE_HELP, fail, settings_or_exit

INTERRUPTED_EXIT = 130  # Ctrl-C (SIGINT), as shells report it
LIVE_VIEW_FPS = 4  # most redraws per second (a redraw comes with each event, every 1-2 s of audio)

SOURCE_HELP = ("- (stdin), a URL FFmpeg can open (rtp, rtsp, srt, http), a sound device DRIVER:NAME "
               "(alsa:default, pulse:default, avfoundation::0, dshow:audio=NAME), or a file that may "
               "still be growing.")


def alert_line(event: dict[str, Any]) -> str:
    said = "; ".join(event["reasons"]) or f"score {event['score']}"
    return f"ALERT at {event['t_s']:.0f} s: {event['verdict']} ({said})"


class CtrlC:
    """Within: Ctrl-C (SIGINT) sets `pressed` as well as raising KeyboardInterrupt. PyAV 18 can
    lose a KeyboardInterrupt raised inside its decoding (the resampler's EAGAIN path swallows it),
    so the screening loop also checks `pressed` between chunks. A SIGINT the process was started
    ignoring stays ignored."""

    def __init__(self) -> None:
        self.pressed = False
        self.previous: Any = None

    def __enter__(self) -> "CtrlC":
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            self.previous = signal.signal(signal.SIGINT, self.handle)
        return self

    def handle(self, signum: int, frame: Any) -> None:
        self.pressed = True
        raise KeyboardInterrupt

    def __exit__(self, *exc: Any) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


class EventPrinter:
    """Prints listen events: a JSON line each to stdout; an alert's human line to stderr; with
    `live`, the rich view on stderr (stdout written through rich only when it is the terminal too,
    so the lines land above the view; a piped stdout is left alone)."""

    def __init__(self, source: str, claimed: str | None, live: bool) -> None:
        self.live = None
        if live:
            from rich.console import Console
            from rich.live import Live

            from .live_view import ViewState, render

            self.state, self.render = ViewState(source, claimed), render
            self.live = Live(render(self.state), console=Console(stderr=True), auto_refresh=False,
                             refresh_per_second=LIVE_VIEW_FPS, redirect_stdout=sys.stdout.isatty(),
                             redirect_stderr=False, transient=False)

    def __enter__(self) -> "EventPrinter":
        if self.live is not None:
            self.live.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.live is not None:
            self.live.stop()

    def emit(self, event: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()
        if self.live is None:
            if event["event"] == "alert":
                typer.echo(alert_line(event), err=True)
            return
        from rich.text import Text

        from .live_view import ALERT_STYLE

        if event["event"] == "alert":
            self.live.console.print(Text(alert_line(event), style=ALERT_STYLE))
        self.state.apply(event)
        self.live.update(self.render(self.state), refresh=True)


def listen_cmd(
    source: str = typer.Argument(..., help=SOURCE_HELP),
    claimed: Optional[str] = typer.Option(None, "--claimed", help="Check the voice against this enrolled person."),
    format: Optional[str] = typer.Option(None, "--format", help="s16le: raw PCM 16 kHz mono (default for -); "
                                                                "auto: any container FFmpeg reads (default "
                                                                "for URLs, devices and files)."),
    follow: float = typer.Option(5.0, "--follow", help="A growing file ends after this many seconds "
                                                       "without new bytes."),
    device: str = typer.Option("cpu", "--device", help=DEVICE_HELP),
    threads: int = typer.Option(1, "--threads", help="torch CPU threads. 1 (default): a 4 s window takes about "
                                                     "30 ms; more threads spin against other processes on a "
                                                     "busy machine and stall for seconds."),
    live: Optional[bool] = typer.Option(None, "--live/--no-live", help="The live view on stderr (default: "
                                                                         "when stderr is a terminal)."),
) -> None:
    """Screen a live call: a JSON line every 2 s of audio, an alert line the moment it turns
    suspicious or fake (exit 0 at the end of the stream; 1 if the source broke; 2 for a bad
    command line, an unknown voice or a sound device that cannot be opened; 130 after Ctrl-C,
    which still prints the end line)."""
    from .live_io import SourceFormat, default_format

    if format is not None and format not in {f.value for f in SourceFormat}:
        fail(f"--format must be s16le or auto, not {format!r}")
    fmt = SourceFormat(format) if format else default_format(source)
    try:
        check_device(source, fmt)
        detector = load_detector(device, claimed, threads)
        code = screen_call(detector, source, claimed, fmt, follow, sys.stderr.isatty() if live is None else live)
    except KeyboardInterrupt:  # before the call started: nothing to report
        code = INTERRUPTED_EXIT
    raise typer.Exit(code)


def check_device(source: str, fmt) -> None:
    """A sound device source is opened (and closed) before the models load: exit 2 at once if it
    cannot be (`no sound device 'alsa:default' (alsa: Unknown PCM default)`)."""
    from .live_io import DeviceError, SourceFormat, device_spec, open_device

    if device_spec(source) is None:
        return
    if fmt == SourceFormat.s16le:
        fail(f"{source}: a sound device is read through FFmpeg: leave out --format (or give auto)")
    try:
        open_device(source).close()
    except DeviceError as e:
        fail(str(e))


def load_detector(device: str, claimed: str | None, threads: int):
    """The Detector with the two audio checks listen uses, else one line and exit 2."""
    settings = settings_or_exit(device, LipSyncMethod.correlation, claimed)
    import torch

    from .checks import speaker, synthetic_speech
    from .detector import Detector

    torch.set_num_threads(max(1, threads))
    try:
        return Detector(settings, checks=(synthetic_speech.SyntheticSpeechCheck, speaker.SpeakerCheck))
    except Exception as e:  # noqa: BLE001 - one line, never a traceback
        fail(f"cannot load the models: {e}")


def screen_call(detector, source: str, claimed: str | None, fmt, follow_s: float, live: bool) -> int:
    """Screen `source` until it ends (0), breaks (1), a device fails to open (2) or Ctrl-C (130);
    prints the events. -> the exit code."""
    from .io import MediaError
    from .listen import CallScreen
    from .live_io import DeviceError, pcm_chunks
    from .voices import VoiceError

    try:
        screen = CallScreen(detector, claimed)  # warms the models up
    except VoiceError as e:
        fail(str(e))
    gc.collect()
    gc.freeze()  # the models' objects out of the collector's way: a full collection took 0.17 s
    error, code = None, 0
    try:
        with EventPrinter(source, claimed, live) as out:
            out.emit(screen.start())
            try:
                with CtrlC() as ctrl_c:
                    for chunk in pcm_chunks(source, fmt, follow_s):
                        if ctrl_c.pressed:
                            raise KeyboardInterrupt
                        for event in screen.feed(chunk):
                            out.emit(event)
            except KeyboardInterrupt:
                code = INTERRUPTED_EXIT
            except MediaError as e:
                error, code = str(e), 2 if isinstance(e, DeviceError) else 1
            if error is None:
                out.emit(screen.finish())
    except BrokenPipeError:  # the reader of stdout went away: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    if error is not None:
        typer.echo(f"error: {error}", err=True)
    return code
