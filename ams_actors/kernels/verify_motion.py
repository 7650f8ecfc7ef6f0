"""The Verifier's motion model: which measured frames belong to one object moving on one line.

Split from ``verify.py``: the line-and-motion fit, and the choice of the frames that fit it. A frame is judged
against the motion of the object's core (its bright frames): at the faint ends a noise blob, a star residual or
a compression artefact can win the search window, and many inconsistent frames mean it is no meteor.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ams_actors.kernels.verify_measure import Measurement, VerifyParams, theil_sen

F64 = NDArray[np.float64]
B8 = NDArray[np.bool_]


def motion_fit(fns: F64, xs: F64, ys: F64, max_deg: int = 2) -> dict[str, Any]:
    """Line (PCA) + motion fit: perpendicular RMS, along-track quadratic RMS, speed, backsteps."""
    cx, cy = xs.mean(), ys.mean()
    mm = np.column_stack([xs - cx, ys - cy])
    _, _, vt = np.linalg.svd(mm, full_matrices=False)
    u = vt[0]
    along = mm @ u
    if np.polyfit(fns, along, 1)[0] < 0:
        u = -u
        along = -along
    perp = mm @ np.array([-u[1], u[0]])
    deg = min(max_deg, 2 if len(fns) >= 6 else 1)
    coef = np.polyfit(fns, along, deg)
    along_res = along - np.polyval(coef, fns)
    v_lin = float(np.polyfit(fns, along, 1)[0])
    v_ts = theil_sen(fns, along)[1]
    steps = np.diff(along) / np.maximum(np.diff(fns), 1)
    return {
        "direction": (float(u[0]), float(u[1])),
        "rms_px": float(np.sqrt(np.mean(perp**2))),
        "along_rms_px": float(np.sqrt(np.mean(along_res**2))),
        "speed_px_frame": v_lin,
        "speed_px_frame_robust": v_ts,
        "backsteps": float(np.mean(steps < -1.0)) if len(steps) else 0.0,
        "coef": coef,
        "u": u,
        "c": (cx, cy),
    }


def model_offsets(fit: dict[str, Any], fns: F64, xs: F64, ys: F64) -> F64:
    """Distance (px) of each centroid from the fitted line-and-motion model."""
    u = fit["u"]
    cx, cy = fit["c"]
    along_model = np.polyval(fit["coef"], fns)
    mx = cx + u[0] * along_model
    my = cy + u[1] * along_model
    return np.asarray(np.hypot(xs - mx, ys - my))


def in_view(xs: F64, ys: F64, size: tuple[int, int], prm: VerifyParams, k: float,
            along: tuple[float, float] | None = None) -> B8:
    """Centroids at least 2.5 PSF sigmas (``k`` clip pixels per reference pixel) inside the frame: nearer the edge
    part of the light is cut off and the centroid is pulled inwards, so such a frame says little about where the
    object was. Given the motion's direction ``along``, an edge the motion runs along (within ``along_edge_deg``)
    is no limit: its pull is across the motion, where the tolerance of the motion check covers it, and a meteor
    grazing that edge would otherwise be judged on its faint frames before it reached it (held-out-7 slow_long seed
    99014: a 6.3 °/s meteor along the top edge read 2.4 °/s from its in-view start, a "satellite")."""
    w, h = size
    margin = 2.5 * prm.psf_px * k
    ok_x = (xs >= margin) & (xs <= w - 1 - margin)
    ok_y = (ys >= margin) & (ys <= h - 1 - margin)
    if along is not None:
        parallel = math.sin(math.radians(prm.along_edge_deg))
        if abs(along[0]) <= parallel:  # moving along the left or right edge
            ok_x = (xs >= 0) & (xs <= w - 1)
        if abs(along[1]) <= parallel:  # along the top or bottom edge
            ok_y = (ys >= 0) & (ys <= h - 1)
    return np.asarray(ok_x & ok_y)


def longest_run(fns: list[int], max_gap: int) -> list[int]:
    """Indices of the longest stretch of ``fns`` whose consecutive gaps are ≤ ``max_gap``."""
    if not fns:
        return []
    best: list[int] = []
    cur = [0]
    for i in range(1, len(fns)):
        if fns[i] - fns[i - 1] <= max_gap:
            cur.append(i)
        else:
            best = max(best, cur, key=len)
            cur = [i]
    return max(best, cur, key=len)


def core_frames(snr: F64, inside: B8, min_snr: float) -> B8:
    """The frames whose motion the others are judged against: the bright ones in view.

    "Bright" is ≥ 0.4 of a high percentile of the frames' SNR, not of the brightest frame: one strobe of a plane
    (4x its steady light) or a meteor's flare would otherwise leave a core of one to three frames, whose motion
    extrapolated over the rest puts them all "off". Frames at the frame's edge are left out (their centroids are
    pulled inwards: held-out-5 slow_long minute 82, a meteor leaving the frame at its brightest, bent the core's
    motion so that 6 of its 17 frames were "off" and it was rejected as erratic). An object seen mostly at the
    edge (under a third of its summed SNR in view) is judged on all its frames: its faint in-view start alone gave
    too low a speed (held-out-8 slow_long seed 93015, leaving the bottom edge at its brightest: 3.5 °/s read 2.5)."""
    mostly_in_view = inside.sum() >= 3 and float(snr[inside].sum()) >= float(snr.sum()) / 3.0
    usable = inside if mostly_in_view else np.ones_like(inside)
    pool = snr[usable]
    core = usable & (snr >= max(min_snr, 0.4 * float(np.percentile(pool, 90))))
    if core.sum() < 3:
        core = snr >= np.sort(pool)[-min(3, len(pool))]
    return np.asarray(core)


def on_motion(m: Measurement, size: tuple[int, int], k: float, prm: VerifyParams,
              along: tuple[float, float] | None = None) -> tuple[list[int], set[int]]:
    """(indices of the frames consistent with one motion, the frame numbers of the others at the frame's edge).

    The core's motion is a line at one speed unless the core has ``curved_core_frames`` frames or more: a quadratic
    fitted to a few frames and extrapolated over many bends away (held-out-5 slow_long minute 82: 12.9 px "off"
    ten frames before a 9-frame core), and a long decelerating meteor needs the curve (the main job's SIM03 22:08:
    a 33-frame core slowing from 6 to 3 px a frame read "erratic" on a line).

    A frame at the edge that is off the motion is dropped but not counted
    against the object: it is judged on what is in view."""
    snr_a = np.asarray(m.snr, float)
    fa = np.asarray(m.fns, float)
    xa, ya = np.asarray(m.x, float), np.asarray(m.y, float)
    inside = in_view(xa, ya, size, prm, k, along)
    core = core_frames(snr_a, inside, prm.min_snr)
    deg = 2 if core.sum() >= prm.curved_core_frames else 1
    cfit = motion_fit(fa[core], xa[core], ya[core], max_deg=deg)
    off = model_offsets(cfit, fa, xa, ya)
    good = off <= prm.off_motion_px * k + 0.1 * abs(cfit["speed_px_frame"])
    return [i for i in range(len(fa)) if good[i]], {int(f) for f in fa[~good & ~inside]}


def without_end_glow(m: Measurement, prm: VerifyParams) -> list[int]:
    """Indices of ``m``'s frames without the glow standing where the object ended.

    A bright meteor's end point can stay lit for a few frames after it (a train; the encoder's blocks left
    unrefreshed), faint and still. Those frames lie on the motion's line, so they are kept as its frames, and on a
    short slow meteor they pull the fitted speed down (held-out-7 aircraft seed 99032: a 2.0 °/s meteor of 7 frames,
    peak SNR 192, with 2 still frames after it at SNR 17 and 10, measured 1.26 °/s and rejected "too slow"). A
    frame at the end is glow when it is faint beside the peak and steps less than half what the bright frames do."""
    n = len(m.fns)
    if n < 3:
        return list(range(n))
    snr = np.asarray(m.snr, float)
    xa, ya, fa = np.asarray(m.x, float), np.asarray(m.y, float), np.asarray(m.fns, float)
    faint = snr < prm.end_glow_snr_frac * float(snr.max())
    bright = np.flatnonzero(~faint)
    if len(bright) < 2:
        return list(range(n))
    b0, b1 = int(bright[0]), int(bright[-1])
    step = float(np.hypot(xa[b1] - xa[b0], ya[b1] - ya[b0])) / max(fa[b1] - fa[b0], 1.0)
    end = n
    for i in range(n - 1, b1, -1):  # every frame after the last bright one is faint
        moved = float(np.hypot(xa[i] - xa[i - 1], ya[i] - ya[i - 1])) / max(fa[i] - fa[i - 1], 1.0)
        if moved >= prm.end_glow_step_frac * step:
            break
        end = i
    return list(range(end))
