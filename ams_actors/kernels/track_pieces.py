"""One object in pieces: are two stretches of track the same moving object?

One rule for both places that need it, so they cannot drift apart: the Detector joins track pieces (a
faint stretch or a blurred streak cuts a meteor in two), and the Verifier merges accepted meteors (a
saturated bolide comes out of the Detector as several tracks along its bloom, each measured on its own).
Two ways a piece belongs to another:

- **same light**: its frames overlap the other's and at those frames it sits where the other is (compared
  with the other's own positions, interpolated: no motion model to be wrong about a decelerating bolide).
  Its own fitted direction and speed are not asked for: a short piece zigzagging over a bloom has neither.
- **continues**: it follows (or precedes) the other within a few frames, at a similar speed, and each
  piece's points lie on the other's fitted line extrapolated: the Detector's old join rule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Piece:
    """A stretch of track: frame numbers (ascending) and positions (px)."""

    fns: F64
    xs: F64
    ys: F64

    @classmethod
    def of(cls, fns: Sequence[float], xs: Sequence[float], ys: Sequence[float]) -> Piece:
        return cls(np.asarray(fns, float), np.asarray(xs, float), np.asarray(ys, float))

    def motion(self) -> tuple[float, float, float, float]:
        """Least-squares x = ax·fn + bx, y = ay·fn + by."""
        (ax, bx), (ay, by) = line_fit(self.fns, self.xs), line_fit(self.fns, self.ys)
        return ax, bx, ay, by

    def speed(self) -> float:
        ax, _, ay, _ = self.motion()
        return math.hypot(ax, ay)


def line_fit(f: F64, v: F64 | Sequence[float]) -> tuple[float, float]:
    """Least-squares slope and intercept of v(f) (np.polyfit's answer, without its overhead)."""
    vv = np.asarray(v, float)
    fm, vm = f.mean(), vv.mean()
    df = f - fm
    sff = float(df @ df)
    slope = float(df @ (vv - vm)) / sff if sff > 0 else 0.0
    return slope, float(vm - slope * fm)


def one_object(a: Piece, b: Piece, *, tol_px: float, max_gap: int, speed_ratio: float, tol_speed: float = 0.0,
               same_light: bool = True) -> str | None:
    """Why ``a`` and ``b`` are one object — ``"same light"`` or ``"continues"`` — or None.

    ``tol_px`` + ``tol_speed`` × speed (px/frame): how far apart two positions of one object may be (the
    caller's measure of its own scatter, which grows with the motion blur);
    ``max_gap``: frame-number difference bridged between the pieces' ends; ``speed_ratio``: how much the
    speeds (px/frame) of two continuing pieces may differ, as a fraction of the faster. ``same_light=False``
    asks only whether one continues the other (the Detector: overlapping tracks share no points to merge).
    """
    if a.fns[-1] - a.fns[0] < b.fns[-1] - b.fns[0]:
        a, b = b, a
    if min(len(a.fns), len(b.fns)) < 2:
        return None
    lo, hi = a.fns[0], a.fns[-1]
    if b.fns[0] > hi + max_gap or b.fns[-1] < lo - max_gap:
        return None
    inside = (b.fns >= lo) & (b.fns <= hi)
    if inside.any():
        if not same_light:
            return None
        fi = b.fns[inside]
        off = np.hypot(b.xs[inside] - np.interp(fi, a.fns, a.xs), b.ys[inside] - np.interp(fi, a.fns, a.ys))
        if float(np.median(off)) > tol_px + tol_speed * a.speed():
            return None
        if inside.all():
            return "same light"
    return ("same light" if inside.any() else "continues") if _on_one_line(a, b, tol_px, tol_speed,
                                                                            speed_ratio) else None


def _on_one_line(a: Piece, b: Piece, tol_px: float, tol_speed: float, speed_ratio: float) -> bool:
    """Speeds alike, and every point of each piece on the other's fitted motion (extrapolated)."""
    pa, pb = a.motion(), b.motion()
    va, vb = math.hypot(pa[0], pa[2]), math.hypot(pb[0], pb[2])
    if min(va, vb) <= 0 or abs(va - vb) > speed_ratio * max(va, vb):
        return False
    tol = tol_px + tol_speed * max(va, vb)
    for (ax, bx, ay, by), t in ((pa, b), (pb, a)):
        if float(np.max(np.hypot(t.xs - (ax * t.fns + bx), t.ys - (ay * t.fns + by)))) > tol:
            return False
    return True
