"""The day task (the solve task is ``solve.py``'s). Both are plain functions of small picklable
arguments; the bucket is reached through the worker process's one client (``bucket.on_bucket``), so
the scheduler only ever moves keys, ids, sites and short reports.

Day ownership (no meteor in two days' events, unlike daily binning): the task of day D correlates the
indexes of D-1, D and D+1 together and keeps only the events whose earliest member is on D (the
event id's date). Any event touching D's boundary is thus seen whole by exactly one task.

What an event costs in requests: the day task has already read and validated every member's daily
index, so it hands each solve its members' sites (three numbers a station); the solve reads only the
members' meteor files (concurrently), writes obs.json and solution.json. Whether a solution exists is
one listing per batch of events (``solve.solved_among``), not a HEAD per event.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from datetime import timedelta
from typing import Any

from ams_actors.archive.bucket import BucketSpec, on_bucket
from ams_actors.netsync.correlation import CorrelationReport, NetworkCorrelator
from protocols.events import encode_event, reconcile
from protocols.s3_keys import day_str, event_day, parse_day

log = logging.getLogger("ams.archive")

#: this process's correlator per bucket: its index cache (by ETag) spares the next day's task on the
#: same worker two of its three days' downloads and schema checks
_correlators: dict[tuple[int, BucketSpec], tuple[NetworkCorrelator, asyncio.Lock]] = {}


def correlate_day(spec: BucketSpec, day: str) -> dict[str, Any]:
    """Events owned by ``day``: ``{day, events: [{event_id, event: JSON text, sites: {"S/YYYY_MM_DD": [lat, lon,
    alt]}}], inputs: {index key: ETag}, meteors, problems, cpu_s}``."""
    c0 = time.process_time()
    out = on_bucket(spec, lambda store: _correlate_day(store, spec, day))
    out["cpu_s"] = time.process_time() - c0
    return out


async def _correlate_day(store: Any, spec: BucketSpec, day: str) -> dict[str, Any]:
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
    events = []
    for e in mine:
        wanted = {f"{m.station_id}/{day_str(m.start_utc.date())}" for m in e.members}
        events.append({"event_id": e.event_id, "event": encode_event(e).decode(),
                       "sites": {k: sites[k] for k in sorted(wanted) if k in sites}})
    return {
        "day": day,
        "events": events,
        "inputs": {key: etag for key, etag, idx in indexes if idx.day == day},
        "meteors": found.meteors,
        "problems": list(report.problems),
    }
