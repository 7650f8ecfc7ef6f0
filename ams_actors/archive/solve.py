"""The solve task: a batch of one day's events per Dask task.

One task per event cost more than the loop it replaces: each task is a message to the worker, a
result the client fetches and a state change on the scheduler, 10–15 ms of the worker's event-loop CPU
and as much on the scheduler per event (measured with per-thread CPU at 238 events), against
~110 ms for the event's whole build-solve-write. A batch pays that once for up to ``MAX_BATCH``
events; it is sized so a day still makes a couple of batches per worker thread (``split``), so a day
still spreads over the cluster. A batch also overlaps its I/O: every member file of the batch is
requested up front and the writes go out while the next event solves, so a solve waits on the bucket
only when the bucket is slower than the solver.

Exactly-once per event, whatever dies: a batch starts with one listing of its own events' folders
(they are contiguous in key order) and only reads back the summary row of an event whose
``solution.json`` exists; obs.json and solution.json are written with ``If-None-Match: *`` (a 412 is
another attempt's write, not an error). A batch Dask retries after its worker died mid-way thus
solves only the events that were not written yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Sequence
from datetime import date
from typing import Any

from ams_actors.archive.bucket import BucketSpec, on_bucket
from ams_actors.archive.tasks import log
from ams_actors.netsync.downloads import get_bounded
from ams_actors.netsync.event_obs import MAX_PARTNER_BYTES, build_obs
from ams_actors.runtime.pool import InlineExecutor
from ams_actors.store.outcomes import Created
from protocols.errors import InputError
from protocols.events import Event, decode_event
from protocols.observation_build import Site
from protocols.s3_keys import archive_event_key, day_str, event_day, parse_day

#: most events in one task: ~3 s of work at ~0.1 s an event, long enough that the per-task cost
#: vanishes, short enough that the last batches of a run do not leave workers idle for long
MAX_BATCH = 32


def split(items: Sequence[dict[str, Any]], threads: int, most: int = MAX_BATCH) -> list[list[dict[str, Any]]]:
    """A day's events in consecutive batches: about two per worker thread, at most ``most`` events each."""
    if not items:
        return []
    size = max(1, min(most, math.ceil(len(items) / (2 * max(1, threads)))))
    return [list(items[k:k + size]) for k in range(0, len(items), size)]


def solve_events(spec: BucketSpec, run_id: str, items: list[dict[str, Any]], mc_runs: int = 0) -> list[dict[str, Any]]:
    """Build, solve and store a batch of one day's events (``items`` as the day task made them); one
    result per event, in order: ``{event_id, day, status, written, problems, row, io_s, solve_s,
    cpu_s[, reason]}``. Bad member files are left out and named in ``problems``; an event that cannot
    be solved is ``status: failed`` with the reason (never an exception for bad data); one already
    solved is ``status: skipped`` with its stored summary row. ``cpu_s`` and ``io_s`` are the batch's
    shares per event."""
    c0 = time.process_time()
    outs = on_bucket(spec, lambda store: _solve_batch(store, run_id, items, mc_runs))
    cpu = (time.process_time() - c0) / max(1, len(outs))
    for out in outs:
        out["cpu_s"] = cpu
    return outs


async def _solve_batch(store: Any, run_id: str, items: list[dict[str, Any]], mc_runs: int) -> list[dict[str, Any]]:
    from ams_actors.data import load_shower_table

    t0 = time.perf_counter()
    events = [decode_event(str(it["event"]).encode(), "<archive task>") for it in items]
    solved = await solved_among(store, run_id, [e.event_id for e in events])
    showers = load_shower_table()
    results: list[dict[str, Any] | asyncio.Task[dict[str, Any]]] = []
    try:
        async with asyncio.TaskGroup() as tg:
            built = {e.event_id: tg.create_task(_built(store, e, it)) for e, it in zip(events, items, strict=True)
                     if e.event_id not in solved}
            for ev in events:
                if ev.event_id in solved:
                    results.append(tg.create_task(_skipped(store, run_id, ev.event_id)))
                    continue
                out, obs_bytes = await built.pop(ev.event_id)
                if obs_bytes is None:
                    results.append(out)
                    continue
                obs_key = archive_event_key(run_id, ev.event_id, "obs.json")
                obs_put = tg.create_task(store.put(obs_key, obs_bytes, if_none_match="*",
                                                   content_type="application/json"))
                t1 = time.perf_counter()
                sol_bytes, doc, row = solve_bytes(obs_bytes, ev.event_id, mc_runs, showers)
                out.update(status=doc["status"], row=row, solve_s=time.perf_counter() - t1)
                if doc.get("reason"):
                    out["reason"] = doc["reason"]
                results.append(tg.create_task(_write_solution(store, run_id, ev.event_id, sol_bytes, obs_put, out)))
                await asyncio.sleep(0)  # let the reads and writes that finished meanwhile move on
    except ExceptionGroup as group:  # an outage or a bug: the batch fails as a whole, with its first cause
        raise group.exceptions[0] from None
    outs = [r if isinstance(r, dict) else r.result() for r in results]
    io_s = max(0.0, time.perf_counter() - t0 - sum(o["solve_s"] for o in outs)) / max(1, len(outs))
    for o in outs:
        o["io_s"] = io_s
    return outs


def _blank(event_id: str) -> dict[str, Any]:
    return {"event_id": event_id, "day": day_str(event_day(event_id)), "written": False, "problems": [],
            "io_s": 0.0, "solve_s": 0.0, "row": ""}


async def _built(store: Any, ev: Event, item: dict[str, Any]) -> tuple[dict[str, Any], bytes | None]:
    """The event's result so far and its obs.json bytes (None, with ``status: failed``, when unusable)."""
    out = _blank(ev.event_id)
    sites: dict[tuple[str, date], Site] = {}
    for name, (lat, lon, alt) in dict(item.get("sites") or {}).items():
        station, day = name.split("/")
        sites[(station, parse_day(day))] = Site(float(lat), float(lon), float(alt))
    logged: set[str] = set()
    try:
        obs_doc = await build_obs(store, ev.event_id, ev, logged, log, sites)
    except (InputError, LookupError) as err:
        out.update(status="failed", reason=str(err), problems=sorted(logged))
        return out, None
    out["problems"] = sorted(logged)
    return out, json.dumps(obs_doc, sort_keys=True).encode()


def solve_bytes(obs_bytes: bytes, event_id: str, mc_runs: int, showers: Any) -> tuple[bytes, dict[str, Any], str]:
    """The solution.json bytes, the solution as a reader of those bytes sees it, and its summary row.

    The solve goes through the stored obs.json bytes, exactly as a station's Solver reads them.
    Monte Carlo runs in this process: without an executor it would start a process pool per event, on a
    worker that already has its core (Dask runs one worker process per core)."""
    from ams_actors.kernels.trajectory import solve_observation_set
    from protocols.observations import parse_observation_set_json

    obs = parse_observation_set_json(obs_bytes, source=event_id)
    sol = solve_observation_set(obs, mc_runs=mc_runs, executor=InlineExecutor(), seed=0, showers=showers)
    sol_bytes = json.dumps(sol.to_json_dict(), sort_keys=True).encode()
    doc = json.loads(sol_bytes)
    return sol_bytes, doc, summary_line(doc, obs)


async def _write_solution(store: Any, run_id: str, event_id: str, sol_bytes: bytes,
                          obs_put: asyncio.Task[Any], out: dict[str, Any]) -> dict[str, Any]:
    await obs_put  # obs.json first: a stored solution always has its input next to it
    put = await store.put(archive_event_key(run_id, event_id, "solution.json"), sol_bytes, if_none_match="*",
                          content_type="application/json")
    out["written"] = isinstance(put, Created)  # 412: another attempt wrote it first, not an error
    return out


async def _skipped(store: Any, run_id: str, event_id: str) -> dict[str, Any]:
    out = _blank(event_id)
    out.update(status="skipped")
    out["row"] = await stored_row(store, archive_event_key(run_id, event_id, "solution.json"),
                                  archive_event_key(run_id, event_id, "obs.json"))
    return out


async def solved_among(store: Any, run_id: str, event_ids: Sequence[str]) -> set[str]:
    """Which of these events (of one day) already have a solution.json: one listing from the first
    one's folder to the last one's (a batch's events are consecutive in key order)."""
    if not event_ids:
        return set()
    ids = sorted(event_ids)
    wanted = set(ids)
    first = archive_event_key(run_id, ids[0], "obs.json").rsplit("/", 1)[0]  # .../<FIRST ID>
    folder = first.rsplit("/", 1)[0] + "/"
    out: set[str] = set()
    pages = store.list_objects(folder, start_after=first, page_size=2 * len(ids) + 2)
    async with contextlib.aclosing(pages):
        async for info in pages:
            eid = info.key[len(folder):].split("/", 1)[0]
            if eid > ids[-1]:
                break
            if eid in wanted and info.key.endswith("/solution.json"):
                out.add(eid)
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
