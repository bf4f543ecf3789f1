"""Enrolled voiceprints on disk: $AVDETECT_HOME/voices/NAME.npz (default ~/.avdetect).

Each profile stores the mean Resemblyzer embedding of the enrolment clips plus metadata.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio.embedding import EMBED_DIM, ENCODER_NAME, embed, speech_only
from .audio.speechlike import speech_likeness
from .audio.vad import VadBackend, speech_activity
from .io import AudioClip

MIN_ENROLL_SPEECH_S = 5.0  # s of detected speech needed for a usable voiceprint
MIN_CLIP_SPEECH_S = 0.5  # s: clips with less speech are ignored
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class VoiceError(ValueError):
    """Enrolment or lookup problem; str(error) is a one-line message for the user."""


@dataclass
class VoiceProfile:
    name: str
    embedding: np.ndarray  # (256,) float32, unit norm
    speech_s: float
    n_clips: int
    encoder: str
    created: str

    @property
    def path(self) -> Path:
        return voices_dir() / f"{self.name}.npz"


def home() -> Path:
    return Path(os.environ.get("AVDETECT_HOME", Path.home() / ".avdetect"))


def voices_dir() -> Path:
    return home() / "voices"


def _check_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise VoiceError(f"invalid voice name {name!r}: use letters, digits, '_', '-', '.' (max 64, no '/')")
    return name


def enroll(name: str, clips: list[AudioClip], device: str = "cpu", overwrite: bool = True) -> VoiceProfile:
    """Voiceprint from clips (speech-weighted mean embedding), saved to voices/NAME.npz.

    Raises VoiceError when the clips hold under MIN_ENROLL_SPEECH_S of speech.
    """
    _check_name(name)
    if not overwrite and (voices_dir() / f"{name}.npz").exists():
        raise VoiceError(f"voice {name!r} already exists")
    embs, weights, rejected = [], [], []
    for i, clip in enumerate(clips):
        mask = speech_activity(clip.samples, VadBackend.webrtc)
        like = speech_likeness(clip.samples, mask)
        if not like.ok and mask.any():  # a tone or noise the VAD took for speech
            rejected.append(f"recording {i + 1}: {like.reason}")
            continue
        sp = speech_only(clip.samples, mask)
        dur = len(sp) / clip.sample_rate
        if dur >= MIN_CLIP_SPEECH_S:
            embs.append(embed(sp, device))
            weights.append(dur)
    total = float(sum(weights))
    if total < MIN_ENROLL_SPEECH_S:
        why = f"; not speech: {'; '.join(rejected)}" if rejected else ""
        raise VoiceError(f"not enough speech to enroll {name!r}: {total:.1f} s found, "
                         f"need at least {MIN_ENROLL_SPEECH_S:.0f} s (add longer or more recordings){why}")
    mean = np.average(np.stack(embs), axis=0, weights=weights).astype(np.float32)
    profile = VoiceProfile(name, mean / np.linalg.norm(mean), total, len(embs), ENCODER_NAME,
                           _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    _save(profile)
    return profile


def _save(p: VoiceProfile) -> None:
    voices_dir().mkdir(parents=True, exist_ok=True)
    meta = {"name": p.name, "speech_s": p.speech_s, "n_clips": p.n_clips, "encoder": p.encoder,
            "created": p.created}
    tmp = p.path.with_suffix(".tmp.npz")
    np.savez(tmp, embedding=p.embedding, meta=np.array(json.dumps(meta)))
    os.replace(tmp, p.path)


def load(name: str) -> VoiceProfile:
    path = voices_dir() / f"{_check_name(name)}.npz"
    if not path.exists():
        known = ", ".join(p.name for p in list_voices()) or "none enrolled"
        raise VoiceError(f"no enrolled voice named {name!r} (known: {known})")
    with np.load(path) as z:
        emb, meta = z["embedding"].astype(np.float32), json.loads(str(z["meta"]))
    if emb.shape != (EMBED_DIM,) or meta.get("encoder") != ENCODER_NAME:
        raise VoiceError(f"voice {name!r} was made with another encoder ({meta.get('encoder')}); enroll it again")
    return VoiceProfile(meta["name"], emb, float(meta["speech_s"]), int(meta["n_clips"]), meta["encoder"],
                        meta["created"])


def list_voices() -> list[VoiceProfile]:
    d = voices_dir()
    return [load(p.stem) for p in sorted(d.glob("*.npz")) if not p.name.endswith(".tmp.npz")] if d.exists() else []


def remove(name: str) -> None:
    path = voices_dir() / f"{_check_name(name)}.npz"
    if not path.exists():
        raise VoiceError(f"no enrolled voice named {name!r}")
    path.unlink()
