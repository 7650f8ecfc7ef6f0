"""Static sources for the values-detect kernel: positions a light stays at, in time as well as in space.

A twinkling star, a hot pixel or a light on the ground is hot at one 2-px position in many frames, and its
peaks must not capture a track. A slow plane or satellite is hot at each position of its path too, but only
while it passes: counted over the whole minute, its path was "static" for every frame, and a meteor crossing it
seconds earlier or later lost its points there (held-out-7 aircraft seed 99008: a 17 °/s meteor lost 3 of its
6 scan peaks to a plane's path crossed 16 s later, and the rest failed "3 detections < 5"). So a position is
static only at frames with ``static_hits`` hits within ``static_window_s`` of them.
"""

from __future__ import annotations

Cell = tuple[int, int]


class StaticSources:
    """Hits per 2-px cell (frames in order); :meth:`at` asks whether a peak sits on a static source then."""

    def __init__(self, min_hits: int, window_frames: int) -> None:
        self.min_hits = min_hits
        self.window = window_frames
        self._hits: dict[Cell, list[int]] = {}
        self._spans: dict[Cell, list[tuple[int, int]]] | None = None

    @staticmethod
    def cell(x: float, y: float) -> Cell:
        return int(x // 2), int(y // 2)

    def add(self, fn: int, x: float, y: float) -> None:
        self._hits.setdefault(self.cell(x, y), []).append(fn)
        self._spans = None

    def at(self, fn: int, x: float, y: float) -> bool:
        """On (or within one cell of) a position hot in ``min_hits`` frames within the window around ``fn``."""
        spans = self._spans if self._spans is not None else self._build()
        return any(a <= fn <= b for a, b in spans.get(self.cell(x, y), ()))

    def _build(self) -> dict[Cell, list[tuple[int, int]]]:
        """Per cell, the frame spans over which it is static, spread to the 8 neighbouring cells: any ``min_hits``
        consecutive hits within 2 × window frames make the frames within the window of all of them static."""
        spans: dict[Cell, list[tuple[int, int]]] = {}
        n, w = self.min_hits, self.window
        for (kx, ky), frames in self._hits.items():
            if len(frames) < n:
                continue
            own: list[tuple[int, int]] = []
            for i in range(len(frames) - n + 1):
                lo, hi = frames[i + n - 1] - w, frames[i] + w
                if lo > hi:
                    continue
                if own and lo <= own[-1][1] + 1:
                    own[-1] = (own[-1][0], max(own[-1][1], hi))
                else:
                    own.append((lo, hi))
            if not own:
                continue
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    spans.setdefault((kx + dx, ky + dy), []).extend(own)
        self._spans = spans
        return spans
