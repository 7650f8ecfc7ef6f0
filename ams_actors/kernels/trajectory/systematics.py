"""What the residual bootstrap cannot see: the error of the speed model itself (issue 13 item 4).

The bootstrap re-draws noise around the nominal model's prediction, so every run agrees with the
nominal about the *shape* of the deceleration. A real (or physically simulated) meteor does not
decelerate exactly as the solver's exponential lag; that shape error moves v_init by more than the
noise does (seen on the physical30 family: v_init 4 % high with a 0.5 % sigma), and through the joint
refinement, which trusts the model, it also turns the line. Two measures of it, taken from the data:

- **v_init**: the same model refitted to the early part of the track only (the first 50, 67 and 80 %
  of the part v_init was taken from, vinit.py's window). When the model's shape is right, cutting
  the end changes v at the first point by noise only; when it is wrong, the extrapolation to the
  first point follows the part of the track that is kept. That noise is not the model's error: the
  bootstrap already draws it, and a fit to half the points over half the time is ~3× noisier, so the
  raw RMS of the changes counted the noise again, several times over (on constant-speed meteors,
  whose model is exact, it was 1.6× the bootstrap's whole sigma and put v_init within 1 sigma 83 %
  of the time). So each change's expected noise is taken off: the same cuts are made on
  NOISE_DRAWS copies of the full fit's own prediction plus Gaussian noise of the points' length
  sigmas, where the model is right by construction, and the mean squared change there is the
  noise's share (a linearised covariance does not do: cut tracks often fit an exponential lag at a
  degenerate corner, where it says "no noise" and the draws say 1.5-2.5× the full fit's). What is
  left, the mean of shift² minus that (≥ 0), is the model's share of v_init's variance. The draws
  take the along-track noise to be what the cross-track noise predicts, as the fit's weights do;
  where it is larger (timing jitter) less is taken off, so the sigma errs wide.
- **direction**: the joint refinement's turn of the line away from the staged line (which is fitted
  to the sight lines alone and does not depend on the speed model). That turn too is partly noise:
  the joint fit adds the timing's information, so even with an exact model it moves the line by
  about the difference of the two fits' scatter. Its noise share is measured on bootstrap refits
  (montecarlo.turn_noise, where the model is right by construction) and taken off the same way
  (:func:`net_of_noise`): only the excess is the model's pull.

Each Monte Carlo run adds both with a Gaussian weight, so v_g and the orbit inherit them too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from ams_actors.kernels.trajectory.fit import TrajectoryFit, along_track_sigma
from ams_actors.kernels.trajectory.planes import Line
from ams_actors.kernels.trajectory.timing import POINTS_PER_PARAMETER, TimingFit, n_params, timing_candidates
from ams_actors.kernels.trajectory.vinit import early_part, v_first

Float = NDArray[np.float64]

#: Parts of the track's duration (from its start) the model is refitted to.
TRUNCATIONS = (0.5, 0.67, 0.8)
#: Noise-only repeats of the cuts (each is one full and up to three part fits of the model).
NOISE_DRAWS = 8


@dataclass(frozen=True, slots=True)
class Systematics:
    """The speed model's share of the uncertainty, computed once from the nominal fit."""

    v_sigma: float  # m/s
    dir_shift: Float  # (3,) staged minus joint direction


def truncation_shifts(nominal: TrajectoryFit) -> tuple[Float, Float]:
    """v at the first point of the nominal's model fitted to each early part, minus the full fit's,
    and the mean square of that change where the model is right (the noise's share; NaN where the
    part has too few points for the model or its fit fails)."""
    tr, keep = nominal.tracks, nominal.inlier
    sig_l = along_track_sigma(nominal.line, tr.pos, tr.los, nominal.lengths, nominal.sigma_cam[tr.cam])
    t, clock, length, sigma = tr.t[keep], tr.clock[keep], nominal.lengths[keep], sig_l[keep]
    part = early_part(t, nominal.vinit_window)  # the part v_init came from
    t, clock, length, sigma = t[part], clock[part], length[part], sigma[part]
    model = ((nominal.timing.model, nominal.timing.with_offsets),)
    span = float(np.ptp(t))
    cuts: list[NDArray[np.bool_] | None] = []
    for frac in TRUNCATIONS:
        sel = t <= t.min() + frac * span
        n_clocks = len(np.unique(clock[sel]))
        need = n_params(nominal.timing.model, nominal.timing.with_offsets, n_clocks) * POINTS_PER_PARAMETER
        cuts.append(sel if int(sel.sum()) >= need else None)

    def shifts(lengths: Float) -> tuple[Float, TimingFit]:
        with np.errstate(all="ignore"):
            full = timing_candidates(t, clock, tr.n_clocks, lengths, sigma, models=model)[0]
            out = np.full(len(TRUNCATIONS), np.nan)
            for k, sel in enumerate(cuts):
                if sel is None:
                    continue
                fit = timing_candidates(t[sel], clock[sel], tr.n_clocks, lengths[sel], sigma[sel], models=model)[0]
                if fit.model == full.model:
                    out[k] = v_first(fit, t[sel], clock[sel]) - v_first(full, t, clock)
        return out, full

    observed, full = shifts(length)
    pred = full.length(full.tau(t, clock))
    rng = np.random.default_rng(0)
    draws = np.array([shifts(pred + rng.standard_normal(len(t)) * sigma)[0] for _ in range(NOISE_DRAWS)])
    # the mean square over the draws that could be refitted (np.nanmean warns on a column with none)
    finite = np.isfinite(draws)
    count = finite.sum(axis=0)
    total = np.where(finite, draws, 0.0) ** 2
    noise = np.full(draws.shape[1:], np.nan)
    enough = count >= NOISE_DRAWS // 2
    noise[enough] = total.sum(axis=0)[enough] / count[enough]
    return observed, noise


def systematics(nominal: TrajectoryFit) -> Systematics:
    shifts, noise = truncation_shifts(nominal)
    ok = np.isfinite(shifts) & np.isfinite(noise)
    excess = float(np.mean(shifts[ok] ** 2 - noise[ok])) if ok.any() else 0.0
    v_sigma = float(np.sqrt(max(excess, 0.0)))
    return Systematics(v_sigma, nominal.staged_direction - nominal.line.direction)


def net_of_noise(syst: Systematics, turn_noise_sq: float) -> Systematics:
    """``syst`` with the turn shortened to its excess over the noise's mean square turn (rad²)."""
    sq = float(syst.dir_shift @ syst.dir_shift)
    if not (np.isfinite(turn_noise_sq) and sq > 0.0):
        return syst
    return replace(syst, dir_shift=syst.dir_shift * np.sqrt(max(sq - turn_noise_sq, 0.0) / sq))


def perturbed(fit: TrajectoryFit, syst: Systematics, rng: np.random.Generator) -> TrajectoryFit:
    """A Monte Carlo run's fit with the model's share drawn on top of its noise."""
    g_v, g_d = rng.standard_normal(2)
    d = fit.line.direction + g_d * syst.dir_shift
    return replace(fit, v_init=fit.v_init + g_v * syst.v_sigma, line=Line(fit.line.point, d / np.linalg.norm(d)))
