"""The scan's per-cell peaks (one ``minMaxLoc`` per hot cell) against a plain reference: the list of every pixel at or
above threshold in raster order, each cell's first brightest one, as the scan found them before (``findNonZero``).
Tie-rich integer noise, saturated flat tops (also across a cell border and in the rows and columns a 704×576 clip's
grid leaves over) and a frame with more hot cells than the scan keeps."""

from __future__ import annotations

import numpy as np
import pytest

from ams_actors.kernels.scan import cell_peaks

ROWS = COLS = 10
B, MAX_PEAKS, FLAT_MIN = 2, 24, 60


def _reference(d: np.ndarray, thresh: int) -> list[list[float]]:
    h, w = d.shape
    ch, cw = h // ROWS, w // COLS
    above = [(int(y), int(x), int(d[y, x])) for y, x in zip(*np.nonzero(d >= thresh), strict=True)]  # raster order
    best: dict[int, tuple[int, int, int]] = {}
    for y, x, v in above:
        c = min(y // ch, ROWS - 1) * COLS + min(x // cw, COLS - 1)
        if c not in best or v > best[c][2]:
            best[c] = (y, x, v)
    kept = sorted(sorted(best), key=lambda c: -best[c][2])[:MAX_PEAKS]
    out = []
    for c in kept:
        y, x, v = best[c]
        fx, fy = float(x), float(y)
        if v >= FLAT_MIN:
            near = [(py, px) for py, px, pv in above if pv == v and abs(px - x) <= 8 and abs(py - y) <= 8]
            if len(near) > 1:
                fx, fy = sum(p[1] for p in near) / len(near), sum(p[0] for p in near) / len(near)
        out.append([round((fx + 0.5) * B - 0.5, 1), round((fy + 0.5) * B - 0.5, 1), v])
    return out


def _frame(shape: tuple[int, int], seed: int, cloud: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    d = np.minimum(rng.poisson(2.0 if not cloud else 4.0, shape), 255).astype(np.uint8)  # small integers: many ties
    h, w = shape
    for y, x in [(40, 60), (17, 31), (h - 3, w - 2), (h - 5, 40), (30, w - 3), (int(rng.integers(5, h - 5)), 100)]:
        d[max(y - 2, 0):y + 3, max(x - 2, 0):x + 3] = 255  # flat tops: across a border, in the left-over strips
    d[100, 200:204] = 90  # a flat run below 255
    return d


@pytest.mark.parametrize("shape", [(180, 320), (288, 352)])  # 640×360 (the grid tiles it) and 704×576 binned
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("cloud", [False, True])
def test_cell_peaks_match_the_list_of_all_pixels_above_threshold(shape: tuple[int, int], seed: int,
                                                                 cloud: bool) -> None:
    d = _frame(shape, seed, cloud)
    h, w = shape
    ch, cw = h // ROWS, w // COLS
    cm = d[:ch * ROWS, :cw * COLS].reshape(ROWS, ch, cw * COLS).max(1).reshape(ROWS, COLS, cw).max(2)
    for thresh in (9,) if cloud else (6, 9, 14):  # (a cloud at 9: ~12 pixels in every cell)
        hot = np.flatnonzero(cm >= thresh).tolist()
        got = cell_peaks(d, cm, hot, cm.ravel()[hot].tolist(), thresh, B, MAX_PEAKS, FLAT_MIN)
        ref = _reference(d, thresh)
        assert got == ref
        assert len(ref) == MAX_PEAKS or not cloud  # (a cloud: more hot cells than the scan keeps)
        assert [120.5, 80.5, 255] in ref  # (not vacuous: the flat top at binned (60, 40) is put at its centre)
