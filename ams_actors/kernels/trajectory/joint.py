"""Joint refinement: line and motion fitted together to both angular components of every point.

The line-of-sight fit uses only the cross-track half of each measurement; the along-track half says
*when* the meteor was where, and it constrains the line as well: with a wrong direction, the lengths
seen by two stations drift apart with time. Fitting the predicted position P + L(t)·d to each line of
sight in both directions (Gural's multi-parameter idea, and what WMPL approaches by keeping the
Monte Carlo run with the smallest timing residuals) tightens the direction most where the
convergence angle is small. It starts from the staged solution, so it only has to polish.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

from ams_actors.kernels.trajectory.los import _basis
from ams_actors.kernels.trajectory.planes import Line
from ams_actors.kernels.trajectory.timing import TimingFit, _expm1
from ams_actors.kernels.trajectory.vec import cross, norm, rowdot

Float = NDArray[np.float64]
Int = NDArray[np.int64]


def fit_joint(
    line: Line, timing: TimingFit, t: Float, clock: Int, pos: Float, los: Float, sigma: Float,
) -> tuple[Line, TimingFit, Float]:
    """(line, timing, residuals (N, 2) rad: cross-track, along-track) refined from a staged fit.

    ``t``/``clock``: raw times and clock labels; ``sigma``: per-point angular noise (rad).
    The timing model family (const/exp, offsets or not) is the staged fit's.
    """
    d0 = line.direction
    e1, e2 = _basis(d0)
    p0 = line.point
    n_clocks = len(timing.offsets)
    ref = [k for k in range(n_clocks) if timing.offsets[k] == 0.0]
    ref_k = ref[0] if ref else 0
    others = [k for k in range(n_clocks) if k != ref_k] if timing.with_offsets else []
    exp = timing.model == "exp"
    tau0 = t - timing.t_b
    w = 1.0 / sigma
    ni = len(others)

    # Parameters in mrad, km, km/s, s and logs: comparable scales for the trust region.
    x0 = [0.0, 0.0, 0.0, 0.0, timing.l0 / 1e3, timing.v / 1e3, *timing.offsets[others]]
    if exp:
        x0 += [float(np.log(max(timing.a1, 1e-9))), float(np.log(max(timing.a2, 1e-6)))]

    def unpack(x: Float) -> tuple[Float, Float, Float, float, float, float, float]:
        g = d0 + 1e-3 * (x[0] * e1 + x[1] * e2)
        d = g / np.linalg.norm(g)
        p = p0 + 1e3 * (x[2] * e1 + x[3] * e2)
        off = np.zeros(n_clocks)
        for j, k in enumerate(others):
            off[k] = x[6 + j]
        a1 = float(np.exp(x[6 + ni])) if exp else 0.0
        a2 = float(np.exp(x[7 + ni])) if exp else 0.0
        return d, p, off, 1e3 * x[4], 1e3 * x[5], a1, a2

    def geometry(x: Float) -> tuple[Float, Float, Float, Float, Float, Float]:
        d, p, off, l0, v, a1, a2 = unpack(x)
        tau = tau0 + off[clock]
        ell = l0 + v * tau
        if exp:
            ell = ell - a1 * (_expm1(a2 * tau) - a2 * tau)
        r = p + ell[:, None] * d - pos
        ct = cross(r, d)
        ct /= norm(ct)[:, None]
        at = cross(ct, r)
        rn = norm(at)  # == |r| since ct ⊥ r
        at /= rn[:, None]
        return d, tau, r, ct, at, rn

    def fun(x: Float) -> Float:
        _, _, _, ct, at, _ = geometry(x)
        return np.stack([rowdot(los, ct) * w, rowdot(los, at) * w], axis=1).ravel()

    def jac(x: Float) -> Float:
        # Gauss-Newton Jacobian: residual = observed · (basis ⊥ predicted), so to first order its
        # change is −basis · d(predicted) = −basis · dr / |r|; the basis's own turning is second order.
        d, tau, r, ct, at, rn = geometry(x)
        _, _, _, _, v, a1, a2 = unpack(x)
        g = d0 + 1e-3 * (x[0] * e1 + x[1] * e2)
        gn = float(np.linalg.norm(g))
        ell = np.sum((r + pos - (p0 + 1e3 * (x[2] * e1 + x[3] * e2))) * d, axis=1)
        scale = -w / rn
        at_d = at @ d  # ct ⊥ d, so only the along-track residual sees motion along the line
        out = np.zeros((len(tau), 2, len(x)))
        for j, e in enumerate((e1, e2)):
            dd = 1e-3 * (e - d * (d @ e)) / gn
            out[:, 0, j] = scale * ell * (ct @ dd)
            out[:, 1, j] = scale * ell * (at @ dd)
            out[:, 0, 2 + j] = scale * 1e3 * (ct @ e)
            out[:, 1, 2 + j] = scale * 1e3 * (at @ e)
        along = scale * at_d
        out[:, 1, 4] = along * 1e3
        out[:, 1, 5] = along * 1e3 * tau
        ex = _expm1(a2 * tau) if exp else np.zeros_like(tau)
        dtau = v - a1 * a2 * ex
        for j, k in enumerate(others):
            out[:, 1, 6 + j] = np.where(clock == k, along * dtau, 0.0)
        if exp:
            out[:, 1, 6 + ni] = along * (-a1 * (ex - a2 * tau))
            out[:, 1, 7 + ni] = along * (-a1 * tau * ex * a2)
        return out.reshape(2 * len(tau), len(x))

    def resid2(x: Float) -> Float:
        return fun(x).reshape(-1, 2)

    # A trial step can put a sight line on the trajectory (a zero cross product: 0/0) or overflow the
    # deceleration term; the optimizer rejects such steps and the caller rejects a non-finite end, so
    # the floating-point warnings would only be noise on the station's stderr.
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        res = least_squares(fun, np.asarray(x0, float), jac=jac, method="trf", x_scale="jac", max_nfev=60,
                            xtol=1e-10, ftol=1e-10)
        d, p, off, l0, v, a1, a2 = unpack(res.x)
        r2 = resid2(res.x) / w[:, None]
    new_timing = TimingFit(timing.model, timing.with_offsets, l0, v, a1, a2, off, timing.t_b,
                           timing.residuals, timing.rss, timing.bic)
    return Line(p, d), new_timing, r2
