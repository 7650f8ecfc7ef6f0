"""What the residual bootstrap cannot see: the error of the speed model itself (issue 13 item 4).

The bootstrap re-draws noise around the nominal model's prediction, so every run agrees with the
nominal about the *shape* of the deceleration. A real (or physically simulated) meteor does not
decelerate exactly as the solver's exponential lag; that shape error moves v_init by more than the
noise does (seen on the physical30 family: v_init 4 % high with a 0.5 % sigma), and through the joint
refinement, which trusts the model, it also turns the line. Two measures of it, taken from the data:

- **v_init**: the same model refitted to the early part of the track only (the first 50, 67 and 80 %
  of the part v_init was taken from, vinit.py's window). When the model's shape is right, cutting
  the end changes v at the first point by noise only; when it is wrong, the extrapolation to the
  first point follows the part of the track that is kept. The RMS of those changes is the model's
  share of v_init's uncertainty.
- **direction**: the joint refinement's turn of the line away from the staged line (which is fitted
  to the sight lines alone and does not depend on the speed model).

Each Monte Carlo run adds both with a Gaussian weight, so v_g and the orbit inherit them too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from ams_actors.kernels.trajectory.fit import TrajectoryFit, along_track_sigma
from ams_actors.kernels.trajectory.planes import Line
from ams_actors.kernels.trajectory.timing import POINTS_PER_PARAMETER, n_params, timing_candidates
from ams_actors.kernels.trajectory.vinit import early_part, v_first

Float = NDArray[np.float64]

#: Parts of the track's duration (from its start) the model is refitted to.
TRUNCATIONS = (0.5, 0.67, 0.8)


@dataclass(frozen=True, slots=True)
class Systematics:
    """The speed model's share of the uncertainty, computed once from the nominal fit."""

    v_sigma: float  # m/s
    dir_shift: Float  # (3,) staged minus joint direction


def truncation_shifts(nominal: TrajectoryFit) -> Float:
    """v at the first point of the nominal's model fitted to each early part, minus the full fit's
    (NaN where the part has too few points for the model or its fit fails)."""
    tr, keep = nominal.tracks, nominal.inlier
    sig_l = along_track_sigma(nominal.line, tr.pos, tr.los, nominal.lengths, nominal.sigma_cam[tr.cam])
    t, clock, length, sigma = tr.t[keep], tr.clock[keep], nominal.lengths[keep], sig_l[keep]
    part = early_part(t, nominal.vinit_window)  # the part v_init came from
    t, clock, length, sigma = t[part], clock[part], length[part], sigma[part]
    model = ((nominal.timing.model, nominal.timing.with_offsets),)
    full = timing_candidates(t, clock, tr.n_clocks, length, sigma, models=model)[0]
    v_full = v_first(full, t, clock)
    out = np.full(len(TRUNCATIONS), np.nan)
    span = float(np.ptp(t))
    for k, frac in enumerate(TRUNCATIONS):
        sel = t <= t.min() + frac * span
        n_clocks = len(np.unique(clock[sel]))
        need = n_params(nominal.timing.model, nominal.timing.with_offsets, n_clocks) * POINTS_PER_PARAMETER
        if int(sel.sum()) < need:
            continue
        with np.errstate(all="ignore"):
            fits = timing_candidates(t[sel], clock[sel], tr.n_clocks, length[sel], sigma[sel], models=model)
        if fits[0].model == nominal.timing.model:
            out[k] = v_first(fits[0], t[sel], clock[sel]) - v_full
    return out


def systematics(nominal: TrajectoryFit) -> Systematics:
    shifts = truncation_shifts(nominal)
    shifts = shifts[np.isfinite(shifts)]
    v_sigma = float(np.sqrt(np.mean(shifts**2))) if len(shifts) else 0.0
    return Systematics(v_sigma, nominal.staged_direction - nominal.line.direction)


def perturbed(fit: TrajectoryFit, syst: Systematics, rng: np.random.Generator) -> TrajectoryFit:
    """A Monte Carlo run's fit with the model's share drawn on top of its noise."""
    g_v, g_d = rng.standard_normal(2)
    d = fit.line.direction + g_d * syst.dir_shift
    return replace(fit, v_init=fit.v_init + g_v * syst.v_sigma, line=Line(fit.line.point, d / np.linalg.norm(d)))
