"""Monte Carlo uncertainties: re-solve with each camera's measured noise added, in a process pool.

Runs are grouped into one chunk per worker so the (small) problem is pickled a few times, not N
times. Workers need numpy and scipy only: the astronomy (EpochContext) is plain numbers computed in
the parent. Seeds come from one SeedSequence, so a given seed gives the same sigmas on any pool size.
"""

from __future__ import annotations

import os
from concurrent.futures import Executor, ProcessPoolExecutor

import numpy as np
from numpy.typing import NDArray

from ams_actors.kernels.trajectory.epoch import EpochContext
from ams_actors.kernels.trajectory.fit import TrajectoryFit, refit
from ams_actors.kernels.trajectory.quantities import QUANTITIES, quantities, spread
from ams_actors.kernels.trajectory.tracks import SolveFailed

Float = NDArray[np.float64]


def perturb(los: Float, sigma: Float, rng: np.random.Generator) -> Float:
    """Unit vectors moved by an isotropic angular error of ``sigma`` rad per axis (per point)."""
    helper = np.where(np.abs(los[:, :1]) < 0.9, np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]]))
    e1 = np.cross(los, helper)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(los, e1)
    k = rng.standard_normal((len(los), 2)) * sigma[:, None]
    out = los + k[:, :1] * e1 + k[:, 1:] * e2
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def _chunk(nominal: TrajectoryFit, ctx: EpochContext, seeds: list[np.random.SeedSequence]) -> Float:
    out = np.full((len(seeds), len(QUANTITIES)), np.nan)
    sigma_pt = nominal.sigma_cam[nominal.tracks.cam]
    for j, ss in enumerate(seeds):
        rng = np.random.default_rng(ss)
        los = perturb(nominal.tracks.los, sigma_pt, rng)
        try:
            out[j] = quantities(refit(nominal, los), ctx)
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
        samples = _chunk(nominal, ctx, seeds)
        return samples, spread(samples, nominal_q)
    own = executor is None
    workers = os.cpu_count() or 1
    pool: Executor = executor if executor is not None else ProcessPoolExecutor(max_workers=workers)
    try:
        n_chunks = max(1, min(runs, 2 * workers))
        bounds = np.linspace(0, runs, n_chunks + 1).astype(int)
        futures = [
            pool.submit(_chunk, nominal, ctx, seeds[bounds[k]:bounds[k + 1]])
            for k in range(n_chunks) if bounds[k + 1] > bounds[k]
        ]
        samples = np.concatenate([f.result() for f in futures])
    finally:
        if own:
            pool.shutdown()
    return samples, spread(samples, nominal_q)
