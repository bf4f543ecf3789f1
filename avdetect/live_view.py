"""The live view of `avdetect listen` on a terminal: a rich table on stderr, redrawn at every event,
while the JSON lines go to stdout (so `avdetect listen alsa:default | tee call.jsonl` still works).

    state = ViewState("alsa:default", claimed="ceo")
    state.apply(event)          # each listen event (avdetect.listen)
    console.print(render(state))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.table import Table
from rich.text import Text

from .checks.base import fmt_time
from .fusion import Verdict, verdict_for

ALERTS_SHOWN = 3  # latest alerts kept in the view
VERDICT_STYLES = {Verdict.authentic: "bold green", Verdict.suspicious: "bold yellow",
                  Verdict.fake: "bold white on red", Verdict.not_applicable: "dim"}
ALERT_STYLE = "bold red"
VALUE_MIN_WIDTH = 56  # characters: the table keeps its width while the values change


@dataclass
class ViewState:
    """What the view shows: the source, the audio time, the last window event, the running verdict,
    the latest alerts, the lag, and whether the call has ended."""

    source: str
    claimed: str | None = None
    t_s: float = 0.0
    window: dict[str, Any] | None = None
    running_verdict: str = Verdict.not_applicable.value
    running_score: float = 0.0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    lag_s: float = 0.0
    max_lag_s: float = 0.0
    ended: bool = False

    def apply(self, event: dict[str, Any]) -> None:
        """Take in one listen event (start, window, alert, end)."""
        kind = event["event"]
        if kind == "start":
            self.claimed = event.get("claimed") or self.claimed
            return
        self.t_s = max(self.t_s, float(event.get("t_s", 0.0)))
        if "lag_s" in event:
            self.lag_s = float(event["lag_s"])
            self.max_lag_s = max(self.max_lag_s, self.lag_s)
        if kind == "window":
            self.window = event
            self.running_verdict, self.running_score = event["running_verdict"], float(event["running_score"])
        elif kind == "alert":
            self.alerts = [*self.alerts, event][-ALERTS_SHOWN:]
            self.running_verdict, self.running_score = event["verdict"], float(event["score"])
        elif kind == "end":
            self.ended = True
            self.running_verdict, self.running_score = event["verdict"], float(event["score"])
            self.max_lag_s = max(self.max_lag_s, float(event.get("max_lag_s", 0.0)))


def score_text(score: float | None) -> Text:
    """A 0-100 score styled by the verdict it alone would give; None: not judged (too little speech)."""
    if score is None:
        return Text.assemble(("- (too little speech)", "dim"))
    return Text.assemble((f"{score:.0f}", VERDICT_STYLES[verdict_for(score)]))


def verdict_text(verdict: str, score: float | None = None) -> Text:
    label = verdict.upper() if verdict != Verdict.not_applicable else "not judged yet"
    text = Text.assemble((label, VERDICT_STYLES[Verdict(verdict)]))
    if score is not None and verdict != Verdict.not_applicable:
        text.append(f"  (score {score:.0f})")
    return text


def speaker_text(window: dict[str, Any]) -> Text:
    """The claimed voice's similarity and match in the window event."""
    if window.get("similarity") is None:
        return Text.assemble(("- (too little speech)", "dim"))
    said = f"  (similarity {window['similarity']:.2f})"
    if window["match"]:
        return Text.assemble(("match", "bold green"), said)
    return Text.assemble(("NO MATCH", ALERT_STYLE), said)


def render(state: ViewState) -> Table:
    """ViewState -> a two-column rich table (its border turns red once an alert was raised)."""
    alerted = bool(state.alerts)
    title = f"avdetect listen {state.source}" + (" (ended)" if state.ended else "")
    table = Table(title=title, show_header=False, border_style=ALERT_STYLE if alerted else "blue",
                  title_justify="left", expand=False)
    table.add_column("what", style="bold", no_wrap=True)
    table.add_column("value", min_width=VALUE_MIN_WIDTH)
    table.add_row("time", f"{fmt_time(state.t_s)}  ({state.t_s:.0f} s of audio)")
    w = state.window
    if w is None:
        table.add_row("last window", Text.assemble(("waiting for the first 2 s of audio", "dim")))
    else:
        table.add_row("last window", f"{fmt_time(w['window_start_s'])}-{fmt_time(w['t_s'])}, "
                                     f"{w['speech_s']:.1f} s of speech")
        table.add_row("synthetic speech", score_text(w["synthetic_speech"]))
        if state.claimed:
            table.add_row(f"voice of {state.claimed}", speaker_text(w))
        table.add_row("window verdict", verdict_text(w["verdict"], w["score"]))
    table.add_row("running verdict", verdict_text(state.running_verdict, state.running_score))
    table.add_row("lag", f"{state.lag_s:.2f} s behind the live edge (max {state.max_lag_s:.2f} s)")
    for a in state.alerts:
        said = "; ".join(a.get("reasons") or []) or f"score {a['score']:.0f}"
        table.add_row(Text.assemble(("ALERT", ALERT_STYLE)),
                      Text.assemble((f"{fmt_time(a['t_s'])} {a['verdict'].upper()}", ALERT_STYLE), f": {said}"))
    return table
