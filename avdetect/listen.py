"""Live screening of a call: score the audio as it arrives, say at once when it turns suspicious.

    for event in avdetect.listen.stream(detector, "-", claimed="ceo"):   # or detector.stream("-")
        print(event)

Every HOP_S (1 s) of audio the last WINDOW_S (4 s) are judged: the synthetic-speech network
(`synthetic_speech`, 0-100) and, with a claimed voice, the speaker check (cosine `similarity` to the
enrolled voiceprint, `match`, mismatch `speaker_score` 0-100). A window's score is the worst of
them after the check weights of `fusion` (as in a scan), with fusion's claimed-identity rule: a
voice that matches the claimed person but scores >= CLAIMED_SYNTHETIC_AT as synthetic counts as
suspicious at least (a clone of that person). The running verdict is sticky: the call's
worst `confirmed` score so far, where a window's score is confirmed by the window one hop before
it (the lower of the two counts), so one odd window does not flag a call, and a cloned voice that
starts at t is confirmed by about t + 3-4 s (two windows holding >= 2 s of it).

Events (dicts; `avdetect listen` prints them as JSON lines):
  {"event": "start", "claimed", "step_s", "window_s"}  once the models are loaded and warmed up,
      before any audio
  {"event": "window", "t_s", "window_start_s", "speech_s", "synthetic_speech", ["similarity",
   "match", "speaker_score"], "score", "verdict", "running_verdict", "running_score", "lag_s"}
      every STEP_S (2 s) of audio
  {"event": "alert", "t_s", "verdict", "score", "reasons", "lag_s"}
      the moment the running verdict turns suspicious, and again if it turns fake
  {"event": "end", "t_s", "verdict", "score", "max_lag_s"}
lag_s: wall seconds between the arrival of the window's last sample and the event.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

import numpy as np

from .audio.embedding import MIN_EMBED_S, cosine, embed, speech_only
from .audio.vad import VadBackend, speech_activity
from .checks.base import fmt_time
from .checks.speaker import similarity_score
from .checks.synthetic_speech import MIN_WINDOW_SPEECH_FRACTION, score_windows
from .constants import SAMPLE_RATE, VIDEO_FPS
from .fusion import (SPEAKER_SIMILARITY_THRESHOLD, SUSPICIOUS_THRESHOLD, Verdict, claimed_clone_words,
                     is_claimed_clone, verdict_for)
from .live_io import DEFAULT_FOLLOW_S, SourceFormat, default_format, pcm_chunks

STEP_S = 2.0  # s of audio between printed window events
HOP_S = 1.0  # s of audio between judged windows (alerts can come on any hop)
WINDOW_S = 4.0  # s judged each hop: the spoof network's window
MIN_SPEECH_S = 1.0  # s of speech a window needs to be judged
ALERT_VERDICTS = (Verdict.suspicious, Verdict.fake)
WARM_UP_RMS = 0.1  # loudness of the noise the models are warmed up on (full scale 1.0)


@dataclass
class Judged:
    """One window: its end time, speech, and each check's value (None: not judged)."""

    t_s: float
    speech_s: float
    synthetic: float | None = None
    similarity: float | None = None
    speaker_score: float | None = None
    score: float | None = None
    reasons: list[str] = field(default_factory=list)


class CallScreen:
    """Feed audio chunks of a live call; get events back (see the module doc).

    detector: a loaded Detector (its synthetic_speech check's network and its check weights are
    used); claimed: an enrolled voice name (voices.load raises VoiceError for an unknown one);
    warm_up: run the models once before any audio (see warm_up).
    """

    def __init__(self, detector, claimed: str | None = None, *, step_s: float = STEP_S, hop_s: float = HOP_S,
                 window_s: float = WINDOW_S, warm_up: bool = True) -> None:
        from . import voices

        assert step_s % hop_s == 0 and window_s >= hop_s, (step_s, hop_s, window_s)
        self.model = next(c.model for c in detector.checks if c.name == "synthetic_speech")
        self.weights, self.device = {k: i.weight for k, i in detector.infos.items()}, detector.device
        self.claimed = claimed
        self.profile = voices.load(claimed).embedding if claimed else None
        self.hop, self.window = int(hop_s * SAMPLE_RATE), int(window_s * SAMPLE_RATE)
        self.hops_per_step = int(round(step_s / hop_s))
        self.buf = np.zeros(0, np.float32)  # the last window_s of audio
        self.received = 0  # samples since the start
        self.next_hop = self.hop
        self.previous: Judged | None = None
        self.running_score = 0.0
        self.running = Verdict.not_applicable
        self.alerted: set[Verdict] = set()
        self.max_lag = 0.0
        if warm_up:
            self.warm_up()

    def warm_up(self) -> None:
        """Run each model once on every window length a call gives (hop_s, 2 hop_s, ... window_s of
        noise) before the call starts, so no one-off first-call set-up is paid inside the call. The
        speaker encoder's first embedding imports librosa's spectral code (scipy.signal, numba):
        2-3 s on the project machine, 37 s once with a cold disk cache; it put the first window of a
        --claimed call 1.1 s behind the live edge. The spoof network's first 4 s window took 0.27 s
        once in a fresh process (later ones 3-15 ms)."""
        noise = np.random.default_rng(0).standard_normal(self.window).astype(np.float32) * WARM_UP_RMS
        for n in range(self.hop, self.window + 1, self.hop):
            score_windows(self.model, noise[:n], [0], n, self.device)
        if self.profile is not None:
            embed(noise, self.device)

    def feed(self, samples: np.ndarray, arrived: float | None = None) -> list[dict[str, Any]]:
        """samples (N,) float32 16 kHz, in order; arrived: time.monotonic() when they came
        (default now) -> the events of every hop they complete."""
        assert samples.ndim == 1, samples.shape
        arrived = time.monotonic() if arrived is None else arrived
        events = []
        while len(samples):
            take = min(len(samples), self.next_hop - self.received)
            self.buf = np.concatenate([self.buf, samples[:take].astype(np.float32)])[-self.window:]
            self.received += take
            samples = samples[take:]
            if self.received == self.next_hop:
                self.next_hop += self.hop
                events += self.judge_hop(arrived)
        return events

    def start(self) -> dict[str, Any]:
        """The first event: models loaded, ready for audio."""
        return {"event": "start", "claimed": self.claimed, "step_s": self.hop * self.hops_per_step / SAMPLE_RATE,
                "window_s": self.window / SAMPLE_RATE}

    def finish(self) -> dict[str, Any]:
        """The end event (the audio after the last whole hop is not judged)."""
        return {"event": "end", "t_s": round(self.received / SAMPLE_RATE, 2), "verdict": self.running.value,
                "score": round(self.running_score, 1), "max_lag_s": round(self.max_lag, 3)}

    def judge_hop(self, arrived: float) -> list[dict[str, Any]]:
        j = self.judge(self.buf, self.received / SAMPLE_RATE)
        prev = self.previous
        confirmed = None if prev is None or prev.score is None or j.score is None else min(j.score, prev.score)
        self.previous = j
        events = []
        if confirmed is not None and (self.running == Verdict.not_applicable or confirmed > self.running_score):
            self.running_score = max(self.running_score, confirmed)
            self.running = verdict_for(self.running_score)
            if self.running in ALERT_VERDICTS and self.running not in self.alerted:
                self.alerted.add(self.running)
                events.append({"event": "alert", "t_s": round(j.t_s, 2), "verdict": self.running.value,
                               "score": round(self.running_score, 1), "reasons": j.reasons})
        hop_index = int(round(self.received / self.hop))
        if hop_index % self.hops_per_step == 0:
            events.insert(0, self.window_event(j))
        lag = time.monotonic() - arrived
        self.max_lag = max(self.max_lag, lag)
        for e in events:
            e["lag_s"] = round(lag, 3)
        return events

    def window_event(self, j: Judged) -> dict[str, Any]:
        e: dict[str, Any] = {"event": "window", "t_s": round(j.t_s, 2),
                             "window_start_s": round(max(0.0, j.t_s - self.window / SAMPLE_RATE), 2),
                             "speech_s": round(j.speech_s, 2),
                             "synthetic_speech": None if j.synthetic is None else round(j.synthetic, 1)}
        if self.claimed:
            e.update(claimed=self.claimed, similarity=None if j.similarity is None else round(j.similarity, 3),
                     match=None if j.similarity is None else bool(j.similarity >= SPEAKER_SIMILARITY_THRESHOLD),
                     speaker_score=None if j.speaker_score is None else round(j.speaker_score, 1))
        e.update(score=None if j.score is None else round(j.score, 1),
                 verdict=Verdict.not_applicable.value if j.score is None else verdict_for(j.score).value,
                 running_verdict=self.running.value, running_score=round(self.running_score, 1))
        return e

    def judge(self, window: np.ndarray, t_s: float) -> Judged:
        """window (M,) float32, M <= WINDOW_S * 16 kHz, ending at t_s -> Judged."""
        speech = speech_activity(window, VadBackend.webrtc)  # (ceil(M / 640),) bool
        j = Judged(t_s, float(speech.sum()) / VIDEO_FPS)
        if j.speech_s < MIN_SPEECH_S or speech.mean() < MIN_WINDOW_SPEECH_FRACTION:
            return j
        span = f"{fmt_time(max(0.0, t_s - len(window) / SAMPLE_RATE))}-{fmt_time(t_s)}"
        j.synthetic = float(score_windows(self.model, window, [0], len(window), self.device)[0])
        synthetic = j.synthetic * self.weights.get("synthetic_speech", 1.0)
        speaker = None
        if self.profile is not None:
            sp = speech_only(window, speech)
            if len(sp) >= MIN_EMBED_S * SAMPLE_RATE:
                j.similarity = cosine(embed(sp, self.device), self.profile)
                j.speaker_score = similarity_score(j.similarity)
                speaker = j.speaker_score * self.weights.get("speaker", 1.0)
        match = None if j.similarity is None else bool(j.similarity >= SPEAKER_SIMILARITY_THRESHOLD)
        if is_claimed_clone(match, j.synthetic):
            synthetic = max(synthetic, SUSPICIOUS_THRESHOLD)  # the claimed-identity rule, as in fusion.fuse
            j.reasons.append(f"{claimed_clone_words(self.claimed, j.synthetic)} around {span}")
        elif synthetic >= SUSPICIOUS_THRESHOLD:
            j.reasons.append(f"synthetic voice around {span} (score {j.synthetic:.0f})")
        if j.similarity is not None and j.similarity < SPEAKER_SIMILARITY_THRESHOLD:
            j.reasons.append(f"voice does not match {self.claimed} around {span} (similarity {j.similarity:.2f})")
        j.score = max(synthetic, speaker if speaker is not None else 0.0)
        return j


def screen(detector, chunks: Iterable[np.ndarray], claimed: str | None = None, **kw) -> Iterator[dict[str, Any]]:
    """(N,) float32 16 kHz chunks as they arrive -> events, ending with the end event."""
    cs = CallScreen(detector, claimed, **kw)
    yield cs.start()
    for chunk in chunks:
        yield from cs.feed(chunk)
    yield cs.finish()


def stream(detector, source: str, claimed: str | None = None, *, fmt: SourceFormat | str | None = None,
           follow_s: float = DEFAULT_FOLLOW_S, **kw) -> Iterator[dict[str, Any]]:
    """A live source (`-`, a URL, a sound device `alsa:default`, a growing file) -> events. fmt None:
    raw s16le for `-`, else a container FFmpeg probes. Raises io.MediaError (unreadable source;
    live_io.DeviceError for a sound device that cannot be opened), voices.VoiceError."""
    if fmt is None:
        fmt = default_format(source)
    yield from screen(detector, pcm_chunks(source, fmt, follow_s), claimed, **kw)
