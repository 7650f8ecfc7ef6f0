"""A saturated light in the scan's peaks: its spill into the next scan cells, and its clipped plateau's several peaks.

The scan keeps the brightest pixel of each cell of a coarse grid (``scan.cell_peaks``). A saturated bolide's bloom
reaches tens of pixels, so the cells next to the one holding it report a peak too, and that peak is the bloom's
brightest pixel *inside the neighbouring cell*: on the cell's border pixel toward the bolide, off its path. Linked,
such peaks make tracks that run along the cell border (a Verifier rejects them, rightly) or zigzag across the path
and fail "linear" (issue 15, held-out-3 minute 49).

The rule, from one frame's peaks alone (the vals hold the grid's geometry; no image needed): a peak is spill when it
lies on a border pixel of its cell, a brighter peak of the same frame lies across that border (in the next cell row
or column on that side), within the bloom's reach, and that brighter peak is bright enough to bloom and clearly
brighter (a peak as bright is a piece of the same clipped plateau). A cell's maximum
sits on its border only when the light rises toward that border, so its source is across it; the brighter peak
there within reach is that source. A light of its own has its maximum inside its cell (or, straddling a border, a
brighter half across it: the same light, kept once). Spill peaks are dropped before linking (and before the static
count: a bolide's spill stepping down one border column is not a static source).

Left alone, its own plateau still gives two peaks 3-8 px apart in half its frames (two cells over it, or a cell's
and the streak stage's): each is a pixel of the clipped top, neither its centre, and a track that takes one or the
other zigzags across the path. Such bright peaks that close together are taken as one, at their middle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Peak = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class CellGrid:
    """The scan's cell grid in SD pixels: ``b``×``b`` bins, cells of ``cw``×``ch`` bins, ``cols``×``rows`` of them (the
    last column and row also hold the bins the grid leaves over)."""

    b: int
    cw: int
    ch: int
    cols: int
    rows: int

    @classmethod
    def of_vals(cls, vals: dict[str, Any]) -> CellGrid:
        """The grid a vals document was scanned with (``scan.scan_clip``: the binned image cropped to whole cells)."""
        b, grid = int(vals["bin"]), vals["grid"]
        rows, cols = int(grid["rows"]), int(grid["cols"])
        cw = int(grid["cell_w"]) // b if "cell_w" in grid else int(vals["width"]) // b // cols
        ch = int(grid["cell_h"]) // b if "cell_h" in grid else int(vals["height"]) // b // rows
        return cls(b, max(cw, 1), max(ch, 1), cols, rows)

    def _side(self, v: float, n: int, size: int) -> tuple[int, int]:
        """(cell index, border): -1 on the cell's first bin toward a lower cell, +1 on its last bin toward a higher
        one, 0 inside (or a position not on a bin's centre: a flat top's or a streak's centre, not a cell maximum)."""
        bv = (v + 0.5) / self.b - 0.5
        k = round(bv)
        c = min(max(k // size, 0), n - 1)
        if abs(bv - k) > 0.01:
            return c, 0
        if k == c * size and c > 0:
            return c, -1
        if k == (c + 1) * size - 1 and c < n - 1:
            return c, 1
        return c, 0

    def spills_toward(self, p: Peak, q: Peak) -> bool:
        """Is ``p`` on its cell's border with ``q`` across that border (``q`` in the next cell column or row on that
        side)?"""
        pc, sx = self._side(p[0], self.cols, self.cw)
        pr, sy = self._side(p[1], self.rows, self.ch)
        if not (sx or sy):
            return False
        qc = min(max(round((q[0] + 0.5) / self.b - 0.5) // self.cw, 0), self.cols - 1)
        qr = min(max(round((q[1] + 0.5) / self.b - 0.5) // self.ch, 0), self.rows - 1)
        return bool((sx and qc == pc + sx) or (sy and qr == pr + sy))


def drop_spill(peaks: list[Peak], grid: CellGrid, *, min_val: float, reach_px: float, below: float) -> list[Peak]:
    """``peaks`` (one frame's) without those that are the spill of a brighter light (``min_val`` or more: one that
    blooms) within ``reach_px`` across their cell's border, and at most ``below`` × its value: a peak about as bright
    is clipped like it, a piece of its plateau over the border (the background under a clipped plateau varies it by a
    few %), which ``one_plateau`` takes into the light's centre. Order kept."""
    bright = [q for q in peaks if q[2] >= min_val]
    if not bright:
        return peaks
    r2 = reach_px * reach_px
    return [p for p in peaks
            if not any(p[2] <= below * q[2] and (q[0] - p[0]) ** 2 + (q[1] - p[1]) ** 2 <= r2
                       and grid.spills_toward(p, q) for q in bright)]


def one_plateau(peaks: list[Peak], *, min_val: float, reach_px: float, within: float = 0.9) -> list[Peak]:
    """``peaks`` (one frame's, brightest first) with the bright ones (``min_val`` or more) within ``reach_px`` of a
    brighter bright one, and as bright as it (``within`` of its value or more: the same clipped top), taken as one
    clipped plateau: replaced by one peak at their mean position (the brightest's value), in the brightest's place. A
    clipped plateau has no brightest pixel: each cell over it reports a pixel of it (its first in raster order, or the
    centre of the tie around that pixel), and the light is in the middle of them, not at whichever the background
    under it left a DN higher. A dimmer peak within reach is the bloom's slope, not the plateau: averaged in, it pulled
    a 1280×720 bolide's track 4-6 px toward a cell border (reach grows with the pixels), and it failed "linear"."""
    out: list[Peak] = []
    used = [False] * len(peaks)
    r2 = reach_px * reach_px
    for i, (x, y, v) in enumerate(peaks):
        if used[i]:
            continue
        if v < min_val:
            out.append((x, y, v))
            continue
        group = [(x, y)]
        for j in range(i + 1, len(peaks)):
            a, b, w = peaks[j]
            if not used[j] and w >= max(min_val, within * v) and (a - x) ** 2 + (b - y) ** 2 <= r2:
                used[j] = True
                group.append((a, b))
        out.append((sum(g[0] for g in group) / len(group), sum(g[1] for g in group) / len(group), v))
    return out
