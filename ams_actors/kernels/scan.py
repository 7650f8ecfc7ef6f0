"""Scan & stack kernel (the old ``bs``): one pass over an SD minute clip → per-frame values + stack.

Runs in a process-pool worker: ``scan_clip(path, ...)`` takes a path (decoding is its job), returns a
picklable :class:`ScanResult`, writes nothing (the Scanner actor writes files atomically).

Why it looks like this — the budget is ≈0.2 ms per frame on top of decoding (target: ≥0.85 of the
decode-only ceiling), so:

- the Y plane is taken zero-copy from the decoder (see ``video.py``) with ``skip_loop_filter``
  (detection only; the Verifier measures on exactly decoded frames);
- the change detection runs on 2×2-binned pixels (``cv2.resize`` INTER_AREA, one SIMD pass): four
  times fewer pixels for every later step, and the binning itself lifts a 1-pixel-sigma meteor PSF
  out of the per-pixel noise (signal sums, noise averages);
- the running background is an exponential mean (``accumulateWeighted``), the positive difference a
  saturating ``cv2.subtract``; peak value/position by ``minMaxLoc``;
- the extras (sum above threshold, per-cell maxima, per-cell peak positions: up to two lights a cell, see
  ``cell_peaks``) are computed only for frames whose peak reaches the threshold. That is not rare: a twinkling
  bright star puts ~80 % of the frames of scripts/bench/scan.py's clip there, so they are whole-image OpenCV
  reductions and one ``minMaxLoc`` per hot cell (a few; two for the second light), never a list of the pixels above
  threshold (``findNonZero`` alone cost ~0.1 ms a frame; without it the scan went from 0.78-0.89 to 1.02-1.04 of the
  bench's decode-only CPU in one process, 0.74 to 0.86 in the loaded pool bench, with identical vals:
  scripts/bench/scan.py);
- the max-pixel stack is kept at full SD resolution (one ``cv2.max`` per frame);
- a streak stage (``scan_streak.py``) finds fast meteors whose motion blur keeps every binned pixel under the
  point threshold: the pixels above a low threshold, grouped into lines, judged by their summed light. A gate
  of three OpenCV calls per frame lets only frames with a cluster of such pixels go on; the blocks of steady
  lights (a plane's or a star's: a point peak that had one within 5 px two frames before; 15 at 1920 px wide) are
  cleared, and only the pixels near the blocks left are grouped. Its CPU, timed inside the scan on
  scripts/bench/scan.py's clip and two aircraft clips (busy 2-core machine): 2.7-3.2 % of the scan's, where the
  whole-frame grouping before took 8.1-12.8 % on the same clips in the same runs. Its streak centres also replace
  the wandering brightest pixel of a blurred streak, which steadies the detector's linking.

The threshold is set from the clip itself (robust sigma of the difference image in the first frames),
because the noise after compression differs between cameras, bit rates and sky brightness.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from ams_actors.kernels.scan_streak import (
    STEADY_PX,
    StreakGate,
    clear_steady,
    frame_streaks,
    merge_streaks,
    width_factor,
)
from ams_actors.kernels.video import ClipUnreadable, error_text, open_clip, stream_fps, y_plane
from protocols.errors import InputError
from protocols.pipeline_files import VALS_FORMAT, iso_ms, parse_clip_name

SCAN_VERSION = "scan/4"  # scan/3: up to two peaks per hot cell (cell_peaks); scan/4: the start-up threshold settled
U8 = NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class ScanParams:
    """Tuning of the scan. Defaults suit 640×360 / 704×576 25 fps SD clips."""

    bin: int = 2
    grid: tuple[int, int] = (10, 10)  # rows, cols of the coarse cell grid
    alpha: float = 1.0 / 32.0  # background update weight per frame (≈1.3 s memory at 25 fps)
    init_frames: int = 8  # frames averaged for the first background
    thresh_sigma: float = 5.5  # threshold = thresh_sigma × robust sigma of the difference image
    min_thresh: int = 3
    max_peaks: int = 24  # per frame (hot cells' peaks, second peaks in the room left); more = cloud/lightning
    second_px: int = 6  # a cell's second peak: ≥ this many binned px from its first in x or y (cell_peaks) ...
    second_dip: float = 0.5  # ... with the light between them dipping to this × its value (not one light's wing)
    noise_every: int = 3  # frames between noise estimates
    noise_window: int = 3  # estimates in the running median the threshold uses
    startup_frames: int = 32  # after the first background (≈ 1/alpha): a threshold under the clip's is raised to it
    skip_loop_filter: bool = True
    # per-pixel flicker allowance: a pixel must rise by more than flicker_k × its own running mean
    # positive change (twinkling stars, encoder noise around bright edges) before the threshold
    flicker_k: float = 3.0
    flicker_alpha: float = 1.0 / 128.0  # slow: a meteor lingering a few frames barely raises it
    flicker_every: int = 2  # frames between updates of the allowance (its weight scaled to match): ~3% of the scan
    # the streak stage (scan_streak.py): pixels above streak_low_sigma × sigma grouped into lines whose summed
    # light over √pixels reaches the point threshold (fast meteors whose blur keeps every pixel below it)
    streak: bool = True
    flat_min: int = 60  # a peak this high tied with pixels near it (a saturated flat top) is put at their centre
    streak_low_sigma: float = 3.5
    streak_min_px: int = 4
    streak_k: float = 1.0  # a line's summed light over √pixels must reach this × the point threshold
    # a frame with more low-threshold binned pixels than this (× width_factor², the same share of the sky at any
    # resolution) is a cloud or a lit frame: no streaks. Unscaled, 12-14 % of the gated frames of a fast-meteor clip
    # at 1280×720 and 1920×1080 (TUNE fast seed 11) were over it, and their streaks were lost
    streak_max_px: int = 200


@dataclass(slots=True)
class ScanResult:
    """What the Scanner writes: ``vals`` (the -vals.json document) and the max-pixel ``stack``."""

    vals: dict[str, Any]
    stack: U8


def scan_clip(
    path: str | Path,
    params: ScanParams | None = None,
    *,
    clip_name: str | None = None,
    mask: NDArray[np.bool_] | None = None,
) -> ScanResult:
    """Scan one SD clip. ``clip_name`` (default: the file's name) must be a valid minute-clip name;
    it gives the camera and start time recorded in the vals. ``mask`` (True = ignore: trees, street
    lights) removes those pixels from the change detection and the noise estimate; the stack keeps
    them (calibration applies the mask itself). Raises ClipUnreadable (bad video) or InputError (bad name)."""
    prm = params or ScanParams()
    p = Path(path)
    name = parse_clip_name(clip_name or p.name)
    t_start = time.perf_counter()
    b = prm.bin
    rows, cols = prm.grid
    with open_clip(p, skip_loop_filter=prm.skip_loop_filter) as (container, stream):
        fps = stream_fps(stream)
        width, height = stream.codec_context.width, stream.codec_context.height
        if width < 16 * b or height < 16 * b:
            raise ClipUnreadable(p, f"frame size {width}x{height} too small")
        bw, bh = width // b, height // b
        # the cell grid must tile the binned image: crop the binned image to a multiple of the grid
        cw, ch = bw // cols, bh // rows
        gw, gh = cw * cols, ch * rows
        n_header = int(stream.frames or 0)
        n_expected = n_header or 1500
        max_val = np.zeros(n_expected + 16, np.int32)
        max_xy = np.zeros((n_expected + 16, 2), np.int32)
        thr_fn = np.zeros(n_expected + 16, np.int32)
        sum_above: dict[int, tuple[int, int]] = {}
        cells_fn: list[int] = []
        cells: list[list[list[int]]] = []
        peaks: list[list[list[float]]] = []
        stack: U8 | None = None
        bgf = np.zeros((bh, bw), np.float32)
        bg8 = np.zeros((bh, bw), np.uint8)
        d = np.zeros((bh, bw), np.uint8)
        yb = np.zeros((bh, bw), np.uint8)
        thr_buf = np.zeros((bh, bw), np.uint8)
        d_raw = np.zeros((bh, bw), np.uint8)
        flick_f = np.zeros((bh, bw), np.float32)
        flick8 = np.zeros((bh, bw), np.uint8)
        prev_yb = np.zeros((bh, bw), np.uint8)
        d_grid = d[:gh, :gw]  # the part of the difference the cell grid tiles (a view)
        band = np.zeros((rows, gw), np.uint8)  # each row of cells' column maxima
        keep = None if mask is None else binned_keep(mask, width, height, b)
        keep_sub = None if keep is None else keep[::4, ::4] > 0
        sig_samples: list[float] = []
        thresh = 255
        low = 255
        gate = StreakGate(bh, bw)
        wf = width_factor(width)  # the streak stage's lengths are in pixels of a 640-px-wide frame
        steady_px, margin, streak_max = STEADY_PX * wf, 16 * wf, prm.streak_max_px * wf * wf
        # this frame's point peaks and those of the two frames before (steady lights: scan_streak.clear_steady)
        pk_now: list[list[float]] = []
        pk_prev: list[list[float]] = []
        pk_before: list[list[float]] = []
        n = 0
        init = prm.init_frames
        alpha = prm.alpha
        try:
            for frame in container.decode(stream):
                y = y_plane(frame)
                if stack is None:
                    stack = y.copy()
                else:
                    cv2.max(stack, y, dst=stack)
                cv2.resize(y, (bw, bh), dst=yb, interpolation=cv2.INTER_AREA)
                if n < init:
                    # first background: the plain mean of the first frames; first flicker: the mean
                    # frame-to-frame change (×0.35: the mean positive excursion from a mean is about
                    # a third of the mean absolute difference of two frames, for Gaussian noise)
                    cv2.accumulate(yb, bgf)
                    if n > 0:
                        cv2.absdiff(yb, prev_yb, dst=d_raw)
                        cv2.accumulateWeighted(d_raw, flick_f, 0.35 / (init - 1))
                    prev_yb[...] = yb
                    if n == init - 1:
                        bgf *= 1.0 / init
                        np.rint(bgf, out=bgf)
                        bg8[...] = bgf
                    if n >= max_val.shape[0]:
                        max_val, max_xy, thr_fn = _grow(max_val, max_xy, thr_fn)
                    n += 1
                    continue
                if n >= max_val.shape[0]:
                    max_val, max_xy, thr_fn = _grow(max_val, max_xy, thr_fn)
                cv2.subtract(yb, bg8, dst=d_raw)
                # A global threshold alone lets every twinkling star (and the block flicker of fast
                # encoders around it) through every frame, which reads as "too many objects". Each
                # pixel's usual change is subtracted first: a meteor crossing dark sky still stands
                # out by its full height, a star flickering by its usual amount does not.
                if (n - init) % prm.flicker_every == 0:  # it changes over ~128 frames: every other frame is plenty
                    cv2.accumulateWeighted(d_raw, flick_f, prm.flicker_alpha * prm.flicker_every)
                    cv2.convertScaleAbs(flick_f, dst=flick8, alpha=prm.flicker_k)
                cv2.subtract(d_raw, flick8, dst=d)
                if keep is not None:
                    cv2.bitwise_and(d, keep, dst=d)  # masked pixels never change
                if (n - init) % prm.noise_every == 0:
                    # robust sigma of the signed difference: the noise the threshold is set against.
                    # Re-estimated all along: under constant-bit-rate encoding the quantiser (and
                    # so the noise that survives compression) changes from second to second.
                    # (mean absolute deviation of the core, not a MAD: the differences are small
                    # integers and a median of them is too coarse)
                    sd = cv2.absdiff(yb[::4, ::4], bg8[::4, ::4])
                    if keep_sub is not None:
                        sd = sd[keep_sub]
                    core = sd[sd < 12]
                    sig_samples.append(1.2533 * float(core.mean()) if core.size else 1.0)
                    sig = max(statistics.median(sig_samples[-prm.noise_window:]), 0.5)  # (np.median: 20× slower)
                    thresh = max(prm.min_thresh, int(np.ceil(prm.thresh_sigma * sig)))
                    low = max(2, int(np.ceil(prm.streak_low_sigma * sig))) if prm.streak else 256
                thr_fn[n] = thresh
                pk_before, pk_prev, pk_now = pk_prev, pk_now, []
                _, mx, _, loc = cv2.minMaxLoc(d)
                max_val[n] = int(mx)
                max_xy[n] = loc
                if mx >= thresh:
                    # most frames of a night get here (a twinkling star somewhere): whole-image OpenCV reductions
                    # only, no list of the pixels (findNonZero alone cost ~0.1 ms a frame)
                    cv2.threshold(d, thresh - 1, 0, cv2.THRESH_TOZERO, dst=thr_buf)
                    sum_above[n] = (int(cv2.sumElems(thr_buf)[0]), cv2.countNonZero(thr_buf))
                    np.maximum.reduce(d_grid.reshape(rows, ch, gw), axis=1, out=band)
                    cm = band.reshape(rows, cols, cw).max(2)
                    cells_fn.append(n)
                    # sparse: only the cells at/above threshold, as [cell index, max]. The full
                    # grid for every frame made a minute's vals ~0.6 MB (twinkling bright stars keep
                    # nearly every frame above threshold somewhere); below threshold it is noise.
                    cl = cm.ravel().tolist()
                    hot = np.flatnonzero(cm >= thresh).tolist()
                    hv = [cl[i] for i in hot]
                    cells.append([[i, v] for i, v in zip(hot, hv, strict=True)])
                    pk_now = cell_peaks(d, cm, hot, hv, thresh, b, prm.max_peaks, prm.flat_min,
                                       prm.second_px, prm.second_dip)
                    peaks.append(pk_now)
                # the streak stage: a cheap gate first, then the blocks of steady lights cleared, then the grouping
                if mx >= low and gate.passes(d, low) and (
                        not (pk_now and pk_before)
                        or clear_steady(gate.small, pk_now, pk_before, b, steady_px=steady_px)):
                    st = frame_streaks(gate.small, gate.low, d, prm.streak_k * thresh, b, min_px=prm.streak_min_px,
                                       margin=margin, max_pts=streak_max)
                    if st:
                        _add_streaks(st, n, mx >= thresh, cells_fn, cells, peaks, rows, cols, ch, cw, b,
                                     prm.max_peaks)
                cv2.accumulateWeighted(yb, bgf, alpha)
                cv2.convertScaleAbs(bgf, dst=bg8)
                n += 1
        except ClipUnreadable:
            raise
        except Exception as e:  # any decoder failure mid-stream: a truncated/corrupt clip
            raise ClipUnreadable(p, f"decode failed after {n} frames: {error_text(e)}") from None
    if n == 0 or stack is None:
        raise ClipUnreadable(p, "no frames decoded")
    if n_header and n < 0.95 * n_header:
        raise ClipUnreadable(p, f"truncated: decoded {n} of the {n_header} frames in the header")
    if not sig_samples:
        sig_samples.append(1.0)
    settled = float(np.median(thr_fn[init:n])) if n > init else float(thresh)
    _settle_startup(cells_fn, cells, peaks, thr_fn[init:min(n, init + prm.startup_frames)], init, int(np.ceil(settled)))
    mv = max_val[:n]
    body = mv[init:] if n > init else mv
    med = float(np.median(body))
    mad = float(np.median(np.abs(body - med)))
    xs = ((max_xy[:n, 0] + 0.5) * b - 0.5).round(1)
    ys = ((max_xy[:n, 1] + 0.5) * b - 0.5).round(1)
    vals: dict[str, Any] = {
        "format": VALS_FORMAT,
        "clip": name.name,
        "camera": name.camera,
        "start_utc": iso_ms(name.start_utc),
        "width": int(width),
        "height": int(height),
        "fps": fps,
        "n_frames": n,
        "bin": b,
        "grid": {"rows": rows, "cols": cols, "cell_w": cw * b, "cell_h": ch * b},
        "noise": {"max_median": med, "max_mad": mad, "diff_sigma": float(np.median(sig_samples))},
        "thresh": settled,
        "frame_thresh": thr_fn[:n].tolist(),
        "max_val": mv.tolist(),
        "max_x": xs.tolist(),
        "max_y": ys.tolist(),
        "sum_above": [sum_above.get(i, (0, 0))[0] for i in range(n)],
        "cnt_above": [sum_above.get(i, (0, 0))[1] for i in range(n)],
        "cells_fn": cells_fn,
        "cells": cells,
        "peaks": peaks,
        "scan": {"version": SCAN_VERSION, "skip_loop_filter": prm.skip_loop_filter,
                 "elapsed_s": round(time.perf_counter() - t_start, 4)},
    }
    return ScanResult(vals=vals, stack=stack)


def binned_keep(mask: NDArray[np.bool_], width: int, height: int, b: int) -> U8:
    """255 where a ``b``×``b`` bin has no masked pixel, else 0 (for one ``bitwise_and`` per frame).

    A mask of another size than the clip is scaled to it (nearest pixel), so a camera switched to
    another SD size keeps its trees masked rather than failing every minute.
    """
    m: U8 = mask.astype(np.uint8)
    if m.shape != (height, width):
        m = np.asarray(cv2.resize(m, (width, height), interpolation=cv2.INTER_NEAREST), np.uint8)
    bh, bw = height // b, width // b
    binned = m[: bh * b, : bw * b].reshape(bh, b, bw, b).max(axis=(1, 3))
    return np.where(binned > 0, 0, 255).astype(np.uint8)


def _add_streaks(st: list[list[float]], n: int, had_point: bool, cells_fn: list[int], cells: list[list[list[int]]],
                 peaks: list[list[list[float]]], rows: int, cols: int, ch: int, cw: int, b: int,
                 max_peaks: int) -> None:
    """Frame ``n``'s streaks into the vals lists: merged with its point peaks and hot cells, or as the frame's
    entry when no pixel reached the point threshold."""
    if not had_point:
        cells_fn.append(n)
        cells.append([])
        peaks.append([])
    hot = {i: v for i, v in cells[-1]}
    for x, y, v, _ in st:
        c = min(max(int(y // (ch * b)), 0), rows - 1) * cols + min(max(int(x // (cw * b)), 0), cols - 1)
        hot[c] = max(hot.get(c, 0), int(v))
    cells[-1] = [[i, hot[i]] for i in sorted(hot)]
    peaks[-1] = merge_streaks(peaks[-1], st, max_peaks)


def _settle_startup(cells_fn: list[int], cells: list[list[list[int]]], peaks: list[list[list[float]]],
                    thr_start: NDArray[np.int32], first: int, settled: int) -> None:
    """Raise the thresholds ``thr_start`` (a view: frames ``first`` on) to the clip's ``settled`` one where they read
    lower, and drop what only the lower one let through (in place).

    The encoder's rate control starts a clip with frames whose noise it has not yet coded (at 1280×720 the first
    estimates read 3-5 DN against the clip's 6, at 1920×1080 5 until frame 26), so the noise estimate reads low
    there and the first second floods with noise peaks (24, the cap, in several frames). Later the running estimate
    follows the bit rate as it should; only the start is the encoder's, not the sky's."""
    low = {first + int(j) for j in np.flatnonzero(thr_start < settled)}
    np.maximum(thr_start, settled, out=thr_start)
    keep = []
    for i, fn in enumerate(cells_fn):
        if fn in low:
            peaks[i] = [q for q in peaks[i] if q[2] >= settled]
            cells[i] = [c for c in cells[i] if c[1] >= settled]
            if not (peaks[i] or cells[i]):
                continue
        keep.append(i)
    if len(keep) < len(cells_fn):
        cells_fn[:] = [cells_fn[i] for i in keep]
        cells[:] = [cells[i] for i in keep]
        peaks[:] = [peaks[i] for i in keep]


def _grow(*arrays: NDArray[np.int32]) -> tuple[NDArray[np.int32], ...]:
    return tuple(np.concatenate([a, np.zeros_like(a)]) for a in arrays)


def cell_peaks(d: U8, cm: U8, hot: list[int], hot_max: list[int], thresh: int, b: int, max_peaks: int,
               flat_min: int = 256, second_px: int = 6, second_dip: float = 0.5) -> list[list[float]]:
    """[x, y, value] (full SD pixels, at the binned pixel's centre) of the brightest pixel ≥ ``thresh`` of each cell
    of the binned difference ``d`` that has one, and of a second light in the cell, brightest first (a tie: the lower
    cell index, a cell's first peak before any second one), at most ``max_peaks``. ``cm`` holds the cells' maxima
    over the part of ``d`` the grid tiles, ``hot`` (ascending) and ``hot_max`` its cells ≥ ``thresh`` and their
    maxima; the rows and columns the grid leaves over belong to the last row and column of cells (a pixel's cell is
    clamped to the grid).

    The first peaks are the same as with one peak per cell, and come first for the cap: the second peaks only fill
    the room the hot cells leave (a cloud's frame is unchanged). One cell (64 × 36 SD px) holds two lights often
    enough to matter: a meteor crossing a brighter satellite's cell left only 3 peaks in its 10 brightest frames and
    was missed (issue 15). A cell's second peak is its brightest pixel ≥ ``thresh`` at least ``second_px`` binned px
    from the first in x or y (the square around the first blanked, one more ``minMaxLoc``), and only if the light
    dips to ``second_dip`` × its value or below somewhere on the straight line between the two: two lights have dark
    sky between them, while the wing of one light's halo or blurred streak falls steadily towards it. Why 6 binned px
    (12 SD px): a point light's blob spreads ~2 binned px from its brightest pixel and a bright plane's or star's
    above-threshold core a few more; 6 keeps the second search off the first light's core, so the dip test decides
    only on wings, and is still under a slow meteor's distance from a satellite it passes (the issue's meteor was
    found with 6). The Detector merges peaks of a frame closer than 4 SD px, far under 12.

    One ``minMaxLoc`` per kept cell: it gives the cell's first brightest pixel in raster order, the pixel the list of
    all pixels above threshold gave before (``findNonZero``, ~0.1 ms on every frame with a twinkling star; most
    frames have one). Plain lists: a frame has a few hot cells, and numpy's per-call cost would be most of the time.
    Whole-pixel positions on the 2×2-binned image (±1 SD px) are enough for linking and the detect rules; the
    Verifier measures sub-pixel centroids on exactly decoded frames."""
    rows, cols = cm.shape
    h, w = d.shape
    ch, cw = h // rows, w // cols
    gh, gw = ch * rows, cw * cols
    if gh < h or gw < w:  # the left-over strips, into the last row and column of cells
        pm = cm.copy()
        if gh < h:
            pm[-1] = np.maximum(pm[-1], d[gh:, :gw].max(0).reshape(cols, cw).max(1))
        if gw < w:
            pm[:, -1] = np.maximum(pm[:, -1], d[:gh, gw:].max(1).reshape(rows, ch).max(1))
        if gh < h and gw < w:
            pm[-1, -1] = max(int(pm[-1, -1]), int(d[gh:, gw:].max()))
        hot = np.flatnonzero(pm >= thresh).tolist()
        hot_max = pm.ravel()[hot].tolist()
    order = sorted(range(len(hot)), key=hot_max.__getitem__, reverse=True)[:max_peaks]  # (stable)
    room = max_peaks - len(order)
    out: list[list[float]] = []
    seconds: list[list[float]] = []
    for i in order:
        v = hot_max[i]
        r, k = divmod(hot[i], cols)
        y0, x0 = r * ch, k * cw
        cell = d[y0:h if r == rows - 1 else y0 + ch, x0:w if k == cols - 1 else x0 + cw]
        lx, ly = cv2.minMaxLoc(cell)[3]
        out.append(_sd_peak(d, x0 + lx, y0 + ly, v, b, flat_min))
        if room > 0:
            sec = _second_peak(d, cell, x0, y0, lx, ly, thresh, b, flat_min, second_px, second_dip)
            if sec is not None:
                seconds.append(sec)
    if seconds:
        seconds.sort(key=lambda p: -p[2])
        out = sorted(out + seconds[:room], key=lambda p: -p[2])  # (stable: the first peaks before the seconds)
    return out


def _sd_peak(d: U8, x: int, y: int, v: int, b: int, flat_min: int) -> list[float]:
    """The peak at binned pixel (``x``, ``y``) of ``d``, value ``v``, as [x, y, value] in SD px. A saturated object
    (a bolide) has a flat top: its first pixel in raster order is its top-left corner, which wanders across the blob
    from frame to frame; the centre of the flat top (the pixels of ``v`` within 8 px) does not."""
    fx, fy = float(x), float(y)
    if v >= flat_min:
        wy0, wx0 = max(y - 8, 0), max(x - 8, 0)
        ny, nx = np.nonzero(d[wy0:y + 9, wx0:x + 9] == v)
        if len(ny) > 1:
            fx, fy = float((nx + wx0).mean()), float((ny + wy0).mean())
    return [round((fx + 0.5) * b - 0.5, 1), round((fy + 0.5) * b - 0.5, 1), int(v)]


def _second_peak(d: U8, cell: U8, x0: int, y0: int, lx: int, ly: int, thresh: int, b: int, flat_min: int,
                 sep: int, dip: float) -> list[float] | None:
    """The cell's second light (see ``cell_peaks``): the brightest pixel ≥ ``thresh`` of ``cell`` (a view of ``d`` at
    ``x0``, ``y0``) outside the square of half-side ``sep`` - 1 around its first peak (``lx``, ``ly`` in the cell), if
    the light between them dips to ``dip`` × its value. The square is blanked in ``d`` and restored (``d`` is read
    again by the streak stage): a copy of ~120 bytes, cheaper than a mask for ``minMaxLoc``."""
    px, py = x0 + lx, y0 + ly
    ya, yb, xa, xb = max(py - sep + 1, 0), py + sep, max(px - sep + 1, 0), px + sep
    saved = d[ya:yb, xa:xb].copy()
    d[ya:yb, xa:xb] = 0
    _, v2, _, (sx, sy) = cv2.minMaxLoc(cell)
    v = int(v2)
    peak = _sd_peak(d, x0 + sx, y0 + sy, v, b, flat_min) if v >= thresh else None  # (a flat top: the first's blanked)
    d[ya:yb, xa:xb] = saved
    if peak is None:
        return None
    # the straight line from the first peak to the second, ends excluded: does the light dip?
    dx, dy = x0 + sx - px, y0 + sy - py
    n = max(abs(dx), abs(dy))
    floor = dip * v
    for t in range(1, n):
        if d.item(py + (2 * dy * t + n) // (2 * n), px + (2 * dx * t + n) // (2 * n)) <= floor:
            return peak
    return None


def encode_stack_png(stack: U8) -> bytes:
    """The max-pixel stack as PNG bytes (``<clip>-stacked.png``)."""
    ok, buf = cv2.imencode(".png", stack, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise InputError("stack", None, "PNG encoding failed")
    return buf.tobytes()


def encode_thumbnail_jpeg(stack: U8, width: int = 320, quality: int = 80) -> bytes:
    """A small JPEG of the stack (``<clip>-stacked-tn.jpg``) for the operator's day view."""
    h, w = stack.shape[:2]
    tn = cv2.resize(stack, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", tn, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise InputError("stack", None, "JPEG encoding failed")
    return buf.tobytes()
