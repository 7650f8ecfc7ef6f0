"""Length along the trajectory vs time: velocity, deceleration and each station's clock offset.

Models, with τ = t + Δ_clock − t_b (t_b: the first observed time):
- ``const``: L = L0 + v τ
- ``exp``:   L = L0 + v τ − a1 (exp(a2 τ) − 1 − a2 τ)   (Jacchia-type exponential lag, a1, a2 > 0)
``v`` is the speed at t_b in both, so v_init needs no extrapolation from a separate fit. Each is fitted
with and without per-station clock offsets Δ (one station is the reference, Δ = 0); the data choose
among the four by BIC. Offsets are identifiable because lengths are absolute positions on one line:
a station whose clock runs late sees the meteor at the same place at a later time.

Residuals are weighted by each point's along-track uncertainty (range × angular noise / sin of the
angle between line of sight and trajectory), so a station looking along the trajectory does not
drag the velocity. The const models are linear (solved exactly); exp starts from a grid over a2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

Float = NDArray[np.float64]
Int = NDArray[np.int64]
Bool = NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class TimingFit:
    model: str  # "const" | "exp"
    with_offsets: bool
    l0: float
    v: float
    a1: float
    a2: float
    offsets: Float  # (K,) s added to each clock's times; reference clock 0.0
    t_b: float
    residuals: Float  # (N,) normalized (L_obs − L_model) / sigma_L
    rss: float
    bic: float

    def tau(self, t: Float, clock: Int) -> Float:
        return t + self.offsets[clock] - self.t_b

    def length(self, tau: Float) -> Float:
        base = self.l0 + self.v * tau
        if self.model == "exp":
            base = base - self.a1 * (_expm1(self.a2 * tau) - self.a2 * tau)
        return base

    def velocity(self, tau: Float) -> Float:
        v = np.full_like(np.asarray(tau, float), self.v)
        if self.model == "exp":
            v = v - self.a1 * self.a2 * _expm1(self.a2 * np.asarray(tau, float))
        return v


def _expm1(x: Float) -> Float:
    """expm1 that cannot overflow while the optimizer tries a wild step (e^50 is far off any fit)."""
    return np.expm1(np.minimum(x, 50.0))


def _bic(rss: float, n: int, k: int) -> float:
    return n * float(np.log(max(rss, 1e-300) / n)) + k * float(np.log(n))


def _const(t: Float, clock: Int, n_clocks: int, ref: int, length: Float, sigma: Float, t_b: float,
           offsets: bool) -> TimingFit:
    tau = t - t_b
    w = 1.0 / sigma
    if offsets:
        a = np.zeros((len(t), n_clocks + 1))
        a[np.arange(len(t)), clock] = 1.0
        a[:, -1] = tau
    else:
        a = np.stack([np.ones_like(tau), tau], axis=1)
    coef, *_ = np.linalg.lstsq(a * w[:, None], length * w, rcond=None)
    v = float(coef[-1])
    off: Float = np.zeros(n_clocks)
    l0 = float(coef[0])
    if offsets:
        l0 = float(coef[ref])
        off = np.asarray((coef[:n_clocks] - l0) / v, dtype=np.float64)
        off[np.bincount(clock, minlength=n_clocks) == 0] = 0.0  # a clock with no points has no offset
    res = (length - a @ coef) * w
    rss = float(res @ res)
    k = a.shape[1]
    return TimingFit("const", offsets, l0, v, 0.0, 0.0, off, t_b, res, rss, _bic(rss, len(t), k))


def _exp(t: Float, clock: Int, n_clocks: int, ref: int, length: Float, sigma: Float, t_b: float,
         offsets: bool, start: TimingFit, robust: bool = False) -> TimingFit | None:
    w = 1.0 / sigma
    others = [k for k in range(n_clocks) if k != ref] if offsets else []
    tau0 = t - t_b
    span = max(float(np.ptp(tau0)), 1e-3)

    # Grid over a2 with the model linear in the rest (offsets enter only through intercepts here).
    best: tuple[float, Float] | None = None
    base_off = start.offsets if offsets else np.zeros(n_clocks)
    tau_s = tau0 + base_off[clock]
    for a2 in np.array([0.5, 1.0, 2.0, 3.0, 4.5, 6.0, 8.0, 11.0, 15.0]) / span:
        f = -(_expm1(a2 * tau_s) - a2 * tau_s)
        a = np.stack([np.ones_like(tau_s), tau_s, f], axis=1)
        coef, *_ = np.linalg.lstsq(a * w[:, None], length * w, rcond=None)
        if coef[2] <= 0:
            continue
        r = (length - a @ coef) * w
        rss = float(r @ r)
        if best is None or rss < best[0]:
            best = (rss, np.array([coef[0], coef[1], *base_off[others], np.log(coef[2]), np.log(a2)]))
    if best is None:
        return None
    x0 = best[1]
    ni = len(others)

    def unpack(x: Float) -> tuple[float, float, Float, float, float]:
        off = np.zeros(n_clocks)
        for j, k in enumerate(others):
            off[k] = x[2 + j]
        return float(x[0]), float(x[1]), off, float(np.exp(x[2 + ni])), float(np.exp(x[3 + ni]))

    def fun(x: Float) -> Float:
        l0, v, off, a1, a2 = unpack(x)
        tau = tau0 + off[clock]
        return (length - (l0 + v * tau - a1 * (_expm1(a2 * tau) - a2 * tau))) * w

    def jac(x: Float) -> Float:
        _, v, off, a1, a2 = unpack(x)
        tau = tau0 + off[clock]
        ex = _expm1(a2 * tau)
        out = np.empty((len(t), len(x)))
        out[:, 0] = -w
        out[:, 1] = -tau * w
        dtau = -(v - a1 * a2 * ex) * w
        for j, k in enumerate(others):
            out[:, 2 + j] = np.where(clock == k, dtau, 0.0)
        out[:, 2 + ni] = (ex - a2 * tau) * a1 * w
        out[:, 3 + ni] = a1 * tau * ex * a2 * w
        return out

    # The optimizer may try huge log-parameters on its way (exp overflows to inf); such steps are
    # rejected by it and an unusable end is rejected below, so the warnings are only noise on stderr.
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            res = least_squares(fun, x0, jac=jac, method="trf", x_scale="jac",
                                loss="cauchy" if robust else "linear", f_scale=3.0, max_nfev=200)
        except (ValueError, FloatingPointError):
            return None
        if not np.all(np.isfinite(res.x)) or res.x[3 + ni] > np.log(500.0 / span):
            return None
        l0, v, off, a1, a2 = unpack(res.x)
        r = fun(res.x)
    if not np.all(np.isfinite(r)):
        return None
    rss = float(r @ r)
    return TimingFit("exp", offsets, l0, v, a1, a2, off, t_b, r, rss, _bic(rss, len(t), len(x0)))


#: A model may have at most one parameter per this many points: short real meteors (4–8 points per
#: station) otherwise "find" deceleration and clock offsets in their noise.
POINTS_PER_PARAMETER = 3


def n_params(kind: str, offsets: bool, n_clocks: int) -> int:
    return 2 + (2 if kind == "exp" else 0) + ((n_clocks - 1) if offsets else 0)


def allowed_models(n_points: int, n_clocks: int) -> tuple[tuple[str, bool], ...]:
    """The candidate models the data can support, most flexible last; const always."""
    out = [("const", False)]
    for kind, offsets in (("const", True), ("exp", False), ("exp", True)):
        if offsets and n_clocks < 2:
            continue
        if n_params(kind, offsets, n_clocks) * POINTS_PER_PARAMETER <= n_points:
            out.append((kind, offsets))
    return tuple(out)


def timing_candidates(
    t: Float,
    clock: Int,
    n_clocks: int,
    length: Float,
    sigma: Float,
    *,
    models: tuple[tuple[str, bool], ...] | None = None,
    robust: bool = False,
) -> list[TimingFit]:
    """Every model of ``models`` ((kind, with_offsets) pairs; default: all that apply) that could be fitted."""
    present = np.unique(clock)
    ref = int(np.bincount(clock, minlength=n_clocks).argmax())
    t_b = float(t.min())
    multi = len(present) > 1
    if models is None:
        models = allowed_models(len(t), len(present))
    fits: list[TimingFit] = []
    const_fits: dict[bool, TimingFit] = {}
    for offsets in sorted({o for _, o in models}):
        if offsets and not multi:
            continue
        const_fits[offsets] = _const(t, clock, n_clocks, ref, length, sigma, t_b, offsets)
    for kind, offsets in models:
        if offsets and not multi:
            continue
        if kind == "const":
            fits.append(const_fits[offsets])
        else:
            f = _exp(t, clock, n_clocks, ref, length, sigma, t_b, offsets, const_fits[offsets], robust)
            if f is not None:
                fits.append(f)
    if not fits:
        fits = [const_fits.get(False) or _const(t, clock, n_clocks, ref, length, sigma, t_b, False)]
    return fits


def bic_weights(fits: list[TimingFit]) -> Float:
    """Each model's weight of evidence, exp(−ΔBIC/2) normalized: how much the data prefer it."""
    bic = np.array([f.bic for f in fits])
    w = np.exp(-0.5 * (bic - bic.min()))
    return np.asarray(w / w.sum(), dtype=np.float64)


def fit_timing(
    t: Float,
    clock: Int,
    n_clocks: int,
    length: Float,
    sigma: Float,
    *,
    models: tuple[tuple[str, bool], ...] | None = None,
    robust: bool = False,
) -> TimingFit:
    """Best model by BIC among ``models`` ((kind, with_offsets) pairs; default: all that apply)."""
    fits = timing_candidates(t, clock, n_clocks, length, sigma, models=models, robust=robust)
    return min(fits, key=lambda f: f.bic)
