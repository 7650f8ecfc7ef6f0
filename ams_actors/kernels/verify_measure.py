"""Measuring for the Verifier: decode the object's window exactly and centroid it frame by frame.

Split from ``verify.py`` (which judges and writes the records) so each file has one job. ``measure``
subtracts a per-pixel median background of the window's quiet frames, finds the object near each predicted
position in the smoothed difference, and centroids it (sub-pixel, intensity-weighted, in an aperture
stretched along the motion so a motion-blurred streak is measured at its light centre).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from ams_actors.kernels.video import ClipUnreadable, iter_y

#: a decoded pixel this bright is clipped (8-bit video; the encoder leaves a clipped 255 a few DN under)
SATURATED_DN = 250.0


@dataclass(frozen=True, slots=True)
class VerifyParams:
    pad_s: float = 1.0  # trim / decode window around the detection
    extend_frames: int = 8  # look for the meteor this far beyond the detected frames
    # ... and this much further (and the trim as much longer) for a slow mover (< persistent_max_deg_s): a faint slow
    # meteor is detected in its middle, and 8 frames on it is as bright at both ends of the window, as a plane is
    # (TUNE-2 slow_long minute 45: 3.8 °/s, detected in 40 of its 101 frames, rejected as "persistent")
    slow_extend_s: float = 2.0
    roi_margin_px: float = 24.0
    min_snr: float = 4.0  # smoothed peak over smoothed-noise sigma to accept a frame's measurement
    psf_px: float = 1.2  # PSF sigma guess (SD px)
    min_frames: int = 4
    max_rms_px: float = 1.0  # perpendicular RMS of the centroids from the fitted line
    max_along_rms_px: float = 1.5  # along-track RMS from a quadratic motion fit
    # the hard floor (the Detector's): slower is no meteor by any rule. Between it and satellite_max_deg_s (satellites
    # cross at up to ~2 °/s) a meteor must show its light rise and fall in view: a margin, not one threshold
    min_speed_deg_s: float = 1.5
    satellite_max_deg_s: float = 2.5
    max_speed_deg_s: float = 90.0
    max_duration_s: float = 5.0
    max_backsteps: float = 0.15
    # the slow-mover rules (one strobe, persistent, the longer search) apply below this speed: planes cross at up to
    # ~5 °/s, and a plane leaving the frame measured 5.002 (held-out-5 aircraft minute 47): a margin over it
    persistent_max_deg_s: float = 6.5
    full_light_snr: float = 20.0  # a light this bright (median SNR) at full light at an end in view appeared at once
    # the pixel tolerances above (and off_motion_px) are for this pixel scale (SD 640 px over 90°): a clip
    # with finer pixels gets them scaled up, so a rule means the same angle at any resolution (never scaled
    # down: below ~1 px the centroid noise, not the angle, sets what is achievable)
    ref_pixel_scale_deg: float = 90.0 / 640.0
    off_motion_px: float = 1.5  # a frame further than this (+ 0.1 × speed in px/frame) from the fitted motion
    curved_core_frames: int = 10  # a core of this many frames or more is fitted with a decelerating motion, else a line
    max_erratic_frac: float = 0.3  # ... is off; more than this share of the detected span off: erratic
    max_across_px: float = 8.0  # median width across the motion at half maximum (smoothed): wider is defocused
    copy_px: float = 0.5  # consecutive centroids this close on an object moving ≥ copy_min_step_px per frame ...
    copy_min_step_px: float = 2.0  # ... are the encoder's copy of one frame's light: only the brightest is kept
    # the last frames, each under end_glow_snr_frac of the peak SNR and stepping under end_glow_step_frac of the
    # bright frames' step, are a glow left where the meteor ended (a train, the encoder's leftover blocks)
    end_glow_snr_frac: float = 0.25
    end_glow_step_frac: float = 0.5
    along_edge_deg: float = 20.0  # a motion this close to an edge's direction runs along it: that edge limits no view
    join_gap_frames: int = 6  # accepted meteors ≤ this many frames apart on one line at one speed are one meteor ...
    join_speed_ratio: float = 0.3  # ... their speeds within this fraction of each other (as the Detector's join)


@dataclass(slots=True)
class Measurement:
    fns: list[int] = field(default_factory=list)
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    w: list[float] = field(default_factory=list)
    h: list[float] = field(default_factory=list)
    intensity: list[float] = field(default_factory=list)
    snr: list[float] = field(default_factory=list)
    across: list[float] = field(default_factory=list)  # width across the motion at half the peak (px; nan: saturated)

    def take(self, idx: list[int]) -> None:
        """Keep only the frames at indices ``idx`` (in order)."""
        for attr in ("fns", "x", "y", "w", "h", "intensity", "snr", "across"):
            setattr(self, attr, [getattr(self, attr)[i] for i in idx])


def without_copies(m: Measurement, step_px: float, scale: float, prm: VerifyParams) -> list[int]:
    """Indices of ``m``'s frames that are not the encoder's copies of a neighbour's light.

    At a low bit rate H.264 skips the blocks that changed little: a meteor's blob stays in the next frames where it
    was (copied from the reference frame), and a B-frame can show the blob of the frame after it. An object moving
    ``step_px`` ≥ ``copy_min_step_px`` per frame never stands still, so a run of consecutive frames whose centroids
    lie within ``copy_px`` of each other holds one frame's light, and one frame of the run is kept: the one whose
    time fits the motion through the other runs (a Theil–Sen line through each run's brightest frame; a copy is
    never brighter than its source, but an exact copy ties with it). Kept, the copies bend the fitted motion and
    read as frames off it (held-out-4 low_bitrate minute 1: a 32.9-SNR meteor at 8.8 px/frame, its frame 116 a
    copy of 117 and 124-125 copies of 123, was rejected as "erratic"; TUNE low_bitrate minute 4, 4.2 px/frame,
    updated by the encoder every second or third frame)."""
    n = len(m.fns)
    if step_px < prm.copy_min_step_px * scale:
        return list(range(n))
    runs: list[list[int]] = []
    for i in range(n):
        if (runs and m.fns[i] - m.fns[i - 1] == 1
                and math.hypot(m.x[i] - m.x[i - 1], m.y[i] - m.y[i - 1]) <= prm.copy_px * scale):
            runs[-1].append(i)
        else:
            runs.append([i])
    keep = [max(r, key=lambda q: m.snr[q]) for r in runs]
    if len(keep) < 3 or len(keep) == n:
        return keep
    t = np.asarray([m.fns[i] for i in keep], float)
    model = [theil_sen(t, np.asarray([getattr(m, c)[i] for i in keep], float)) for c in ("x", "y")]
    return [min(r, key=lambda q: math.hypot(m.x[q] - model[0][0] - model[0][1] * m.fns[q],
                                             m.y[q] - model[1][0] - model[1][1] * m.fns[q])) if len(r) > 1 else r[0]
            for r in runs]


def theil_sen(t: NDArray[np.float64], v: NDArray[np.float64]) -> tuple[float, float]:
    """(intercept, slope) of ``v`` against ``t`` (distinct times): the slope is the median of the pairwise slopes,
    so one stray point cannot make a parked light "move" nor bend a meteor's motion."""
    if len(t) < 2:
        return (float(v[0]) if len(v) else 0.0), 0.0
    i, j = np.triu_indices(len(t), 1)
    slope = float(np.median((v[j] - v[i]) / (t[j] - t[i])))
    return float(np.median(v - slope * t)), slope


def decode_roi(path: str | Path, start: int, stop: int, roi: tuple[int, int, int, int]) -> tuple[list[int],
                                                                                                  NDArray[np.float32]]:
    x0, y0, x1, y1 = roi
    fns: list[int] = []
    crops: list[NDArray[np.uint8]] = []
    for fn, y in iter_y(path, start=start, stop=stop):
        fns.append(fn)
        crops.append(y[y0:y1, x0:x1].copy())
    if not crops:
        raise ClipUnreadable(path, f"no frames decoded in {start}..{stop}")
    return fns, np.asarray(crops, dtype=np.float32)


def measure(
    path: str | Path, start: int, stop: int, pred: dict[int, tuple[float, float]], *, width: int, height: int,
    scale: float, step_px: float, direction: tuple[float, float], quiet: set[int], prm: VerifyParams,
) -> Measurement:
    """Centroid the object in each frame of ``pred`` (predicted positions, in this clip's pixels)."""
    pts = np.array(list(pred.values()))
    margin = prm.roi_margin_px * scale + step_px
    x0 = int(max(0, math.floor(pts[:, 0].min() - margin)))
    x1 = int(min(width, math.ceil(pts[:, 0].max() + margin)))
    y0 = int(max(0, math.floor(pts[:, 1].min() - margin)))
    y1 = int(min(height, math.ceil(pts[:, 1].max() + margin)))
    m = Measurement()
    if x1 - x0 < 8 or y1 - y0 < 8:
        return m
    fns, cube = decode_roi(path, start, stop, (x0, y0, x1, y1))
    idx = {fn: i for i, fn in enumerate(fns)}
    q = [idx[f] for f in fns if f in quiet]
    bg_frames = cube[q] if len(q) >= 8 else cube
    bg = np.median(bg_frames, axis=0)
    res = bg_frames - bg
    sigma = float(1.4826 * np.median(np.abs(res - np.median(res)))) or 1.0
    psf = prm.psf_px * scale
    ksize = int(2 * math.ceil(2 * psf) + 1)
    # noise of the smoothed difference, measured the same way (correlated compression noise)
    sm_q = np.stack([cv2.GaussianBlur(r, (ksize, ksize), psf) for r in res[:: max(1, len(res) // 8)]])
    sigma_sm = float(1.4826 * np.median(np.abs(sm_q - np.median(sm_q)))) or sigma
    ux, uy = direction
    half_along = step_px / 2.0 + 2.5 * psf
    half_across = 2.5 * psf
    search = 4.0 * scale + 0.5 * step_px
    for fn, (px, py) in sorted(pred.items()):
        i = idx.get(fn)
        if i is None:
            continue
        d = cube[i] - bg
        sm = cv2.GaussianBlur(d, (ksize, ksize), psf)
        lx, ly = px - x0, py - y0
        sx0, sx1 = int(max(0, lx - search)), int(min(d.shape[1], lx + search + 1))
        sy0, sy1 = int(max(0, ly - search)), int(min(d.shape[0], ly + search + 1))
        if sx1 <= sx0 or sy1 <= sy0:
            continue
        win = sm[sy0:sy1, sx0:sx1]
        k = int(win.argmax())
        peak = float(win.flat[k])
        snr = peak / sigma_sm
        if snr < prm.min_snr:
            continue
        cy, cx = sy0 + k // win.shape[1], sx0 + k % win.shape[1]
        cxf, cyf = float(cx), float(cy)
        wide = False  # a clipped plateau wider than the aperture: its centre is the measurement, the aperture stays
        if cube[i][cy, cx] >= SATURATED_DN:
            cxf, cyf, wide = _flat_top_centre(cube[i], sm, cy, cx, peak - max(1.0, 0.02 * peak), (ux, uy), half_across)
        ok = True
        for _ in range(1 if wide else 4):
            r = int(math.ceil(half_along + 1))
            bx0, bx1 = max(0, int(cxf) - r), min(d.shape[1], int(cxf) + r + 2)
            by0, by1 = max(0, int(cyf) - r), min(d.shape[0], int(cyf) + r + 2)
            gy, gx = np.mgrid[by0:by1, bx0:bx1].astype(np.float64)
            rx, ry = gx - cxf, gy - cyf
            al = rx * ux + ry * uy
            ac = -rx * uy + ry * ux
            inside = (np.abs(al) <= half_along) & (np.abs(ac) <= half_across)
            wgt = np.where(inside, np.maximum(d[by0:by1, bx0:bx1], 0.0), 0.0)
            s = float(wgt.sum())
            if s <= 0:
                ok = False
                break
            if wide:
                break
            nx, ny = float((gx * wgt).sum() / s), float((gy * wgt).sum() / s)
            moved = math.hypot(nx - cxf, ny - cyf)
            cxf, cyf = nx, ny
            if moved < 0.01:
                break
        if not ok:
            continue
        above = inside & (d[by0:by1, bx0:bx1] > 2.5 * sigma)
        if above.any():
            wx = float(gx[above].max() - gx[above].min() + 1)
            wy = float(gy[above].max() - gy[above].min() + 1)
        else:
            wx = wy = 1.0
        m.fns.append(fn)
        m.x.append(cxf + x0)
        m.y.append(cyf + y0)
        m.w.append(wx)
        m.h.append(wy)
        m.intensity.append(float(np.where(inside, d[by0:by1, bx0:bx1], 0.0).sum()))
        m.snr.append(round(snr, 2))
        # any clipped pixel in the aperture flattens the profile: its half maximum then falls in the halo (a bolide's
        # bloom reads as a blur disc)
        saturated = float(cube[i][by0:by1, bx0:bx1].max()) >= SATURATED_DN
        m.across.append(math.nan if saturated else width_across(sm, cxf, cyf, (ux, uy), 12.0 * scale))
    return m


def _flat_top_centre(raw: NDArray[np.float32], sm: NDArray[np.float32], cy: int, cx: int, level: float,
                     u: tuple[float, float], half_across: float) -> tuple[float, float, bool]:
    """Where to centroid a clipped light through pixel (cx, cy), and whether that is the measurement itself.

    The smoothed top of a clipped light is flat and its argmax is its first pixel in raster order, a corner. A
    bolide's core and halo clip over up to ~20 px, far more than the search window and the aperture: an aperture
    inside such a plateau does not move, and a top cut by the window's edge pulls the centre to the cut (TUNE
    bolide seed 12: 1.5 px off). The clipped plateau is symmetric about the light's centre, motion blur included,
    so when it is wider across the motion than the aperture its own centre is the measurement (``True``); a
    smaller one is centred on its smoothed top and left to the aperture, which then sees the light's shape."""
    lab, _ = ndimage.label(raw >= SATURATED_DN)
    ys, xs = np.nonzero(lab == lab[cy, cx])
    mx, my = float(xs.mean()), float(ys.mean())
    if float(np.max(np.abs(-(xs - mx) * u[1] + (ys - my) * u[0]))) > half_across:
        return mx, my, True
    lab, _ = ndimage.label(sm >= level)
    ys, xs = np.nonzero(lab == lab[cy, cx])
    return float(xs.mean()), float(ys.mean()), False


def width_across(sm: NDArray[np.float32], cx: float, cy: float, u: tuple[float, float], reach: float) -> float:
    """Width (px) of the smoothed light across the motion at half its value at the centroid: the contiguous
    run through the centroid, so a noise pixel further out does not widen it. A meteor is a focused point
    smeared along its path (≈ 4 px here); an insect near the lens is a blur disc (> 12 px)."""
    h, w = sm.shape
    r = int(math.ceil(reach))
    t = np.arange(-r, r + 1, dtype=np.float64)
    xi = np.rint(cx - t * u[1]).astype(int)
    yi = np.rint(cy + t * u[0]).astype(int)
    # off the image (the ROI stops at the frame's edge) the profile ends: repeating the edge pixel there
    # would read a meteor at the edge as wide
    prof = np.where((xi >= 0) & (xi < w) & (yi >= 0) & (yi < h), sm[np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)],
                    -np.inf)
    half = 0.5 * float(prof[r])
    if half <= 0:
        return 0.0
    lo = r
    while lo > 0 and prof[lo - 1] >= half:
        lo -= 1
    hi = r
    while hi < 2 * r and prof[hi + 1] >= half:
        hi += 1
    return float(hi - lo + 1)
