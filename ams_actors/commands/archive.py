"""`ams archive resolve --from DAY --to DAY [--scheduler ADDR] [--workers N] [--run-id ID] -c station.toml`.

Re-correlates and re-solves every day of the range from the stations' indexes and meteors in the
bucket named in the config, on Dask distributed: an existing cluster (``--scheduler tcp://host:8786``,
used as it is) or a ``LocalCluster`` of ``--workers`` processes (default: one per core, 1 thread each).
Results go to ``archive/<run id>/`` only; the same ``--run-id`` again finishes what is left.
Dask is the ``archive`` extra; without it the verb says in one line how to install it (exit 2).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime, timedelta

from ams_actors.commands.common import add_config_option, load
from ams_actors.commands.progress import progress_bar


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="archive_verb", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("resolve", help="re-correlate and re-solve a range of days into archive/<run id>/")
    add_config_option(p)
    p.add_argument("--from", dest="first", required=True, metavar="YYYY_MM_DD", help="first capture day")
    p.add_argument("--to", dest="last", required=True, metavar="YYYY_MM_DD", help="last capture day (inclusive)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler (default: a LocalCluster)")
    p.add_argument("--workers", type=int, default=0, metavar="N",
                   help="LocalCluster worker processes (default: one per core)")
    p.add_argument("--run-id", metavar="ID", help="run id (default: a new one from the time); reuse it to resume")
    p.add_argument("--mc", type=int, default=0, metavar="N", help="Monte Carlo runs per event (default 0)")
    p.add_argument("--progress", action="store_true", help="show a progress bar on stderr even when not a tty")


def day_range(first: str, last: str) -> list[str]:
    from protocols.errors import InputError
    from protocols.s3_keys import InvalidKey, day_str, parse_day

    try:
        a, b = parse_day(first), parse_day(last)
    except InvalidKey as err:
        raise InputError("--from/--to", None, str(err)) from None
    if b < a:
        raise InputError("--to", None, f"{last} is before --from {first}")
    return [day_str(a + timedelta(days=k)) for k in range((b - a).days + 1)]


def run(args: argparse.Namespace) -> int:
    from ams_actors.runtime.extras import require
    from protocols.errors import InputError
    from protocols.s3_keys import InvalidId, validate_id

    require("archive")
    from distributed import Client

    from ams_actors.archive.bucket import BucketSpec
    from ams_actors.archive.run import local_cluster, resolve

    days = day_range(args.first, args.last)
    run_id = args.run_id or datetime.now(UTC).strftime("r%Y%m%d_%H%M%S")
    try:
        validate_id(run_id, "archive run id")
    except InvalidId as err:
        raise InputError("--run-id", None, str(err)) from None
    spec = BucketSpec.from_config(load(args))
    if spec.endpoint == "embedded":
        raise InputError("[store] endpoint", None, "an archive run needs a bucket its workers can reach, "
                                                   "not 'embedded'")
    show = progress_bar(f"archive {run_id} ") if args.progress or sys.stderr.isatty() else None
    if args.scheduler:
        client = Client(args.scheduler)
        cluster = None
    else:
        cluster = local_cluster(args.workers or os.cpu_count() or 1)
        client = Client(cluster)
    try:
        manifest = resolve(client, spec, run_id, days, mc_runs=args.mc, show=show)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    counts = manifest.counts()
    print(f"archive run {run_id}: {len(manifest.days)}/{len(days)} day(s) complete, "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
          + f"; {len(manifest.failures)} failure(s) recorded in archive/{run_id}/manifest.json")
    return 0 if all(d in manifest.days for d in days) else 1
