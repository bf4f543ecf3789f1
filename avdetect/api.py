"""Library API: scan a file and get the report dict of DESIGN.md."""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from typing import Any

from . import io
from .audio.vad import VadBackend
from .checks.base import CheckResult, Status
from .checks.learned_sync import LearnedSync
from .checks.lip_sync import check_lip_sync
from .checks.speaker import check_speaker
from .checks.synthetic_speech import check_synthetic_speech
from .features import ClipFeatures, extract
from .report import build_report, error_report
from .voices import VoiceError


class Device(str, enum.Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


def resolve_device(device: Device | str) -> str:
    """auto -> cuda when torch sees a GPU, else cpu. Asking for cuda without one is an error."""
    import torch

    device = Device(device)
    if device == Device.auto:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == Device.cuda and not torch.cuda.is_available():
        raise io.MediaError("--device cuda: no CUDA device is available")
    return device.value


@dataclass
class ScanOptions:
    device: str = "cpu"
    vad: VadBackend | None = None  # None: silero for video, webrtc for audio-only
    max_duration_s: float | None = None
    claimed: str | None = None  # enrolled voice the speaker should be
    learned_sync: bool = True  # False: the training-free correlation check alone


def run_checks(feats: ClipFeatures, options: ScanOptions, learned: LearnedSync | None = None) -> dict[str, CheckResult]:
    """All checks on extracted features; each says not_applicable when it cannot judge.

    learned: the sync model's result for this clip when the caller batched it (run_checks_batch).
    """
    m = feats.mouth
    lip = check_lip_sync(m, feats.envelope, feats.speech,
                         feats.audio.samples if feats.audio is not None else None,
                         feats.info.has_video, feats.audio is not None, options.device, options.learned_sync,
                         scored=learned)
    if m is not None and lip.status == Status.ok:
        lip.fields["faces"] = m.n_tracks
    return {"lip_sync": lip, **voice_checks(feats, options)}


def voice_checks(feats: ClipFeatures, options: ScanOptions) -> dict[str, CheckResult]:
    """synthetic_speech and speaker on the audio track (any file with audio)."""
    audio = feats.audio
    if audio is None or len(audio.samples) == 0 or feats.speech is None:
        why = "no audio track" if audio is None else "audio track is empty"
        return {"synthetic_speech": CheckResult.not_applicable(why),
                "speaker": CheckResult.not_applicable(why, claimed=options.claimed)}
    synthetic = check_synthetic_speech(audio.samples, feats.speech, options.device)
    if options.claimed:
        speaker = check_speaker(audio.samples, feats.speech, options.claimed, options.device)
    else:
        speaker = CheckResult.not_applicable("no claimed identity (use --claimed NAME)")
    return {"synthetic_speech": synthetic, "speaker": speaker}


def scan(path: str | os.PathLike, options: ScanOptions | None = None) -> dict[str, Any]:
    """Scan one file. Never raises for bad media: returns an `error` report instead."""
    options = options or ScanOptions()
    name = os.fspath(path)
    try:
        feats = extract(name, vad=options.vad, max_duration_s=options.max_duration_s)
        checks = run_checks(feats, options)
        return build_report(name, feats.duration_s, checks, feats.warnings)
    except Exception as e:  # noqa: BLE001 - one bad file must not stop a batch or print a traceback
        return error_report(name, failure_message(name, e))


def failure_message(name: str, e: BaseException) -> str:
    """One line for the user: the message of a media/voice error, else what broke and where."""
    if isinstance(e, (io.MediaError, VoiceError)):
        return str(e)
    if isinstance(e, MemoryError):
        return f"{name}: out of memory (try --max-duration)"
    first = (str(e).splitlines() or [""])[0][:200]
    return f"{name}: could not be analysed ({type(e).__name__}: {first})"
