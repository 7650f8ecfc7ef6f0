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
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components


def streak_peaks(pts: NDArray[Any], pv: NDArray[Any], thresh: float, b: int, *, min_px: int = 3,
                 link_px: float = 2.3, min_elong: float = 3.0, max_pts: int = 200) -> list[list[float]]:
    """[x, y, value, half length] (full SD pixels) of the line-shaped groups among ``pts`` (binned pixels above the low
    threshold, values ``pv``) whose summed value over √n reaches ``thresh``; none when the points are many
    (a cloud, a lit frame: the point stage and the detector's crowding rules deal with those)."""
    n = len(pv)
    if n < min_px or n > max_pts:
        return []
    xy = pts.astype(np.int32)
    dx = xy[:, None, 0] - xy[None, :, 0]
    dy = xy[:, None, 1] - xy[None, :, 1]
    adj = dx * dx + dy * dy <= link_px * link_px
    # noise above the low threshold is mostly single pixels: only points with a neighbour go on
    sel = np.flatnonzero(adj.sum(1) >= 2)  # (each point is its own neighbour)
    if len(sel) < min_px:
        return []
    m = len(sel)
    _, lab = connected_components(csr_matrix(adj[np.ix_(sel, sel)]), directed=False)
    v = pv[sel].astype(np.float64)
    sums = np.bincount(lab, weights=v, minlength=m)
    cnt = np.bincount(lab, minlength=m)
    ok = np.flatnonzero((cnt >= min_px) & (sums >= thresh * np.sqrt(np.maximum(cnt, 1))))
    out: list[list[float]] = []
    for g in ok.tolist():
        idx = np.flatnonzero(lab == g)
        gx, gy, w = xy[sel[idx], 0].astype(np.float64), xy[sel[idx], 1].astype(np.float64), v[idx]
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
        out.append([(cx + 0.5) * b - 0.5, (cy + 0.5) * b - 0.5, float(round(s / math.sqrt(len(idx)))), half])
    return out


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
