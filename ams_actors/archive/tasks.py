"""The two Dask tasks. Each is a plain function of small picklable arguments that opens its own bucket
client, so the scheduler only ever moves keys, ids and short reports.

Day ownership (no meteor in two days' events, unlike daily binning): the task of day D correlates the
indexes of D-1, D and D+1 together and keeps only the events whose earliest member is on D (the
event id's date). Any event touching D's boundary is thus seen whole by exactly one task.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import timedelta
from typing import Any

from ams_actors.archive.bucket import BucketSpec, open_store
from ams_actors.netsync.correlation import CorrelationReport, NetworkCorrelator
from ams_actors.netsync.event_obs import build_obs
from ams_actors.store.outcomes import Created, NotFound
from protocols.errors import InputError
from protocols.events import decode_event, encode_event, reconcile
from protocols.s3_keys import archive_event_key, day_str, event_day, parse_day

log = logging.getLogger("ams.archive")


def correlate_day(spec: BucketSpec, day: str) -> dict[str, Any]:
    """Events owned by ``day``: ``{day, events: [event JSON text], inputs: {index key: ETag},
    meteors, problems}``."""
    return asyncio.run(_correlate_day(spec, day))


async def _correlate_day(spec: BucketSpec, day: str) -> dict[str, Any]:
    d = parse_day(day)
    days = tuple(day_str(d + timedelta(days=k)) for k in (-1, 0, 1))
    async with open_store(spec) as store:
        report = CorrelationReport(days=days)
        found = await NetworkCorrelator(store, None, logger=log).find(days, report)
    rec = reconcile([], found.groups)
    mine = sorted((e for e in rec.new if event_day(e.event_id) == d), key=lambda e: e.event_id)
    return {
        "day": day,
        "events": [encode_event(e).decode() for e in mine],
        "inputs": {key: etag for key, etag, idx in found.decoded
                   if idx is not None and key.endswith(f"/{day}.json.gz")},
        "meteors": found.meteors,
        "problems": list(report.problems),
    }


def solve_event(spec: BucketSpec, run_id: str, event_json: str, mc_runs: int = 0) -> dict[str, Any]:
    """Build, solve and store one event under the run; skipped when its solution already exists.
    Bad member files are left out and named in ``problems``; an event that cannot be solved is
    ``status: failed`` with the reason (never an exception for bad data)."""
    return asyncio.run(_solve_event(spec, run_id, event_json, mc_runs))


async def _solve_event(spec: BucketSpec, run_id: str, event_json: str, mc_runs: int) -> dict[str, Any]:
    from ams_actors.data import load_shower_table
    from ams_actors.kernels.trajectory import solve_observation_set
    from protocols.observations import parse_observation_set_json

    ev = decode_event(event_json.encode(), "<archive task>")
    out: dict[str, Any] = {"event_id": ev.event_id, "day": day_str(event_day(ev.event_id)), "written": False,
                           "problems": [], "io_s": 0.0, "solve_s": 0.0}
    sol_key = archive_event_key(run_id, ev.event_id, "solution.json")
    t0 = time.perf_counter()
    async with open_store(spec) as store:
        if not isinstance(await store.head(sol_key), NotFound):
            out.update(status="skipped", io_s=time.perf_counter() - t0)
            return out
        logged: set[str] = set()
        try:
            obs_doc = await build_obs(store, ev.event_id, ev, logged, log)
        except (InputError, LookupError) as err:
            obs_doc = None
            out["reason"] = str(err)
        out["problems"] = sorted(logged)
        if obs_doc is None:
            out.update(status="failed", io_s=time.perf_counter() - t0)
            return out
        obs_bytes = json.dumps(obs_doc, sort_keys=True).encode()
        await store.put(archive_event_key(run_id, ev.event_id, "obs.json"), obs_bytes, if_none_match="*",
                        content_type="application/json")
        t1 = time.perf_counter()
        obs = parse_observation_set_json(obs_bytes, source=ev.event_id)
        sol = solve_observation_set(obs, mc_runs=mc_runs, executor=None, seed=0, showers=load_shower_table())
        t2 = time.perf_counter()
        doc = sol.to_json_dict()
        put = await store.put(sol_key, json.dumps(doc, sort_keys=True).encode(), if_none_match="*",
                              content_type="application/json")
        out["written"] = isinstance(put, Created)  # 412: another attempt wrote it first, not an error
        out.update(status=doc["status"], solve_s=t2 - t1, io_s=(t1 - t0) + (time.perf_counter() - t2))
        if doc.get("reason"):
            out["reason"] = doc["reason"]
    return out
