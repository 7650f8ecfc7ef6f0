"""Monte Carlo uncertainties: re-solve resampled data, in a process pool.

Each run is a residual bootstrap: every inlier's sight line is the nominal model's prediction plus a
residual (cross-track and along-track) drawn from the same camera's measured residuals, so the
scatter each station really shows, timing jitter included, is what is propagated, not a noise level
assumed from the cross-track half alone. Each run also draws its speed model (const/exp, with or
without clock offsets) by the models' BIC weights: a v_init that another plausible model would put
elsewhere is not known better than that difference (issue 13 item 4: the noise-only sigmas were
20–30× too small on some events). The clock offsets are refitted in every run whose model has them,
so their uncertainty enters too. On top of the noise every run draws the speed model's own error
(systematics.py: what refitting the early track alone, and the joint refinement's turn of the line,
say about a deceleration shaped unlike the model), which no resampling around the model can show.
Both are measured net of the noise that the bootstrap already draws (a few noise-only repeats each:
:data:`TURN_DRAWS` refits here, systematics.NOISE_DRAWS timing fits there), or they count it twice.
Begin and end are each one sight line's meeting with the line: the runs give the line's share there,
the sight line's own noise is added in closed form (endpoints.py).

Runs are grouped into one chunk per worker so the (small) problem is pickled a few times, not N
times. Workers need numpy and scipy only: the astronomy (EpochContext) is plain numbers computed in
the parent. Seeds come from one SeedSequence, so a given seed gives the same sigmas on any pool size.
"""

from __future__ import annotations

import os
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ams_actors.kernels.trajectory.endpoints import line_ends, point_sigmas
from ams_actors.kernels.trajectory.epoch import EpochContext
from ams_actors.kernels.trajectory.fit import TrajectoryFit, model_weights, refit
from ams_actors.kernels.trajectory.quantities import QUANTITIES, quantities, spread
from ams_actors.kernels.trajectory.systematics import Systematics, net_of_noise, perturbed, systematics
from ams_actors.kernels.trajectory.timing import n_params
from ams_actors.kernels.trajectory.tracks import SolveFailed
from ams_actors.kernels.trajectory.vec import cross, norm, rowdot

Float = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Resampling:
    """What every run draws from, computed once from the nominal fit in the parent."""

    pred: Float  # (N, 3) unit sight lines the nominal model predicts
    e_ct: Float  # (N, 3) unit cross-track direction at each point
    e_at: Float  # (N, 3) unit along-track direction at each point
    resid: Float  # (N, 2) rad measured residuals (cross, along), inflated for the fitted parameters
    groups: tuple[NDArray[np.int64], ...]  # inlier indices of each camera
    models: tuple[tuple[str, bool], ...]
    weights: Float  # BIC weight of each model


def resampling(nominal: TrajectoryFit) -> Resampling:
    tr = nominal.tracks
    d = nominal.line.direction
    r = nominal.line.point + nominal.timing.length(nominal.tau)[:, None] * d - tr.pos
    pred = r / norm(r)[:, None]
    e_ct = cross(r, d)
    e_ct /= norm(e_ct)[:, None]
    e_at = cross(e_ct, r)
    e_at /= norm(e_at)[:, None]
    resid = np.stack([rowdot(tr.los, e_ct), rowdot(tr.los, e_at)], axis=1)
    # Fitted residuals are smaller than the noise by the parameters they absorbed: across the track
    # each camera's own plane takes 2 (the line is where the planes meet), along it the timing model.
    groups = tuple(np.flatnonzero(nominal.inlier & (tr.cam == c)) for c in range(tr.n_cams))
    n = int(nominal.inlier.sum())
    k = n_params(nominal.timing.model, nominal.timing.with_offsets, tr.n_clocks)
    resid[:, 1] *= np.sqrt(n / max(n - k, 1))
    for idx in groups:
        resid[idx, 0] *= np.sqrt(len(idx) / max(len(idx) - 2, 1))
    models, weights = model_weights(nominal)
    return Resampling(pred, e_ct, e_at, resid, groups, models, weights)


def point_noise(nominal: TrajectoryFit) -> Float:
    """Each camera's noise along the track for one sight line's own place (endpoints.py): its
    astrometric level, or its along-track residuals' RMS where larger."""
    rs = resampling(nominal)
    along = np.array([float(np.sqrt(np.mean(rs.resid[g, 1] ** 2))) if len(g) else 0.0 for g in rs.groups])
    return np.maximum(nominal.sigma_cam, along)


def bootstrap_los(nominal: TrajectoryFit, rs: Resampling, rng: np.random.Generator) -> Float:
    """Prediction + a residual drawn (with a random sign per component) from the same camera's own."""
    los = nominal.tracks.los.copy()
    for idx in rs.groups:
        if len(idx) == 0:
            continue
        drawn = rs.resid[rng.choice(idx, size=len(idx))] * rng.choice((-1.0, 1.0), size=(len(idx), 2))
        moved = rs.pred[idx] + drawn[:, :1] * rs.e_ct[idx] + drawn[:, 1:] * rs.e_at[idx]
        los[idx] = moved / norm(moved)[:, None]
    return los


#: Bootstrap refits (in the parent, before the runs) that measure the joint refinement's turn when
#: the speed model is exact.
TURN_DRAWS = 8


def turn_noise(nominal: TrajectoryFit, rs: Resampling, seed: int) -> float:
    """Mean square turn (rad²) of the joint refinement away from the staged line on bootstrap data,
    which follow the nominal model: the noise's share of the nominal's own turn (NaN: no refit)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    sq = []
    for _ in range(TURN_DRAWS):
        try:
            fit = refit(nominal, bootstrap_los(nominal, rs, rng))
        except (SolveFailed, ValueError, np.linalg.LinAlgError, FloatingPointError):
            continue
        turn = fit.staged_direction - fit.line.direction
        sq.append(float(turn @ turn))
    return float(np.mean(sq)) if sq else float("nan")


def _chunk(nominal: TrajectoryFit, ctx: EpochContext, syst: Systematics,
           seeds: list[np.random.SeedSequence]) -> Float:
    out = np.full((len(seeds), len(QUANTITIES)), np.nan)
    rs = resampling(nominal)
    for j, ss in enumerate(seeds):
        rng = np.random.default_rng(ss)
        los = bootstrap_los(nominal, rs, rng)
        model = rs.models[int(rng.choice(len(rs.models), p=rs.weights))]
        try:
            out[j] = quantities(perturbed(line_ends(refit(nominal, los, model=model), nominal), syst, rng), ctx)
        except (SolveFailed, ValueError, np.linalg.LinAlgError, FloatingPointError):
            continue  # a run that fails counts as missing, not as a crash of the whole estimate
    return out


def monte_carlo(
    nominal: TrajectoryFit,
    ctx: EpochContext,
    runs: int,
    *,
    seed: int = 0,
    executor: Executor | None = None,
) -> tuple[Float, Float]:
    """(samples (runs, Q), sigma (Q,)) with Q = QUANTITIES; ``executor`` defaults to a fresh pool.

    Pass the station's shared pool as ``executor``; without one a pool sized to the cores is made and
    shut down here. Runs in this process when runs is small, where the pool would cost more than it
    saves.
    """
    seeds = np.random.SeedSequence(seed).spawn(runs)
    nominal_q = quantities(nominal, ctx)
    if runs <= 8 and executor is None:
        syst = net_of_noise(systematics(nominal), turn_noise(nominal, resampling(nominal), seed))
        samples = _chunk(nominal, ctx, syst, seeds)
        return samples, spread(samples, nominal_q, point_sigmas(nominal, point_noise(nominal)))
    own = executor is None
    workers = os.cpu_count() or 1
    pool: Executor = executor if executor is not None else ProcessPoolExecutor(max_workers=workers)
    try:
        # the two noise-only measures side by side in the pool (same numbers as in series)
        f_syst = pool.submit(systematics, nominal)
        f_turn = pool.submit(turn_noise, nominal, resampling(nominal), seed)
        syst = net_of_noise(f_syst.result(), f_turn.result())
        n_chunks = max(1, min(runs, 2 * workers))
        bounds = np.linspace(0, runs, n_chunks + 1).astype(int)
        futures = [
            pool.submit(_chunk, nominal, ctx, syst, seeds[bounds[k]:bounds[k + 1]])
            for k in range(n_chunks) if bounds[k + 1] > bounds[k]
        ]
        samples = np.concatenate([f.result() for f in futures])
    finally:
        if own:
            pool.shutdown()
    return samples, spread(samples, nominal_q, point_sigmas(nominal, point_noise(nominal)))
