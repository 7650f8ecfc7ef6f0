"""Lens distortion: image pixels ↔ ideal focal-plane coordinates of an azimuthal-equidistant lens.

The forms are RMS's (so a GMN platepar is represented exactly, not approximated): a radial polynomial
about a free distortion centre with an aspect term and a first-order asymmetry ("radialN-odd",
"radialN-all"), or a full 3rd-order 2-D polynomial plus radial terms ("poly3+radial[3|5]"). Both are
defined in the pixel → sky direction; the way back is solved by Newton's method to 1e-9 px, so a
round trip closes far below the 0.01 px requirement (RMS instead fits a separate approximate reverse
polynomial, which does not).

Focal-plane units are "ideal pixels": an angle θ from the optical axis is θ·scale (px/deg) long.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

Float = NDArray[np.float64]

RADIAL_KINDS = ("radial-odd", "radial-all")
POLY_KINDS = ("poly3+radial", "poly3+radial3", "poly3+radial5")


@dataclass(frozen=True)
class Lens:
    """Distortion of one camera at one image size.

    radial kinds: corrected = (X, (1+aspect)·Y) · h(r/R), X, Y the offsets from the distortion centre
    (image centre + (x0, y0)); r = |(X, (1+aspect)·Y)| + asym_c·(1+aspect)·Y − asym_s·X; R = width/2;
    h(q) = 1 + k1 q² + k2 q⁴ + … ("radial-odd") or 1 + k1 q + k2 q² + … ("radial-all").
    poly kinds: RMS's 12 (+1/+2) term polynomials ``x_poly``/``y_poly`` in the offsets from the centre.
    """

    width: int
    height: int
    kind: str = "radial-odd"
    x0: float = 0.0
    y0: float = 0.0
    aspect: float = 0.0
    asym_c: float = 0.0
    asym_s: float = 0.0
    k: tuple[float, ...] = ()
    x_poly: tuple[float, ...] = field(default_factory=tuple)
    y_poly: tuple[float, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.kind not in RADIAL_KINDS + POLY_KINDS:
            raise ValueError(f"unknown lens kind {self.kind!r}")
        if self.kind in POLY_KINDS:
            need = {"poly3+radial": 12, "poly3+radial3": 13, "poly3+radial5": 14}[self.kind]
            if len(self.x_poly) < need or len(self.y_poly) < need:
                raise ValueError(f"{self.kind} needs {need} polynomial terms per axis")

    # --- pixel -> focal plane ---------------------------------------------------------------------------
    def to_focal(self, x: ArrayLike, y: ArrayLike) -> tuple[Float, Float]:
        """Ideal focal-plane (u, v) in px of image pixels (x = column, y = row)."""
        xi = np.asarray(x, dtype=float) - self.width / 2.0
        yi = np.asarray(y, dtype=float) - self.height / 2.0
        if self.kind in RADIAL_KINDS:
            big_x = xi - self.x0
            big_y = (1.0 + self.aspect) * (yi - self.y0)
            r = np.hypot(big_x, big_y) + self.asym_c * big_y - self.asym_s * big_x
            h = self._h(r / (self.width / 2.0))
            return big_x * h, big_y * h
        return self._poly(xi, yi)

    def _h(self, q: Float) -> Float:
        h = np.ones_like(q)
        if self.kind == "radial-odd":
            q2 = q * q
            p = q2.copy()
            for kk in self.k:
                h = h + kk * p
                p = p * q2
        else:
            p = q.copy()
            for kk in self.k:
                h = h + kk * p
                p = p * q
        return h

    def _poly(self, xi: Float, yi: Float) -> tuple[Float, Float]:
        a, b = np.asarray(self.x_poly, float), np.asarray(self.y_poly, float)
        x0, y0 = a[0], b[0]
        r = np.hypot(xi - x0, yi - y0)
        x2, y2, xy = xi * xi, yi * yi, xi * yi
        base = [xi, yi, x2, xy, y2, x2 * xi, x2 * yi, xi * y2, y2 * yi]
        dx = x0 + sum(a[i + 1] * t for i, t in enumerate(base)) + a[10] * xi * r + a[11] * yi * r
        dy = y0 + sum(b[i + 1] * t for i, t in enumerate(base)) + b[10] * yi * r + b[11] * xi * r
        if self.kind in ("poly3+radial3", "poly3+radial5"):
            dx = dx + a[12] * xi * r**3
            dy = dy + b[12] * yi * r**3
        if self.kind == "poly3+radial5":
            dx = dx + a[13] * xi * r**5
            dy = dy + b[13] * yi * r**5
        return xi + dx, yi + dy

    # --- focal plane -> pixel ---------------------------------------------------------------------------
    def to_pixel(self, u: ArrayLike, v: ArrayLike, tol_px: float = 1e-9, max_iter: int = 30) -> tuple[Float, Float]:
        """Image pixels of focal-plane (u, v): Newton on :meth:`to_focal` (NaN where it cannot converge)."""
        uu = np.asarray(u, dtype=float)
        vv = np.asarray(v, dtype=float)
        shape = np.broadcast(uu, vv).shape
        uu = np.broadcast_to(uu, shape).ravel()
        vv = np.broadcast_to(vv, shape).ravel()
        # start: the undistorted point (good for the mild distortion of real lenses)
        x = uu + self.width / 2.0
        y = vv + self.height / 2.0
        if self.kind in RADIAL_KINDS:
            x = x + self.x0
            y = vv / (1.0 + self.aspect) + self.y0 + self.height / 2.0
        active = np.ones(x.shape, dtype=bool)
        d = 1e-3
        for _ in range(max_iter):
            xa, ya = x[active], y[active]
            fu, fv = self.to_focal(xa, ya)
            ru, rv = fu - uu[active], fv - vv[active]
            fux, fvx = self.to_focal(xa + d, ya)
            fuy, fvy = self.to_focal(xa, ya + d)
            j11, j21 = (fux - fu) / d, (fvx - fv) / d
            j12, j22 = (fuy - fu) / d, (fvy - fv) / d
            det = j11 * j22 - j12 * j21
            det = np.where(np.abs(det) < 1e-12, np.nan, det)
            dx = (j22 * ru - j12 * rv) / det
            dy = (-j21 * ru + j11 * rv) / det
            # damp wild steps far outside the calibrated region
            step = np.hypot(dx, dy)
            lim = 50.0
            with np.errstate(divide="ignore", invalid="ignore"):
                f = np.where(step > lim, lim / step, 1.0)
            x[active] = xa - dx * f
            y[active] = ya - dy * f
            done = np.abs(step) < tol_px
            idx = np.flatnonzero(active)
            active[idx[done | ~np.isfinite(step)]] = False
            if not active.any():
                break
        # one last residual check: reject points that did not converge
        fu, fv = self.to_focal(x, y)
        bad = ~(np.hypot(fu - uu, fv - vv) < 1e-6)
        x[bad] = np.nan
        y[bad] = np.nan
        return x.reshape(shape), y.reshape(shape)

    # --- (de)serialisation ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "width": self.width, "height": self.height}
        if self.kind in RADIAL_KINDS:
            d.update(x0=self.x0, y0=self.y0, aspect=self.aspect, asym_c=self.asym_c, asym_s=self.asym_s, k=list(self.k))
        else:
            d.update(x_poly=list(self.x_poly), y_poly=list(self.y_poly))
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Lens:
        return cls(
            width=int(d["width"]),
            height=int(d["height"]),
            kind=str(d["kind"]),
            x0=float(d.get("x0", 0.0)),
            y0=float(d.get("y0", 0.0)),
            aspect=float(d.get("aspect", 0.0)),
            asym_c=float(d.get("asym_c", 0.0)),
            asym_s=float(d.get("asym_s", 0.0)),
            k=tuple(float(v) for v in d.get("k", ())),
            x_poly=tuple(float(v) for v in d.get("x_poly", ())),
            y_poly=tuple(float(v) for v in d.get("y_poly", ())),
        )
