"""The one entry point: Observation set in, Solution out — never an exception for bad data."""

from __future__ import annotations

import time
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from ams_actors.kernels.showers import ShowerTable, shower_for, shower_json, solar_longitude_deg
from ams_actors.kernels.trajectory.epoch import EpochContext, epoch_context
from ams_actors.kernels.trajectory.fit import TrajectoryFit, fit_trajectory
from ams_actors.kernels.trajectory.montecarlo import monte_carlo
from ams_actors.kernels.trajectory.orbit import equatorial_to_ecliptic
from ams_actors.kernels.trajectory.quality import MAX_RESIDUAL_PX, assess, pixel_limit_arcsec
from ams_actors.kernels.trajectory.quantities import QUANTITIES, quantities
from ams_actors.kernels.trajectory.tracks import MIN_POINTS, SolveFailed, Tracks, build_tracks
from protocols.observations import (
    GeoPoint,
    ObservationSet,
    Orbit,
    Radiant,
    Solution,
    SolverInfo,
    format_utc,
)

SOLVER_NAME = "ams-trajectory"
SOLVER_VERSION = "1.0"


@dataclass(frozen=True, slots=True)
class SolveResult:
    """The Solution plus the fit behind it (None when failed), for plots and benchmarks."""

    solution: Solution
    fit: TrajectoryFit | None
    context: EpochContext | None


def _method(fit: TrajectoryFit | None, mc_runs: int) -> str:
    parts = ["planes", "los-lsq"]
    if fit is not None:
        parts.append(f"timing-{fit.timing.model}" + ("+offsets" if fit.timing.with_offsets else ""))
    if mc_runs:
        parts.append(f"mc{mc_runs}")
    return "+".join(parts)


def _failed(obs_set: ObservationSet, reason: str, mc_runs: int, t_start: float,
            convergence_deg: float | None = None) -> Solution:
    info = SolverInfo(SOLVER_NAME, SOLVER_VERSION, _method(None, mc_runs), mc_runs, time.perf_counter() - t_start)
    return Solution(
        event_id=obs_set.event_id, status="failed", solver=info, reason=reason,
        stations=tuple(dict.fromkeys(o.station_id for o in obs_set.observations)),
        convergence_angle_deg=convergence_deg,
    )


def _nest(values: np.ndarray) -> dict[str, Any]:
    """QUANTITIES-ordered numbers back into the Solution's nested keys."""
    out: dict[str, Any] = {}
    for name, value in zip(QUANTITIES, values, strict=True):
        head, _, tail = name.partition(".")
        v = float(value) if np.isfinite(value) else None
        if tail:
            out.setdefault(head, {})[tail] = v
        else:
            out[head] = v
    return out


#: A camera whose residual RMS is this many times the others' median (and above GROSS_ARCSEC) is
#: suspected of seeing something else; the event is re-solved without it.
GROSS_RATIO = 5.0
GROSS_ARCSEC = 120.0
#: ... and so is one above this many of its own pixels whatever the others do (when the others are
#: mediocre too, the relative rule alone kept a 479″ = 2.1 px camera in an 8-station real event). The
#: same limit as the quality rule: a camera that would make the Solution poor is left out when it can be.
GROSS_PX = MAX_RESIDUAL_PX
_NUMERIC = (SolveFailed, ValueError, np.linalg.LinAlgError, FloatingPointError)


def _suspect(fit: TrajectoryFit, scales: tuple[float | None, ...]) -> int | None:
    """The camera to re-solve without (3 or more cameras only): grossly worse than the others, or
    above GROSS_PX of its own pixels (``scales``: plate scales in the order of the cameras)."""
    rms = fit.residual_rms_arcsec()
    if len(rms) < 3 or not np.all(np.isfinite(rms)):
        return None
    # only a camera whose plate scale is known is dropped by its own pixels: an assumed scale (RMS-like
    # 150″/px) would drop a wide-field camera that is as good as its coarser pixels allow (Winchcombe's
    # AllSky7 record, 629″ with no scale given)
    limits = np.array([np.inf if s is None else pixel_limit_arcsec(s, GROSS_PX) for s in scales])
    over = rms / limits
    if over.max() > 1.0:
        return int(np.argmax(over))
    worst = int(np.argmax(rms))
    others = float(np.median(np.delete(rms, worst)))
    return worst if rms[worst] > max(GROSS_RATIO * others, GROSS_ARCSEC) else None


def _fit_dropping_one(obs_set: ObservationSet) -> tuple[Tracks, TrajectoryFit, tuple[str, ...]]:
    """Fit all observations; with 3 or more, drop one that sinks or grossly disagrees with the rest.

    A correlator can attach a detection of a different meteor to an event (seen on the real GMN UK
    night: a detection 1.2 s off made the full solve fail); one wrong member must not sink the event.
    On failure every leave-one-out subset is tried and the one keeping the most points (then with the
    smallest residuals) wins.
    """
    obs = obs_set.observations
    ids = [o.station_id for o in obs]
    short = tuple(
        f"{o.station_id}:{o.camera_id}" if ids.count(o.station_id) > 1 else o.station_id
        for o in obs if len(o.times) < MIN_POINTS
    )
    if short and len(obs) - len(short) >= 2:  # a camera that caught 2 frames must not sink the event
        obs = tuple(o for o in obs if len(o.times) >= MIN_POINTS)
        obs_set = ObservationSet(obs_set.event_id, obs)
    else:
        short = ()
    tracks = build_tracks(obs_set)  # validation failures are final

    def without(k: int) -> tuple[Tracks, TrajectoryFit]:
        tr = build_tracks(ObservationSet(obs_set.event_id, obs[:k] + obs[k + 1:]))
        return tr, fit_trajectory(tr)

    try:
        fit = fit_trajectory(tracks)
    except _NUMERIC as err:
        if len(obs) < 3:
            raise
        best: tuple[tuple[int, float], Tracks, TrajectoryFit, str] | None = None
        for k in range(len(obs)):
            try:
                tr, f = without(k)
            except _NUMERIC:
                continue
            score = (int(f.inlier.sum()), -float(np.nanmedian(f.residual_rms_arcsec())))
            if best is None or score > best[0]:
                best = (score, tr, f, tracks.cam_names[k])
        if best is None:
            raise err from None
        return best[1], best[2], (*short, best[3])
    bad = _suspect(fit, tuple(o.pixel_scale_arcsec for o in obs))
    if bad is not None:
        try:
            tr, f = without(bad)
            return tr, f, (*short, tracks.cam_names[bad])
        except _NUMERIC:
            pass
    return tracks, fit, short


def _shower(n: dict[str, Any], ctx: EpochContext, showers: ShowerTable | None) -> dict[str, Any] | None:
    """The Solution's ``shower``: None when not assessed (no table, or no geocentric speed)."""
    if showers is None or n["v_g_m_s"] is None:
        return None
    sol = solar_longitude_deg(equatorial_to_ecliptic(ctx.earth_pos_m))
    match = shower_for(n["radiant"]["ra_deg"], n["radiant"]["dec_deg"], n["v_g_m_s"] / 1000.0, sol, showers)
    return shower_json(match)


def solve_observation_set_detailed(
    obs_set: ObservationSet, mc_runs: int = 0, executor: Executor | None = None, seed: int = 0,
    showers: ShowerTable | None = None,
) -> SolveResult:
    """``showers``: the shower tables (``ams_actors.data.load_shower_table()``) to fill ``shower``."""
    t_start = time.perf_counter()
    try:
        tracks, fit, excluded = _fit_dropping_one(obs_set)
        ctx = epoch_context(tracks.epoch)
        q = quantities(fit, ctx)
        sigma: dict[str, Any] | None = None
        if mc_runs > 0:
            _, sig = monte_carlo(fit, ctx, mc_runs, seed=seed, executor=executor)
            sigma = _nest(sig)
            sigma.pop("radiant_apparent", None)
    except SolveFailed as err:
        return SolveResult(_failed(obs_set, str(err), mc_runs, t_start, err.convergence_deg), None, None)
    except (ValueError, np.linalg.LinAlgError, FloatingPointError) as err:
        return SolveResult(_failed(obs_set, f"numerical failure: {err}", mc_runs, t_start), None, None)
    except Exception as err:  # the contract is "never raises for data": a bug becomes a visible reason
        reason = f"internal error: {type(err).__name__}: {err}"
        return SolveResult(_failed(obs_set, reason, mc_runs, t_start), None, None)

    n = _nest(q)
    rms = fit.residual_rms_arcsec()
    orbit = Orbit(**{k: (v if v is not None else float("nan")) for k, v in n["orbit"].items()})
    clocks_used = set(fit.tracks.clock[fit.inlier].tolist())
    offsets = {
        name: float(fit.timing.offsets[k]) for k, name in enumerate(fit.tracks.clock_names) if k in clocks_used
    }
    info = SolverInfo(SOLVER_NAME, SOLVER_VERSION, _method(fit, mc_runs), mc_runs, time.perf_counter() - t_start)
    residuals = {name: float(rms[k]) for k, name in enumerate(fit.tracks.cam_names)}
    scale_of = _scales_by_cam(obs_set)
    quality = assess(fit.planes.convergence_deg, residuals, {n: scale_of.get(n) for n in residuals},
                     n["begin"]["alt_m"], n["end"]["alt_m"], fit.v_init, n["orbit"].get("e"), sigma)
    solution = Solution(
        event_id=obs_set.event_id,
        status="solved",
        solver=info,
        stations=fit.tracks.clock_names,  # the station ids actually used
        excluded=excluded,
        begin=GeoPoint(**n["begin"]),
        end=GeoPoint(**n["end"]),
        v_init_m_s=fit.v_init,
        v_avg_m_s=fit.v_avg,
        radiant=Radiant(**n["radiant"]),
        v_g_m_s=n["v_g_m_s"],
        orbit=orbit,
        sigma=sigma,
        residuals_arcsec=residuals,
        convergence_angle_deg=fit.planes.convergence_deg,
        radiant_apparent=Radiant(**n["radiant_apparent"]),
        timing_offsets_s=offsets if fit.timing.with_offsets else {},
        velocity_model=fit.timing.model,
        t_begin_utc=format_utc(tracks.epoch + timedelta(seconds=fit.t_begin)),
        rejected_points=int((~fit.inlier).sum()),
        shower=_shower(n, ctx, showers),
        quality=quality,
    )
    return SolveResult(solution, fit, ctx)


def _scales_by_cam(obs_set: ObservationSet) -> dict[str, float | None]:
    """Plate scales keyed both ways the solver names a camera (``station``, ``station:camera``)."""
    out: dict[str, float | None] = {}
    for o in obs_set.observations:
        out[f"{o.station_id}:{o.camera_id}"] = o.pixel_scale_arcsec
        out.setdefault(o.station_id, o.pixel_scale_arcsec)
    return out


def solve_observation_set(
    obs_set: ObservationSet, mc_runs: int = 0, executor: Executor | None = None, seed: int = 0,
    showers: ShowerTable | None = None,
) -> Solution:
    """Solve one event. ``executor``: the station's process pool for Monte Carlo (else a fresh one).

    Bad or unsolvable data give ``status="failed"`` with a reason; this never raises for data.
    """
    return solve_observation_set_detailed(obs_set, mc_runs, executor, seed, showers).solution
