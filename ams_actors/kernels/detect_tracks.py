"""Tracking for the values-detect kernel: peaks linked frame to frame into tracks, and tracks mended.

Split from ``detect.py`` (which filters peaks, judges the tracks and writes the document) so each file
has one job. Gates follow the motion: a first link may jump ``first_gate_px`` (fast meteors, ≥ 25 px per
frame at SD), later links allow for the scan's peak wandering along a motion-blurred streak; pieces of one
object on one line at one speed are joined, and a long track takes back its end points from noise links.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ams_actors.kernels.detect_params import DetectParams
from ams_actors.kernels.track_pieces import Piece, line_fit, one_object

Peaks = list[tuple[int, list[tuple[float, float, float]]]]


@dataclass(slots=True)
class Track:
    fns: list[int] = field(default_factory=list)
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    vs: list[float] = field(default_factory=list)
    vx: float = 0.0  # px/frame, least squares over the last few points
    vy: float = 0.0
    n_fit: int = 0  # points when vx/vy were last fitted: refitted only when a prediction needs it

    def add(self, fn: int, x: float, y: float, v: float) -> None:
        self.fns.append(fn)
        self.xs.append(x)
        self.ys.append(y)
        self.vs.append(v)

    def predict(self, fn: int, prm: DetectParams) -> tuple[float, float, float, float, float, float]:
        """Predicted (x, y) at frame ``fn``, the gate's half-lengths along and across the motion (px) and the
        motion's unit direction. The scan's peak wanders along a motion-blurred streak (up to half a step), not
        across it: across, a peak is off by its 2×2 bin and the light's width whatever the speed, so only the
        along-track half-length grows with the speed (a circular gate of 4 + 0.5·speed let a fast meteor's track
        take a noise peak 6 px off its line at its end, and fail "linear" for it). ``link_gate_across_speed`` =
        ``link_gate_speed`` gives that circular gate back (to compare)."""
        n = len(self.fns)
        gap = fn - self.fns[-1]
        if n == 1:
            r = prm.first_gate_px * gap
            return self.xs[-1], self.ys[-1], r, r, 1.0, 0.0
        if self.n_fit != n:
            self._fit_velocity()
        sp = math.hypot(self.vx, self.vy)
        base = prm.link_gate_px * (1.0 + (0.5 if n < 3 else 0.0))
        ux, uy = (self.vx / sp, self.vy / sp) if sp > 0 else (1.0, 0.0)
        return (self.xs[-1] + self.vx * gap, self.ys[-1] + self.vy * gap,
                base + prm.link_gate_speed * sp * gap, base + prm.link_gate_across_speed * sp * gap, ux, uy)

    def _fit_velocity(self) -> None:
        k = min(len(self.fns), 6)
        self.n_fit = len(self.fns)
        f = self.fns[-k:]
        fm = sum(f) / k
        sff = sum((a - fm) ** 2 for a in f)
        if sff > 0:
            xm = sum(self.xs[-k:]) / k
            ym = sum(self.ys[-k:]) / k
            self.vx = sum((a - fm) * (b - xm) for a, b in zip(f, self.xs[-k:], strict=True)) / sff
            self.vy = sum((a - fm) * (b - ym) for a, b in zip(f, self.ys[-k:], strict=True)) / sff


def extend_tracks(tracks: list[Track], moving: Peaks,
                   prm: DetectParams) -> list[Track]:
    """Grow each track of ≥4 points at both ends with peaks on its fitted line (≤2.5 px off).

    Greedy frame-to-frame linking can hand a meteor's first point to a noise peak that happened to
    be near it a frame earlier; this takes such points back (from short tracks only).
    """
    by_fn = {fn: pk for fn, pk in moving}
    owner: dict[tuple[int, float, float], Track] = {}
    for t in tracks:
        for fn, x, y in zip(t.fns, t.xs, t.ys, strict=True):
            owner[(fn, x, y)] = t
    for t in sorted(tracks, key=lambda t: -len(t.fns)):
        if len(t.fns) < 4:
            continue
        for _ in range(2 * prm.max_gap + 4):
            f = np.asarray(t.fns, float)
            (ax, bx), (ay, by) = line_fit(f, t.xs), line_fit(f, t.ys)
            grew = False
            for fn in list(range(t.fns[0] - prm.max_gap - 1, t.fns[0])) + list(
                    range(t.fns[-1] + 1, t.fns[-1] + prm.max_gap + 2)):
                if fn in t.fns:
                    continue
                ex, ey = ax * fn + bx, ay * fn + by
                for x, y, v in by_fn.get(fn, ()):
                    other = owner.get((fn, x, y))
                    if other is t or (other is not None and len(other.fns) >= 4):
                        continue
                    if (x - ex) ** 2 + (y - ey) ** 2 <= prm.extend_px**2:
                        if other is not None:
                            i = next(i for i, (a, b, c) in enumerate(zip(other.fns, other.xs, other.ys,
                                                                          strict=True)) if (a, b, c) == (fn, x, y))
                            for lst in (other.fns, other.xs, other.ys, other.vs):
                                del lst[i]
                        j = int(np.searchsorted(t.fns, fn))
                        t.fns.insert(j, fn)
                        t.xs.insert(j, x)
                        t.ys.insert(j, y)
                        t.vs.insert(j, v)  # (velocity cache no longer used after tracking)
                        owner[(fn, x, y)] = t
                        grew = True
                        break
            if not grew:
                break
    return [t for t in tracks if t.fns]


def join_pieces(tracks: list[Track], prm: DetectParams) -> list[Track]:
    """Join track pieces that lie on one line at one speed: a fast meteor's blurred streak makes the scan's
    peak jump along it, and a faint stretch can cut a meteor in two; each piece alone has too few frames.
    Overlapping tracks are left apart (they share no points to merge): the Verifier merges their meteors."""
    ts = sorted((t for t in tracks if len(t.fns) >= 3), key=lambda t: t.fns[0])
    out = [t for t in tracks if len(t.fns) < 3]
    used: set[int] = set()
    for i, a in enumerate(ts):
        if i in used:
            continue
        for j in range(i + 1, len(ts)):
            b = ts[j]
            if j in used or b.fns[0] <= a.fns[-1] or b.fns[0] - a.fns[-1] > prm.join_gap:
                continue
            if not one_object(_piece(a), _piece(b), tol_px=prm.link_gate_px, tol_speed=prm.link_gate_speed,
                              max_gap=prm.join_gap, speed_ratio=prm.join_speed_ratio, same_light=False):
                continue
            for fn, x, y, v in zip(b.fns, b.xs, b.ys, b.vs, strict=True):
                a.add(fn, x, y, v)
            a.n_fit = 0
            used.add(j)
        out.append(a)
    return out


def _piece(t: Track) -> Piece:
    return Piece.of(t.fns, t.xs, t.ys)
