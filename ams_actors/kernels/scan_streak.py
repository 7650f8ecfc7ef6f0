"""The scan's streak stage (issue 15 item 1): a fast meteor's light spread along its path by motion blur.

A meteor crossing 15-25 SD px in one 1/25 s exposure puts its light on a line; no single 2×2-binned pixel of
the difference frame may reach the point threshold (5.5 σ) while the line as a whole is far above the noise.
A matched filter along every direction on every frame costs several times the scan's budget; this stage
instead works on the few pixels above a low threshold (3.5 σ by default: a handful per frame of noise, found with one
``threshold`` + ``findNonZero``, as the point stage does), groups the ones that touch (allowing a one-pixel
gap), and keeps a group that is a line — at least ``streak_min_px`` pixels, elongated — whose summed light
over √(pixels) (the matched filter's statistic for a line of that many pixels, in the units of one pixel)
reaches the point threshold. Such a group becomes one peak at its light-weighted centre (where the truth and
the Verifier put a blurred meteor), with that statistic as its value, so the detector links and judges it like
any other peak.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray


def frame_streaks(small: NDArray[np.uint8], low_img: NDArray[np.uint8], d: NDArray[np.uint8], thresh: float, b: int, *,
                  points: Sequence[Sequence[float]] = (), before: Sequence[Sequence[float]] = (), gate: int = 12,
                  block: int = 4, margin: int = 16, min_px: int = 3, max_pts: int = 200,
                  max_windows: int = 8) -> list[list[float]]:
    """The frame's streaks (as ``streak_peaks``), grouping only the low-threshold pixels near the gated blocks that
    no steady light covers.

    ``small`` holds each ``block``×``block`` block's mean of ``low_img`` (non-zero where the binned difference ``d`` is
    over the low threshold); a block reaching ``gate`` passed the gate. A line the stage can find has a gated block on
    it (the gate's premise) and is at most a blurred fast meteor long (≤ ~16 binned px at 70 °/s), so the pixels within
    ``margin`` of the gated blocks hold every group worth keeping: the rest of the frame (its scattered noise pixels,
    found by a whole-frame ``findNonZero`` that alone cost ~60 µs) is left alone. A frame with more than ``max_pts``
    such pixels in all (a cloud, a lit frame) has none, as before.

    Most gated frames of a night are a plane's steady light or a twinkling star: a blob the grouping then finds not
    to be a line, in every frame. Such a light is a point peak (``points``, SD px) that had a point peak within
    ``STEADY_PX`` two frames before (``before``) too; a block it covers is not grouped. A blurred meteor's streaks
    abut from frame to frame (the exposure is the whole frame time), so its brightest pixel may stand next to the
    last frame's, but two frames apart a whole streak's length (≥ ~8 px where the stage matters) lies between
    them; and a streak passing beside a steady light keeps the blocks along it that the light does not cover."""
    by, bx = np.nonzero(small >= gate)
    blocks = list(zip(by.tolist(), bx.tolist(), strict=True))
    if points and before:
        lights = _steady(points, before)
        if lights:
            blocks = [bl for bl, c in zip(blocks, _covered(blocks, lights, block, b), strict=True) if not c]
            if not blocks:
                return []
    n_all = cv2.countNonZero(low_img)
    if n_all < min_px or n_all > max_pts:
        return []
    h, w = low_img.shape
    boxes = _merged([[max(y * block - margin, 0), min(y * block + block + margin, h), max(x * block - margin, 0),
                      min(x * block + block + margin, w)] for y, x in blocks])
    if len(boxes) > max_windows:  # many scattered gated blocks: one pass over the frame is cheaper
        boxes = [[0, h, 0, w]]
    out: list[tuple[int, list[float]]] = []
    for y0, y1, x0, x1 in boxes:
        ys, xs = np.nonzero(low_img[y0:y1, x0:x1])
        if len(ys) < min_px:
            continue
        pts = np.stack([xs + x0, ys + y0], axis=1)
        out.extend(_line_groups(pts, d[pts[:, 1], pts[:, 0]], thresh, b, min_px=min_px, width=w))
    out.sort(key=lambda o: o[0])  # the groups in raster order of their first pixel, as one whole-frame pass has them
    return [o[1] for o in out]


#: a point peak within this many SD px of one two frames before is a steady light (a plane, a star, a satellite:
#: ≤ ~1.5 px/frame, plus the ±1 px of a binned peak), never a blurred meteor (≥ ~8 px/frame, 16 in two frames)
STEADY_PX = 5.0


def _steady(points: Sequence[Sequence[float]], before: Sequence[Sequence[float]]) -> list[tuple[float, float]]:
    """The ``points`` ([x, y, ...], SD px) that had one of ``before`` within ``STEADY_PX``. (Plain loops: a frame has
    a few peaks, and numpy's per-call cost would be most of the time.)"""
    r = STEADY_PX
    return [(p[0], p[1]) for p in points if any(abs(p[0] - q[0]) <= r and abs(p[1] - q[1]) <= r for q in before)]


def _covered(blocks: list[tuple[int, int]], lights: list[tuple[float, float]], block: int, b: int,
             reach: float = 2.0) -> list[bool]:
    """Which gated ``blocks`` ((row, column)) hold a steady light or lie within ``reach`` binned px of one (the blob
    of a point source spreads ~2 binned px from its brightest pixel)."""
    binned = [((x + 0.5) / b - 0.5, (y + 0.5) / b - 0.5) for x, y in lights]
    lo, hi = -reach, block - 1 + reach
    return [any(lo <= lx - bx * block <= hi and lo <= ly - by * block <= hi for lx, ly in binned) for by, bx in blocks]


def _merged(boxes: list[list[int]], gap: int = 3) -> list[list[int]]:
    """``boxes`` ([y0, y1, x0, x1]) with every two that overlap or come within ``gap`` (more than the grouping's link
    distance) joined into their bounding box, until none do: no group spans two windows."""
    merged = True
    while merged and len(boxes) > 1:
        merged = False
        out: list[list[int]] = []
        for bx in boxes:
            for o in out:
                if bx[0] < o[1] + gap and o[0] < bx[1] + gap and bx[2] < o[3] + gap and o[2] < bx[3] + gap:
                    o[0], o[1], o[2], o[3] = min(o[0], bx[0]), max(o[1], bx[1]), min(o[2], bx[2]), max(o[3], bx[3])
                    merged = True
                    break
            else:
                out.append(bx)
        boxes = out
    return boxes


def streak_peaks(pts: NDArray[Any], pv: NDArray[Any], thresh: float, b: int, *, min_px: int = 3,
                 link_px: float = 2.3, min_elong: float = 3.0, max_pts: int = 200) -> list[list[float]]:
    """[x, y, value, half length] (full SD pixels) of the line-shaped groups among ``pts`` (binned pixels above the low
    threshold, values ``pv``) whose summed value over √n reaches ``thresh``; none when the points are many
    (a cloud, a lit frame: the point stage and the detector's crowding rules deal with those)."""
    if len(pv) > max_pts:
        return []
    return [g for _, g in _line_groups(pts, pv, thresh, b, min_px=min_px, link_px=link_px, min_elong=min_elong)]


def _line_groups(pts: NDArray[Any], pv: NDArray[Any], thresh: float, b: int, *, min_px: int = 3,
                 link_px: float = 2.3, min_elong: float = 3.0, width: int = 1 << 20) -> list[tuple[int, list[float]]]:
    """``streak_peaks``' groups, each with the raster index (y·``width`` + x) of its first pixel. (Every group's count
    and light by ``bincount`` at once; the moments only for the few that pass those, with the very arithmetic of the
    whole-frame version, so that a group whose elongation is exactly the limit on the pixel grid is judged alike.)"""
    n = len(pv)
    if n < min_px:
        return []
    x, y = pts[:, 0].astype(np.int64), pts[:, 1].astype(np.int64)
    dx, dy = x[:, None] - x[None, :], y[:, None] - y[None, :]
    adj = dx * dx + dy * dy <= link_px * link_px
    # noise above the low threshold is mostly single pixels: a point without a neighbour (each point is its own)
    # is a group of one, which no rule keeps
    if np.count_nonzero(adj) - n < 2 * (min_px - 1):
        return []
    lab = _components(adj)
    v = pv.astype(np.float64)
    cnt = np.bincount(lab, minlength=n)
    sums = np.bincount(lab, weights=v, minlength=n)
    ok = np.flatnonzero((cnt >= min_px) & (sums >= thresh * np.sqrt(cnt)))
    if len(ok) == 0:
        return []
    out: list[tuple[int, list[float]]] = []
    for g in ok.tolist():
        idx = np.flatnonzero(lab == g)
        gx, gy, w = x[idx].astype(np.float64), y[idx].astype(np.float64), v[idx]
        s = float(sums[g])
        cx, cy = float(gx @ w) / s, float(gy @ w) / s
        # elongation from the second moments (unweighted: the shape, not the light curve along it)
        ax, ay = gx - gx.mean(), gy - gy.mean()
        sxx, syy, sxy = float(ax @ ax) / len(idx), float(ay @ ay) / len(idx), float(ax @ ay) / len(idx)
        tr, det = sxx + syy, sxx * syy - sxy * sxy
        disc = math.sqrt(max(tr * tr / 4.0 - det, 0.0))
        l1, l2 = tr / 2.0 + disc, tr / 2.0 - disc
        if l1 < min_elong * max(l2, 1.0 / 12.0):
            continue
        half = math.sqrt(3.0 * l1) * b  # half the group's length (a uniform line's), SD px
        out.append((int(y[g]) * width + int(x[g]),  # g, the group's lowest index, is its first pixel
                    [(cx + 0.5) * b - 0.5, (cy + 0.5) * b - 0.5, float(round(s / math.sqrt(len(idx)))), half]))
    return out


def _components(adj: NDArray[np.bool_]) -> NDArray[np.intp]:
    """Each node's component, named by its lowest-numbered node, for a symmetric reflexive adjacency matrix.

    Label propagation (each node takes its neighbours' lowest label) with pointer jumping (then its label's label),
    until nothing changes: a few rounds for a streak. On the few dozen points near a gated block this costs a few µs
    where building scipy's sparse matrix for its ``connected_components`` cost ~0.3 ms, most of the stage's time (and
    a matrix product goes through BLAS, whose threads cost far more than the product on a busy machine)."""
    m = len(adj)
    lab = np.arange(m)
    while True:
        nxt = np.where(adj, lab[None, :], m).min(axis=1)
        nxt = nxt[nxt]
        if np.array_equal(nxt, lab):
            return lab
        lab = nxt


def merge_streaks(point: list[list[float]], streaks: list[list[float]], max_peaks: int) -> list[list[float]]:
    """The frame's peak list with its streaks: a point peak on a streak (the brightest pixel, which wanders
    along a blurred streak from frame to frame) is moved to the streak's centre and takes the larger value;
    a streak with no point peak on it is added. Brightest first, at most ``max_peaks``."""
    out = [list(p) for p in point]
    for x, y, v, half in streaks:
        on = [p for p in out if math.hypot(p[0] - x, p[1] - y) <= half + 2.0]
        if on:
            best = max(on, key=lambda p: p[2])
            best[0], best[1], best[2] = round(x, 1), round(y, 1), max(best[2], v)
        else:
            out.append([round(x, 1), round(y, 1), v])
    out.sort(key=lambda p: -p[2])
    return out[:max_peaks]
