"""/metrics: the station's numbers in Prometheus format, one CollectorRegistry per station.

A custom collector reads everything at scrape time (the actors' stats, the ledger's counts, the disk),
so no actor carries exporter code and several stations in one process (the simulator, tests) never
share a metric. The server gathers a `Snapshot` asynchronously (ledger queries run on the ledger's
thread) and the collector turns it into metric families.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from ams_actors.web.data import disk
from ams_actors.web.view import StationView
from protocols.errors import InputError
from protocols.pipeline_files import parse_clip_name

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OLD_COUNTS_MAX_AGE_S = 3600.0


@dataclass(slots=True)
class Snapshot:
    station: str
    minutes_scanned: dict[str, int] = field(default_factory=dict)  # camera -> minutes scanned
    detections: dict[tuple[str, str], int] = field(default_factory=dict)  # (camera, class) -> clips
    meteors: dict[str, int] = field(default_factory=dict)  # verified | rejected_by_verifier | rejected_by_operator
    inbox: dict[str, int] = field(default_factory=dict)  # actor -> depth
    pool_busy: int = 0
    pool_size: int = 0
    sync_backlog: int = 0
    claims_held: int = 0
    claims: dict[str, int] = field(default_factory=dict)  # won | lost
    solve_buckets: list[tuple[str, int]] = field(default_factory=list)
    solve_sum: float = 0.0
    last_minute_age_s: dict[str, float] = field(default_factory=dict)
    disk_free_bytes: int = 0
    disk_total_bytes: int = 0
    web_held_back_s: float = 0.0


class StationCollector(Collector):
    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        if s is None:
            return
        st = s.station
        yield _family(CounterMetricFamily, "ams_minutes_scanned", "SD minutes scanned, per camera", st, ["camera"],
                      {(cam,): n for cam, n in s.minutes_scanned.items()})
        yield _family(CounterMetricFamily, "ams_detections", "Classified minutes by detection class", st,
                      ["camera", "class"], {(cam, cls): n for (cam, cls), n in s.detections.items()})
        yield _family(CounterMetricFamily, "ams_meteors",
                      "Meteors verified, and rejected (by the verifier, by an operator)", st, ["outcome"],
                      {(k,): n for k, n in s.meteors.items()})
        yield _family(GaugeMetricFamily, "ams_inbox_depth", "Messages waiting in each actor's inbox", st, ["actor"],
                      {(k,): n for k, n in s.inbox.items()})
        yield _gauge("ams_pool_busy", "Process-pool jobs running or queued", st, s.pool_busy)
        yield _gauge("ams_pool_workers", "Process-pool size", st, s.pool_size)
        yield _gauge("ams_sync_backlog_days", "Days waiting to be synced to the bucket", st, s.sync_backlog)
        yield _gauge("ams_claims_held", "Event claims this station holds now", st, s.claims_held)
        yield _family(CounterMetricFamily, "ams_claims", "Event claims won and lost since the start", st, ["outcome"],
                      {(k,): s.claims.get(k, 0) for k in ("won", "lost")})
        h = HistogramMetricFamily("ams_solve_seconds", "Trajectory solve time (the solver's runtime_s)",
                                  labels=["station"])
        h.add_metric([st], s.solve_buckets or [("+Inf", 0)], s.solve_sum)
        yield h
        yield _family(GaugeMetricFamily, "ams_last_minute_age_seconds",
                      "Age of each camera's newest minute (station clock)", st, ["camera"],
                      {(cam,): age for cam, age in s.last_minute_age_s.items()})
        yield _gauge("ams_disk_free_bytes", "Free space on the data root's filesystem", st, s.disk_free_bytes)
        yield _gauge("ams_disk_total_bytes", "Size of the data root's filesystem", st, s.disk_total_bytes)
        yield _family(CounterMetricFamily, "ams_web_held_back_seconds",
                      "Time page requests waited so the page stays within [web] max_busy", st, [],
                      {(): s.web_held_back_s})


def _family(kind: Any, name: str, doc: str, station: str, labels: list[str],
            values: Mapping[tuple[str, ...], float]) -> Metric:
    """One labelled family (station first), its samples in label order."""
    fam = kind(name, doc, labels=["station", *labels])
    for key, value in sorted(values.items()):
        fam.add_metric([station, *key], value)
    return fam


def _gauge(name: str, doc: str, station: str, value: float) -> GaugeMetricFamily:
    g = GaugeMetricFamily(name, doc, labels=["station"])
    g.add_metric([station], value)
    return g


class StationMetrics:
    """The station's own registry (never the global one) and its collector."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = StationCollector()
        self.counts = ClipCounts()
        self.registry.register(self.collector)

    def render(self, snapshot: Snapshot) -> bytes:
        self.collector.snapshot = snapshot
        return generate_latest(self.registry)


class ClipCounts:
    """The ledger's per-camera counts: days before yesterday are counted once an hour (a year of minutes
    takes the ledger's thread about a second, and those days rarely change), the last two at every scrape."""

    def __init__(self) -> None:
        self._old: tuple[str, float, list[tuple[str, str, str, str, int, int]]] | None = None

    async def rows(self, view: StationView) -> list[tuple[str, str, str, str, int, int]]:
        ledger = view.ctx.ledger
        if ledger is None:
            return []
        cutoff = (view.ctx.clock.now() - timedelta(days=1)).strftime("%Y_%m_%d")
        mono = view.ctx.clock.monotonic()
        if self._old is None or self._old[0] != cutoff or mono - self._old[1] > OLD_COUNTS_MAX_AGE_S:
            self._old = (cutoff, mono, await ledger.camera_clip_counts(before_day=cutoff))
        return self._old[2] + await ledger.camera_clip_counts(since_day=cutoff)


async def snapshot(view: StationView, counts: ClipCounts) -> Snapshot:
    """Everything /metrics shows, read now (ledger queries on its thread, the disk in a worker thread)."""
    now = view.ctx.clock.now()
    snap = Snapshot(station=view.ctx.config.station_id)
    ledger = view.ctx.ledger
    if ledger is not None:
        for cam, state, result, verified, n, meteors in await counts.rows(view):
            if state in ("scanned", "classified"):
                snap.minutes_scanned[cam] = snap.minutes_scanned.get(cam, 0) + n
            if state == "classified" and result:
                snap.detections[(cam, result)] = snap.detections.get((cam, result), 0) + n
            snap.meteors["verified"] = snap.meteors.get("verified", 0) + meteors
            if verified == "nometeor":
                snap.meteors["rejected_by_verifier"] = snap.meteors.get("rejected_by_verifier", 0) + n
        snap.meteors["rejected_by_operator"] = (await ledger.review_counts()).get("reject", 0)
        for cam, clip in (await ledger.last_clips([c.id for c in view.ctx.config.cameras])).items():
            try:
                snap.last_minute_age_s[cam] = (now - parse_clip_name(clip + ".mp4").start_utc).total_seconds()
            except InputError:
                continue
    actors = view.actors()
    snap.inbox = {name: a.inbox.qsize() for name, a in actors.items()}
    snap.pool_busy, snap.pool_size = pool_load(view.ctx.executor)
    snap.sync_backlog = len(getattr(actors.get("Syncer"), "pending", ()))
    broker = actors.get("EventBroker")
    report = getattr(broker, "claims_report", None)
    snap.claims_held = len(report()["held"]) if report else 0
    snap.claims = dict(getattr(broker, "claim_counts", {}))
    times = getattr(actors.get("Solver"), "solve_times", None)
    if times is not None:
        snap.solve_buckets, snap.solve_sum = times.cumulative(), times.total
    total, _used, free = await asyncio.to_thread(disk, view.ctx.paths)
    snap.disk_free_bytes, snap.disk_total_bytes = free, total
    return snap


def pool_load(executor: Any) -> tuple[int, int]:
    """(jobs running or queued, workers) of a ProcessPoolExecutor; (0, 0) for anything else."""
    pending = getattr(executor, "_pending_work_items", None)
    workers = getattr(executor, "_max_workers", 0)
    return (len(pending) if isinstance(pending, dict) else 0), int(workers or 0)
