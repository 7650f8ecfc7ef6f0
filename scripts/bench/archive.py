"""Archive re-solve benchmark (issue 14): the same synthetic archive resolved by a plain single-process
loop over the same task functions, and by ``ams archive``'s Dask run on a LocalCluster of 1 and of 2
worker processes.

    python scripts/bench/archive.py [--days 30] [--stations 100] [--per-day 100]

The bucket is the embedded moto S3 in its own process (so it does not share the client's GIL). Reported:
wall time and events/s of each, scaling efficiency (2 workers vs 1: t1 / (2 t2)), Dask overhead at 1
worker vs the loop, peak RSS per worker, S3 I/O vs solve time summed over the solves. The issue's target
size is ≥ 30 days × 100 stations (≥ 300,000 observations); give the size you can afford. Last line
``BENCH {json}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import resource
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from ams_actors.archive.bucket import BucketSpec, open_store  # noqa: E402
from ams_actors.archive.run import resolve  # noqa: E402
from ams_actors.archive.tasks import correlate_day, solve_event  # noqa: E402
from ams_actors.sim.archive_fill import fill_archive, meteor_docs, station_sites  # noqa: E402
from protocols.s3_keys import day_str  # noqa: E402

BUCKET = "ams-bench-archive"


def serve(q: Any) -> None:
    """The embedded S3 in a child process, until the parent kills it."""
    from ams_actors.store.embedded.server import EmbeddedS3

    with EmbeddedS3() as s3:
        q.put(s3.url)
        while True:
            time.sleep(3600)


async def fill(spec: BucketSpec, days: list[date], stations: int, per_day: int) -> tuple[int, int]:
    sites = station_sites(stations)
    docs = meteor_docs(days, sites, per_day, seed=7)
    async with open_store(spec) as store:
        await store.ensure_bucket()
        n_idx = await fill_archive(store, docs, sites)
    return len(docs), n_idx


def plain_loop(spec: BucketSpec, days: list[str]) -> dict[str, float]:
    t0 = time.perf_counter()
    events = io = solve = 0.0
    for d in days:
        for ev in correlate_day(spec, "loop", d)["events"]:
            r = solve_event(spec, "loop", ev)
            events += 1
            io += r["io_s"]
            solve += r["solve_s"]
    return {"wall_s": time.perf_counter() - t0, "events": events, "io_s": io, "solve_s": solve}


def dask_run(spec: BucketSpec, days: list[str], workers: int) -> dict[str, Any]:
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        t0 = time.perf_counter()
        manifest = resolve(client, spec, f"dask{workers}", days)
        wall = time.perf_counter() - t0
        rss = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
    c = manifest.counts()
    return {"wall_s": wall, "events": c.get("events", 0), "solved": c.get("solved", 0),
            "io_s": c.get("io_ms", 0) / 1000, "solve_s": c.get("solve_ms", 0) / 1000,
            "peak_rss_mb_per_worker": sorted(round(v, 1) for v in rss.values()), "failures": len(manifest.failures)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--stations", type=int, default=100)
    ap.add_argument("--per-day", type=int, default=100, help="meteors per day (each seen by 2-4 stations)")
    args = ap.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    server = ctx.Process(target=serve, args=(q,), daemon=True)
    server.start()
    try:
        spec = BucketSpec(q.get(timeout=60), BUCKET)
        first = date(2026, 8, 1)
        days = [first + timedelta(days=k) for k in range(args.days)]
        t0 = time.perf_counter()
        n_obs, n_idx = asyncio.run(fill(spec, days, args.stations, args.per_day))
        fill_s = time.perf_counter() - t0
        names = [day_str(d) for d in days]
        loop = plain_loop(spec, names)
        one = dask_run(spec, names, 1)
        two = dask_run(spec, names, 2)
    finally:
        server.kill()
    out: dict[str, Any] = {
        "size": {"days": args.days, "stations": args.stations, "meteors_per_day": args.per_day,
                 "observations": n_obs, "index_files": n_idx, "fill_s": round(fill_s, 1)},
        "loop": loop, "dask_1": one, "dask_2": two,
        "events_per_s": {k: round(v["events"] / v["wall_s"], 2) for k, v in
                         (("loop", loop), ("dask_1", one), ("dask_2", two))},
        "efficiency_2_vs_1": round(one["wall_s"] / (2 * two["wall_s"]), 3),
        "dask_overhead_1_vs_loop": round(one["wall_s"] / loop["wall_s"] - 1, 3),
        "cpu_count": os.cpu_count(),
    }
    for k in ("loop", "dask_1", "dask_2"):
        v = out[k]
        print(f"{k:7s} {v['wall_s']:7.1f} s  {v['events']:6.0f} events  {v['events'] / v['wall_s']:6.2f} ev/s  "
              f"I/O {v['io_s']:.1f} s  solve {v['solve_s']:.1f} s")
    print(f"efficiency 2 vs 1: {out['efficiency_2_vs_1']}, Dask overhead at 1 worker: {out['dask_overhead_1_vs_loop']}")
    print("BENCH " + json.dumps(out, sort_keys=True, default=lambda x: round(x, 3)))


if __name__ == "__main__":
    main()
