"""Archive re-solve benchmark (issue 14): the same synthetic archive resolved by a plain single-process
loop over the same task functions, and by ``ams archive``'s Dask run on a LocalCluster of 1 and of 2
worker processes.

    python scripts/bench/archive.py [--days 30] [--stations 100] [--per-day 100]

The bucket is the embedded moto S3 in its own process (so it does not share the client's GIL). It is
filled inside that process, straight into moto's in-memory backend (the same objects the stations' PUTs
would make, without an HTTP request each: ~1 ms an object instead of ~10), generated day by day so a big
archive is never whole in memory; the fill is setup, not measured with the runs.

``--batch N`` caps the events per solve task (1: one event per task, as before batching, plus a listing each).

Reported for each of loop / Dask 1 worker / Dask 2 workers: wall time and events/s, the tasks' CPU time
(process CPU over each task, summed: the figure least disturbed by other work on a shared machine), the
CPU of every process of the run (the workers' whole processes plus the client's, where a LocalCluster's
scheduler runs; for the loop its one process: Dask's own per-task work included), S3
I/O vs solve time summed over the solves, peak RSS per worker; then scaling efficiency (2 workers vs 1:
t1 / (2 t2)), the same from CPU time (cpu1 / cpu2: extra work per event the second worker causes), Dask
overhead at 1 worker vs the loop (wall and CPU), and per-event costs. The issue's target size is
≥ 30 days × 100 stations (≥ 300,000 observations); give the size you can afford. Last line
``BENCH {json}``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from ams_actors.archive.bucket import BucketSpec  # noqa: E402
from ams_actors.archive.run import local_cluster, resolve  # noqa: E402
from ams_actors.archive.solve import MAX_BATCH, solve_events, split  # noqa: E402
from ams_actors.archive.tasks import correlate_day  # noqa: E402
from ams_actors.sim.archive_fill import archive_objects, meteor_docs, station_sites  # noqa: E402
from protocols.s3_keys import day_str  # noqa: E402

BUCKET = "ams-bench-archive"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def serve(q: Any, days: list[date], stations: int, per_day: int) -> None:
    """The embedded S3 in a child process, filled with the archive, until the parent kills it."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    from ams_actors.store.embedded.server import EmbeddedS3

    with EmbeddedS3() as s3:
        t0 = time.perf_counter()
        backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        backend.create_bucket(BUCKET, "us-east-1")
        sites = station_sites(stations)

        def docs() -> Any:
            for k, d in enumerate(days):
                yield from meteor_docs([d], sites, per_day, seed=7 + k)
                say(f"fill: day {k + 1}/{len(days)} generated, {time.perf_counter() - t0:.0f} s")

        n_obs = n_idx = 0
        for key, body in archive_objects(docs(), sites):
            backend.put_object(BUCKET, key, body)
            n_idx += "/index/" in key
            n_obs += "/meteors/" in key
        q.put((s3.url, n_obs, n_idx, time.perf_counter() - t0))
        while True:
            time.sleep(3600)


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(server_pid: int, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``run()``'s figures plus the S3 server's CPU time meanwhile."""
    c0 = cpu_of(server_pid)
    out = run()
    out["s3_server_cpu_s"] = cpu_of(server_pid) - c0
    return out


def every_tenth(name: str) -> Callable[[float], None]:
    last = [-1]

    def show(frac: float) -> None:
        if int(frac * 10) > last[0]:
            last[0] = int(frac * 10)
            say(f"{name}: {frac:.0%}")

    return show


def plain_loop(spec: BucketSpec, days: list[str], batch: int) -> dict[str, Any]:
    """The same task functions called in turn, in the same batches as a 1-worker Dask run."""
    t0, c0 = time.perf_counter(), time.process_time()
    out: dict[str, Any] = {"events": 0.0, "io_s": 0.0, "solve_s": 0.0, "cpu_s": 0.0, "correlate_cpu_s": 0.0}
    for k, d in enumerate(days):
        day = correlate_day(spec, d)
        out["correlate_cpu_s"] += day["cpu_s"]
        for items in split(day["events"], 1, batch):
            for r in solve_events(spec, "loop", items):
                out["events"] += 1
                for name in ("io_s", "solve_s", "cpu_s"):
                    out[name] += r[name]
        say(f"loop: day {k + 1}/{len(days)}, {time.perf_counter() - t0:.0f} s")
    out["cpu_s"] += out["correlate_cpu_s"]
    out["wall_s"], out["proc_cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
    return out


def dask_run(spec: BucketSpec, days: list[str], workers: int, batch: int) -> dict[str, Any]:
    from distributed import Client

    with local_cluster(workers) as cluster, Client(cluster) as client:
        w0, t0, c0 = client.run(time.process_time), time.perf_counter(), time.process_time()
        manifest = resolve(client, spec, f"dask{workers}", days, show=every_tenth(f"dask {workers}"),
                           max_batch=batch)
        wall, client_cpu = time.perf_counter() - t0, time.process_time() - c0
        w1 = client.run(time.process_time)
        rss = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
    c = manifest.counts()
    workers_cpu = sum(w1[w] - w0[w] for w in w1 if w in w0)
    return {"wall_s": wall, "events": c.get("events", 0), "solved": c.get("solved", 0),
            "io_s": c.get("io_ms", 0) / 1000, "solve_s": c.get("solve_ms", 0) / 1000,
            "cpu_s": c.get("cpu_ms", 0) / 1000, "proc_cpu_s": workers_cpu + client_cpu,
            "client_scheduler_cpu_s": client_cpu,
            "peak_rss_mb_per_worker": sorted(round(v, 1) for v in rss.values()), "failures": len(manifest.failures)}


def one_day(spec: BucketSpec, day: str, server_pid: int, size: dict[str, Any]) -> None:
    t0, c0, s0 = time.perf_counter(), time.process_time(), cpu_of(server_pid)
    res = correlate_day(spec, day)
    out = {"size": size, "day": day, "wall_s": round(time.perf_counter() - t0, 2),
           "cpu_s": round(time.process_time() - c0, 2), "s3_server_cpu_s": round(cpu_of(server_pid) - s0, 2),
           "meteors_in_window": res["meteors"], "events": len(res["events"]), "cpu_count": os.cpu_count(),
           "load_avg_at_end": [round(x, 2) for x in os.getloadavg()]}
    print(f"correlation of {day} (3 days of indexes, {res['meteors']} meteors): {out['wall_s']} s, "
          f"CPU {out['cpu_s']} s, {out['events']} events")
    print("BENCH " + json.dumps(out, sort_keys=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--stations", type=int, default=100)
    ap.add_argument("--per-day", type=int, default=100, help="meteors per day (each seen by 2-4 stations)")
    ap.add_argument("--correlate-only", action="store_true",
                    help="only time one day's correlation task (the middle day, nothing cached): the part of a "
                         "run that grows with the network's density")
    ap.add_argument("--batch", type=int, default=MAX_BATCH,
                    help=f"most events per solve task (default {MAX_BATCH}; 1: one task per event, as before)")
    args = ap.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    first = date(2026, 8, 1)
    days = [first + timedelta(days=k) for k in range(args.days)]
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    server = ctx.Process(target=serve, args=(q, days, args.stations, args.per_day), daemon=True)
    server.start()
    try:
        url, n_obs, n_idx, fill_s = q.get(timeout=24 * 3600)
        spec = BucketSpec(url, BUCKET)
        names = [day_str(d) for d in days]
        assert server.pid is not None
        if args.correlate_only:
            one_day(spec, names[len(names) // 2], server.pid, {"days": args.days, "stations": args.stations,
                    "meteors_per_day": args.per_day, "observations": n_obs, "fill_s": round(fill_s, 1)})
            return
        loop = measured(server.pid, lambda: plain_loop(spec, names, args.batch))
        one = measured(server.pid, lambda: dask_run(spec, names, 1, args.batch))
        two = measured(server.pid, lambda: dask_run(spec, names, 2, args.batch))
    finally:
        server.kill()
    runs = {"loop": loop, "dask_1": one, "dask_2": two}
    ev = max(1.0, float(loop["events"]))
    out: dict[str, Any] = {
        "max_batch": args.batch,
        "size": {"days": args.days, "stations": args.stations, "meteors_per_day": args.per_day,
                 "observations": n_obs, "index_files": n_idx, "fill_s": round(fill_s, 1)},
        **runs,
        "events_per_s": {k: round(v["events"] / v["wall_s"], 2) for k, v in runs.items()},
        "efficiency_2_vs_1": round(one["wall_s"] / (2 * two["wall_s"]), 3),
        "cpu_efficiency_2_vs_1": round(one["cpu_s"] / two["cpu_s"], 3),
        "dask_overhead_1_vs_loop": round(one["wall_s"] / loop["wall_s"] - 1, 3),
        "dask_cpu_overhead_1_vs_loop": round(one["cpu_s"] / loop["cpu_s"] - 1, 3),
        "proc_cpu_efficiency_2_vs_1": round(one["proc_cpu_s"] / two["proc_cpu_s"], 3),
        "dask_proc_cpu_overhead_1_vs_loop": round(one["proc_cpu_s"] / loop["proc_cpu_s"] - 1, 3),
        "per_event_ms": {k: {"wall": round(1000 * v["wall_s"] / ev, 1), "cpu": round(1000 * v["cpu_s"] / ev, 1),
                             "proc_cpu": round(1000 * v["proc_cpu_s"] / ev, 1),
                             "io": round(1000 * v["io_s"] / ev, 1), "solve": round(1000 * v["solve_s"] / ev, 1),
                             "s3_server_cpu": round(1000 * v["s3_server_cpu_s"] / ev, 1)}
                         for k, v in runs.items()},
        "cpu_count": os.cpu_count(),
        "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    for k, v in runs.items():
        print(f"{k:7s} {v['wall_s']:7.1f} s  {v['events']:6.0f} events  {v['events'] / v['wall_s']:6.2f} ev/s  "
              f"CPU {v['cpu_s']:.1f} s  I/O {v['io_s']:.1f} s  solve {v['solve_s']:.1f} s")
    print(f"efficiency 2 vs 1: {out['efficiency_2_vs_1']} (CPU time: {out['cpu_efficiency_2_vs_1']}), "
          f"Dask overhead at 1 worker: {out['dask_overhead_1_vs_loop']} "
          f"(CPU time: {out['dask_cpu_overhead_1_vs_loop']}; all processes' CPU, client and scheduler "
          f"included: {out['dask_proc_cpu_overhead_1_vs_loop']})")
    print("BENCH " + json.dumps(out, sort_keys=True, default=lambda x: round(x, 3)))


if __name__ == "__main__":
    main()
