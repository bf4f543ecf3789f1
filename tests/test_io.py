import math

import numpy as np
import pytest

from avdetect import io, synth
from avdetect.constants import SAMPLE_RATE, VIDEO_FPS
from conftest import frame_index, index_frames


def _levels(path) -> dict[int, int]:
    return {k: frame_index(img) for k, img in io.iter_video_frames(path)}


def test_probe_and_audio(in_sync_mp4):
    info = io.probe(in_sync_mp4)
    assert info.has_audio and info.has_video
    assert info.audio_start_s == pytest.approx(0, abs=0.03) and info.video_start_s == pytest.approx(0, abs=1e-6)
    clip = io.load_audio(in_sync_mp4, info)
    assert clip.samples.dtype == np.float32 and clip.samples.ndim == 1
    assert clip.duration_s == pytest.approx(6.0, abs=0.1)
    frames = list(io.iter_video_frames(in_sync_mp4, info))
    assert [k for k, _ in frames] == list(range(150))
    assert frames[0][1].shape == (256, 256, 3) and frames[0][1].dtype == np.uint8


def test_audio_placed_by_container_start_time(talking, tmp_path):
    frames, samples = talking
    late = synth.write_av(tmp_path / "late.mp4", frames, samples, audio_start_s=0.2)
    info = io.probe(late)
    assert 0.1 < info.audio_start_s <= 0.2  # the stream starts with AAC priming (1024 samples)
    ref = io.load_audio(synth.write_av(tmp_path / "ref.mp4", frames, samples))
    got = io.load_audio(late, info)
    # the late file's audio equals the reference shifted by 200 ms
    lag = np.argmax(np.correlate(got.samples[:SAMPLE_RATE * 3], ref.samples[:SAMPLE_RATE * 2], "valid"))
    assert lag / SAMPLE_RATE == pytest.approx(0.2, abs=0.002)


@pytest.mark.parametrize("fps", [24, 30, 50, 60, 30000 / 1001])
def test_frame_rate_conversion_picks_nearest_frame(tmp_path, fps):
    n = int(round(3.0 * fps))
    path = synth.write_av(tmp_path / "rate.mp4", index_frames(n), None, fps=fps)
    levels = _levels(path)
    assert len(levels) == math.ceil(n / fps * VIDEO_FPS - 1e-6)
    for k, level in levels.items():
        expected = min(n - 1, int(round(k / VIDEO_FPS * fps)))
        assert abs(level - expected) <= 1, (k, level, expected)


def test_variable_frame_rate_keeps_time(tmp_path):
    rng = np.random.default_rng(0)
    times = np.cumsum(rng.uniform(0.02, 0.06, 70))
    times -= times[0]
    path = synth.write_av(tmp_path / "vfr.mp4", index_frames(70), None, frame_times=list(times))
    for k, level in _levels(path).items():
        nearest = int(np.argmin(np.abs(times - k / VIDEO_FPS)))
        assert abs(times[level] - times[nearest]) <= 0.021, (k, level, nearest)


@pytest.mark.parametrize("suffix,codec,rate,channels", [
    (".wav", "pcm_s16le", 44100, 2), (".flac", "flac", 8000, 1), (".mp3", "libmp3lame", 22050, 1),
    (".m4a", "aac", 48000, 2), (".opus", "libopus", 48000, 1), (".mkv", "flac", 16000, 1)])
def test_audio_formats(tmp_path, talking, suffix, codec, rate, channels):
    _, samples = talking
    path = synth.write_av(tmp_path / f"a{suffix}", None, samples[: SAMPLE_RATE * 2], audio_codec=codec,
                          audio_rate=rate, audio_channels=channels)
    info = io.probe(path)
    assert info.has_audio and not info.has_video
    clip = io.load_audio(path, info)
    assert clip.duration_s == pytest.approx(2.0, abs=0.08)
    assert list(io.iter_video_frames(path, info)) == []


def _expect_error(path, fragment):
    with pytest.raises(io.MediaError) as e:
        info = io.probe(path)
        io.load_audio(path, info)
        list(io.iter_video_frames(path, info))
    msg = str(e.value)
    assert "\n" not in msg and fragment in msg, msg


def test_bad_inputs(tmp_path, in_sync_mp4):
    _expect_error(tmp_path / "missing.mp4", "no such file")
    _expect_error(tmp_path, "directory")
    (tmp_path / "empty.mp4").write_bytes(b"")
    _expect_error(tmp_path / "empty.mp4", "empty")
    (tmp_path / "text.mp4").write_text("this is not a video\n" * 50)
    _expect_error(tmp_path / "text.mp4", "not a readable media file")
    data = in_sync_mp4.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 3])  # moov atom at the end is lost
    _expect_error(tmp_path / "cut.mp4", "cut.mp4")


def test_timeline_length_matches_duration(in_sync_mp4):
    info = io.probe(in_sync_mp4)
    assert info.n_frames == math.ceil(info.duration_s * VIDEO_FPS - 1e-6)


def test_containers_share_the_timeline(in_sync_mp4, tmp_path):
    """MPEG-TS, FLV and Matroska keep AAC priming and start offsets that MP4 trims: the timeline
    is the same in all (audio to the sample, video slots identical)."""
    import av

    ref = io.load_audio(in_sync_mp4).samples
    ref_frames = dict(io.iter_video_frames(in_sync_mp4))
    for ext, fmt in (("ts", "mpegts"), ("flv", "flv"), ("mkv", "matroska")):
        dst = tmp_path / f"copy.{ext}"
        with av.open(str(in_sync_mp4)) as i, av.open(str(dst), "w", format=fmt) as o:
            out = {s.index: o.add_stream_from_template(s) for s in i.streams}
            for pkt in i.demux():
                if pkt.dts is not None:
                    pkt.stream = out[pkt.stream.index]
                    o.mux(pkt)
        got = io.load_audio(dst).samples
        n = min(len(got), len(ref)) - 2000
        assert np.abs(got[:n] - ref[:n]).max() < 1e-3, ext
        frames = dict(io.iter_video_frames(dst))
        assert sorted(frames) == sorted(ref_frames), ext
        assert np.abs(frames[40].astype(int) - ref_frames[40]).mean() < 2, ext


def test_forged_rate_is_rejected_fast(tmp_path):
    import struct
    import time

    pcm = np.zeros(16000, "<i2").tobytes()  # 32 KB of samples whose header says 1 Hz
    hdr = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 1, 2, 2, 16) \
        + b"data" + struct.pack("<I", len(pcm))
    (tmp_path / "1hz.wav").write_bytes(hdr + pcm)
    t = time.monotonic()
    _expect_error(tmp_path / "1hz.wav", "sample rate 1 Hz")
    assert time.monotonic() - t < 1.0


def test_last_frame_is_not_repeated_to_the_audio_end(tmp_path, talking):
    frames, samples = talking
    path = synth.write_av(tmp_path / "short_video.mp4", frames[:25], samples)  # 1 s of video, 6 s of audio
    info = io.probe(path)
    assert info.overlap_s == pytest.approx(1.0, abs=0.05)
    assert [k for k, _ in io.iter_video_frames(path, info)] == list(range(25))


def test_tall_frames_downscaled_with_a_filter_to_max_height(tmp_path):
    """A 1280x720 source comes out 854x480, filtered: one-pixel stripes keep their mean level and
    come out near mid-grey (column std with swscale's bilinear, PyAV's default: 12; fast bilinear 58,
    point sampling 99)."""
    img = np.zeros((720, 1280, 3), np.uint8)
    img[:, 0::2] = 200  # one-pixel vertical stripes: 100 on average
    path = synth.write_av(tmp_path / "hd.mp4", [img] * 5, None)
    frames = list(io.iter_video_frames(path))
    assert frames and frames[0][1].shape == (io.DEFAULT_MAX_HEIGHT, 854, 3)
    cols = frames[0][1][40:-40, 40:-40, 1].astype(float).mean(0)
    assert abs(cols.mean() - 100) < 8 and cols.std() < 40, (cols.mean(), cols.std())
