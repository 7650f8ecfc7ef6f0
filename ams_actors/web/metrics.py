"""/metrics: the station's numbers in Prometheus format, one CollectorRegistry per station.

A custom collector reads everything at scrape time (the actors' stats, the ledger's counts, the disk),
so no actor carries exporter code and several stations in one process (the simulator, tests) never
share a metric. The server gathers a `Snapshot` asynchronously (ledger queries run on the ledger's
thread) and the collector turns it into metric families.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


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


class StationCollector(Collector):
    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot
        if s is None:
            return
        st = s.station
        g = CounterMetricFamily("ams_minutes_scanned", "SD minutes scanned, per camera", labels=["station", "camera"])
        for cam, n in sorted(s.minutes_scanned.items()):
            g.add_metric([st, cam], n)
        yield g
        g = CounterMetricFamily("ams_detections", "Classified minutes by detection class",
                                labels=["station", "camera", "class"])
        for (cam, cls), n in sorted(s.detections.items()):
            g.add_metric([st, cam, cls], n)
        yield g
        g = CounterMetricFamily("ams_meteors", "Meteors verified, and rejected (by the verifier, by an operator)",
                                labels=["station", "outcome"])
        for outcome, n in sorted(s.meteors.items()):
            g.add_metric([st, outcome], n)
        yield g
        q = GaugeMetricFamily("ams_inbox_depth", "Messages waiting in each actor's inbox", labels=["station", "actor"])
        for actor, n in sorted(s.inbox.items()):
            q.add_metric([st, actor], n)
        yield q
        yield _gauge("ams_pool_busy", "Process-pool jobs running or queued", st, s.pool_busy)
        yield _gauge("ams_pool_workers", "Process-pool size", st, s.pool_size)
        yield _gauge("ams_sync_backlog_days", "Days waiting to be synced to the bucket", st, s.sync_backlog)
        yield _gauge("ams_claims_held", "Event claims this station holds now", st, s.claims_held)
        c = CounterMetricFamily("ams_claims", "Event claims won and lost since the start",
                                labels=["station", "outcome"])
        for outcome in ("won", "lost"):
            c.add_metric([st, outcome], s.claims.get(outcome, 0))
        yield c
        h = HistogramMetricFamily("ams_solve_seconds", "Trajectory solve time (the solver's runtime_s)",
                                  labels=["station"])
        h.add_metric([st], s.solve_buckets or [("+Inf", 0)], s.solve_sum)
        yield h
        a = GaugeMetricFamily("ams_last_minute_age_seconds", "Age of each camera's newest minute (station clock)",
                              labels=["station", "camera"])
        for cam, age in sorted(s.last_minute_age_s.items()):
            a.add_metric([st, cam], age)
        yield a
        yield _gauge("ams_disk_free_bytes", "Free space on the data root's filesystem", st, s.disk_free_bytes)
        yield _gauge("ams_disk_total_bytes", "Size of the data root's filesystem", st, s.disk_total_bytes)


def _gauge(name: str, doc: str, station: str, value: float) -> GaugeMetricFamily:
    g = GaugeMetricFamily(name, doc, labels=["station"])
    g.add_metric([station], value)
    return g


class StationMetrics:
    """The station's own registry (never the global one) and its collector."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = StationCollector()
        self.registry.register(self.collector)

    def render(self, snapshot: Snapshot) -> bytes:
        self.collector.snapshot = snapshot
        return generate_latest(self.registry)


def pool_load(executor: Any) -> tuple[int, int]:
    """(jobs running or queued, workers) of a ProcessPoolExecutor; (0, 0) for anything else."""
    pending = getattr(executor, "_pending_work_items", None)
    workers = getattr(executor, "_max_workers", 0)
    return (len(pending) if isinstance(pending, dict) else 0), int(workers or 0)
