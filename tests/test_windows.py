"""The one window grid (avdetect.windows) and the policies the checks build on it."""

from __future__ import annotations

import numpy as np
import pytest

from avdetect.constants import SYNC_HOP_S, VIDEO_FPS
from avdetect.windows import window_starts


def test_grid_rounds_half_to_even_and_adds_a_window_ending_at_the_clip_end():
    hop = SYNC_HOP_S * VIDEO_FPS  # 12.5 frames
    assert window_starts(100, 50, hop) == [0, 12, 25, 38, 50]  # ends exactly at 100: no extra window
    assert window_starts(105, 50, hop) == [0, 12, 25, 38, 50, 55]
    assert window_starts(105, 50, hop, tail=False) == [0, 12, 25, 38, 50]
    assert window_starts(10 * 16_000 + 123, 4 * 16_000, 16_000)[-1] == 6 * 16_000 + 123


def test_a_clip_shorter_than_a_window_gets_one_cut_window_only_when_asked():
    assert window_starts(40, 50, 12.5) == []  # default: no window shorter than `length`
    assert window_starts(40, 50, 12.5, min_length=35) == [0]
    assert window_starts(34, 50, 12.5, min_length=35) == []
    assert window_starts(0, 50, 12.5, min_length=0) == [0]


def test_the_correlation_grid_has_no_window_shifted_to_the_clip_end():
    """The training-free check's windows (its numbers depend on them): 2 s every 0.5 s, no tail."""
    from avdetect.checks.sync_correlation import MIN_CLIP_FRAMES, correlate, make_signals

    n = 105
    rng = np.random.default_rng(0)
    sig = make_signals(rng.normal(size=(n, 40, 2)), np.ones(n, bool), rng.normal(size=n), np.ones(n, bool))
    assert [w.start_frame for w in correlate(sig, np.ones(n, bool), np.ones(n, bool))] == [0, 12, 25, 38, 50]
    short = MIN_CLIP_FRAMES + 5
    assert [w.start_frame for w in correlate(sig, np.ones(short, bool), np.ones(short, bool))] == [0]


@pytest.mark.parametrize("n, bounds", [(0, [(0, 0)]), (60, [(0, 60)]), (100, [(0, 100)]),
                                       (101, [(0, 100), (50, 101)]), (150, [(0, 100), (50, 150)]),
                                       (151, [(0, 100), (50, 150), (100, 151)])])
def test_speaker_segments_start_every_hop_and_are_cut_at_the_clip_end(n, bounds):
    """checks/speaker: 4 s segments every 2 s (100 / 50 frames), the last one cut at the clip end."""
    from avdetect.checks.speaker import segment_bounds

    assert segment_bounds(n) == bounds
