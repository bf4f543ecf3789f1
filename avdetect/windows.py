"""The window grid every check slides over a clip (frames or samples: n, length and hop share a unit)."""

from __future__ import annotations


def window_starts(n: int, length: int, hop: float, *, tail: bool = True, min_length: int | None = None) -> list[int]:
    """Starts of windows of `length` every `hop` over n items -> [start, ...], ascending.

    Window k starts at int(round(k * hop)) (Python's round: half to even, so a 12.5-frame hop
    gives 0, 12, 25, 38, 50) while it fits (start + length <= n). tail: when the grid leaves the
    end uncovered, one more window ends exactly at n (starts at n - length).
    n < length: one window [0] (the caller cuts it to n) when n >= min_length, else none;
    min_length defaults to length (no window shorter than `length`).
    """
    assert length > 0 and hop > 0, (length, hop)
    if n < length:
        return [0] if n >= (length if min_length is None else min_length) else []
    starts, k = [], 0
    while (s := int(round(k * hop))) + length <= n:
        starts.append(s)
        k += 1
    if tail and starts[-1] + length < n:
        starts.append(n - length)
    return starts
