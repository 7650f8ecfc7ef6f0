"""The client side of an archive run: submit the day correlations, fan out each day's events in batches
(``solve.split``) as they arrive, gather with ``as_completed``, record each finished day in the manifest.

Exactly-once comes from the bucket, not from the client: result keys are written with
``If-None-Match: *`` and an event whose solution exists is not solved again, so a client restarted with
the same run id (or a task Dask retried after a worker died) never writes an event twice. A day counts as
done only when every one of its tasks returned; a task that raised (an outage, a bug — not bad data, which
tasks report as failures) leaves its day out of the manifest, so the next run redoes it.

The summary: a solve returns each event's GMN line (a few hundred bytes, like the event it was handed);
a finished day's lines go to ``archive/<RUN>/days/YYYY_MM_DD.txt`` before the day enters the manifest, and
``summary.txt`` is those files joined, so the client never reads the run's solutions one by one.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ams_actors.archive.bucket import BucketSpec, on_bucket, open_store
from ams_actors.archive.manifest import MAX_MANIFEST_BYTES, Manifest, decode_manifest
from ams_actors.archive.solve import MAX_BATCH, solve_events, split, stored_row
from ams_actors.archive.tasks import correlate_day
from ams_actors.netsync.downloads import get_bounded
from protocols.s3_keys import archive_day_rows_key, archive_prefix, archive_run_file_key, events_day_prefix, parse_day

log = logging.getLogger("ams.archive")

CONCURRENCY = 8  # requests in flight when the client reads many small files
MANIFEST_EVERY_S = 30.0


@dataclass(slots=True)
class DayState:
    """Counts of one day in progress; ``open`` solves still running, ``errors`` tasks that raised,
    ``rows`` the summary line of each solved event."""

    counts: dict[str, int] = field(default_factory=lambda: {"events": 0})
    open: int = 0
    correlated: bool = False
    errors: int = 0
    rows: dict[str, str] = field(default_factory=dict)


async def load_manifest(store: Any, run_id: str) -> Manifest:
    key = archive_run_file_key(run_id, "manifest.json")
    got = await get_bounded(store, key, MAX_MANIFEST_BYTES)
    return Manifest(run_id) if got is None else decode_manifest(got.body, key, run_id)


async def save_manifest(store: Any, manifest: Manifest) -> None:
    await store.put(archive_run_file_key(manifest.run_id, "manifest.json"), manifest.encode(),
                    content_type="application/json")


async def read_manifest(spec: BucketSpec, run_id: str) -> Manifest:
    async with open_store(spec) as store:
        return await load_manifest(store, run_id)


async def write_manifest(spec: BucketSpec, manifest: Manifest) -> None:
    async with open_store(spec) as store:
        await save_manifest(store, manifest)


def local_cluster(workers: int) -> Any:
    """A ``distributed.LocalCluster`` of ``workers`` single-threaded processes, without the workers'
    statistical profiler: it walks the task threads' stacks 100 times a second for a dashboard we do not
    start, ~2 % of a worker's CPU here (its event-loop thread: 35 ms/s with it, 18 ms/s without)."""
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.worker.profile.enabled": False}):  # the nannies pass it to workers
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)


def resolve(client: Any, spec: BucketSpec, run_id: str, days: Sequence[str], *, mc_runs: int = 0,
            show: Callable[[float], None] | None = None, manifest_every_s: float = MANIFEST_EVERY_S,
            max_batch: int = MAX_BATCH) -> Manifest:
    """Run (or finish) archive run ``run_id`` over ``days`` on the Dask ``client``; the final manifest.

    The manifest is stored when a day completes at most every ``manifest_every_s`` (and at the end): it
    names every input index, so a year of 1,000 stations makes it tens of MB, too much to rewrite per
    day. A day completed since the last write is redone by a restart, cheaply: its solutions exist."""
    from distributed import as_completed

    from ams_actors.kernels.trajectory.solver import SOLVER_NAME, SOLVER_VERSION

    manifest = on_bucket(spec, lambda store: load_manifest(store, run_id))
    if manifest.solver and manifest.solver.get("version") != SOLVER_VERSION:
        log.warning("run %s was started with solver %s; continuing with %s", run_id, manifest.solver, SOLVER_VERSION)
    manifest.solver = {"name": SOLVER_NAME, "version": SOLVER_VERSION}
    todo = [d for d in sorted(set(days)) if d not in manifest.days]
    # a day being redone reports its failures again: drop those of the unfinished attempt
    manifest.failures = [f for f in manifest.failures if f.get("day") not in todo]
    state = {d: DayState() for d in todo}
    what: dict[str, tuple[str, list[str]]] = {}  # future key -> (day, the batch's event ids; [] for the day task)
    futures = client.map(correlate_day, [spec] * len(todo), todo, pure=False)
    what.update({fut.key: (d, []) for d, fut in zip(todo, futures, strict=True)})
    ac = as_completed(futures)
    done, total = 0, len(futures)  # in days and events
    saved = time.monotonic()
    for fut in ac:
        day, ids = what.pop(fut.key)
        st = state[day]
        done += max(1, len(ids))
        if fut.status != "finished":
            st.errors += 1
            manifest.failures.append({"day": day, "event_id": ",".join(ids),
                                      "reason": f"task error: {fut.exception()!r}"})
        elif not ids:
            batches = split(take_day(fut.result(), st, manifest), threads(client), max_batch)
            subs = client.map(solve_events, [spec] * len(batches), [run_id] * len(batches), batches,
                              [mc_runs] * len(batches), pure=False)  # one message to the scheduler a day
            what.update({sub.key: (day, [str(i["event_id"]) for i in batch])
                         for batch, sub in zip(batches, subs, strict=True)})
            ac.update(subs)
            total += sum(len(b) for b in batches)
        else:
            for res in fut.result():
                take_solve(res, st, manifest)
        fut.release()
        if show is not None:
            show(done / total)
        if st.correlated and st.open == 0 and not st.errors and day not in manifest.days:
            manifest.days[day] = st.counts
            save = time.monotonic() - saved >= manifest_every_s
            on_bucket(spec, functools.partial(finish_day, run_id=run_id, day=day, rows=st.rows,
                                              manifest=manifest if save else None))
            saved = time.monotonic() if save else saved
    on_bucket(spec, lambda store: save_manifest(store, manifest))
    on_bucket(spec, lambda store: write_summary(store, run_id, manifest.days))
    return manifest


def threads(client: Any) -> int:
    """Worker threads in the cluster now (batches are sized to it; at least 1 while workers join)."""
    return max(1, sum(client.nthreads().values()))


def take_day(res: dict[str, Any], st: DayState, manifest: Manifest) -> list[dict[str, Any]]:
    """Record a day's correlation; its events (as the solve task takes them)."""
    st.correlated = True
    manifest.inputs.update(res["inputs"])
    manifest.failures += [{"day": res["day"], "reason": p} for p in res["problems"]]
    st.counts["events"] = len(res["events"])
    st.counts["cpu_ms"] = st.counts.get("cpu_ms", 0) + round(res.get("cpu_s", 0.0) * 1000)
    st.open += len(res["events"])
    return list(res["events"])


def take_solve(res: dict[str, Any], st: DayState, manifest: Manifest) -> None:
    """Count one solve's outcome; bad member files and a failed solve go to the failures list."""
    st.open -= 1
    st.counts[res["status"]] = st.counts.get(res["status"], 0) + 1
    for name, value in (("written", int(res["written"])), ("io_ms", round(res["io_s"] * 1000)),
                        ("solve_ms", round(res["solve_s"] * 1000)), ("cpu_ms", round(res.get("cpu_s", 0.0) * 1000))):
        st.counts[name] = st.counts.get(name, 0) + value
    day, event_id = res["day"], res["event_id"]
    if res.get("row"):
        st.rows[event_id] = res["row"]
    manifest.failures += [{"day": day, "event_id": event_id, "reason": p} for p in res["problems"]]
    if res["status"] == "failed":
        manifest.failures.append({"day": day, "event_id": event_id, "reason": res.get("reason", "")})


async def finish_day(store: Any, run_id: str, day: str, rows: dict[str, str], manifest: Manifest | None) -> None:
    """The day's summary lines, then (if given) the manifest that names the day done (in that order: a
    day in the stored manifest always has its lines)."""
    text = "".join(rows[k] + "\n" for k in sorted(rows))
    await store.put(archive_day_rows_key(run_id, parse_day(day)), text.encode(), content_type="text/plain")
    if manifest is not None:
        await save_manifest(store, manifest)


async def bounded_gather(jobs: Iterable[Awaitable[str]]) -> list[str]:
    sem = asyncio.Semaphore(CONCURRENCY)

    async def one(job: Awaitable[str]) -> str:
        async with sem:
            return await job

    return list(await asyncio.gather(*(one(j) for j in jobs)))


async def day_rows(store: Any, run_id: str, day: str) -> str:
    """A completed day's summary lines; from its solutions when a run of an older version left no file."""
    got = await get_bounded(store, archive_day_rows_key(run_id, parse_day(day)), MAX_MANIFEST_BYTES)
    if got is not None:
        return got.body.decode(errors="replace")
    folder = archive_prefix(run_id) + events_day_prefix(parse_day(day))
    sols = sorted(k for k in await store.list_keys(folder) if k.endswith("/solution.json"))
    rows = await bounded_gather(stored_row(store, k, k[: -len("solution.json")] + "obs.json") for k in sols)
    return "".join(r + "\n" for r in rows if r)


async def write_summary(store: Any, run_id: str, days: Iterable[str]) -> int:
    """``archive/<RUN>/summary.txt`` (GMN format) over the run's completed days; the row count."""
    from protocols.traj_summary import format_summary

    texts = await bounded_gather(day_rows(store, run_id, d) for d in sorted(days))
    lines = [ln for t in texts for ln in t.splitlines() if ln.strip()]
    text = format_summary([], datetime.now(UTC)) + "".join(ln + "\n" for ln in lines)
    await store.put(archive_run_file_key(run_id, "summary.txt"), text.encode(), content_type="text/plain")
    return len(lines)
