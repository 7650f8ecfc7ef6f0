"""The initial speed, estimated so that one speed model's extrapolation cannot run away with it.

The timing fit's v is the chosen model's slope at the first point. For an exponential lag that is an
extrapolation of the curvature the model found over the whole track, and on short or two-station
tracks it overshoots (a real GMN event: +17.7 % while the average speeds agreed within 2 %). The
overshooting fits are *flat* lags (a2 · duration small): a near-constant deceleration, which a real
meteor does not have (its deceleration grows steeply as the air thickens) and which noise, or two
stations' clocks that disagree, easily imitate. So:

- a flat-lag exponential fit gets no say in v_init (the Monte Carlo still draws it by its weight, so
  the sigma covers the difference when the data favour it) -- unless the data reject every other
  model decisively: then the deceleration is real, and handing v_init to a model the data rule out
  (the constant speed, i.e. about the average speed) put physically decelerating meteors 35-60 % low;
- v_init is the evidence-weighted average of the remaining models' v (weights exp(−ΔBIC/2)), so a
  model the data barely prefer does not carry the whole answer alone;
- v_init comes from the longest early part of the track that the models still follow as well as they
  follow its start (:func:`early_window`). A physically decelerating meteor (single-body ablation)
  keeps nearly its speed and then brakes ever harder, down to a few km/s: no exponential lag follows
  that over the whole flight, and its misfit at the end bends the extrapolation to the first point
  (±7-15 % seen). The early track is where v_init is decided; the end only spoils it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ams_actors.kernels.trajectory.timing import TimingFit, bic_weights, n_params, timing_candidates

Float = NDArray[np.float64]
Int = NDArray[np.int64]

#: An exponential lag whose deceleration grows at least e^PHYSICAL_A2T-fold over the track is shaped
#: like an ablating meteor's; a flatter one is a near-constant deceleration fitted to noise.
PHYSICAL_A2T = 2.0
#: A flat lag keeps its say when every trusted model is this much worse in BIC (Kass & Raftery's
#: "very strong" evidence is ΔBIC > 10): noise or two clocks do not imitate a deceleration that well.
DECISIVE_DBIC = 10.0
#: Early parts of the track (fractions of its duration from the start) v_init may be taken from,
#: longest first; the shortest is also the reference for how well a model can fit this data at all.
WINDOWS = (1.0, 0.8, 0.65, 0.5, 0.4, 0.3)
#: A part is followed "as well as the start" when its best fit's χ²/dof exceeds the shortest part's
#: (at least 1) by no more than this many of its own standard deviations, sqrt(2/dof).
WINDOW_K = 3.0
#: Fewest points a part needs (and at least 3 per parameter of its model, timing.POINTS_PER_PARAMETER).
MIN_WINDOW_POINTS = 12


def is_flat_lag(fit: TimingFit, span_s: float) -> bool:
    return fit.model == "exp" and fit.a2 * span_s < PHYSICAL_A2T


def trusted_weights(fits: list[TimingFit], span_s: float) -> Float:
    """BIC weights with flat-lag fits set to 0 (all of them kept if nothing else is left, or if the
    data reject everything else decisively)."""
    w = bic_weights(fits)
    trusted = np.array([not is_flat_lag(f, span_s) for f in fits])
    if not trusted.any():
        return w
    best_trusted = min(f.bic for f, ok in zip(fits, trusted, strict=True) if ok)
    if best_trusted - min(f.bic for f in fits) > DECISIVE_DBIC:
        return w
    w = np.where(trusted, w, 0.0)
    return np.asarray(w / w.sum(), dtype=np.float64)


def v_first(fit: TimingFit, t: Float, clock: Int) -> float:
    """The fit's speed at its first point (raw times ``t``, clock labels ``clock``)."""
    return float(fit.velocity(np.array([fit.tau(t, clock).min()]))[0])


def _reduced_chi2(fit: TimingFit, n_clocks: int) -> tuple[float, int]:
    dof = max(len(fit.residuals) - n_params(fit.model, fit.with_offsets, n_clocks), 1)
    return fit.rss / dof, dof


def early_part(t: Float, frac: float) -> NDArray[np.bool_]:
    """The points within the first ``frac`` of the track's duration."""
    return np.asarray(t <= t.min() + frac * float(np.ptp(t)) + 1e-9, dtype=np.bool_)


def early_window(t: Float, clock: Int, n_clocks: int, length: Float, sigma: Float) -> float:
    """The longest early part of the track (a fraction of WINDOWS) whose best timing fit is as good,
    in χ²/dof, as the shortest part's; 1.0 when the whole track is (the models follow the meteor).

    Relative to the start, not to 1: real cameras' sigmas are only estimates, and a track that every
    model fits equally badly everywhere has noise larger than assumed, not a shape the models miss.
    """
    usable = [f for f in WINDOWS if int(early_part(t, f).sum()) >= MIN_WINDOW_POINTS]
    if len(usable) < 2:
        return 1.0
    def chi2(frac: float) -> tuple[float, int]:
        sel = early_part(t, frac)
        with np.errstate(all="ignore"):
            fits = timing_candidates(t[sel], clock[sel], n_clocks, length[sel], sigma[sel])
        return _reduced_chi2(min(fits, key=lambda f: f.bic), len(np.unique(clock[sel])))

    ref = max(chi2(usable[-1])[0], 1.0)
    for frac in usable[:-1]:
        value, dof = chi2(frac)
        if value <= ref * (1.0 + WINDOW_K * np.sqrt(2.0 / dof)):
            return frac
    return usable[-1]


def _averaged_v(t: Float, clock: Int, n_clocks: int, length: Float, sigma: Float) -> float:
    """The trusted models' evidence-weighted v at the first point."""
    fits = timing_candidates(t, clock, n_clocks, length, sigma)
    w = trusted_weights(fits, float(np.ptp(t)))
    return float(w @ np.array([v_first(f, t, clock) for f in fits]))


def robust_v_init(timing: TimingFit, t: Float, clock: Int, n_clocks: int, length: Float, sigma: Float,
                  *, average: bool = True, window: float = 1.0) -> float:
    """v_init from inlier times ``t`` (raw clocks), ``clock`` labels, lengths and their sigmas.

    ``timing`` is the chosen fit (possibly refined jointly with the line); the estimate from the
    early part ``window`` (:func:`early_window`) enters as its difference from the same data's best
    staged fit, so the joint refinement's share is kept. ``average=False`` (Monte Carlo runs, which
    draw the model themselves) moves ``timing``'s own v by what cutting the track to ``window`` does
    to that same model.
    """
    own = v_first(timing, t, clock)
    model = ((timing.model, timing.with_offsets),)
    if not average:
        if window >= 1.0:
            return own
        sel = early_part(t, window)
        with np.errstate(all="ignore"):
            full = timing_candidates(t, clock, n_clocks, length, sigma, models=model)[0]
            part = timing_candidates(t[sel], clock[sel], n_clocks, length[sel], sigma[sel], models=model)[0]
        return own + v_first(part, t[sel], clock[sel]) - v_first(full, t, clock)
    fits = timing_candidates(t, clock, n_clocks, length, sigma)
    best = min(fits, key=lambda f: f.bic)
    sel = early_part(t, window)
    with np.errstate(all="ignore"):
        v = _averaged_v(t[sel], clock[sel], n_clocks, length[sel], sigma[sel])
    return float(own + v - v_first(best, t, clock))
