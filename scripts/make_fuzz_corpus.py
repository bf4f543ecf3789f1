"""Hostile and odd media for the fuzz test (tests/test_fuzz.py): made at run time, nothing committed.

    PYTHONPATH=. python scripts/make_fuzz_corpus.py OUT_DIR [--full] [--grid CLIP.mp4]

Every file comes from generated media (avdetect/synth.py) or a real GRID clip (--grid: the
400 ms-late fake is made from it, judged by the learned model), edited with PyAV and byte
patches: forged Matroska/MP4 durations, far timestamps, late audio, a 1 Hz WAV header, long
1 fps video, cover art, 1 fps, stretched pixels, rotation, 1 s of video over 8 s of audio,
noise, tones, random AMR, two audio streams, TS/FLV/MPEG-2 remuxes, truncations, bit flips.
Each case says what a scan must give (`expect`: allowed verdicts; `checks`: allowed status
per check, `warn`/`error` fragments). The default set covers every class once (CI); --full
adds seeds and variants (~120 files). Writes OUT_DIR/cases.json.
"""

from __future__ import annotations

import argparse
import json
import math
import struct
import sys
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from avdetect import io, synth
from avdetect.constants import SAMPLE_RATE

BASE_S = 4.0  # s: length of the generated talking-face clips
NOT_FAKE = ["authentic", "suspicious", "not_applicable"]
NA = "not_applicable"


@dataclass
class Case:
    name: str
    kind: str  # the class of hostile input
    path: str
    expect: list[str]  # allowed verdicts
    checks: dict[str, list[str]] = field(default_factory=dict)  # check -> allowed statuses
    warn: str = ""  # a fragment one of the warnings must contain
    error: str = ""  # a fragment the error must contain
    max_s: float = 60.0  # s: the scan must finish within this
    same_as: str = ""  # a case whose verdict this one must repeat
    method: str = "correlation"  # lip-sync method to scan with: "learned" for real faces (the GRID fake)


# ---------------------------------------------------------------- writers and edits

def remux(src: Path, dst: Path, fmt: str | None = None, offsets: dict[str, float] | None = None,
          options: dict[str, str] | None = None) -> Path:
    """Copy packets into another container; offsets (s) per stream type shift their timestamps."""
    offsets = offsets or {}
    with av.open(str(src)) as i, av.open(str(dst), "w", format=fmt, options=options or {}) as o:
        out = {s.index: o.add_stream_from_template(s) for s in i.streams if s.type in ("audio", "video")}
        for pkt in i.demux():
            if pkt.dts is None or pkt.stream.index not in out:
                continue
            shift = int(round(offsets.get(pkt.stream.type, 0.0) / pkt.time_base))
            pkt.pts, pkt.dts = pkt.pts + shift, pkt.dts + shift
            pkt.stream = out[pkt.stream.index]
            o.mux(pkt)
    return dst


def transcode(src: Path, dst: Path, vcodec: str, acodec: str, fmt: str | None = None) -> Path:
    """Re-encode (e.g. MPEG-2 video + MP2 audio in MPEG-PS)."""
    info = io.probe(src)
    frames = [img for _, img in io.iter_video_frames(src, info, max_height=10_000)]
    clip = io.load_audio(src, info)
    with av.open(str(dst), "w", format=fmt) as c:
        vs = c.add_stream(vcodec, rate=25)
        vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        as_ = c.add_stream(acodec, rate=SAMPLE_RATE if acodec != "mp2" else 32000)
        as_.layout = "mono"
        synth.mux_frames(c, vs, frames)
        synth.write_audio_stream(c, as_, clip.samples, rate=as_.rate)
    return dst


def patch_mkv_duration(src: Path, dst: Path, value: float) -> Path:
    """Matroska with its Segment Info Duration (EBML 0x4489, a float) set to `value` (in TimestampScale units)."""
    data = bytearray(src.read_bytes())
    i = data.find(b"\x44\x89")
    assert i > 0, "no Duration element"
    size_byte = data[i + 2]
    assert size_byte & 0x80, "Duration size is not a 1-byte vint"
    size = size_byte & 0x7F
    data[i + 3:i + 3 + size] = struct.pack(">d" if size == 8 else ">f", value)
    dst.write_bytes(bytes(data))
    return dst


def patch_mp4_duration(src: Path, dst: Path, value: int) -> Path:
    """MP4 with the movie header (mvhd) and every track/media header duration set to `value`."""
    data = bytearray(src.read_bytes())
    for box, off in ((b"mvhd", 16), (b"tkhd", 20), (b"mdhd", 16)):
        start = 0
        while (i := data.find(box, start)) > 0:
            if data[i + 4] == 0:  # version 0: 32-bit fields after version/flags
                pos = i + 4 + off
                data[pos:pos + 4] = struct.pack(">I", value & 0xFFFFFFFF)
            start = i + 4
    dst.write_bytes(bytes(data))
    return dst


def rotate_mp4(src: Path, dst: Path) -> Path:
    """Tag the video track as rotated by 90 degrees (tkhd matrix), as phones do."""
    data = bytearray(src.read_bytes())
    i = data.find(b"tkhd")
    assert data[i + 4] == 0
    m = i + 4 + 40  # version/flags 4, times 8, track id 4, reserved 4, duration 4, reserved 8, layer.. 8
    a, b, u, c, d, v, x, y, w = 0, 1 << 16, 0, -(1 << 16) & 0xFFFFFFFF, 0, 0, 0, 0, 1 << 30
    data[m:m + 36] = struct.pack(">9I", a, b, u, c, d, v, x, y, w)
    dst.write_bytes(bytes(data))
    return dst


def write_wav_rate(dst: Path, samples: np.ndarray, header_rate: int) -> Path:
    """A 16-bit mono WAV of `samples` whose header claims `header_rate` Hz."""
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    hdr = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 1, 1, header_rate, header_rate * 2, 2, 16) + b"data" + struct.pack("<I", len(pcm))
    dst.write_bytes(hdr + pcm)
    return dst


def write_float_wav(dst: Path, samples: np.ndarray) -> Path:
    data = samples.astype("<f4").tobytes()
    hdr = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 3, 1, SAMPLE_RATE, SAMPLE_RATE * 4, 4, 32) + b"data" + struct.pack("<I", len(data))
    dst.write_bytes(hdr + data)
    return dst


def random_amr(dst: Path, seconds: float, seed: int) -> Path:
    """AMR-NB file of random 12.2 kbit/s frames (valid frame headers, random payload)."""
    rng = np.random.default_rng(seed)
    frames = [bytes([0x3C]) + rng.integers(0, 256, 31, dtype=np.uint8).tobytes() for _ in range(int(seconds * 50))]
    dst.write_bytes(b"#!AMR\n" + b"".join(frames))
    return dst


def cover_art_mp3(dst: Path, samples: np.ndarray, picture: np.ndarray) -> Path:
    """MP3 speech with a face as ID3 APIC cover art (FFmpeg shows it as an attached-picture video stream)."""
    mp3 = dst.with_suffix(".raw.mp3")
    synth.write_av(mp3, None, samples, audio_codec="libmp3lame", audio_rate=22050)
    import io as pyio
    from PIL import Image
    buf = pyio.BytesIO()
    Image.fromarray(picture).save(buf, format="JPEG")
    body = b"\x00image/jpeg\x00\x03\x00" + buf.getvalue()
    frame = b"APIC" + struct.pack(">I", len(body)) + b"\x00\x00" + body
    size = len(frame)
    syncsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    audio = mp3.read_bytes()
    if audio.startswith(b"ID3"):  # drop an existing tag
        n = audio[6] << 21 | audio[7] << 14 | audio[8] << 7 | audio[9]
        audio = audio[10 + n:]
    dst.write_bytes(b"ID3\x03\x00\x00" + syncsafe + frame + audio)
    mp3.unlink()
    return dst


def two_audio_streams(dst: Path, frames: list[np.ndarray], first: np.ndarray, second: np.ndarray) -> Path:
    """Video plus two audio streams (first, second) in Matroska."""
    with av.open(str(dst), "w") as c:
        vs = c.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        streams = [c.add_stream("aac", rate=SAMPLE_RATE) for _ in range(2)]
        for s in streams:
            s.layout = "mono"
        synth.mux_frames(c, vs, frames)
        for s, x in zip(streams, (first, second)):
            synth.write_audio_stream(c, s, x)
    return dst


def stretched(dst: Path, frames: list[np.ndarray], samples: np.ndarray, size=(480, 854)) -> Path:
    """Frames resized to size (W, H) with the pixel aspect ratio that keeps the picture square on display."""
    from PIL import Image
    w, h = size
    big = [np.asarray(Image.fromarray(f).resize((w, h))) for f in frames]
    with av.open(str(dst), "w") as c:
        vs = c.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.codec_context.sample_aspect_ratio = Fraction(h * frames[0].shape[1], w * frames[0].shape[0])
        as_ = c.add_stream("aac", rate=SAMPLE_RATE)
        as_.layout = "mono"
        synth.mux_frames(c, vs, big)
        synth.write_audio_stream(c, as_, samples)
    return dst


def flip_bytes(src: Path, dst: Path, n: int, seed: int) -> Path:
    data = bytearray(src.read_bytes())
    rng = np.random.default_rng(seed)
    lo = min(len(data) - 1, 4096)  # keep the first header bytes: a damaged body, not an unknown format
    for i in rng.integers(lo, len(data), n):
        data[i] ^= 1 << int(rng.integers(0, 8))
    dst.write_bytes(bytes(data))
    return dst


def truncate(src: Path, dst: Path, share: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[:int(len(data) * share)])
    return dst


# ---------------------------------------------------------------- the corpus

def make_corpus(out: str | Path, full: bool = False, grid: str | Path | None = None) -> list[Case]:
    """Write the corpus into `out` -> its cases (also saved as out/cases.json)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []

    def add(name, kind, path, expect, **kw):
        cases.append(Case(name, kind, str(path), list(expect), **kw))

    frames, samples = synth.talking_face(BASE_S, seed=3)
    sync = synth.write_av(out / "in_sync.mp4", frames, samples)
    if grid is not None:  # the fake the learned model knows: a real clip with its audio 400 ms late
        fake = synth.reencode(grid, out / "fake_400ms.mp4", audio_delay_s=0.4)
    else:
        fake = synth.write_av(out / "fake_400ms.mp4", frames, synth.delay_audio(samples, 0.4))
    add("in_sync", "base", sync, NOT_FAKE, checks={"lip_sync": ["ok"]})
    add("fake_400ms", "base", fake, ["fake"], checks={"lip_sync": ["ok"]})
    faststart = remux(sync, out / "in_sync_faststart.mp4", options={"movflags": "faststart"})
    fake_fs = remux(fake, out / "fake_faststart.mp4", options={"movflags": "faststart"})

    # header-edited durations: the claim must not change what is decoded
    fake_mkv = remux(fake, out / "fake.mkv")
    sync_mkv = remux(sync, out / "in_sync.mkv")
    values = [math.nan, -8000e3, 0.0, 2000.0, 1e8, 1e12]  # ms: NaN, -8000 s, 0, 2 s, 1e5 s, 1e9 s
    for v in values if full else [math.nan, -8000e3, 0.0, 2000.0, 1e8, 1e12]:
        tag = "nan" if math.isnan(v) else f"{v / 1e3:g}s"
        add(f"fake_mkv_duration_{tag}", "header duration", patch_mkv_duration(fake_mkv, out / f"fake_dur_{tag}.mkv", v),
            ["fake"], checks={"lip_sync": ["ok"]}, same_as="fake_400ms")
        if full or v in (0.0, 1e12):
            add(f"sync_mkv_duration_{tag}", "header duration",
                patch_mkv_duration(sync_mkv, out / f"sync_dur_{tag}.mkv", v), NOT_FAKE, checks={"lip_sync": ["ok"]})
    for v in ([0, 1, 0xFFFFFFFF] if full else [0xFFFFFFFF]):
        add(f"fake_mp4_duration_{v}", "header duration", patch_mp4_duration(fake, out / f"fake_mp4dur_{v}.mp4", v),
            ["fake"], checks={"lip_sync": ["ok"]}, same_as="fake_400ms")

    # timestamps far from zero, late audio
    add("fake_ts_100000s", "far timestamps", remux(fake, out / "fake_t100000.mkv", offsets={"audio": 1e5, "video": 1e5}),
        ["fake"], same_as="fake_400ms")
    add("audio_at_600s", "late audio", remux(sync, out / "audio_600s.mkv", offsets={"audio": 600.0}),
        ["error"], error="do not overlap", max_s=10)
    if full:
        add("video_at_600s", "late audio", remux(sync, out / "video_600s.mkv", offsets={"video": 600.0}),
            ["error"], error="do not overlap", max_s=10)
        add("audio_at_5s", "late audio", remux(sync, out / "audio_5s.mkv", offsets={"audio": 5.0}),
            ["error"], error="do not overlap", max_s=10)

    # sample-rate forgery, long sparse video
    add("wav_1hz", "forged rate", write_wav_rate(out / "rate_1hz.wav", np.zeros(16000, np.float32), 1),
        ["error"], error="sample rate", max_s=1.0)
    if full:
        add("wav_2hz_speech", "forged rate", write_wav_rate(out / "rate_2hz.wav", samples, 2), ["error"],
            error="sample rate", max_s=1.0)
    long_s = 1800 if full else 300
    black = [np.zeros((64, 64, 3), np.uint8)] * long_s
    add(f"black_1fps_{long_s}s", "long 1 fps", synth.write_av(out / f"black_1fps_{long_s}s.mp4", black,
                                                               np.zeros(long_s * SAMPLE_RATE, np.float32), fps=1),
        [NA], checks={"lip_sync": [NA]}, max_s=60 if full else 30)

    # what cannot be judged
    face = synth.face_image()
    add("cover_art_mp3", "cover art", cover_art_mp3(out / "cover.mp3", samples, face), NOT_FAKE,
        checks={"lip_sync": [NA]})
    one_fps = [frames[int(k * 25)] for k in range(int(BASE_S))]
    add("in_sync_1fps", "1 fps", synth.write_av(out / "sync_1fps.mp4", one_fps, samples, fps=1), NOT_FAKE,
        checks={"lip_sync": [NA]})
    add("fake_1fps", "1 fps", synth.write_av(out / "fake_1fps.mp4", one_fps, synth.delay_audio(samples, 0.4), fps=1),
        NOT_FAKE, checks={"lip_sync": [NA]})
    add("stretched_480x854", "pixel aspect", stretched(out / "stretched.mp4", frames, samples), NOT_FAKE,
        checks={"lip_sync": ["ok"]})
    add("rotated_90", "rotation", rotate_mp4(synth.write_av(out / "turned.raw.mp4", [np.ascontiguousarray(
        np.rot90(f, 1)) for f in frames], samples), out / "rotated_90.mp4"), NOT_FAKE, checks={"lip_sync": ["ok"]})
    long_audio, _ = synth.synthetic_speech(8.0, seed=5)
    add("video_1s_audio_8s", "short video", synth.write_av(out / "v1s_a8s.mp4", frames[:25], long_audio), NOT_FAKE,
        checks={"lip_sync": [NA]})
    rng = np.random.default_rng(0)
    t = np.arange(int(10 * SAMPLE_RATE)) / SAMPLE_RATE
    noise = (0.1 * rng.standard_normal(len(t))).astype(np.float32)
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    voice_na = {"synthetic_speech": [NA], "speaker": [NA]}
    add("noise_wav", "noise", synth.write_av(out / "noise.wav", None, noise, audio_codec="pcm_s16le"), [NA],
        checks=voice_na)
    add("tone_wav", "tone", synth.write_av(out / "tone440.wav", None, tone, audio_codec="pcm_s16le"), [NA],
        checks=voice_na)
    add("random_amr", "random AMR", random_amr(out / "random.amr", 10.0, 0), [NA, "error"], checks=voice_na)
    add("noise_with_face", "noise", synth.write_av(out / "face_noise.mp4", frames, noise[:len(samples)]), [NA],
        checks={"lip_sync": [NA], "synthetic_speech": [NA]})
    if full:
        add("tone_with_face", "tone", synth.write_av(out / "face_tone.mp4", frames, tone[:len(samples)]), [NA],
            checks={"lip_sync": [NA], "synthetic_speech": [NA]})
        for seed in (1, 2):
            add(f"random_amr_{seed}", "random AMR", random_amr(out / f"random_{seed}.amr", 10.0, seed), [NA, "error"],
                checks=voice_na)
    add("two_audio_noise_first", "two audio streams", two_audio_streams(out / "two_audio.mkv", frames,
                                                                         noise[:len(samples)], samples),
        NOT_FAKE, checks={"lip_sync": ["ok"], "synthetic_speech": ["ok"]}, warn="audio streams")
    add("nan_samples_wav", "NaN samples", write_float_wav(out / "nan.wav", np.where(
        np.arange(len(samples)) % 7 == 0, np.nan, samples).astype(np.float32)), NOT_FAKE + ["error"])

    # other containers: the same timing as MP4
    for ext, fmt in (("ts", "mpegts"), ("flv", "flv"), ("mkv", "matroska"), ("webm", None)):
        if ext == "webm":
            continue  # WebM needs VP8/VP9 + Opus: covered by the MPEG-2 re-encode below
        add(f"in_sync_{ext}", "container", remux(sync, out / f"in_sync_remux.{ext}", fmt), NOT_FAKE,
            checks={"lip_sync": ["ok"]}, same_as="in_sync")
        add(f"fake_{ext}", "container", remux(fake, out / f"fake_remux.{ext}", fmt), ["fake"], same_as="fake_400ms")
    add("in_sync_mpeg2", "container", transcode(sync, out / "in_sync.mpg", "mpeg2video", "mp2", "mpeg"), NOT_FAKE,
        checks={"lip_sync": ["ok"]})
    add("fake_mpeg2", "container", transcode(fake, out / "fake.mpg", "mpeg2video", "mp2", "mpeg"), ["fake"])

    # truncation and corruption
    add("truncated_50", "truncation", truncate(faststart, out / "cut50.mp4", 0.5), NOT_FAKE + ["error"],
        warn="% of the")
    add("truncated_10", "truncation", truncate(faststart, out / "cut10.mp4", 0.1), ["error"])
    if full:
        for share in (0.3, 0.7, 0.9):
            add(f"fake_truncated_{int(share * 100)}", "truncation", truncate(fake_fs, out / f"fake_cut{int(share * 100)}.mp4",
                                                                               share), ["fake", "suspicious", NA, "error"])
    seeds = range(6) if full else range(2)
    for s in seeds:
        for src, tag in ((sync, "mp4"), (sync_mkv, "mkv")) if full else ((sync, "mp4"),):
            add(f"bitflip_{tag}_{s}", "bit flips", flip_bytes(src, out / f"flip_{tag}_{s}.{tag}", 400, s),
                ["authentic", "suspicious", "fake", NA, "error"])

    # plain odd input
    (out / "empty.mp4").write_bytes(b"")
    add("empty", "odd", out / "empty.mp4", ["error"], error="empty")
    (out / "text.mp4").write_text("not a video\n" * 40)
    add("text", "odd", out / "text.mp4", ["error"], error="not a readable")
    add("video_only", "odd", synth.write_av(out / "video_only.mp4", frames, None), [NA], checks={"lip_sync": [NA]})
    add("speech_only_flac", "odd", synth.write_av(out / "speech.flac", None, samples, audio_codec="flac"), NOT_FAKE,
        checks={"lip_sync": [NA], "synthetic_speech": ["ok"]})
    if full:
        for s in range(20):  # random bytes with a plausible extension
            p = out / f"random_{s}.{['mp4', 'mkv', 'wav', 'mp3', 'ts'][s % 5]}"
            p.write_bytes(np.random.default_rng(100 + s).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
            add(f"random_bytes_{s}", "odd", p, ["error", NA])
        for s in range(8):
            add(f"bitflip_fake_{s}", "bit flips", flip_bytes(fake, out / f"flip_fake_{s}.mp4", 100, 50 + s),
                ["authentic", "suspicious", "fake", NA, "error"])
        for s in range(6):
            add(f"flip_header_{s}", "bit flips", _flip_head(sync, out / f"flip_head_{s}.mp4", s),
                ["authentic", "suspicious", "fake", NA, "error"])
    for p in out.glob("*.raw.mp4"):
        p.unlink()
    if grid is not None:  # the learned model judges real faces; generated ones get the correlation check
        for c in cases:
            if c.name.startswith("fake") and c.kind not in ("1 fps",):
                c.method = "learned"
    (out / "cases.json").write_text(json.dumps([asdict(c) for c in cases], indent=1))
    return cases


def _flip_head(src: Path, dst: Path, seed: int) -> Path:
    """Bit flips inside the first 4 KB (container headers)."""
    data = bytearray(src.read_bytes())
    rng = np.random.default_rng(200 + seed)
    for i in rng.integers(0, min(4096, len(data)), 20):
        data[i] ^= 1 << int(rng.integers(0, 8))
    dst.write_bytes(bytes(data))
    return dst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--full", action="store_true", help="more seeds and variants (~120 files)")
    ap.add_argument("--grid", help="a real GRID clip for the 400 ms-late fake (learned model)")
    args = ap.parse_args()
    cases = make_corpus(args.out, args.full, args.grid)
    kinds = sorted({c.kind for c in cases})
    print(f"{len(cases)} files in {args.out} ({len(kinds)} classes: {', '.join(kinds)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
