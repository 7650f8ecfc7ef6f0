"""Multi-station meteor trajectory solver (issue 5): pure functions on numpy arrays.

Pipeline (after Vida et al. 2020, reimplemented and vectorized): intersecting planes for every
station pair → line-of-sight least squares in an Earth-rotation-free frame → length vs time with
per-station clock offsets and a data-chosen deceleration model → radiant, v_g, orbit → optional
Monte Carlo in a process pool. The Solver actor calls :func:`solve_observation_set` from a thread of
the station process (``asyncio.to_thread``) with the station's process pool as ``executor``: the
nominal solve (tens of ms) runs in that thread, the Monte Carlo runs go to the pool (a pool worker
cannot submit to its own pool). :func:`warm_up` imports astropy and loads the IERS table ahead, so
start-up is not billed to the first solve's ``runtime_s``.
"""

from ams_actors.kernels.trajectory.epoch import warm_up
from ams_actors.kernels.trajectory.solver import (
    SolveResult,
    solve_observation_set,
    solve_observation_set_detailed,
)

__all__ = ["SolveResult", "solve_observation_set", "solve_observation_set_detailed", "warm_up"]
