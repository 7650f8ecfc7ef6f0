"""The client side of an archive run: submit the day correlations, fan out one solve per event as each
day's events arrive, gather with ``as_completed``, record each finished day in the manifest.

Exactly-once comes from the bucket, not from the client: result keys are written with
``If-None-Match: *`` and a solve whose solution exists is skipped, so a client restarted with the same
run id (or a task Dask retried after a worker died) never writes an event twice. A day counts as done
only when every one of its tasks returned; a task that raised (an outage, a bug — not bad data, which
tasks report as failures) leaves its day out of the manifest, so the next run redoes it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ams_actors.archive.bucket import BucketSpec, open_store
from ams_actors.archive.manifest import MAX_MANIFEST_BYTES, Manifest, decode_manifest
from ams_actors.archive.tasks import correlate_day, solve_event
from ams_actors.netsync.downloads import get_bounded
from protocols.errors import InputError
from protocols.s3_keys import archive_prefix, archive_run_file_key

log = logging.getLogger("ams.archive")


@dataclass(slots=True)
class DayState:
    """Counts of one day in progress; ``open`` solves still running, ``errors`` tasks that raised."""

    counts: dict[str, int] = field(default_factory=lambda: {"events": 0})
    open: int = 0
    correlated: bool = False
    errors: int = 0


async def read_manifest(spec: BucketSpec, run_id: str) -> Manifest:
    key = archive_run_file_key(run_id, "manifest.json")
    async with open_store(spec) as store:
        got = await get_bounded(store, key, MAX_MANIFEST_BYTES)
    return Manifest(run_id) if got is None else decode_manifest(got.body, key, run_id)


async def write_manifest(spec: BucketSpec, manifest: Manifest) -> None:
    async with open_store(spec) as store:
        await store.put(archive_run_file_key(manifest.run_id, "manifest.json"), manifest.encode(),
                        content_type="application/json")


def resolve(client: Any, spec: BucketSpec, run_id: str, days: Sequence[str], *, mc_runs: int = 0,
            show: Callable[[float], None] | None = None) -> Manifest:
    """Run (or finish) archive run ``run_id`` over ``days`` on the Dask ``client``; the final manifest."""
    from distributed import as_completed

    from ams_actors.kernels.trajectory.solver import SOLVER_NAME, SOLVER_VERSION

    manifest = asyncio.run(read_manifest(spec, run_id))
    if manifest.solver and manifest.solver.get("version") != SOLVER_VERSION:
        log.warning("run %s was started with solver %s; continuing with %s", run_id, manifest.solver, SOLVER_VERSION)
    manifest.solver = {"name": SOLVER_NAME, "version": SOLVER_VERSION}
    todo = [d for d in sorted(set(days)) if d not in manifest.days]
    # a day being redone reports its failures again: drop those of the unfinished attempt
    manifest.failures = [f for f in manifest.failures if f.get("day") not in todo]
    state = {d: DayState() for d in todo}
    what: dict[str, tuple[str, str]] = {}  # future key -> (day, event id or "")
    futures = []
    for d in todo:
        fut = client.submit(correlate_day, spec, d, pure=False)
        what[fut.key] = (d, "")
        futures.append(fut)
    ac = as_completed(futures)
    done, total = 0, len(futures)
    for fut in ac:
        day, event_id = what.pop(fut.key)
        st = state[day]
        done += 1
        if fut.status != "finished":
            st.errors += 1
            manifest.failures.append({"day": day, "event_id": event_id, "reason": f"task error: {fut.exception()!r}"})
        elif not event_id:
            for ev_json in take_day(fut.result(), st, manifest):
                sub = client.submit(solve_event, spec, run_id, ev_json, mc_runs, pure=False)
                what[sub.key] = (day, json.loads(ev_json)["event_id"])
                ac.add(sub)
                total += 1
        else:
            take_solve(fut.result(), st, manifest)
        fut.release()
        if show is not None:
            show(done / total)
        if st.correlated and st.open == 0 and not st.errors and day not in manifest.days:
            manifest.days[day] = st.counts
            asyncio.run(write_manifest(spec, manifest))
    asyncio.run(write_manifest(spec, manifest))
    asyncio.run(write_summary(spec, run_id))
    return manifest


def take_day(res: dict[str, Any], st: DayState, manifest: Manifest) -> list[str]:
    """Record a day's correlation; its events (JSON text), each to be solved."""
    st.correlated = True
    manifest.inputs.update(res["inputs"])
    manifest.failures += [{"day": res["day"], "reason": p} for p in res["problems"]]
    st.counts["events"] = len(res["events"])
    st.open += len(res["events"])
    return list(res["events"])


def take_solve(res: dict[str, Any], st: DayState, manifest: Manifest) -> None:
    """Count one solve's outcome; bad member files and a failed solve go to the failures list."""
    st.open -= 1
    st.counts[res["status"]] = st.counts.get(res["status"], 0) + 1
    for name, value in (("written", int(res["written"])), ("io_ms", round(res["io_s"] * 1000)),
                        ("solve_ms", round(res["solve_s"] * 1000))):
        st.counts[name] = st.counts.get(name, 0) + value
    day, event_id = res["day"], res["event_id"]
    manifest.failures += [{"day": day, "event_id": event_id, "reason": p} for p in res["problems"]]
    if res["status"] == "failed":
        manifest.failures.append({"day": day, "event_id": event_id, "reason": res.get("reason", "")})


async def write_summary(spec: BucketSpec, run_id: str) -> int:
    """``archive/<RUN>/summary.txt`` (GMN format) over every solved event of the run; the row count."""
    from ams_actors.kernels.summary_rows import summary_row
    from protocols.observations import parse_observation_set_json
    from protocols.traj_summary import format_summary

    rows = []
    async with open_store(spec) as store:
        keys = sorted(k for k in await store.list_keys(archive_prefix(run_id) + "events/")
                      if k.endswith("/solution.json"))
        for key in keys:
            sol_got = await get_bounded(store, key, 4 * 1024 * 1024)
            obs_key = key[: -len("solution.json")] + "obs.json"
            obs_got = await get_bounded(store, obs_key, 4 * 1024 * 1024)
            if sol_got is None or obs_got is None:
                continue
            try:  # our own files, but read from the bucket: validated like any other
                sol = json.loads(sol_got.body)
                if isinstance(sol, dict) and sol.get("status") == "solved":
                    rows.append(summary_row(sol, parse_observation_set_json(obs_got.body, source=obs_key)))
            except (ValueError, KeyError, TypeError, InputError) as err:
                log.warning("summary: skipped %s: %s", key, err)
        text = format_summary(rows, datetime.now(UTC))
        await store.put(archive_run_file_key(run_id, "summary.txt"), text.encode(), content_type="text/plain")
    return len(rows)
