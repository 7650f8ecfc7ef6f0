"""Trajectory solver benchmark (issue 5): simulated events with known truth, solved and compared.

Families (each N events, random geometry: 2–5 stations 30–220 km from the meteor, 25 fps, each camera
recording a random ≥ 60 % stretch of the flight):
- ``const60``:   60″ noise, constant speed
- ``decel30``:   30″ noise, decelerating (exponential lag, 2–30 % speed loss)
- ``clock_outl``: 60″ noise, half decelerating, station clocks off by up to ±0.2 s, 3 % of points
                  displaced by 0.3–1°
- ``mixed``:     30–120″ per station, half decelerating (no target; the realistic spread)
- ``physical30``: 30″ noise, physical deceleration (issue 13 item 8): the single-body ablation
                  equations through the US76 atmosphere (sim/ablation.py), bodies of 1 mg–10 g,
                  1000–3500 kg/m³, σ 0.005–0.1 s²/km²; the flight ends where the body has ablated
                  (or at 3 s). No target: the solver's own models are not this speed profile, so
                  this family says how far that carries (compare ``decel30``, same noise).
Direction and position statistics are over events whose best (true) convergence angle is ≥ 5°; the
solved fraction is given for those and for all. The baseline is the intersecting-planes first
guess (best pair), measured on the same events.

    python3 scripts/bench/solver.py [--events 200] [--mc-events 2] [--mc-runs 100] [--seed 1]
                                    [--coverage 40] [--coverage-runs 40]

Coverage (issue 13 item 4): ``--coverage N`` events per family are also solved with ``--coverage-runs``
Monte Carlo runs, and the fraction whose true v_init, begin height and radiant lie within 1 and 2 of
the reported sigmas is printed (target 60–80 % within 1 sigma, ≥ 90 % within 2). v_init and begin
height are 1-D: |error| / sigma, 68.3 % and 95.4 % for exact Gaussian sigmas. The radiant is 2-D: the
angle between the fitted and the true direction is compared with the RMS radius of the apparent
radiant's sigmas, sqrt((σ_α cos δ)² + σ_δ²) — not with one axis' sigma, against which a circular
Gaussian's angle lies within 1 sigma only 39.3 % of the time (1 − e^(−1/2)). Against the RMS radius
exact sigmas give 63.2 % within 1 and 98.2 % within 2 for a circular error (1 − e^(−1), 1 − e^(−4)),
up to 68.3 % and 95.4 % for an error elongated along one axis: the same target applies.

Coverage measured (``--events 30 --coverage 30 --coverage-runs 40 --coverage-only``: 30 events a family,
~150 pooled a seed; a 2-core machine shared with three other jobs, which changes times, not figures).
Within 1σ/2σ, pooled, then per family (const60, decel30, clock_outl, mixed, physical30) for the begin height:

- Before the begin/end change (begin and end sigmas from runs that redrew the one point each time,
  about the runs' median). Held-out seeds 51/52 (spent): v_init 0.70/0.91 and 0.71/0.93, begin 0.64/0.91
  and 0.59/0.93, radiant 0.68/0.97 and 0.65/0.97; decel30's begin 0.50/0.77 and 0.53/0.87.
- The begin/end change (endpoints.py: the line's share from the runs, the sight line's own noise in
  closed form). Tuning (seeds 2-6 looked at freely): a diagnostic over decel30 on seeds 2-6 and the
  other families on seeds 2-3 (372 events, 40 runs) put begin heights within 1/2 sigma 0.62/0.93 before,
  each share alone about right, the runs' redraw of the one point the noisy part. Bench on seed 2:
  v_init 0.75/0.95, begin 0.71/0.95 (0.77/1.00, 0.70/0.90, 0.70/0.97, 0.63/0.97, 0.77/0.93), radiant
  0.70/0.98; seed 3: v_init 0.70/0.93, begin 0.65/0.95 (0.60/0.97, 0.60/0.93, 0.63/0.97, 0.70/0.93,
  0.70/0.93), radiant 0.59/0.95 (the radiant's 1-sigma figure below the band on this seed, with or without the
  change: v_init and radiant sigmas are untouched by it).
- Held-out seeds 61 and 62 (run once with the final code; now SPENT; a first start with an earlier
  version was stopped, its output unread, when that version proved wrong on a real example), with
  main's code on the same seeds beside it. v_init and radiant are the same for both (the change touches begin/end only):
  v_init 0.77/0.98 and 0.63/0.93, radiant 0.69/0.98 and 0.64/0.95.
  Begin, this code: seed 61 0.80/0.98 (0.73/0.97, 0.79/0.97, 0.73/0.97, 0.87/1.00, 0.87/1.00);
  seed 62 0.72/0.97 (0.72/0.93, 0.73/0.97, 0.77/0.97, 0.72/1.00, 0.67/0.97).
  Begin, main's code: seed 61 0.68/0.94 (0.70/0.93, 0.59/0.97, 0.63/0.90, 0.77/0.97, 0.70/0.93);
  seed 62 0.64/0.94 (0.55/0.86, 0.67/0.90, 0.70/0.97, 0.66/1.00, 0.63/0.97).
  All three within the targets on both seeds with either code; the begin sigma now errs wide (seed 61's
  0.799 is at the band's top edge; mixed and physical30 at 0.87 on it), where main's erred narrow at 2
  sigma in decel30 and const60 (0.86-0.90). The published begin point, and so every accuracy figure,
  is unchanged.

The last line printed is ``BENCH {json}``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ams_actors.kernels.geo import angle_between_deg, ecef_to_geodetic, geodetic_to_ecef
from ams_actors.kernels.trajectory import solve_observation_set_detailed
from ams_actors.kernels.trajectory.frames import ecef_to_inertial, inertial_to_ecef
from ams_actors.kernels.trajectory.montecarlo import monte_carlo
from ams_actors.kernels.trajectory.quantities import QUANTITIES
from ams_actors.sim.ablation import ablating_meteor, random_meteoroid
from ams_actors.sim.trajectories import TrueMeteor, observation_dict, observe
from protocols.observations import ObservationSet, parse_observation_set

FPS = 25.0


@dataclass
class Family:
    name: str
    noise: tuple[float, float]  # arcsec range per station
    decel_prob: float
    clock_s: float
    outliers: float
    physical: bool = False


FAMILIES = [
    Family("const60", (60.0, 60.0), 0.0, 0.0, 0.0),
    Family("decel30", (30.0, 30.0), 1.0, 0.0, 0.0),
    Family("clock_outl", (60.0, 60.0), 0.5, 0.2, 0.03),
    Family("mixed", (30.0, 120.0), 0.5, 0.0, 0.0),
    Family("physical30", (30.0, 30.0), 0.0, 0.0, 0.0, physical=True),
]

TARGETS = {
    "const60": {"solved_q5": 0.98, "dir_med": 0.10, "dir_p90": 0.5, "v_med": 0.5, "v_p90": 2.0},
    "decel30": {"dir_med": 0.08, "dir_p90": 0.3, "v_med": 0.4, "v_p90": 1.2},
    "clock_outl": {"dir_med": 0.09, "dir_p90": 0.9, "v_med": 0.6, "v_p90": 3.0},
}


@dataclass
class Event:
    obs: ObservationSet
    meteor: TrueMeteor
    true_t: np.ndarray  # true time of every point, in observation order
    q_true: float


def _random_meteor(rng: np.random.Generator, fam: Family, epoch: datetime,
                   duration: tuple[float, float] = (0.4, 3.0)) -> TrueMeteor:
    if fam.physical:
        return _ablating_meteor(rng, epoch, duration)
    lat = rng.uniform(30.0, 60.0)
    lon = rng.uniform(-180.0, 180.0)
    h_begin = rng.uniform(80e3, 120e3)
    h_end = rng.uniform(60e3, min(95e3, h_begin - 10e3))
    elev = rng.uniform(15.0, 80.0)
    v = rng.uniform(11e3, 72e3)
    dur = float(np.clip((h_begin - h_end) / math.sin(math.radians(elev)) / v, *duration))
    a1 = a2 = 0.0
    if rng.random() < fam.decel_prob:
        a2 = rng.uniform(3.0, 8.0) / dur
        a1 = TrueMeteor.decel_for_speed_loss(v, dur, rng.uniform(0.02, 0.30), a2)
    return TrueMeteor.from_geodetic(lat, lon, h_begin, rng.uniform(0, 360), elev, v, dur, epoch, a1, a2)


def _ablating_meteor(rng: np.random.Generator, epoch: datetime, duration: tuple[float, float]) -> TrueMeteor:
    """Same begin points, directions and speeds as the other families; the body decides the rest."""
    while True:
        lat, lon = rng.uniform(30.0, 60.0), rng.uniform(-180.0, 180.0)
        h_begin, elev, v = rng.uniform(80e3, 120e3), rng.uniform(15.0, 80.0), rng.uniform(11e3, 72e3)
        meteor, _ = ablating_meteor(lat, lon, h_begin, rng.uniform(0, 360), elev, v, random_meteoroid(rng),
                                    epoch, t_max_s=duration[1])
        if meteor.duration_s >= duration[0]:
            return meteor


def _destination(lat: float, lon: float, bearing_deg: float, dist_m: float) -> tuple[float, float]:
    r = 6371008.8
    p1, l1, b = math.radians(lat), math.radians(lon), math.radians(bearing_deg)
    d = dist_m / r
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), (math.degrees(l2) + 540.0) % 360.0 - 180.0


def make_event(rng: np.random.Generator, fam: Family, k: int, n_stations: int | None = None,
               duration: tuple[float, float] = (0.4, 3.0), full_view: bool = False) -> Event:
    epoch = datetime(2026, 7, 12, 22, 0, 0, tzinfo=UTC) + timedelta(seconds=float(rng.uniform(0, 3600)))
    while True:
        meteor = _random_meteor(rng, fam, epoch, duration)
        mid = meteor.geodetic(meteor.duration_s / 2)
        n = n_stations or int(rng.integers(2, 6))
        entries: list[dict[str, Any]] = []
        true_ts: list[np.ndarray] = []
        normals: list[np.ndarray] = []
        tries = 0
        while len(entries) < n and tries < 50:
            tries += 1
            lat, lon = _destination(mid[0], mid[1], rng.uniform(0, 360), rng.uniform(30e3, 220e3))
            alt = rng.uniform(0.0, 300.0)
            w0 = rng.uniform(0.0, 0.4) * meteor.duration_s
            window = (w0, w0 + rng.uniform(0.6, 1.0) * meteor.duration_s) if not full_view else None
            track = observe(
                meteor, lat, lon, alt, FPS, rng.uniform(*fam.noise), rng,
                rng.uniform(-fam.clock_s, fam.clock_s), min_elevation_deg=5.0, window_s=window,
                outlier_fraction=fam.outliers,
            )
            if len(track) < 8:
                continue
            sid = f"S{len(entries) + 1}"
            entries.append(observation_dict(sid, lat, lon, alt, track))
            true_ts.append(track.true_t)
            st = geodetic_to_ecef(lat, lon, alt)
            tm = 0.5 * (track.true_t[0] + track.true_t[-1])
            sp = ecef_to_inertial(st[None, :], np.array([tm]))[0]
            nrm = np.cross(meteor.position(np.array([tm]))[0] - sp, meteor.direction)
            normals.append(nrm / np.linalg.norm(nrm))
        if len(entries) >= 2:
            break
    q = max(
        math.degrees(math.acos(min(1.0, abs(float(normals[i] @ normals[j])))))
        for i in range(len(normals)) for j in range(i + 1, len(normals))
    )
    obs = parse_observation_set({"event_id": f"{fam.name}_{k:04d}", "observations": entries})
    return Event(obs, meteor, np.concatenate(true_ts), q)


def _to_meteor_frame(vec: np.ndarray, event: Event) -> np.ndarray:
    """A solver-frame vector (axes = ITRS at the observation set's epoch) in the meteor's frame."""
    epoch_s = min(o.t_ref_utc for o in event.obs.observations)
    dt = (epoch_s - event.meteor.epoch).total_seconds()
    return ecef_to_inertial(np.atleast_2d(vec), np.array([dt]))[0]


def evaluate(event: Event, staged: bool = False) -> dict[str, Any]:
    t0 = time.perf_counter()
    result = solve_observation_set_detailed(event.obs)
    dt = time.perf_counter() - t0
    if staged:
        from ams_actors.kernels.trajectory.fit import fit_trajectory
        from ams_actors.kernels.trajectory.tracks import SolveFailed, build_tracks

        try:
            staged_fit = fit_trajectory(build_tracks(event.obs), joint=False)
        except SolveFailed:
            staged = False
    m = event.meteor
    out: dict[str, Any] = {"q": event.q_true, "time": dt, "solved": result.solution.status == "solved"}
    fit = result.fit
    if fit is None:
        out["reason"] = result.solution.reason
        return out
    if staged:
        ds = _to_meteor_frame(staged_fit.line.direction, event)
        out["dir_staged"] = float(angle_between_deg(ds, m.direction))
        first_s = np.flatnonzero(staged_fit.inlier)[np.argmin(staged_fit.tau[staged_fit.inlier])]
        v_true_s = float(m.speed(np.array([event.true_t[first_s]]))[0])
        out["v_init_staged"] = 100.0 * abs(staged_fit.v_init - v_true_s) / v_true_s
    d = _to_meteor_frame(fit.line.direction, event)
    out["dir"] = float(angle_between_deg(d, m.direction))
    dp = _to_meteor_frame(fit.planes.line.direction, event)
    out["dir_planes"] = float(angle_between_deg(dp, m.direction))
    # begin/end as published (Earth-fixed at the solver's time of the point), taken to the meteor's
    # frame at the point's *true* time: a station clock error then cannot hide in a frame rotation
    idx = np.flatnonzero(fit.inlier)
    first = idx[np.argmin(fit.tau[idx])]
    last = idx[np.argmax(fit.tau[idx])]
    for key, point, t_fit, k in (("begin", fit.begin, fit.t_begin, first), ("end", fit.end, fit.t_end, last)):
        ecef = inertial_to_ecef(point[None, :], np.array([t_fit]))
        in_m = ecef_to_inertial(ecef, np.array([event.true_t[k]]))[0]
        out[key] = float(m.distance_from_line_m(in_m)[0])
    v_true = float(m.speed(np.array([event.true_t[first]]))[0])
    out["v_init"] = 100.0 * abs(fit.v_init - v_true) / v_true
    out["v_init_signed"] = 100.0 * (fit.v_init - v_true) / v_true
    h_fit = float(ecef_to_geodetic(inertial_to_ecef(fit.begin[None, :], np.array([fit.t_begin]))[0])[2])
    out["begin_height"] = abs(h_fit - m.geodetic(float(event.true_t[first]))[2])
    return out


def coverage_row(event: Event, runs: int, seed: int, executor: Executor | None = None) -> dict[str, float] | None:
    """|error| / sigma of v_init, begin height and radiant for one event (None: not solved)."""
    result = solve_observation_set_detailed(event.obs)
    fit, ctx = result.fit, result.context
    if fit is None or ctx is None:
        return None
    _, sig = monte_carlo(fit, ctx, runs, seed=seed, executor=executor)
    q = dict(zip(QUANTITIES, sig, strict=True))
    m = event.meteor
    idx = np.flatnonzero(fit.inlier)
    first = idx[np.argmin(fit.tau[idx])]
    t_true = float(event.true_t[first])
    v_true = float(m.speed(np.array([t_true]))[0])
    h_fit = float(ecef_to_geodetic(inertial_to_ecef(fit.begin[None, :], np.array([fit.t_begin]))[0])[2])
    h_true = m.geodetic(t_true)[2]
    dec = math.radians(float(np.clip(np.degrees(np.arcsin(-fit.line.direction[2])), -89.0, 89.0)))
    sig_rad = math.hypot(q["radiant_apparent.ra_deg"] * math.cos(dec), q["radiant_apparent.dec_deg"])
    d = _to_meteor_frame(fit.line.direction, event)
    return {
        "v_init": abs(fit.v_init - v_true) / max(q["v_init_m_s"], 1e-9),
        "begin_alt": abs(h_fit - h_true) / max(q["begin.alt_m"], 1e-9),
        "radiant": float(angle_between_deg(d, m.direction)) / max(sig_rad, 1e-12),
        "v_err_pct": 100.0 * (fit.v_init - v_true) / v_true,
        "v_sigma_pct": 100.0 * q["v_init_m_s"] / v_true,
    }


def summarize_coverage(rows: list[dict[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {"events": len(rows)}
    for key in ("v_init", "begin_alt", "radiant"):
        z = np.array([r[key] for r in rows if np.isfinite(r[key])])
        out[key] = {"within_1sigma": float(np.mean(z <= 1.0)) if len(z) else None,
                    "within_2sigma": float(np.mean(z <= 2.0)) if len(z) else None}
    out["median_v_sigma_pct"] = _pct([r["v_sigma_pct"] for r in rows], 50)
    out["median_abs_v_err_pct"] = _pct([abs(r["v_err_pct"]) for r in rows], 50)
    return out


def coverage_ok(c: dict[str, Any]) -> bool:
    return all(
        c[k]["within_1sigma"] is not None and 0.6 <= c[k]["within_1sigma"] <= 0.8 and c[k]["within_2sigma"] >= 0.9
        for k in ("v_init", "begin_alt", "radiant")
    )


def _pct(values: list[float], p: float) -> float | None:
    return float(np.percentile(values, p)) if values else None


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    q5 = [r for r in rows if r["q"] >= 5.0]
    good = [r for r in q5 if r["solved"]]

    def stat(key: str) -> dict[str, float | None]:
        vals = [r[key] for r in good]
        return {"median": _pct(vals, 50), "p90": _pct(vals, 90)}

    return {
        "events": len(rows),
        "events_q5": len(q5),
        "solved_all": sum(r["solved"] for r in rows) / max(len(rows), 1),
        "solved_q5": len(good) / max(len(q5), 1),
        "dir_deg": stat("dir"),
        "begin_m": stat("begin"),
        "end_m": stat("end"),
        "v_init_pct": stat("v_init"),
        "v_init_bias_pct": _pct([r["v_init_signed"] for r in good], 50),
        "begin_height_m": stat("begin_height"),
        "baseline_planes_dir_deg": stat("dir_planes"),
        **({"baseline_staged_dir_deg": stat("dir_staged"), "baseline_staged_v_init_pct": stat("v_init_staged")}
           if good and "dir_staged" in good[0] else {}),
        "solve_s": {"median": _pct([r["time"] for r in rows], 50), "p90": _pct([r["time"] for r in rows], 90)},
        "failures": sorted({f'q={r["q"]:.1f}: {r.get("reason", "")}' for r in rows if not r["solved"]})[:5],
    }


def check(name: str, s: dict[str, Any]) -> dict[str, bool]:
    t = TARGETS.get(name)
    if not t:
        return {}
    res: dict[str, bool] = {}

    def le(x: float | None, lim: float) -> bool:
        return x is not None and x <= lim

    if "solved_q5" in t:
        res["solved_q5"] = s["solved_q5"] >= t["solved_q5"]
    res["dir_med"] = le(s["dir_deg"]["median"], t["dir_med"])
    res["dir_p90"] = le(s["dir_deg"]["p90"], t["dir_p90"])
    res["v_med"] = le(s["v_init_pct"]["median"], t["v_med"])
    res["v_p90"] = le(s["v_init_pct"]["p90"], t["v_p90"])
    return res


def time_mc(events: list[Event], runs: int) -> float | None:
    if not events:
        return None
    times = []
    for ev in events:
        t0 = time.perf_counter()
        solve_observation_set_detailed(ev.obs, mc_runs=runs)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def speed_case(rng: np.random.Generator, mc_runs: int) -> dict[str, Any]:
    """The issue's timing case: 3 stations, ~100 points each (a 4 s meteor at 25 fps), 60″.

    ``mc_s`` is wall time for the whole solve with Monte Carlo, including starting a fresh process
    pool (the station passes its running pool instead)."""
    fam = Family("speed", (60.0, 60.0), 0.0, 0.0, 0.0)
    while True:
        ev = make_event(rng, fam, 0, n_stations=3, duration=(4.0, 4.0), full_view=True)
        sizes = [len(o.times) for o in ev.obs.observations]
        if len(sizes) == 3 and min(sizes) >= 95:
            break
    solve_observation_set_detailed(ev.obs)  # warm caches (epoch context)
    lsq = []
    for _ in range(5):
        t0 = time.perf_counter()
        solve_observation_set_detailed(ev.obs)
        lsq.append(time.perf_counter() - t0)
    out: dict[str, Any] = {"points": sum(sizes), "lsq_s": float(np.median(lsq))}
    if mc_runs:
        t0 = time.perf_counter()
        r = solve_observation_set_detailed(ev.obs, mc_runs=mc_runs)
        out["mc_s"] = time.perf_counter() - t0
        out["mc_runs"] = mc_runs
        out["cores"] = os.cpu_count()
        out["sigma_radiant"] = (r.solution.sigma or {}).get("radiant")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=200, help="events per family (default 200)")
    ap.add_argument("--mc-events", type=int, default=2, help="events per family also solved with MC")
    ap.add_argument("--mc-runs", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--staged", action="store_true",
                    help="also measure the staged fit without the joint refinement (baseline)")
    ap.add_argument("--coverage", type=int, default=0, metavar="N",
                    help="events per family also solved with Monte Carlo for sigma coverage")
    ap.add_argument("--coverage-runs", type=int, default=40)
    ap.add_argument("--coverage-only", action="store_true", help="skip the timing case")
    ap.add_argument("--families", default=",".join(f.name for f in FAMILIES))
    args = ap.parse_args()

    import warnings

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(args.seed)
    report: dict[str, Any] = {"events_per_family": args.events, "seed": args.seed}
    wanted = set(args.families.split(","))
    all_ok = True
    cov_rows: list[dict[str, float]] = []
    for fam in FAMILIES:
        if fam.name not in wanted:
            continue
        events = [make_event(rng, fam, k) for k in range(args.events)]
        rows = [evaluate(ev, args.staged) for ev in events]
        s = summarize(rows)
        s["mc_solve_s"] = time_mc(events[: args.mc_events], args.mc_runs) if args.mc_runs else None
        s["targets_met"] = check(fam.name, s)
        all_ok &= all(s["targets_met"].values())
        if args.coverage:
            cov = [coverage_row(ev, args.coverage_runs, k) for k, ev in enumerate(events[: args.coverage])]
            s["coverage"] = summarize_coverage([c for c in cov if c is not None])
            cov_rows.extend(c for c in cov if c is not None)
        report[fam.name] = s
        print(f"{fam.name}: {json.dumps(s)}", flush=True)
    if cov_rows:
        report["coverage"] = summarize_coverage(cov_rows)
        report["coverage"]["targets_met"] = coverage_ok(report["coverage"])
        print(f"coverage: {json.dumps(report['coverage'])}", flush=True)
    if args.coverage_only:
        print("BENCH " + json.dumps(report))
        return 0
    report["speed_3st"] = speed_case(rng, args.mc_runs)
    report["speed_targets_met"] = {
        "lsq_le_0.15s": report["speed_3st"]["lsq_s"] <= 0.15,
        "mc100_le_15s": report["speed_3st"].get("mc_s", 0.0) <= 15.0,
    }
    report["all_targets_met"] = all_ok and all(report["speed_targets_met"].values())
    print("BENCH " + json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
