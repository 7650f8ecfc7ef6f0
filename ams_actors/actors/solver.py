"""Solver: solves claimed events' trajectories and reports back to the EventBroker.

The least-squares solve (tens of milliseconds) runs on a worker thread of the station process, which
hands its Monte Carlo re-solves to the station's process pool — a pool worker cannot submit to its
own pool. The result goes to the local EVENTS folder first; the EventBroker publishes it only if the
claim is still held at that epoch, so a solve that outlives its lease is simply dropped there.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import deque
from pathlib import Path
from typing import Any

from ams_actors.actors.base import StationActor, StationContext
from ams_actors.runtime.actor import Publish
from ams_actors.runtime.files import atomic_write_json_async
from ams_actors.runtime.stats import Buckets
from protocols.messages import ClaimLost, EventClaimed, EventSolved


def solve_file(obs_path: Path, mc_runs: int, seed: int, executor: Any) -> dict[str, Any]:
    """Parse and solve one obs.json; unreadable input becomes a failed Solution (never an exception)."""
    from ams_actors.data import load_shower_table
    from ams_actors.kernels.trajectory import solve_observation_set
    from ams_actors.kernels.trajectory.solver import SOLVER_NAME, SOLVER_VERSION
    from protocols.errors import InputError
    from protocols.observations import Solution, SolverInfo, parse_observation_set_json

    t0 = time.perf_counter()
    text = obs_path.read_bytes()
    try:
        raw = json.loads(text)
    except ValueError:
        raw = None
    if isinstance(raw, dict) and isinstance(raw.get("error"), str) and not raw.get("observations"):
        # the EventBroker could not build the set (e.g. bad partner files): that reason is the answer
        info = SolverInfo(SOLVER_NAME, SOLVER_VERSION, "none", 0, time.perf_counter() - t0)
        return Solution(str(raw.get("event_id", obs_path.parent.name)), "failed", info,
                        reason=f"no observation set: {raw['error'][:500]}").to_json_dict()
    try:
        obs = parse_observation_set_json(text, source=str(obs_path))
    except InputError as err:
        try:
            event_id = str(json.loads(text).get("event_id", obs_path.parent.name))
        except (ValueError, AttributeError):
            event_id = obs_path.parent.name
        info = SolverInfo(SOLVER_NAME, SOLVER_VERSION, "none", 0, time.perf_counter() - t0)
        return Solution(event_id, "failed", info, reason=f"unreadable input: {err}").to_json_dict()
    showers = load_shower_table()  # read once per process
    return solve_observation_set(obs, mc_runs=mc_runs, executor=executor, seed=seed, showers=showers).to_json_dict()


#: the station's own clock error is the median over this many of its latest confident events
CLOCK_EVENTS = 50


class Solver(StationActor):
    """Also keeps this station's clock error as its confident solves measure it (issue 13 item 7):
    the operator sees it in `ams admin status`."""

    _own_clock: deque[float] | None = None

    def clock_error(self) -> dict[str, Any] | None:
        """This station's clock error (s ahead of the network) and how many events say so; None: unknown."""
        if not self._own_clock:
            return None
        return {"error_s": round(statistics.median(self._own_clock), 3), "n_events": len(self._own_clock)}

    def record_clock(self, doc: dict[str, Any]) -> None:
        from ams_actors.kernels.clocks import event_clock_errors, is_confident

        own = event_clock_errors(doc).get(self.ctx.config.station_id) if is_confident(doc) else None
        if own is not None:
            if self._own_clock is None:
                self._own_clock = deque(maxlen=CLOCK_EVENTS)
            self._own_clock.append(own)

    def __init__(self, name: str, ctx: StationContext, publish: Publish | None = None) -> None:
        super().__init__(name, ctx, publish)
        self.solve_times = Buckets()  # the solver's own runtime_s per solve (/metrics)

    async def on_start(self) -> None:
        from ams_actors.kernels.trajectory.epoch import warm_up

        await asyncio.to_thread(warm_up)  # astropy's IERS table: seconds, once, not inside a solve

    async def on_message(self, msg: Any) -> None:
        if isinstance(msg, EventClaimed):
            await self.solve(msg)
        elif isinstance(msg, ClaimLost):
            self.log.info("event %s: claim lost at epoch %d (%s)", msg.event_id, msg.epoch, msg.reason)

    async def solve(self, msg: EventClaimed) -> None:
        seed = int.from_bytes(msg.event_id.encode()[-4:], "little") + msg.epoch
        mc_runs = self.ctx.config.solver.mc_runs
        doc = await asyncio.to_thread(solve_file, msg.obs_path, mc_runs, seed, self.ctx.executor)
        out = msg.obs_path.parent / f"solution-e{msg.epoch}.json"
        await atomic_write_json_async(out, doc)
        self.record_clock(doc)
        status = str(doc.get("status", "failed"))
        runtime = (doc.get("solver") or {}).get("runtime_s")
        if isinstance(runtime, int | float):
            self.solve_times.observe(float(runtime))
        if status != "solved":
            self.log.warning("event %s: solve failed: %s", msg.event_id, doc.get("reason"))
        await self.publish(EventSolved(msg.event_id, msg.day, msg.epoch, out, status))
