"""Issue 13 items 4 and 5: Monte Carlo sigmas that cover the truth, and a v_init that a flat
exponential lag cannot pull up."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import numpy as np

from ams_actors.kernels.trajectory import solve_observation_set_detailed
from ams_actors.kernels.trajectory.endpoints import point_sigmas
from ams_actors.kernels.trajectory.fit import refit
from ams_actors.kernels.trajectory.montecarlo import resampling, turn_noise
from ams_actors.kernels.trajectory.quantities import QUANTITIES, geodetic_at
from ams_actors.kernels.trajectory.systematics import (
    Systematics,
    net_of_noise,
    perturbed,
    systematics,
    truncation_shifts,
)
from ams_actors.kernels.trajectory.timing import fit_timing
from ams_actors.kernels.trajectory.vinit import is_flat_lag, robust_v_init, v_first

BENCH = Path(__file__).resolve().parents[1] / "scripts" / "bench" / "solver.py"


def _bench() -> ModuleType:
    """The solver benchmark's event generator and coverage measure (one definition of both)."""
    spec = importlib.util.spec_from_file_location("bench_solver_for_tests", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_monte_carlo_sigmas_cover_the_truth_on_seeded_events() -> None:
    """Twelve seeded events with clock offsets, outliers and deceleration: every true v_init, begin
    height and radiant lies within 3 of the reported sigmas. With noise-only sigmas one event's
    v_init was 11 sigmas off (sigma 0.03 %, error 0.28 %: the speed model's choice was ignored).
    30 runs: a 68th percentile of 20 is noisy enough to put begin heights within 1 sigma 5 times in
    12 here (6 at 30 and at 40 runs)."""
    bench = _bench()
    fam = next(f for f in bench.FAMILIES if f.name == "clock_outl")
    rng = np.random.default_rng(7)
    rows = []
    with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=2) as pool:
        warnings.simplefilter("ignore")
        for k in range(12):
            ev = bench.make_event(rng, fam, k)
            row = bench.coverage_row(ev, 30, k, executor=pool)
            assert row is not None
            rows.append(row)
    for key in ("v_init", "begin_alt", "radiant"):
        z = np.array([r[key] for r in rows])
        assert np.all(z <= 3.0), (key, z.round(2))
        assert np.mean(z <= 1.0) >= 0.5, (key, z.round(2))


def test_a_flat_exponential_lag_does_not_overshoot_v_init() -> None:
    """Two stations of a constant-speed meteor whose noise the exponential model reads as a
    near-constant deceleration: its v at the first point is 11.6 % too high; v_init is not."""
    v = 30000.0
    rng = np.random.default_rng(22)
    t0, t1 = np.arange(0.0, 0.32, 0.04), np.arange(0.02, 0.50, 0.04)
    t = np.concatenate([t0, t1])
    clock = np.concatenate([np.zeros(len(t0), dtype=np.int64), np.ones(len(t1), dtype=np.int64)])
    sigma = np.full(len(t), 200.0)
    length = v * t + rng.standard_normal(len(t)) * sigma
    timing = fit_timing(t, clock, 2, length, sigma)
    assert timing.model == "exp" and is_flat_lag(timing, float(np.ptp(t)))
    assert timing.v > 1.08 * v  # the old v_init
    assert abs(robust_v_init(timing, t, clock, 2, length, sigma) - v) < 0.02 * v


def test_v_init_sigma_covers_a_deceleration_shaped_unlike_the_model() -> None:
    """A physically decelerating meteor (single-body ablation) whose v_init the exponential lag over
    the whole track puts 4-5 % too high: the bootstrap around the model alone gave a sigma several
    times smaller than the error; refitting the early track exposes the model's error. v_init now
    comes from the early track (0.9 % off); its sigma must still cover that, and not drown it. The
    joint refinement's turn of the line is drawn into every run's direction (the radiant's share)."""
    bench = _bench()
    fam = next(f for f in bench.FAMILIES if f.name == "physical30")
    rng = np.random.default_rng(41)
    ev = [bench.make_event(rng, fam, k) for k in range(2)][1]
    with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=2) as pool:
        warnings.simplefilter("ignore")
        row = bench.coverage_row(ev, 20, 0, executor=pool)
        fit = solve_observation_set_detailed(ev.obs).fit
    assert row is not None and fit is not None
    first = np.flatnonzero(fit.inlier)[np.argmin(fit.tau[fit.inlier])]
    v_true = float(ev.meteor.speed(np.array([ev.true_t[first]]))[0])
    model_v = v_first(fit.timing, fit.tracks.t[fit.inlier], fit.tracks.clock[fit.inlier])
    assert model_v > 1.02 * v_true  # the model's shape error this test is about
    assert fit.vinit_window < 1.0 and abs(row["v_err_pct"]) < 2.0, (fit.vinit_window, row)
    assert row["v_init"] <= 2.0, row
    assert row["v_sigma_pct"] < 5.0 * abs(row["v_err_pct"]), row  # covered, not drowned

    assert systematics(fit).v_sigma > 0.0
    d = fit.line.direction
    side = np.cross(d, [0.0, 0.0, 1.0])
    turn = 1e-3  # rad: a joint refinement that turned the line this far from the staged one
    syst = Systematics(0.0, turn * side / np.linalg.norm(side))
    draws = np.random.default_rng(0)
    moved = [np.arccos(np.clip(perturbed(fit, syst, draws).line.direction @ d, -1.0, 1.0)) for _ in range(400)]
    assert 0.8 * turn < np.percentile(moved, 68.27) < 1.2 * turn


def test_v_init_of_meteors_braking_to_dark_flight_comes_from_their_early_track() -> None:
    """Two physically decelerating meteors (single-body ablation, tuning seed 3) that brake from
    44 and 30 km/s to ~3 km/s: no exponential lag follows that over the whole flight. The flat-lag
    rule then handed v_init to the constant speed, which the data reject by ΔBIC in the hundreds:
    66.6 % and 36.2 % low. v_init from the part of the track the models still follow is within 2 %."""
    bench = _bench()
    fam = next(f for f in bench.FAMILIES if f.name == "physical30")
    rng = np.random.default_rng(3)
    events = [bench.make_event(rng, fam, k) for k in range(5)][3:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ev in events:
            row = bench.evaluate(ev)
            fit = solve_observation_set_detailed(ev.obs).fit
            assert row["solved"] and fit is not None
            assert fit.vinit_window < 1.0, fit.vinit_window
            assert abs(row["v_init_signed"]) < 2.0, row["v_init_signed"]


def test_the_speed_models_share_does_not_count_the_noise_again() -> None:
    """Constant-speed meteors (tuning seed 2), whose speed model is exact: refitting the early track
    changes v_init by noise alone, which the bootstrap already draws. The raw RMS of those changes
    was taken as the model's error and made the v_init sigma 1.6× the bootstrap's (83 % within
    1 sigma); with the noise's share taken off, less is left everywhere and little on most events.
    The same for the direction's share (the joint refinement's turn of the line), measured net of the
    turn that bootstrap refits show."""
    bench = _bench()
    fam = next(f for f in bench.FAMILIES if f.name == "const60")
    rng = np.random.default_rng(2)
    raw, kept, turns = [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(6):
            fit = solve_observation_set_detailed(bench.make_event(rng, fam, k).obs).fit
            assert fit is not None
            shifts, noise = truncation_shifts(fit)
            ok = np.isfinite(shifts)
            assert np.all(noise[ok] > 0.0)
            raw.append(float(np.sqrt(np.mean(shifts[ok] ** 2))))
            syst = systematics(fit)
            kept.append(syst.v_sigma)
            net = net_of_noise(syst, turn_noise(fit, resampling(fit), k))
            turns.append((float(np.linalg.norm(syst.dir_shift)), float(np.linalg.norm(net.dir_shift))))
    kept_a, raw_a = np.array(kept), np.array(raw)
    assert np.all(raw_a > 0.0) and np.all(kept_a < raw_a), (kept_a.round(), raw_a.round())
    assert np.mean(kept_a < 0.5 * raw_a) >= 0.5, (kept_a.round(), raw_a.round())
    # the joint refinement's turn of the line: with an exact model it is the noise's too
    t_raw, t_net = np.array(turns).T
    assert np.all(t_raw > 0.0) and np.all(t_net <= t_raw) and np.mean(t_net < 0.5 * t_raw) >= 0.5, turns


def test_the_begin_points_own_share_is_its_sight_lines_noise_through_the_geometry() -> None:
    """The begin point is where the first sight line meets the line: its own noise slides the point
    along the line by range × noise / sin(angle to the trajectory). That share is now added in closed
    form (endpoints.point_sigmas) instead of being redrawn from ~10 residuals of its camera in every
    run (begin heights within 1 sigma 62 % of the time on the tuning seeds, 2 sigma 93 %). Checked
    here against what it stands for: the scatter of the begin height when only the first sight line
    is re-noised (at its camera's noise level) and the line refitted, on decelerating events."""
    bench = _bench()
    fam = next(f for f in bench.FAMILIES if f.name == "decel30")
    rng = np.random.default_rng(7)
    alt = QUANTITIES.index("begin.alt_m")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(2):
            fit = solve_observation_set_detailed(bench.make_event(rng, fam, k).obs).fit
            assert fit is not None
            tr = fit.tracks
            idx = np.flatnonzero(fit.inlier)
            first = idx[np.argmin(fit.tau[idx])]
            u = np.cross(tr.los[first], [0.0, 0.0, 1.0])
            u /= np.linalg.norm(u)
            w = np.cross(tr.los[first], u)
            h0 = geodetic_at(fit.begin, fit.t_begin)[2]
            draws = np.random.default_rng(k)
            moved = []
            for _ in range(40):
                los = tr.los.copy()
                a, b = draws.standard_normal(2) * fit.sigma_cam[tr.cam[first]]
                los[first] = (los[first] + a * u + b * w) / np.sqrt(1.0 + a * a + b * b)
                f = refit(fit, los)
                moved.append(geodetic_at(f.begin, f.t_begin)[2] - h0)
            point = point_sigmas(fit, fit.sigma_cam)
            assert 0.75 < np.std(moved) / point[alt] < 1.25, (k, np.std(moved), point[alt])
            assert point[QUANTITIES.index("end.alt_m")] > 0.0 and point[QUANTITIES.index("v_init_m_s")] == 0.0
