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

from ams_actors.kernels.summary_rows import summary_row
from protocols.observations import ObservationSet

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

