"""`ams correlate --rms DIR --solve --out OUT`: correlated events to a catalogue a scientist can use.

Per event, ``OUT/<event_id>/obs.json`` (the Observation set, design.md §7: what `ams solve` reads),
``solution.json`` and, with the ``plots`` extra, the diagnostic PNGs; for the run,
``OUT/trajectory_summary.txt`` in GMN's trajectory-summary format (the solutions of good quality, as
GMN lists only vetted ones) and ``trajectory_summary.csv`` (every solved event, with the verdict).
Solves run in the process pool (runtime.pool), one event per task, Monte Carlo inside the task.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, as_completed
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from protocols.observations import ObservationSet, parse_utc

SUMMARY_TXT = "trajectory_summary.txt"
SUMMARY_CSV = "trajectory_summary.csv"


class Progress:
    """A one-line progress bar on stderr; silent unless stderr is a terminal or it is asked for."""

    def __init__(self, total: int, label: str, enabled: bool | None = None, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total, self.label, self.done = total, label, 0

    def step(self, n: int = 1) -> None:
        self.done += n
        if self.enabled and self.total:
            width = 30
            fill = width * self.done // self.total
            self.stream.write(f"\r{self.label} [{'#' * fill}{' ' * (width - fill)}] {self.done}/{self.total}")
            if self.done >= self.total:
                self.stream.write("\n")
            self.stream.flush()


def event_seed(event_id: str) -> int:
    """The Monte Carlo seed of an event: the same as the station's Solver uses (epoch 0)."""
    return int.from_bytes(event_id.encode()[-4:], "little")


def solve_event_dir(event_dir: str, mc_runs: int, plots: bool) -> dict[str, Any]:
    """Pool task: solve ``event_dir/obs.json`` into ``solution.json`` (+ PNGs); the Solution's dict."""
    from ams_actors.kernels.trajectory import solve_observation_set_detailed
    from ams_actors.runtime.files import atomic_write_json
    from ams_actors.runtime.pool import InlineExecutor
    from protocols.observations import parse_observation_set_json

    d = Path(event_dir)
    obs = parse_observation_set_json((d / "obs.json").read_bytes(), source=str(d / "obs.json"))
    result = solve_observation_set_detailed(obs, mc_runs, InlineExecutor(), event_seed(obs.event_id))
    doc = result.solution.to_json_dict()
    atomic_write_json(d / "solution.json", doc)
    if plots and result.fit is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from ams_actors.kernels.trajectory.plots import all_figures

        for stem, fig in all_figures(result.fit, obs.event_id).items():
            fig.savefig(d / f"{stem}.png")
            plt.close(fig)
    return doc


def solve_sets_inline(sets: Iterable[ObservationSet]) -> list[dict[str, Any]]:
    """Nominal solves (no Monte Carlo) in this process: the clock estimate's quick pass."""
    from ams_actors.kernels.trajectory import solve_observation_set

    return [solve_observation_set(s).to_json_dict() for s in sets]


def run_pool(pool: Executor, fn: Callable[..., dict[str, Any]], jobs: Sequence[tuple[Any, ...]],
             progress: Progress) -> list[dict[str, Any]]:
    """``fn(*job)`` for every job in the pool, results in job order; a crash becomes an error dict."""
    futures = {pool.submit(fn, *job): k for k, job in enumerate(jobs)}
    out: list[dict[str, Any]] = [{} for _ in jobs]
    for fut in as_completed(futures):
        k = futures[fut]
        try:
            out[k] = fut.result()
        except Exception as err:  # one event's bug must not lose the night's catalogue
            out[k] = {"status": "failed", "reason": f"internal error: {type(err).__name__}: {err}"}
        progress.step()
    return out


def _sig(sigma: Mapping[str, Any] | None, *keys: str, scale: float = 1.0) -> float | None:
    node: Any = sigma
    for k in keys:
        node = node.get(k) if isinstance(node, Mapping) else None
    return None if not isinstance(node, int | float) else float(node) * scale


def _span(obs: ObservationSet) -> float:
    from datetime import timedelta

    starts = [o.t_ref_utc + timedelta(seconds=o.times[0]) for o in obs.observations if o.times]
    ends = [o.t_ref_utc + timedelta(seconds=o.times[-1]) for o in obs.observations if o.times]
    return (max(ends) - min(starts)).total_seconds() if starts else 0.0


def summary_row(sol: Mapping[str, Any], obs: ObservationSet) -> dict[str, object]:
    """One GMN summary row (protocols.traj_summary keys) from a solved Solution and its input."""
    from ams_actors.kernels import catalog as k

    t = parse_utc(str(sol["t_begin_utc"]))
    jd = k.julian_date(t)
    sol_lon = k.solar_longitude_deg(jd)
    begin, end, rad = sol["begin"], sol["end"], sol["radiant"]
    app = sol.get("radiant_apparent") or {}
    orbit = sol.get("orbit") or {}
    s = sol.get("sigma")
    lst = k.local_sidereal_deg(jd, begin["lon"])
    lam, bet = k.ecliptic_deg(rad["ra_deg"], rad["dec_deg"])
    azim = elev = None
    if app:
        azim, elev = k.azimuth_elevation_deg(app["ra_deg"], app["dec_deg"], begin["lat"], lst)
    shower = sol.get("shower") if isinstance(sol.get("shower"), Mapping) else None
    residuals = [v for v in (sol.get("residuals_arcsec") or {}).values() if isinstance(v, int | float)]
    v_g = sol.get("v_g_m_s")
    quality: Mapping[str, Any] = sol["quality"] if isinstance(sol.get("quality"), Mapping) else {}
    row: dict[str, object] = {
        "id": sol["event_id"], "jd": jd, "utc": t.strftime("%Y-%m-%d %H:%M:%S.%f"),
        "iau_no": shower.get("iau_no", -1) if shower else -1,
        "iau_code": shower.get("code", "...") if shower else "...",
        "sol_lon": sol_lon, "app_lst": lst,
        "ra_geo": rad["ra_deg"], "ra_geo_sd": _sig(s, "radiant", "ra_deg"),
        "dec_geo": rad["dec_deg"], "dec_geo_sd": _sig(s, "radiant", "dec_deg"),
        "lam_geo": lam, "bet_geo": bet,
        "v_geo": None if v_g is None else v_g / 1000.0, "v_geo_sd": _sig(s, "v_g_m_s", scale=1e-3),
        "ra_app": app.get("ra_deg"), "dec_app": app.get("dec_deg"), "azim": azim, "elev": elev,
        "v_init": sol["v_init_m_s"] / 1000.0, "v_init_sd": _sig(s, "v_init_m_s", scale=1e-3),
        "v_avg": sol["v_avg_m_s"] / 1000.0, "v_avg_sd": _sig(s, "v_avg_m_s", scale=1e-3),
        "duration": _span(obs), "qc": sol.get("convergence_angle_deg"),
        "median_fit_err": sorted(residuals)[len(residuals) // 2] if residuals else None,
        "num": len(sol.get("stations") or ()), "stations": ",".join(sol.get("stations") or ()),
        "quality_ok": quality.get("ok"), "quality_reasons": "; ".join(quality.get("reasons") or ()),
    }
    for key, name in (("a", "a_au"), ("e", "e"), ("i", "i_deg"), ("peri", "peri_deg"), ("node", "node_deg"),
                      ("q", "q_au")):
        row[key], row[f"{key}_sd"] = orbit.get(name), _sig(s, "orbit", name)
    row.update(k.orbit_extras(orbit.get("a_au"), orbit.get("e"), orbit.get("i_deg"), orbit.get("peri_deg"),
                              orbit.get("node_deg"), sol_lon))
    for tag, p in (("beg", begin), ("end", end)):
        row[f"lat_{tag}"], row[f"lat_{tag}_sd"] = p["lat"], _sig(s, "begin" if tag == "beg" else "end", "lat")
        row[f"lon_{tag}"], row[f"lon_{tag}_sd"] = p["lon"], _sig(s, "begin" if tag == "beg" else "end", "lon")
        row[f"ht_{tag}"] = p["alt_m"] / 1000.0
        row[f"ht_{tag}_sd"] = _sig(s, "begin" if tag == "beg" else "end", "alt_m", scale=1e-3)
    return row


def write_catalog(out: Path, sets: Sequence[ObservationSet], pool: Executor, mc_runs: int,
                  progress: Progress, plots: bool = True) -> list[dict[str, Any]]:
    """Observation sets, solutions and plots per event, then the summary files; the Solutions."""
    from ams_actors.runtime.files import atomic_write_bytes, atomic_write_json
    from protocols.traj_summary import format_csv, format_summary

    plots = plots and _plots_available()
    for obs in sets:
        atomic_write_json(out / obs.event_id / "obs.json", obs.to_json_dict())
    jobs = [(str(out / obs.event_id), mc_runs, plots) for obs in sets]
    solutions = run_pool(pool, solve_event_dir, jobs, progress)
    for obs, sol in zip(sets, solutions, strict=True):
        sol.setdefault("event_id", obs.event_id)
    rows = [summary_row(sol, obs) for obs, sol in zip(sets, solutions, strict=True) if sol.get("status") == "solved"]
    rows.sort(key=lambda r: str(r["utc"]))
    good = [r for r in rows if r["quality_ok"] is not False]  # like GMN's: vetted trajectories only
    atomic_write_bytes(out / SUMMARY_TXT, format_summary(good, datetime.now(UTC)).encode())
    atomic_write_bytes(out / SUMMARY_CSV, format_csv(rows).encode())
    return solutions


def _plots_available() -> bool:
    """True with matplotlib; else says once how to get the plots (the catalogue is written anyway)."""
    from ams_actors.runtime.extras import require
    from protocols.errors import InputError

    try:
        require("plots")
    except InputError as err:
        print(f"ams correlate: no plots: {err}", file=sys.stderr)
        return False
    return True


def catalog_report(solutions: Sequence[Mapping[str, Any]], out: Path, runtime_s: float) -> dict[str, Any]:
    """What the run wrote, for the JSON and text outputs."""
    solved = [s for s in solutions if s.get("status") == "solved"]
    poor = [s for s in solved if (s.get("quality") or {}).get("ok") is False]
    return {
        "out": str(out),
        "events": len(solutions),
        "solved": len(solved),
        "poor": len(poor),
        "failed": len(solutions) - len(solved),
        "summary": str(out / SUMMARY_TXT),
        "csv": str(out / SUMMARY_CSV),
        "runtime_s": round(runtime_s, 2),
    }

