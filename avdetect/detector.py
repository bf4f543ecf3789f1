"""The library API: load every model once, then scan files.

    import avdetect
    detector = avdetect.load(device="auto")          # fails here if a weight file is missing or corrupt
    report = detector.scan("clip.mp4")                 # Report; report.to_dict() is the JSON of `avdetect scan`
    report.verdict, report.checks["lip_sync"].offset_ms
    for r in detector.scan_many(paths): ...            # the models batch their windows across clips

A Detector runs the checks of `avdetect.checks.CHECKS` (or the ones it is given) on the features
that `features.extract` takes from a file (the only I/O). It never raises for bad media: such a
file gets an `error` report.
"""

from __future__ import annotations

import enum
import os
from dataclasses import replace
from typing import Iterable, Iterator, Sequence

from . import io
from .audio.vad import VadBackend
from .checks import CHECKS
from .checks.base import Check, CheckResult, LipSyncMethod, ScanContext, Settings
from .features import ClipFeatures, extract
from .report import Report, build_report, error_report
from .report.check_info import check_infos
from .voices import VoiceError

DEFAULT_BATCH_CLIPS = 8  # clips whose model windows share one pass in scan_many


class Device(str, enum.Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


def resolve_device(device: Device | str) -> str:
    """auto -> cuda when torch sees a GPU, else cpu. Asking for cuda without one is a MediaError."""
    import torch

    try:
        device = Device(device)
    except ValueError:
        raise io.MediaError(f"--device must be auto, cpu or cuda, not {device!r}") from None
    if device == Device.auto:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == Device.cuda and not torch.cuda.is_available():
        raise io.MediaError("--device cuda: no CUDA device is available")
    return device.value


def failure_message(name: str, e: BaseException) -> str:
    """One line for the user: the message of a media/voice error, else what broke and where."""
    if isinstance(e, (io.MediaError, VoiceError)):
        return str(e)
    if isinstance(e, MemoryError):
        return f"{name}: out of memory (try --max-duration)"
    first = (str(e).splitlines() or [""])[0][:200]
    return f"{name}: could not be analysed ({type(e).__name__}: {first})"


def extract_features(path: str | os.PathLike, settings: Settings, *, max_duration_s: float | None = None,
                     tracker=None, info: io.MediaInfo | None = None) -> ClipFeatures:
    """Decode `path` into the features the checks read (no model needed: batch workers call
    this; info: its io.probe when already read). Raises io.MediaError (also for audio with NaN
    or infinite samples: io.load_audio)."""
    vad = VadBackend(settings.vad) if settings.vad else None
    return extract(path, vad=vad, max_duration_s=max_duration_s, tracker=tracker, info=info)


class Detector:
    """Every check with its models loaded once; scan(path) -> Report.

    settings: how to build it (device already resolved, lip-sync method, weights folder, VAD);
    checks: the check classes to run, in report order (default: avdetect.checks.CHECKS).
    """

    def __init__(self, settings: Settings | None = None, checks: Sequence[type[Check]] = CHECKS) -> None:
        self.settings = settings or Settings()
        self.checks: list[Check] = [cls.load(self.settings) for cls in checks]
        self.infos = check_infos(self.checks)  # weight, suspicious mark, reliability per check

    @property
    def device(self) -> str:
        return self.settings.device

    def extract(self, path: str | os.PathLike, *, max_duration_s: float | None = None,
                tracker=None) -> ClipFeatures:
        """Decode `path` into the features the checks read. Raises io.MediaError."""
        return extract_features(path, self.settings, max_duration_s=max_duration_s, tracker=tracker)

    def check(self, feats: list[ClipFeatures], claimed: str | None = None) -> list[dict[str, CheckResult]]:
        """Run every check on a list of clips -> one {check name: result} per clip, in order.

        Each check says per clip whether it can judge; the clips it can are judged together.
        Raises what a check raises (scan_many and the batch engines then go clip by clip).
        """
        ctx = ScanContext(self.device, claimed)
        out: list[dict[str, CheckResult]] = [{} for _ in feats]
        for check in self.checks:
            verdicts = [check.applicable(f, ctx) for f in feats]
            todo = [i for i, na in enumerate(verdicts) if na is None]
            results = check.run([feats[i] for i in todo], ctx) if todo else []
            assert len(results) == len(todo), (check.name, len(results), len(todo))
            done = dict(zip(todo, results))
            for i, na in enumerate(verdicts):
                out[i][check.name] = done[i] if na is None else na
        return out

    def report(self, name: str, feats: ClipFeatures, results: dict[str, CheckResult]) -> Report:
        return build_report(name, feats.duration_s, results, feats.warnings, infos=self.infos)

    def reports(self, items: list[tuple[str, ClipFeatures | str]], claimed: str | None = None) -> list[Report]:
        """[(file name, features or an error message)] -> reports in the same order.

        The clips are checked together; if that fails, one by one, so one bad clip gets an error
        report and the others still get theirs.
        """
        ok = [(n, f) for n, f in items if isinstance(f, ClipFeatures)]
        try:
            checked: list[dict[str, CheckResult] | str] = list(self.check([f for _, f in ok], claimed)) if ok else []
        except Exception:  # noqa: BLE001 - find the culprit clip by clip
            checked = [self._check_one(n, f, claimed) for n, f in ok]
        by_name = {id(f): c for (_, f), c in zip(ok, checked)}
        out = []
        for name, f in items:
            c = by_name.get(id(f)) if isinstance(f, ClipFeatures) else f
            out.append(error_report(name, c) if isinstance(c, str) else self.report(name, f, c))
        return out

    def _check_one(self, name: str, feats: ClipFeatures, claimed: str | None) -> dict[str, CheckResult] | str:
        try:
            return self.check([feats], claimed)[0]
        except Exception as e:  # noqa: BLE001 - one bad clip must not end a batch
            return failure_message(name, e)

    def features_or_error(self, path: str | os.PathLike, *, max_duration_s: float | None = None,
                          tracker=None) -> ClipFeatures | str:
        """extract(), with any failure turned into its one-line message."""
        try:
            return self.extract(path, max_duration_s=max_duration_s, tracker=tracker)
        except Exception as e:  # noqa: BLE001 - one bad file must not stop a batch or print a traceback
            return failure_message(os.fspath(path), e)

    def scan(self, path: str | os.PathLike, claimed: str | None = None, *,
             max_duration_s: float | None = None) -> Report:
        """Scan one file. Never raises for bad media: returns an `error` report instead."""
        name = os.fspath(path)
        return self.reports([(name, self.features_or_error(name, max_duration_s=max_duration_s))], claimed)[0]

    def scan_many(self, paths: Iterable[str | os.PathLike], claimed: str | None = None, *,
                  max_duration_s: float | None = None, batch_size: int = DEFAULT_BATCH_CLIPS) -> Iterator[Report]:
        """Scan files in order, batch_size clips per model pass; yields one Report per path.

        Decoding runs here, one file after another; `avdetect batch` (batch.run_batch) adds worker
        processes, resuming and Ray.
        """
        assert batch_size >= 1, batch_size
        names = [os.fspath(p) for p in paths]
        for k in range(0, len(names), batch_size):
            chunk = names[k:k + batch_size]
            yield from self.reports([(n, self.features_or_error(n, max_duration_s=max_duration_s)) for n in chunk],
                                    claimed)

    def stream(self, source: str, claimed: str | None = None, **kw) -> Iterator[dict]:
        """Screen a live call (`-`, a URL, a growing file): events as avdetect.listen.stream gives them."""
        from .listen import stream

        return stream(self, source, claimed, **kw)


def settings_for(device: Device | str = Device.auto, lip_sync: LipSyncMethod | str = LipSyncMethod.learned,
                 model_dir: str | os.PathLike | None = None, vad: VadBackend | str | None = None) -> Settings:
    """Validated Settings (device resolved). Raises io.MediaError for a bad device."""
    return Settings(resolve_device(device), LipSyncMethod(lip_sync),
                    None if model_dir is None else os.fspath(model_dir),
                    None if vad is None else VadBackend(vad).value)


def load(device: Device | str = Device.auto, *, lip_sync: LipSyncMethod | str = LipSyncMethod.learned,
         model_dir: str | os.PathLike | None = None, vad: VadBackend | str | None = None,
         checks: Sequence[type[Check]] = CHECKS) -> Detector:
    """A Detector with every model loaded. Raises models.store.ModelFileError (missing or
    corrupt weights) or io.MediaError (no CUDA device for device="cuda")."""
    return Detector(settings_for(device, lip_sync, model_dir, vad), checks)


_default: Detector | None = None


def scan(path: str | os.PathLike, claimed: str | None = None, *, device: Device | str = Device.auto) -> Report:
    """One-line shortcut: scan a file with a Detector loaded on first use and kept."""
    global _default
    want = resolve_device(device)
    if _default is None or _default.device != want:
        _default = Detector(replace(Settings(), device=want))
    return _default.scan(path, claimed)
