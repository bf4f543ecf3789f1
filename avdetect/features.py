"""From a file to the tensors every check reads: the only place that calls io for a scan."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from . import io
from .constants import VIDEO_FPS
from .audio.features import speech_envelope
from .audio.vad import VadBackend, speech_activity
from .visual.landmarks import FaceMeshTracker, MouthTrack, extract_mouth


@dataclass
class ClipFeatures:
    """Everything the checks need, on the 25 fps timeline.

    audio:    AudioClip (N,) or None when the file has no audio stream
    envelope: (Ta,) speech-band log energy, speech: (Ta,) bool  (Ta = ceil(N / 640))
    mouth:    MouthTrack (Tv, ...) or None (no video, or no face found)
    """

    info: io.MediaInfo
    audio: io.AudioClip | None
    envelope: np.ndarray | None
    speech: np.ndarray | None
    mouth: MouthTrack | None
    n_video_frames: int = 0  # frames actually decoded onto the timeline
    warnings: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        a = self.audio.duration_s if self.audio is not None else 0.0
        return max(a, self.n_video_frames / VIDEO_FPS) or self.info.duration_s


def extract(path: str | os.PathLike, *, want_video: bool = True,
            vad: VadBackend | None = None, max_duration_s: float | None = None,
            tracker: FaceMeshTracker | None = None) -> ClipFeatures:
    """Decode `path` and compute audio features and mouth landmarks. Raises io.MediaError.

    vad None picks silero for videos (precise speech edges for lip sync) and the much faster
    webrtc for audio-only files (long calls).
    """
    info = io.probe(path)
    if vad is None:
        vad = VadBackend.silero if info.has_video else VadBackend.webrtc
    audio = io.load_audio(path, info, max_duration_s=max_duration_s)
    warnings = list(audio.warnings) if audio is not None else []
    envelope = speech = None
    if audio is not None and len(audio.samples):
        envelope = speech_envelope(audio.samples)
        speech = speech_activity(audio.samples, vad)
    mouth, decoded = None, 0
    if want_video and info.has_video:
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
            mouth = _trim(mouth, max(decoded, len(envelope) if envelope is not None else 0))
    return ClipFeatures(info, audio, envelope, speech, mouth, decoded, warnings)


class _Counter:
    """Pass frames through while remembering the last timeline index seen."""

    def __init__(self, frames):
        self._frames, self.last = frames, -1

    def __iter__(self):
        for k, img in self._frames:
            self.last = k
            yield k, img


def _trim(m: MouthTrack, n: int) -> MouthTrack:
    if n >= len(m.mask):
        return m
    return MouthTrack(m.landmarks[:n], m.mask[:n], m.opening[:n], m.face_px, m.track_id, m.n_tracks)
