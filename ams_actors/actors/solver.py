"""Solver: solves claimed events' trajectories in the process pool and reports back to the EventBroker.

The solve runs in a pool worker (the loop never waits on scipy); the result goes to the local EVENTS
folder first and the EventBroker publishes it only if the claim is still held at that epoch, so a
solve that outlives its lease is simply dropped there.
"""

from __future__ import annotations

import json
from typing import Any

from ams_actors.actors.base import StationActor
from ams_actors.runtime.files import atomic_write_json
from ams_actors.runtime.pool import run_cpu
from protocols.messages import ClaimLost, EventClaimed, EventSolved


def solve_job(obs_text: str, source: str, mc_runs: int, seed: int) -> dict[str, Any]:
    """Runs in a pool worker: parse and solve one Observation set; never raises for bad data."""
    from ams_actors.kernels.trajectory import solve_observation_set
    from protocols.errors import InputError
    from protocols.observations import parse_observation_set_json

    try:
        obs = parse_observation_set_json(obs_text, source=source)
    except InputError as err:
        event_id = json.loads(obs_text).get("event_id", "unknown") if obs_text.startswith("{") else "unknown"
        return {"event_id": event_id, "status": "failed", "reason": str(err)}
    solution = solve_observation_set(obs, mc_runs=mc_runs, seed=seed)
    return solution.to_json_dict()


class Solver(StationActor):
    mc_runs = 0  # Monte Carlo in the daemon: see the note in the closing comment

    async def on_message(self, msg: Any) -> None:
        if isinstance(msg, EventClaimed):
            await self.solve(msg)
        elif isinstance(msg, ClaimLost):
            self.log.info("event %s: claim lost at epoch %d (%s)", msg.event_id, msg.epoch, msg.reason)

    async def solve(self, msg: EventClaimed) -> None:
        text = msg.obs_path.read_text()
        seed = int.from_bytes(msg.event_id.encode()[-4:], "little") + msg.epoch
        doc = await run_cpu(self.ctx.executor, solve_job, text, str(msg.obs_path), self.mc_runs, seed)
        out = msg.obs_path.parent / f"solution-e{msg.epoch}.json"
        atomic_write_json(out, doc)
        status = str(doc.get("status", "failed"))
        if status != "solved":
            self.log.warning("event %s: solve failed: %s", msg.event_id, doc.get("reason"))
        await self.publish(EventSolved(msg.event_id, msg.day, msg.epoch, out, status))
