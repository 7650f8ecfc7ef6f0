"""The scan's streak stage (issue 15 item 1): a fast meteor's light spread along its path by motion blur.

A meteor crossing 15-25 SD px in one 1/25 s exposure puts its light on a line; no single 2×2-binned pixel of
the difference frame may reach the point threshold (5.5 σ) while the line as a whole is far above the noise.
A matched filter along every direction on every frame costs several times the scan's budget; this stage
instead works on the few pixels above a low threshold (3.5 σ by default: a handful per frame of noise), groups the
ones that touch (allowing a one-pixel gap), and keeps a group that is a line — at least ``streak_min_px`` pixels,
elongated — whose summed light over √(pixels) (the matched filter's statistic for a line of that many pixels, in
the units of one pixel) reaches the point threshold. Such a group becomes one peak at its light-weighted centre
(where the truth and the Verifier put a blurred meteor), with that statistic as its value, so the detector links
and judges it like any other peak.

What keeps it cheap (it runs on every frame of every minute; the budget is ~3 % of the scan's CPU): a gate of three
OpenCV calls (``StreakGate``: a 4×4 block holding ≥ 3 low pixels) on every frame; then the blocks of steady lights
cleared (``clear_steady``: a plane's or a star's light passes the gate in frame after frame, and its blob is never a
line); then the grouping only on the pixels near the blocks left (``frame_streaks``), in a few numpy calls. On a
busy 2-core machine the numpy calls' own cost (µs each), not the arithmetic on a few dozen points, is most of the
grouping's time, which is why the code counts them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray


class StreakGate:
    """The stage's cheap gate, run on every frame: does a 4×4 block (of binned pixels) hold ≥ 3 pixels over the low
    threshold? Noise over it is single scattered pixels. Three OpenCV calls and a ``minMaxLoc``, ~20 µs a frame:
    the threshold to 64 (so the block's mean is 12 for three) and two 2× INTER_AREA steps (OpenCV's fast path; one
    4× step costs five times more). ``low`` and ``small`` (the block means) are kept for ``frame_streaks``."""

    GATE = 12

    def __init__(self, bh: int, bw: int) -> None:
        self.low = np.zeros((bh, bw), np.uint8)
        self.sh, self.sw = bh // 4 * 4, bw // 4 * 4
        self.half = np.zeros((self.sh // 2, self.sw // 2), np.uint8)
        self.small = np.zeros((self.sh // 4, self.sw // 4), np.uint8)

    def passes(self, d: NDArray[np.uint8], low: int) -> bool:
        """Whether a block of the binned difference ``d`` holds ≥ 3 pixels ≥ ``low``."""
        sh, sw = self.sh, self.sw
        cv2.threshold(d, low - 1, 64, cv2.THRESH_BINARY, dst=self.low)
        cv2.resize(self.low[:sh, :sw], (sw // 2, sh // 2), dst=self.half, interpolation=cv2.INTER_AREA)
        cv2.resize(self.half, (sw // 4, sh // 4), dst=self.small, interpolation=cv2.INTER_AREA)
        return bool(cv2.minMaxLoc(self.small)[1] >= self.GATE)


def frame_streaks(small: NDArray[np.uint8], low_img: NDArray[np.uint8], d: NDArray[np.uint8], thresh: float, b: int, *,
                  gate: int = StreakGate.GATE, block: int = 4, margin: int = 16, min_px: int = 3, max_pts: int = 200,
                  max_windows: int = 8) -> list[list[float]]:
    """The frame's streaks ([x, y, value, half length], SD px; see ``_line_groups``), grouping only the low-threshold
    pixels near the gated blocks.

    ``small`` holds each ``block``×``block`` block's mean of ``low_img`` (non-zero where the binned difference ``d`` is
    over the low threshold); a block reaching ``gate`` passed the gate. A line the stage can find has a gated block on
    it (the gate's premise) and is at most a blurred fast meteor long (≤ ~16 binned px at 70 °/s, 640 px wide: the
    scan passes 16 × ``width_factor``), so the pixels within ``margin`` of the gated blocks hold every group worth
    keeping: the rest of the frame (its scattered noise pixels, found by a whole-frame ``findNonZero`` that alone cost
    ~60 µs) is left alone. A frame with more than ``max_pts``
    such pixels in all (a cloud, a lit frame) has none, as before."""
    sw = small.shape[1]
    blocks = [divmod(i, sw) for i in np.flatnonzero(small >= gate).tolist()]  # (row, column); (2-D nonzero: 5× slower)
    n_all = cv2.countNonZero(low_img)
    if n_all < min_px or n_all > max_pts:
        return []
    h, w = low_img.shape
    boxes = _merged([[max(y * block - margin, 0), min(y * block + block + margin, h), max(x * block - margin, 0),
                      min(x * block + block + margin, w)] for y, x in blocks])
    if len(boxes) > max_windows:  # many scattered gated blocks: one pass over the frame is cheaper
        boxes = [[0, h, 0, w]]
    if len(boxes) == 1:  # the usual case: the window's own coordinates, shifted back at the end
        y0, y1, x0, x1 = boxes[0]
        nz = cv2.findNonZero(low_img[y0:y1, x0:x1])
        if nz is None:
            return []
        pts = nz.reshape(-1, 2)
        pv = d[y0:y1, x0:x1][pts[:, 1], pts[:, 0]]
    else:  # (windows ≥ 3 px apart: no group spans two, so they are grouped together)
        found = [(nz, bx) for bx in boxes if (nz := cv2.findNonZero(low_img[bx[0]:bx[1], bx[2]:bx[3]])) is not None]
        if not found:
            return []
        pts = np.concatenate([nz.reshape(-1, 2) + np.array((bx[2], bx[0]), np.int32) for nz, bx in found])
        pv = d[pts[:, 1], pts[:, 0]]
        x0 = y0 = 0
    out = _line_groups(pts, pv, thresh, b, min_px=min_px, origin=(x0, y0), width=w)
    out.sort(key=lambda o: o[0])  # the groups in raster order of their first pixel, as one whole-frame pass has them
    return [o[1] for o in out]


#: a point peak within this many SD px of one two frames before is a steady light (a plane, a star, a satellite:
#: ≤ ~1.5 px/frame, plus the ±1 px of a binned peak), never a blurred meteor (≥ ~8 px/frame, 16 in two frames).
#: Pixels of a 640-px-wide frame (90°): the scan scales it, and ``frame_streaks``'s margin, by ``width_factor``
STEADY_PX = 5.0


def clear_steady(small: NDArray[np.uint8], points: Sequence[Sequence[float]], before: Sequence[Sequence[float]],
                 b: int, *, gate: int = StreakGate.GATE, block: int = 4, reach: float = 2.0,
                 steady_px: float = STEADY_PX) -> bool:
    """Clear (in ``small``, the gate's block image) the blocks a steady light covers; say whether a gated block is left.

    Most gated frames of a night are a plane's steady light or a twinkling star: a blob that the grouping then finds
    not to be a line, in every frame. Such a light is a point peak (``points``, SD px) that had a point peak within
    ``steady_px`` (``STEADY_PX`` × ``width_factor`` from the scan) two frames before (``before``) too; the blocks
    within ``reach`` binned px of it (a point source's blob spreads ~2 binned px from its brightest pixel) are not
    grouped. A blurred meteor's streaks abut from frame
    to frame (the exposure is the whole frame time), so its brightest pixel may stand next to the last frame's, but
    two frames apart a whole streak's length (≥ ~8 px where the stage matters) lies between them; and a streak
    passing beside a steady light keeps the blocks along it that the light does not cover. (Plain loops: a frame
    has a few peaks, and numpy's per-call cost would be most of the time.)"""
    r = steady_px
    lights = [p for p in points if any(abs(p[0] - q[0]) <= r and abs(p[1] - q[1]) <= r for q in before)]
    if not lights:
        return True
    h, w = small.shape
    for p in lights:
        lx, ly = (p[0] + 0.5) / b - 0.5, (p[1] + 0.5) / b - 0.5  # binned px
        # the blocks k with k·block - reach ≤ l ≤ k·block + block - 1 + reach
        x0, x1 = max(math.ceil((lx - block + 1 - reach) / block), 0), min(math.floor((lx + reach) / block), w - 1)
        y0, y1 = max(math.ceil((ly - block + 1 - reach) / block), 0), min(math.floor((ly + reach) / block), h - 1)
        small[y0:y1 + 1, x0:x1 + 1] = 0
    return bool(cv2.minMaxLoc(small)[1] >= gate)


def width_factor(width: int) -> int:
    """How many pixels of this frame span one pixel of the 640-px-wide frame the stage's lengths were set on (the same
    90° lens on a finer sensor: 3 at 1920×1080). The scan knows no lens, only the frame's width; rounded to a whole
    factor so that a 704×576 SD frame (a different lens, not a finer sensor) keeps the 640-px lengths, and never below
    1 (the 2×2 bins set a floor)."""
    return max(1, round(width / 640))


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


def _line_groups(pts: NDArray[Any], pv: NDArray[Any], thresh: float, b: int, *, min_px: int = 3,
                 link_px: float = 2.3, min_elong: float = 3.0, origin: tuple[int, int] = (0, 0),
                 width: int = 1 << 20) -> list[tuple[int, list[float]]]:
    """[x, y, value, half length] (full SD pixels) of the line-shaped groups among ``pts`` (binned px from
    ``origin``, above the low threshold, values ``pv``) whose summed value over √n reaches ``thresh``, each with the
    raster index (y·``width`` + x) of its first pixel. (Few numpy calls: their per-call cost, not the arithmetic on a
    few dozen points, is most of the time. Every group's count and light by ``bincount`` at once; the moments only
    for the few that pass those, with the very arithmetic of the whole-frame grouping this replaced, so that a group
    whose elongation is exactly the limit on the pixel grid is judged alike.)"""
    n = len(pv)
    if n < min_px:
        return []
    z = pts.astype(np.float64).view(np.complex128).ravel()  # x + iy
    adj = np.abs(z[:, None] - z) <= link_px  # (squared integer distances are 5 or 8 around 2.3²: no rounding tie)
    # noise above the low threshold is mostly single pixels: a point without a neighbour (each point is its own)
    # is a group of one, which no rule keeps
    if np.count_nonzero(adj) - n < 2 * (min_px - 1):
        return []
    lab = _components(adj)
    cnt = np.bincount(lab, minlength=n)
    big = np.flatnonzero(cnt >= min_px).tolist()
    if not big:
        return []
    v = pv.astype(np.float64)
    sums = np.bincount(lab, weights=v, minlength=n)
    ok = [g for g in big if sums[g] >= thresh * math.sqrt(cnt[g])]
    if not ok:
        return []
    ox, oy = origin
    x, y = pts[:, 0] + ox, pts[:, 1] + oy
    out: list[tuple[int, list[float]]] = []
    for g in ok:
        idx = np.flatnonzero(lab == g)
        gx, gy, w = x[idx].astype(np.float64), y[idx].astype(np.float64), v[idx]
        s = float(sums[g])
        cx, cy = float(gx @ w) / s, float(gy @ w) / s
        # elongation from the second moments (unweighted: the shape, not the light curve along it; sum / n is
        # numpy's mean to the last bit, without its wrapper's cost)
        ax, ay = gx - gx.sum() / len(idx), gy - gy.sum() / len(idx)
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

    Union-find over the matrix's upper triangle, the smaller root always kept (so a component's root is its lowest
    node). On the handful of points near a gated block (5 at the median, 15 at p90) a plain loop is cheapest: building
    scipy's sparse matrix for its ``connected_components`` cost ~0.3 ms, most of the stage's time, and even a few
    numpy calls per round of label propagation cost more than the loop."""
    m = len(adj)
    root = list(range(m))
    for k in np.flatnonzero(adj).tolist():
        i, j = divmod(k, m)
        if j > i:
            while root[i] != i:
                i = root[i]
            while root[j] != j:
                j = root[j]
            if i < j:
                root[j] = i
            elif j < i:
                root[i] = j
    for i in range(m):  # (roots have lower numbers: one pass in order resolves every chain)
        root[i] = root[root[i]]
    return np.array(root)


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
