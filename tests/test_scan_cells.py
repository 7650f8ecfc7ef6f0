"""The scan's per-cell peaks (a ``minMaxLoc`` or two per hot cell) against a plain reference: the list of every pixel
at or above threshold in raster order; each cell's first brightest one, as the scan found them before
(``findNonZero``), and its second light: the first brightest ≥ 6 binned px from it in x or y with the light on the
line between them dipping to half its value. Tie-rich integer noise, saturated flat tops (also across a cell border
and in the rows and columns a 704×576 clip's grid leaves over) and a frame with more hot cells than the scan keeps;
then two lights in one cell against one light with a bright halo and one blurred streak (issue 15)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ams_actors.kernels.scan import cell_peaks

ROWS = COLS = 10
B, MAX_PEAKS, FLAT_MIN = 2, 24, 60
SEP, DIP = 6, 0.5  # a second peak's distance from the first (binned px, in x or y) and the dip between


def _sd(above: list[tuple[int, int, int]], y: int, x: int, v: int, skip: tuple[int, int] | None) -> list[float]:
    """A peak in SD px; a saturated one at the centre of its flat top (its value's pixels within 8 px, not those
    within SEP - 1 of ``skip``: the first light, when this is a second one)."""
    fx, fy = float(x), float(y)
    if v >= FLAT_MIN:
        near = [(py, px) for py, px, pv in above if pv == v and abs(px - x) <= 8 and abs(py - y) <= 8
                and (skip is None or max(abs(py - skip[0]), abs(px - skip[1])) >= SEP)]
        if len(near) > 1:
            fx, fy = sum(p[1] for p in near) / len(near), sum(p[0] for p in near) / len(near)
    return [round((fx + 0.5) * B - 0.5, 1), round((fy + 0.5) * B - 0.5, 1), v]


def _dips(d: np.ndarray, a: tuple[int, int], c: tuple[int, int], v: int) -> bool:
    """Whether a pixel on the straight line from ``a`` to ``c`` ((y, x), ends excluded, rounded half up) is ≤ DIP × v."""
    n = max(abs(c[0] - a[0]), abs(c[1] - a[1]))
    return any(d[math.floor(a[0] + (c[0] - a[0]) * t / n + 0.5), math.floor(a[1] + (c[1] - a[1]) * t / n + 0.5)]
               <= DIP * v for t in range(1, n))


def _reference(d: np.ndarray, thresh: int) -> list[list[float]]:
    h, w = d.shape
    ch, cw = h // ROWS, w // COLS
    above = [(int(y), int(x), int(d[y, x])) for y, x in zip(*np.nonzero(d >= thresh), strict=True)]  # raster order
    in_cell: dict[int, list[tuple[int, int, int]]] = {}
    for y, x, v in above:
        in_cell.setdefault(min(y // ch, ROWS - 1) * COLS + min(x // cw, COLS - 1), []).append((y, x, v))
    best = {c: max(px, key=lambda p: p[2]) for c, px in in_cell.items()}  # (max: the first of the brightest)
    kept = sorted(sorted(best), key=lambda c: -best[c][2])[:MAX_PEAKS]
    firsts = [_sd(above, *best[c], None) for c in kept]
    seconds = []
    for c in kept:
        y1, x1, _ = best[c]
        far = [p for p in in_cell[c] if max(abs(p[0] - y1), abs(p[1] - x1)) >= SEP]
        if far:
            y, x, v = max(far, key=lambda p: p[2])
            if _dips(d, (y1, x1), (y, x), v):
                seconds.append(_sd(above, y, x, v, (y1, x1)))
    seconds = sorted(seconds, key=lambda p: -p[2])[:MAX_PEAKS - len(kept)]
    return sorted(firsts + seconds, key=lambda p: -p[2])


def _frame(shape: tuple[int, int], seed: int, cloud: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    d = np.minimum(rng.poisson(2.0 if not cloud else 4.0, shape), 255).astype(np.uint8)  # small integers: many ties
    h, w = shape
    for y, x in [(40, 60), (17, 31), (h - 3, w - 2), (h - 5, 40), (30, w - 3), (int(rng.integers(5, h - 5)), 100)]:
        d[max(y - 2, 0):y + 3, max(x - 2, 0):x + 3] = 255  # flat tops: across a border, in the left-over strips
    d[100, 200:204] = 90  # a flat run below 255
    d[46, 50] = 40  # a second light in the cell of the flat top at (60, 40), 10 px from it
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
        assert [100.5, 92.5, 40] in ref or thresh < 14  # (not vacuous: a second light, where the cap leaves room)
        assert [120.5, 80.5, 255] in ref  # (not vacuous: the flat top at binned (60, 40) is put at its centre)


def _light(d: np.ndarray, x: float, y: float, amp: float, sigma: float) -> None:
    yy, xx = np.mgrid[0:d.shape[0], 0:d.shape[1]]
    g = amp * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    d[...] = np.minimum(d + np.rint(g), 255).astype(np.uint8)


def _peaks(d: np.ndarray, thresh: int) -> list[list[float]]:
    h, w = d.shape
    ch, cw = h // ROWS, w // COLS
    cm = d[:ch * ROWS, :cw * COLS].reshape(ROWS, ch, cw * COLS).max(1).reshape(ROWS, COLS, cw).max(2)
    hot = np.flatnonzero(cm >= thresh).tolist()
    out = cell_peaks(d, cm, hot, cm.ravel()[hot].tolist(), thresh, B, MAX_PEAKS, FLAT_MIN)
    assert out == _reference(d, thresh)
    return out


def test_two_lights_in_one_cell_give_two_peaks_one_light_with_a_halo_or_a_streak_one() -> None:
    """The cell (1, 1) spans binned x 32-63, y 18-35 at 640×360. A satellite and a fainter meteor 8 px apart in it: both
    (the meteor was lost before). A bright light whose halo stays over threshold 7 px out, and a blurred streak
    16 px long: one peak each, at the light (no second peak on its own wing)."""
    rng = np.random.default_rng(3)
    noise = rng.poisson(1.0, (180, 320)).astype(np.uint8)
    two = noise.copy()
    _light(two, 40, 26, 150, 1.0)  # the satellite
    _light(two, 48, 29, 30, 1.0)  # the meteor: 8 px right, 3 down
    got = _peaks(two, 10)
    assert [[p[0], p[1]] for p in got] == [[80.5, 52.5], [96.5, 58.5]]
    halo = noise.copy()
    _light(halo, 47, 27, 180, 1.0)
    _light(halo, 47, 27, 60, 4.0)  # over 10 out to 7.6 px (inside the cell): 6 px out, 19 DN
    got = _peaks(halo, 10)
    assert [[p[0], p[1]] for p in got] == [[94.5, 54.5]]
    streak = noise.copy()
    for x in range(36, 52):
        _light(streak, x, 24 + (x - 36) * 0.25, 20, 0.8)
    got = _peaks(streak, 10)
    assert len(got) == 1 and 36 * B <= got[0][0] <= 52 * B
