"""Footage augmentations: make studio training windows look like real footage from the wild.

The sync corpus is mostly frontal news presenters and one GRID speaker, filmed still, in quiet
studios. Real footage (interviews, talk shows, drama, phone video) adds what these functions
simulate on a training batch, for every kind of window alike (issue 17, item 1):

lips (what FaceMesh gives on such footage, after landmarks.normalise_face):
    head motion   smooth yaw / pitch / roll / nod over the window: time-varying per-axis scale,
                  rotation and shift of the lip points (0.2-1.5 Hz curves)
    frame rate    24-60 fps sources put on the 25 fps grid by nearest frame (sub-frame time warp,
                  one repeated frame a second at 24 fps)
    resolution    blurred, re-compressed mouths: temporally correlated landmark noise and smoothing
    occlusion     a hand or microphone over the mouth: a run of frames without a face
audio (before the audio front end):
    crowd         other people's speech under the speaker (another window of the batch), 5-20 dB SNR
    music         synthetic notes and percussion under speech, 0-15 dB SNR
    room          reverberation (exponentially decaying noise, RT60 0.2-0.8 s)

Each transform is applied to a row with probability p (FootageConfig); p = 0 leaves a batch alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..constants import SAMPLE_RATE, VIDEO_FPS

SOURCE_FPS = (24.0, 30.0, 50.0, 60.0)  # frame rates re-timed onto the 25 fps grid
MOTION_HZ = (0.2, 1.5)  # head-motion curve frequencies
MAX_YAW_SCALE = 0.2  # x foreshortening by a head turn (cos 37 deg = 0.8)
MAX_PITCH_SCALE = 0.12  # y foreshortening by a nod
MAX_SHIFT = 0.08  # inter-ocular units the mouth moves relative to the eye centre
MAX_ROLL_RAD = 0.12  # ~7 degrees
MAX_NOISE = 0.012  # inter-ocular units: landmark noise std of a small, compressed face
OCCLUSION_FRAMES = (4, 15)
CROWD_SNR_DB = (5.0, 20.0)
MUSIC_SNR_DB = (0.0, 15.0)
RT60_S = (0.2, 0.8)


@dataclass(frozen=True)
class FootageConfig:
    """Probability that a window gets each transform."""

    motion: float = 0.5
    frame_rate: float = 0.3
    noise: float = 0.5
    smooth: float = 0.3
    occlusion: float = 0.15
    crowd: float = 0.15
    music: float = 0.15
    room: float = 0.25

    @classmethod
    def scaled(cls, p: float) -> "FootageConfig":
        """Every probability times p (0 = off, 1 = the defaults)."""
        return cls(**{k: v * p for k, v in cls().__dict__.items()})


def _rand(shape, gen: torch.Generator, lo: float = 0.0, hi: float = 1.0) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(shape, generator=gen)


def _pick(b: int, p: float, gen: torch.Generator) -> torch.Tensor:
    return torch.rand(b, generator=gen) < p


def smooth_curves(b: int, t: int, gen: torch.Generator) -> torch.Tensor:
    """-> (B, T) slow random curves in [-1, 1]: a sum of two sinusoids of 0.2-1.5 Hz."""
    time = torch.arange(t, dtype=torch.float32)[None] / VIDEO_FPS
    out = torch.zeros(b, t)
    for _ in range(2):
        f = _rand((b, 1), gen, *MOTION_HZ)
        phase = _rand((b, 1), gen, 0, 2 * math.pi)
        out = out + 0.5 * torch.sin(2 * math.pi * f * time + phase)
    return out


def head_motion(lips: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """lips (B, T, P, 2) -> the same mouths on a moving head (time-varying scale, roll and shift)."""
    b, t = lips.shape[:2]
    amp = lambda m: _rand((b, 1), gen, 0, m) * smooth_curves(b, t, gen)  # noqa: E731
    sx, sy = 1 - amp(MAX_YAW_SCALE).abs(), 1 - amp(MAX_PITCH_SCALE).abs()
    ang = amp(MAX_ROLL_RAD)
    dx, dy = amp(MAX_SHIFT), amp(MAX_SHIFT)
    x, y = lips[..., 0] * sx[..., None], lips[..., 1] * sy[..., None]
    c, s = torch.cos(ang)[..., None], torch.sin(ang)[..., None]
    return torch.stack([c * x - s * y + dx[..., None], s * x + c * y + dy[..., None]], -1)


def retime(lips: torch.Tensor, valid: torch.Tensor, fps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """lips (B, T, P, 2), valid (B, T), fps (B,) source frame rates -> the track a scan of such a
    source would give: frame j shows the source frame nearest j / 25 s, whose lips lie between
    two of ours (linear interpolation; invalid where a neighbour is)."""
    b, t = valid.shape
    j = torch.arange(t, dtype=torch.float32)[None]
    pos = (torch.round(j / VIDEO_FPS * fps[:, None]) / fps[:, None] * VIDEO_FPS).clamp(0, t - 1)  # (B, T)
    i0 = pos.floor().long()
    i1 = (i0 + 1).clamp(max=t - 1)
    w = (pos - i0)[..., None, None]
    g = lambda x, i: torch.gather(x, 1, i[..., None, None].expand(-1, -1, *x.shape[2:]))  # noqa: E731
    a, c = g(lips, i0), g(lips, i1)
    out = torch.where(w > 0, (1 - w) * a + w * c, a)
    ok = torch.gather(valid, 1, i0) & (torch.gather(valid, 1, i1) | (w[..., 0, 0] == 0))
    return out, ok


def landmark_noise(lips: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """lips (B, T, P, 2) -> plus noise that drifts over a few frames (std up to MAX_NOISE)."""
    b = lips.shape[0]
    n = torch.randn(lips.shape, generator=gen)
    n = (n + torch.roll(n, 1, 1) + torch.roll(n, -1, 1)) / math.sqrt(3)  # correlated over ~3 frames
    return lips + _rand((b, 1, 1, 1), gen, 0, MAX_NOISE) * n


def smooth_track(lips: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(B, T, P, 2) -> 3-tap [1/4, 1/2, 1/4] smoothing over time where both neighbours are valid."""
    prev, nxt = torch.roll(lips, 1, 1), torch.roll(lips, -1, 1)
    both = (torch.roll(valid, 1, 1) & torch.roll(valid, -1, 1) & valid)
    both[:, 0] = both[:, -1] = False
    return torch.where(both[..., None, None], 0.25 * prev + 0.5 * lips + 0.25 * nxt, lips)


def occlude(valid: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """(B, T) -> a run of 4-15 frames at a random place marked faceless."""
    b, t = valid.shape
    n = torch.randint(OCCLUSION_FRAMES[0], OCCLUSION_FRAMES[1] + 1, (b, 1), generator=gen)
    start = (torch.rand(b, 1, generator=gen) * (t - n).clamp(min=1)).long()
    j = torch.arange(t)[None]
    return valid & ~((j >= start) & (j < start + n))


def augment_lips(lips: torch.Tensor, valid: torch.Tensor, gen: torch.Generator,
                 cfg: FootageConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """lips (B, T, 40, 2) (NaN where invalid), valid (B, T) -> footage-like (lips, valid)."""
    b = lips.shape[0]
    x = torch.nan_to_num(lips)
    x = torch.where(_pick(b, cfg.motion, gen)[:, None, None, None], head_motion(x, gen), x)
    fps = torch.tensor(SOURCE_FPS)[torch.randint(len(SOURCE_FPS), (b,), generator=gen)]
    rx, rv = retime(x, valid, fps)
    pick = _pick(b, cfg.frame_rate, gen)
    x, valid = torch.where(pick[:, None, None, None], rx, x), torch.where(pick[:, None], rv, valid)
    x = torch.where(_pick(b, cfg.noise, gen)[:, None, None, None], landmark_noise(x, gen), x)
    x = torch.where(_pick(b, cfg.smooth, gen)[:, None, None, None], smooth_track(x, valid), x)
    valid = torch.where(_pick(b, cfg.occlusion, gen)[:, None], occlude(valid, gen), valid)
    return x, valid


def _mix(audio: torch.Tensor, other: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
    """(B, N) speech + (B, N) background scaled to snr_db (B, 1) below it."""
    ps = audio.pow(2).mean(1, keepdim=True).clamp_min(1e-8)
    po = other.pow(2).mean(1, keepdim=True).clamp_min(1e-8)
    return audio + other * (ps / po / 10 ** (snr_db / 10)).sqrt()


def music(b: int, n: int, gen: torch.Generator) -> torch.Tensor:
    """-> (B, N) synthetic music: a melody of harmonic notes (110-880 Hz, 0.15-0.6 s each) over
    decaying noise beats (80-160 bpm)."""
    t = torch.arange(n, dtype=torch.float32)[None] / SAMPLE_RATE
    out = torch.zeros(b, n)
    note_s = _rand((b, 1), gen, 0.15, 0.6)
    idx = (t / note_s).floor()  # (B, N) note number
    n_notes = int(idx.max()) + 1
    f0 = 110 * 2 ** (torch.randint(0, 37, (b, n_notes), generator=gen) / 12)  # semitones over 3 octaves
    f = torch.gather(f0, 1, idx.long())
    phase = 2 * math.pi * torch.cumsum(f / SAMPLE_RATE, 1)
    for h in range(1, 5):
        out = out + torch.sin(h * phase) / h
    beat_s = 60 / _rand((b, 1), gen, 80, 160)
    since = torch.remainder(t, beat_s)
    out = out + 2 * torch.randn(b, n, generator=gen) * torch.exp(-since / 0.03)
    return out


def room(audio: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """(B, N) -> reverberant (B, N): convolved with direct sound + exponentially decaying noise."""
    b, n = audio.shape
    rt60 = _rand((b, 1), gen, *RT60_S)
    k = int(RT60_S[1] * SAMPLE_RATE)
    t = torch.arange(k, dtype=torch.float32)[None] / SAMPLE_RATE
    rir = torch.randn(b, k, generator=gen) * torch.exp(-6.9 * t / rt60) * 0.1
    rir[:, 0] = 1.0
    size = n + k
    y = torch.fft.irfft(torch.fft.rfft(audio, size) * torch.fft.rfft(rir, size), size)[:, :n]
    return y * (audio.abs().amax(1, keepdim=True) / y.abs().amax(1, keepdim=True).clamp_min(1e-8))


def _where_rows(x: torch.Tensor, pick: torch.Tensor, fn) -> torch.Tensor:
    """x (B, N), pick (B,) bool -> x with fn(x[pick], pick) in the picked rows (fn runs on those only)."""
    if not pick.any():
        return x
    out = x.clone()
    out[pick] = fn(x[pick], pick)
    return out


def augment_audio(audio: torch.Tensor, gen: torch.Generator, cfg: FootageConfig) -> torch.Tensor:
    """(B, N) waveforms -> with crowd speech (another row's audio), music and room reverb (B, N)."""
    b, n = audio.shape
    x = audio
    if b > 1:
        others = torch.roll(audio, 1, 0)
        x = _where_rows(x, _pick(b, cfg.crowd, gen), lambda r, k: _mix(
            r, others[k], _rand((len(r), 1), gen, *CROWD_SNR_DB)))
    x = _where_rows(x, _pick(b, cfg.music, gen), lambda r, k: _mix(
        r, music(len(r), n, gen), _rand((len(r), 1), gen, *MUSIC_SNR_DB)))
    x = _where_rows(x, _pick(b, cfg.room, gen), lambda r, k: room(r, gen))
    return x.clamp(-1, 1)
