"""One object in pieces: are two stretches of track the same moving object?

One rule for both places that need it, so they cannot drift apart: the Detector joins track pieces (a
faint stretch or a blurred streak cuts a meteor in two), and the Verifier merges accepted meteors (a
saturated bolide comes out of the Detector as several tracks along its bloom, each measured on its own).
Two ways a piece belongs to another:

- **same light**: its frames overlap the other's and at those frames it sits where the other is (compared
  with the other's own positions, interpolated: no motion model to be wrong about a decelerating bolide).
  Its own fitted direction and speed are not asked for: a short piece zigzagging over a bloom has neither.
- **continues**: it follows (or precedes) the other within a few frames, at a similar speed, and one
  motion fitted through both pieces passes every point of both.
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
    return ("same light" if inside.any() else "continues") if on_one_line(a, b, tol_px, tol_speed,
                                                                           speed_ratio) else None


def on_one_line(a: Piece, b: Piece, tol_px: float, tol_speed: float, speed_ratio: float) -> bool:
    """Speeds alike, and one motion through both pieces: every point within the tolerance of the motion fitted to
    their union. (Extrapolating each piece's own line over the other, as the Detector once did, multiplies a short
    piece's direction error by the other's length: a slow plane's steady light between two strobes, whose scan
    peaks step by whole 2-px bins, read as level over 18 frames and missed its own next 60 frames by 6 px.)"""
    va, vb = a.speed(), b.speed()
    if min(va, vb) <= 0 or abs(va - vb) > speed_ratio * max(va, vb):
        return False
    u = Piece(np.concatenate([a.fns, b.fns]), np.concatenate([a.xs, b.xs]), np.concatenate([a.ys, b.ys]))
    ax, bx, ay, by = u.motion()
    off = np.hypot(u.xs - (ax * u.fns + bx), u.ys - (ay * u.fns + by))
    return float(np.max(off)) <= tol_px + tol_speed * max(va, vb)
