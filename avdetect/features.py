"""From a file to the tensors every check reads: the only place that calls io for a scan."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from . import io
from .audio.features import speech_envelope
from .audio.speechlike import SpeechLikeness, speech_likeness
from .audio.vad import VadBackend, speech_activity
from .constants import MIN_LIPSYNC_FPS, VIDEO_FPS
from .visual.landmarks import FaceMeshTracker, MouthTrack, extract_mouth

PICK_S = 60.0  # s: a file with several audio streams is judged on the first minute of each


@dataclass
class ClipFeatures:
    """Everything the checks need, on the 25 fps timeline.

    audio:    AudioClip (N,) or None when the file has no audio stream
    envelope: (Ta,) speech-band log energy, speech: (Ta,) bool  (Ta = ceil(N / 640))
    mouth:    MouthTrack (Tv, ...) or None (no video, no face found, or video under MIN_LIPSYNC_FPS)
    speech_like: whether what the VAD calls speech is speech (tones, noise, music are not)
    """

    info: io.MediaInfo
    audio: io.AudioClip | None
    envelope: np.ndarray | None
    speech: np.ndarray | None
    mouth: MouthTrack | None
    n_video_frames: int = 0  # frames actually decoded onto the timeline
    warnings: list[str] = field(default_factory=list)
    speech_like: SpeechLikeness | None = None

    @property
    def duration_s(self) -> float:
        a = self.audio.duration_s if self.audio is not None else 0.0
        return max(a, self.n_video_frames / VIDEO_FPS) or self.info.duration_s


def extract(path: str | os.PathLike, *, want_video: bool = True,
            vad: VadBackend | None = None, max_duration_s: float | None = None,
            tracker: FaceMeshTracker | None = None, info: io.MediaInfo | None = None) -> ClipFeatures:
    """Decode `path` and compute audio features and mouth landmarks. Raises io.MediaError.

    info: io.probe(path) when the caller already has it (batch workers probe once per file).

    vad None picks silero for videos (precise speech edges for lip sync) and the much faster
    webrtc for audio-only files (long calls).
    """
    info = info or io.probe(path)
    io.check_overlap(info)
    if vad is None:
        vad = VadBackend.silero if info.has_video else VadBackend.webrtc
    warnings = list(info.notes)
    if len(info.audio_streams) > 1:
        info, note = _pick_audio_stream(info, vad, max_duration_s)
        warnings.append(note)
    audio = io.load_audio(path, info, max_duration_s=max_duration_s)
    warnings += audio.warnings if audio is not None else []
    envelope = speech = like = None
    if audio is not None and len(audio.samples):
        envelope = speech_envelope(audio.samples)
        speech = speech_activity(audio.samples, vad)
        like = speech_likeness(audio.samples, speech)
    mouth, decoded = None, 0
    if want_video and info.has_video and (info.video_fps or 0.0) < MIN_LIPSYNC_FPS:
        decoded = int(math.ceil((info.video_end_s or 0.0) * VIDEO_FPS))  # too few frames a second: not tracked
    elif want_video and info.has_video:
        n = info.n_frames if max_duration_s is None else min(info.n_frames, int(max_duration_s * VIDEO_FPS))
        if audio is not None:  # the timeline covers both streams
            n = max(n, len(envelope) if envelope is not None else 0)
        counter = _Counter(io.iter_video_frames(path, info, max_duration_s=max_duration_s,
                                                warnings=warnings))
        mouth = extract_mouth(counter, n, tracker)
        decoded = counter.last + 1
        if decoded == 0 and audio is None:
            raise io.MediaError(f"{info.path}: video stream has no decodable frames")
        if mouth is not None:
            mouth = _trim(mouth, max(counter.last + 1, len(envelope) if envelope is not None else 0))
    return ClipFeatures(info, audio, envelope, speech, mouth, decoded, warnings, like)


def _pick_audio_stream(info: io.MediaInfo, vad: VadBackend, max_duration_s: float | None) -> tuple[io.MediaInfo, str]:
    """Several audio streams: the one with the most speech-like speech (first PICK_S of each) -> (info, warning)."""
    limit = PICK_S if max_duration_s is None else min(PICK_S, max_duration_s)
    scored = []
    for k, a in enumerate(info.audio_streams):
        cand = io.with_audio_stream(info, a.extent.index)
        try:
            clip = io.load_audio(cand.path, cand, max_duration_s=limit)
        except io.MediaError:
            scored.append((-1.0, k, cand, "does not decode"))
            continue
        sp = speech_activity(clip.samples, vad) if len(clip.samples) else np.zeros(0, bool)
        like = speech_likeness(clip.samples, sp) if len(clip.samples) else None
        seconds = float(sp.sum()) / VIDEO_FPS
        ok = like is not None and like.ok and seconds > 0
        why = f"{seconds:.1f} s of speech" if ok else (like.reason if like is not None and like.reason
                                                       else "no speech")
        scored.append((seconds if ok else 0.0, -k, cand, why))
    best = max(scored, key=lambda s: (s[0], s[1]))
    used = best[2]
    n = len(info.audio_streams)
    others = "; ".join(f"#{c.audio_index} {why}" for _, _, c, why in scored if c is not used)
    return used, (f"the file has {n} audio streams; stream #{used.audio_index} is used ({best[3]}), "
                  f"the others are ignored ({others})")


class _Counter:
    """Pass frames through while remembering the last timeline index seen and how many there were."""

    def __init__(self, frames):
        self._frames, self.last, self.count = frames, -1, 0

    def __iter__(self):
        for k, img in self._frames:
            self.last = k
            self.count += 1
            yield k, img


def _trim(m: MouthTrack, n: int) -> MouthTrack:
    if n >= len(m.mask):
        return m
    return MouthTrack(m.landmarks[:n], m.mask[:n], m.opening[:n], m.face_px, m.track_id, m.n_tracks)
