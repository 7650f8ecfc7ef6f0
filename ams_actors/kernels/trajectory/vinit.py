"""The initial speed, estimated so that one speed model's extrapolation cannot run away with it.

The timing fit's v is the chosen model's slope at the first point. For an exponential lag that is an
extrapolation of the curvature the model found over the whole track, and on short or two-station
tracks it overshoots (a real GMN event: +17.7 % while the average speeds agreed within 2 %). The
overshooting fits are *flat* lags (a2 · duration small): a near-constant deceleration, which a real
meteor does not have (its deceleration grows steeply as the air thickens) and which noise, or two
stations' clocks that disagree, easily imitate. So:

- a flat-lag exponential fit gets no say in v_init (the Monte Carlo still draws it by its weight, so
  the sigma covers the difference when the data favour it);
- v_init is the evidence-weighted average of the remaining models' v (weights exp(−ΔBIC/2)), so a
  model the data barely prefer does not carry the whole answer alone.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ams_actors.kernels.trajectory.timing import TimingFit, bic_weights, timing_candidates

Float = NDArray[np.float64]
Int = NDArray[np.int64]

#: An exponential lag whose deceleration grows at least e^PHYSICAL_A2T-fold over the track is shaped
#: like an ablating meteor's; a flatter one is a near-constant deceleration fitted to noise.
PHYSICAL_A2T = 2.0


def is_flat_lag(fit: TimingFit, span_s: float) -> bool:
    return fit.model == "exp" and fit.a2 * span_s < PHYSICAL_A2T


def trusted_weights(fits: list[TimingFit], span_s: float) -> Float:
    """BIC weights with flat-lag fits set to 0 (all of them kept if nothing else is left)."""
    w = bic_weights(fits)
    trusted = np.array([not is_flat_lag(f, span_s) for f in fits])
    if not trusted.any():
        return w
    w = np.where(trusted, w, 0.0)
    return np.asarray(w / w.sum(), dtype=np.float64)


def v_first(fit: TimingFit, t: Float, clock: Int) -> float:
    """The fit's speed at its first point (raw times ``t``, clock labels ``clock``)."""
    return float(fit.velocity(np.array([fit.tau(t, clock).min()]))[0])


def robust_v_init(timing: TimingFit, t: Float, clock: Int, n_clocks: int, length: Float, sigma: Float,
                  *, average: bool = True) -> float:
    """v_init from inlier times ``t`` (raw clocks), ``clock`` labels, lengths and their sigmas.

    ``timing`` is the chosen fit (possibly refined jointly with the line); the other models' v enter
    as their differences from the same model's staged fit. ``average=False`` (Monte Carlo runs,
    which draw the model themselves) returns ``timing``'s own v.
    """
    own = v_first(timing, t, clock)
    if not average:
        return own
    fits = timing_candidates(t, clock, n_clocks, length, sigma)
    span = float(np.ptp(t))
    w = trusted_weights(fits, span)
    best = min(fits, key=lambda f: f.bic)
    v = np.array([v_first(f, t, clock) for f in fits])
    return float(own + w @ (v - v_first(best, t, clock)))
