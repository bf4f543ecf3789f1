"""Enrolled voiceprints on disk: $AVDETECT_HOME/voices/NAME.npz (default ~/.avdetect).

Each profile stores the mean Resemblyzer embedding of the enrolment clips plus metadata.
A profile is written to a hidden temp file (".NAME.<pid>.tmp", never a valid voice file name)
and renamed into place. Every store problem (AVDETECT_HOME empty or not a folder, a folder that
cannot be created or written, a corrupt or foreign file) is a VoiceError with a one-line message.
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
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # use fullmatch: match with "$" accepts "x\n"
VOICE_SUFFIX = ".npz"


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
        return voices_dir() / f"{self.name}{VOICE_SUFFIX}"


def home() -> Path:
    """$AVDETECT_HOME, else ~/.avdetect. Raises VoiceError when the variable is set but empty."""
    env = os.environ.get("AVDETECT_HOME")
    if env is None:
        return Path.home() / ".avdetect"
    if not env.strip():
        raise VoiceError("AVDETECT_HOME is set but empty: give it a folder, or unset it to use ~/.avdetect")
    return Path(env)


def voices_dir() -> Path:
    return home() / "voices"


def _store(create: bool = False) -> Path:
    """The voices folder; with create, made if missing. Raises VoiceError when it cannot be."""
    d = voices_dir()
    try:
        for p in (d.parent, d):
            if p.exists() and not p.is_dir():
                raise VoiceError(f"the voice store {d} cannot be used: {p} is not a folder (check AVDETECT_HOME)")
        if create:
            d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VoiceError(f"cannot use the voice store {d}: {e.strerror or e} (check AVDETECT_HOME)") from None
    return d


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise VoiceError(f"invalid voice name {name!r}: use letters, digits, '_', '-', '.' (max 64, no '/')")
    return name


def ready_to_enroll(name: str) -> Path:
    """The voices folder (created), once `name` is valid: a bad name or store fails before any work.
    Raises VoiceError."""
    _check_name(name)
    return _store(create=True)


def enroll(name: str, clips: list[AudioClip], device: str = "cpu", overwrite: bool = True) -> VoiceProfile:
    """Voiceprint from clips (speech-weighted mean embedding), saved to voices/NAME.npz.

    Raises VoiceError when the clips hold under MIN_ENROLL_SPEECH_S of speech.
    """
    if not overwrite and (ready_to_enroll(name) / f"{name}{VOICE_SUFFIX}").exists():
        raise VoiceError(f"voice {name!r} already exists")
    ready_to_enroll(name)
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
    """Write NAME.npz atomically: a hidden temp file (not a *.npz, not a valid name), then rename."""
    d = _store(create=True)
    meta = {"name": p.name, "speech_s": p.speech_s, "n_clips": p.n_clips, "encoder": p.encoder,
            "created": p.created}
    tmp = d / f".{p.name}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:  # a file object: np.savez would append ".npz" to a path
            np.savez(f, embedding=p.embedding, meta=np.array(json.dumps(meta)))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p.path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise VoiceError(f"cannot write the voice {p.name!r} to {d}: {e.strerror or e}") from None


def load(name: str) -> VoiceProfile:
    """The enrolled voice NAME. Raises VoiceError: unknown, unreadable or corrupt, other encoder."""
    path = _store() / f"{_check_name(name)}{VOICE_SUFFIX}"
    if not path.exists():
        known = ", ".join(p.name for p in list_voices()) or "none enrolled"
        raise VoiceError(f"no enrolled voice named {name!r} (known: {known})")
    return _read(name, path)


def _read(name: str, path: Path) -> VoiceProfile:
    try:
        with np.load(path, allow_pickle=False) as z:
            emb, meta = z["embedding"].astype(np.float32), json.loads(str(z["meta"]))
        encoder = meta["encoder"]
        speech_s, n_clips, created = float(meta["speech_s"]), int(meta["n_clips"]), str(meta["created"])
    except Exception as e:  # noqa: BLE001 - zip, npy, pickle, json and key errors: the file is unusable
        first = (str(e).splitlines() or [""])[0][:120]
        raise VoiceError(f"voice {name!r}: {path} is unreadable or corrupt ({type(e).__name__}: {first}); "
                         f"enroll it again or remove it") from None
    if emb.shape != (EMBED_DIM,) or encoder != ENCODER_NAME:
        raise VoiceError(f"voice {name!r} was made with another encoder ({encoder}); enroll it again")
    return VoiceProfile(name, emb, speech_s, n_clips, encoder, created)


def list_store() -> tuple[list[VoiceProfile], list[str]]:
    """(every readable voice in the store, one line per *.npz file that was skipped and why)."""
    d = _store()
    if not d.exists():
        return [], []
    try:
        files = sorted(p for p in d.iterdir() if p.name.endswith(VOICE_SUFFIX) and not p.name.startswith("."))
    except OSError as e:
        raise VoiceError(f"cannot read the voice store {d}: {e.strerror or e}") from None
    found, skipped = [], []
    for p in files:
        name = p.name[:-len(VOICE_SUFFIX)]
        if not NAME_RE.fullmatch(name):
            skipped.append(f"skipped {p.name!r} in {d}: not a valid voice name")
            continue
        try:
            found.append(_read(name, p))
        except VoiceError as e:
            skipped.append(f"skipped {str(e)}")
    return found, skipped


def list_voices() -> list[VoiceProfile]:
    """Every readable voice in the store (list_store says which files were skipped)."""
    return list_store()[0]


def remove(name: str) -> None:
    path = _store() / f"{_check_name(name)}{VOICE_SUFFIX}"
    if not path.exists():
        raise VoiceError(f"no enrolled voice named {name!r}")
    try:
        path.unlink()
    except OSError as e:
        raise VoiceError(f"cannot remove the voice {name!r}: {e.strerror or e}") from None
