"""Coarse clock alignment: find station clocks that are seconds off before the fine fit runs.

The timing fit (timing.py) refines clock offsets of a fraction of a second, but a station stamped
seconds late (Winchcombe's RMS record: ~10 s) breaks the steps before it: the Earth turns the
station ~3 km out of place in the inertial frame, its sight lines miss the line by arcminutes, and
the robust fits treat its points as outliers. Lengths along a first line are still good enough to
align on, because they depend on where each station saw the meteor, not on when: a station whose
clock runs late reaches the same length later. So for every pair of stations whose tracks overlap
along the line, the time one needs to reach the other's lengths (interpolated in its own length
vs time, no model) gives the difference of their offsets; a least-squares solve of those pairwise
differences, the reference clock held at 0, gives every offset. Medians keep a few bad points out.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Float = NDArray[np.float64]
Int = NDArray[np.int64]

#: Offsets smaller than this are left to the timing fit (which measures them better).
COARSE_MIN_S = 0.5
#: Points of one station needed inside another's length range for the pair to count.
MIN_OVERLAP = 3


def pair_difference(t_j: Float, l_j: Float, t_k: Float, l_k: Float) -> tuple[float, int] | None:
    """Median of (time station j reaches station k's lengths) − (station k's time), and the count."""
    order = np.argsort(l_j)
    ls, ts = l_j[order], t_j[order]
    inside = (l_k > ls[0]) & (l_k < ls[-1])
    n = int(inside.sum())
    if n < MIN_OVERLAP:
        return None
    return float(np.median(np.interp(l_k[inside], ls, ts) - t_k[inside])), n


def coarse_clock_offsets(t: Float, clock: Int, n_clocks: int, lengths: Float, ref: int) -> Float:
    """Seconds to add to each clock's times (``ref`` = 0); clocks that overlap no other stay at 0."""
    rows: list[Float] = []
    rhs: list[float] = []
    weights: list[float] = []
    for j in range(n_clocks):
        for k in range(j + 1, n_clocks):
            sj, sk = clock == j, clock == k
            if sj.sum() < 2 or sk.sum() < 2:
                continue
            # both directions: k's points within j's range, and j's within k's
            for a, b, sign in ((j, k, 1.0), (k, j, -1.0)):
                sa, sb = clock == a, clock == b
                got = pair_difference(t[sa], lengths[sa], t[sb], lengths[sb])
                if got is None:
                    continue
                # o_b − o_a = d(a, b), i.e. o_k − o_j = sign · d
                row = np.zeros(n_clocks)
                row[k], row[j] = 1.0, -1.0
                rows.append(row)
                rhs.append(sign * got[0])
                weights.append(np.sqrt(got[1]))
    out = np.zeros(n_clocks)
    if not rows:
        return out
    a = np.array(rows) * np.array(weights)[:, None]
    b = np.array(rhs) * np.array(weights)
    free = [c for c in range(n_clocks) if c != ref and np.any(a[:, c] != 0.0)]
    if not free:
        return out
    coef, *_ = np.linalg.lstsq(a[:, free], b, rcond=None)
    out[free] = coef
    return out


def needs_alignment(offsets: Float, current: Float) -> bool:
    """True when an offset differs from the one already applied by more than the fine fit handles."""
    return bool(np.max(np.abs(offsets - current)) >= COARSE_MIN_S)
