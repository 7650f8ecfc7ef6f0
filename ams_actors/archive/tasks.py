"""The two Dask tasks. Each is a plain function of small picklable arguments; the bucket is reached
through the worker process's one client (``bucket.on_bucket``), so the scheduler only ever moves keys,
ids, sites and short reports.

Day ownership (no meteor in two days' events, unlike daily binning): the task of day D correlates the
indexes of D-1, D and D+1 together and keeps only the events whose earliest member is on D (the
event id's date). Any event touching D's boundary is thus seen whole by exactly one task.

What an event costs in requests: the day task has already read and validated every member's daily
index, so it hands each solve its members' sites (three numbers a station); the solve reads only the
members' meteor files (concurrently), writes obs.json and solution.json. Whether a solution exists is
one listing of the day's folder in the day task, not a HEAD per event.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from datetime import date, timedelta
from typing import Any

from ams_actors.archive.bucket import BucketSpec, on_bucket
from ams_actors.netsync.correlation import CorrelationReport, NetworkCorrelator
from ams_actors.netsync.downloads import get_bounded
from ams_actors.netsync.event_obs import MAX_PARTNER_BYTES, build_obs
from ams_actors.runtime.pool import InlineExecutor
from ams_actors.store.outcomes import Created
from protocols.errors import InputError
from protocols.events import decode_event, encode_event, reconcile
from protocols.observation_build import Site
from protocols.s3_keys import archive_event_key, archive_prefix, day_str, event_day, events_day_prefix, parse_day

log = logging.getLogger("ams.archive")

#: this process's correlator per bucket: its index cache (by ETag) spares the next day's task on the
#: same worker two of its three days' downloads and schema checks
_correlators: dict[tuple[int, BucketSpec], tuple[NetworkCorrelator, asyncio.Lock]] = {}


def correlate_day(spec: BucketSpec, run_id: str, day: str) -> dict[str, Any]:
    """Events owned by ``day``: ``{day, events: [{event_id, event: JSON text, sites: {"S/YYYY_MM_DD": [lat, lon,
    alt]}, solved: bool}], inputs: {index key: ETag}, meteors, problems, cpu_s}``."""
    c0 = time.process_time()
    out = on_bucket(spec, lambda store: _correlate_day(store, spec, run_id, day))
    out["cpu_s"] = time.process_time() - c0
    return out


async def _correlate_day(store: Any, spec: BucketSpec, run_id: str, day: str) -> dict[str, Any]:
    d = parse_day(day)
    days = tuple(day_str(d + timedelta(days=k)) for k in (-1, 0, 1))
    near = {day_str(d + timedelta(days=k)) for k in (-1, 0, 1, 2)}
    correlator, lock = _correlators.setdefault((os.getpid(), spec),
                                               (NetworkCorrelator(store, None, logger=log), asyncio.Lock()))
    report = CorrelationReport(days=days)
    async with lock:  # one run at a time per correlator (a worker may run several threads)
        correlator.store = store
        correlator.keep_indexes(lambda key: key[-18:-8] in near)
        found = await correlator.find(days, report)
        indexes = correlator.cached_indexes(days)
    rec = reconcile([], found.groups)
    mine = sorted((e for e in rec.new if event_day(e.event_id) == d), key=lambda e: e.event_id)
    sites = {f"{idx.station_id}/{idx.day}": [idx.site.lat, idx.site.lon, idx.site.alt_m] for _, _, idx in indexes}
    solved = {info.key.split("/")[-2] async for info in store.list_objects(archive_prefix(run_id)
                                                                           + events_day_prefix(d))
              if info.key.endswith("/solution.json")}
    events = []
    for e in mine:
        wanted = {f"{m.station_id}/{day_str(m.start_utc.date())}" for m in e.members}
        events.append({"event_id": e.event_id, "event": encode_event(e).decode(), "solved": e.event_id in solved,
                       "sites": {k: sites[k] for k in sorted(wanted) if k in sites}})
    return {
        "day": day,
        "events": events,
        "inputs": {key: etag for key, etag, idx in indexes if idx.day == day},
        "meteors": found.meteors,
        "problems": list(report.problems),
    }


def solve_event(spec: BucketSpec, run_id: str, item: dict[str, Any], mc_runs: int = 0) -> dict[str, Any]:
    """Build, solve and store one event (``item`` as the day task made it) under the run; one whose
    solution was already there is only read back for its summary row. Bad member files are left out
    and named in ``problems``; an event that cannot be solved is ``status: failed`` with the reason
    (never an exception for bad data). A solved event's GMN summary line comes back as ``row``."""
    c0 = time.process_time()
    out = on_bucket(spec, lambda store: _solve_event(store, run_id, item, mc_runs))
    out["cpu_s"] = time.process_time() - c0
    return out


async def _solve_event(store: Any, run_id: str, item: dict[str, Any], mc_runs: int) -> dict[str, Any]:
    from ams_actors.data import load_shower_table
    from ams_actors.kernels.trajectory import solve_observation_set
    from protocols.observations import parse_observation_set_json

    ev = decode_event(str(item["event"]).encode(), "<archive task>")
    out: dict[str, Any] = {"event_id": ev.event_id, "day": day_str(event_day(ev.event_id)), "written": False,
                           "problems": [], "io_s": 0.0, "solve_s": 0.0, "row": ""}
    sol_key = archive_event_key(run_id, ev.event_id, "solution.json")
    obs_key = archive_event_key(run_id, ev.event_id, "obs.json")
    t0 = time.perf_counter()
    if item.get("solved"):
        out.update(status="skipped", row=await stored_row(store, sol_key, obs_key), io_s=time.perf_counter() - t0)
        return out
    sites: dict[tuple[str, date], Site] = {}
    for name, (lat, lon, alt) in dict(item.get("sites") or {}).items():
        station, day = name.split("/")
        sites[(station, parse_day(day))] = Site(float(lat), float(lon), float(alt))
    logged: set[str] = set()
    try:
        obs_doc = await build_obs(store, ev.event_id, ev, logged, log, sites)
    except (InputError, LookupError) as err:
        obs_doc = None
        out["reason"] = str(err)
    out["problems"] = sorted(logged)
    if obs_doc is None:
        out.update(status="failed", io_s=time.perf_counter() - t0)
        return out
    obs_bytes = json.dumps(obs_doc, sort_keys=True).encode()
    await store.put(obs_key, obs_bytes, if_none_match="*", content_type="application/json")
    t1 = time.perf_counter()
    obs = parse_observation_set_json(obs_bytes, source=ev.event_id)
    # Monte Carlo in this process: without an executor it would start a process pool per event, on a
    # worker that already has its core (Dask runs one worker process per core)
    sol = solve_observation_set(obs, mc_runs=mc_runs, executor=InlineExecutor(), seed=0, showers=load_shower_table())
    sol_bytes = json.dumps(sol.to_json_dict(), sort_keys=True).encode()
    doc = json.loads(sol_bytes)  # the row from what is stored, exactly as a reader of the bucket sees it
    row = summary_line(doc, obs)
    t2 = time.perf_counter()
    put = await store.put(sol_key, sol_bytes, if_none_match="*", content_type="application/json")
    out["written"] = isinstance(put, Created)  # 412: another attempt wrote it first, not an error
    out.update(status=doc["status"], row=row, solve_s=t2 - t1, io_s=(t1 - t0) + (time.perf_counter() - t2))
    if doc.get("reason"):
        out["reason"] = doc["reason"]
    return out


def summary_line(sol: dict[str, Any], obs: Any) -> str:
    """The event's GMN summary line, or "" when it has none (not solved)."""
    from ams_actors.kernels.summary_rows import summary_row
    from protocols.traj_summary import format_row

    return format_row(summary_row(sol, obs)) if sol.get("status") == "solved" else ""


async def stored_row(store: Any, sol_key: str, obs_key: str) -> str:
    """The summary line of a stored solution and its obs.json ("" when missing, unsolved or unreadable:
    our own files, but read from the bucket, so validated like any other)."""
    from protocols.observations import parse_observation_set_json

    sol_got = await get_bounded(store, sol_key, MAX_PARTNER_BYTES)
    obs_got = await get_bounded(store, obs_key, MAX_PARTNER_BYTES)
    if sol_got is None or obs_got is None:
        return ""
    try:
        return summary_line(json.loads(sol_got.body), parse_observation_set_json(obs_got.body, source=obs_key))
    except (ValueError, KeyError, TypeError, AttributeError, InputError) as err:
        log.warning("summary: skipped %s: %s", sol_key, err)
        return ""
