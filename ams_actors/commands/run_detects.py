"""`ams run_detects [--day D] -c station.toml`: run the network Correlator once against the bucket.

The old cron job of the solving node, as a one-shot verb: it reads every station's daily index of
the day(s) from the bucket named in the station config, correlates them, writes new and revised
events and each station's ms_detects (conditional writes: safe while a daemon's Correlator, or
another machine's, runs at the same time — so it does not take the station lock) and prints the
events. ``--dry-run`` writes nothing. The kernel runs in a worker thread: nothing else shares this
process's event loop, so a process pool would only add start-up time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ams_actors.commands.common import add_config_option, load, open_bucket

if TYPE_CHECKING:
    from ams_actors.config import StationConfig
    from ams_actors.netsync.correlation import CorrelationReport


def configure(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.add_argument(
        "--day",
        action="append",
        metavar="YYYY_MM_DD",
        help="capture day to correlate (repeatable; default: yesterday and today, UTC)",
    )
    parser.add_argument("--json", action="store_true", help="print the events as JSON")
    parser.add_argument("--dry-run", action="store_true", help="correlate and report, but write nothing")


async def run_detects(config: StationConfig, days: list[str], *, write: bool = True) -> CorrelationReport:
    """Open the configured bucket and run one correlation over ``days``."""
    from ams_actors.netsync.correlation import NetworkCorrelator

    async with open_bucket(config) as store:
        return await NetworkCorrelator(store, None, concurrency=config.store.max_concurrency).run(days, write=write)


def run(args: argparse.Namespace) -> int:
    from ams_actors.netsync.correlation import default_days
    from ams_actors.store.outcomes import StoreError
    from protocols.errors import InputError
    from protocols.events import event_to_doc
    from protocols.meteor_index import format_utc_ms
    from protocols.s3_keys import InvalidKey, day_str, parse_day

    config = load(args)
    try:
        days = [day_str(parse_day(d)) for d in args.day] if args.day else default_days(datetime.now(UTC).date())
    except InvalidKey as err:
        raise InputError("--day", None, str(err)) from None
    try:
        report = asyncio.run(run_detects(config, days, write=not args.dry_run))
    except StoreError as err:
        print(f"ams run_detects: {err}", file=sys.stderr)
        return 1
    if args.json:
        doc = {
            "days": list(report.days),
            "events": [event_to_doc(e) for e in report.events],
            "created": report.created,
            "revised": report.revised,
            "superseded": report.superseded,
            "ms_detects_written": report.ms_detects_written,
            "skipped": report.problems,
            "dry_run": bool(args.dry_run),
        }
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    print(("(dry run) " if args.dry_run else "") + report.summary())
    for ev in report.events:
        tag = " new" if ev.event_id in report.created else " revised" if ev.event_id in report.revised else ""
        print(f"\n{ev.event_id}  rev {ev.revision}{tag}  {format_utc_ms(ev.start_utc)}  "
              f"{len(ev.stations)} stations: {' '.join(ev.stations)}")
        for m in ev.members:
            print(f"    {m.station_id:<10} {m.camera_id or '-':<7} {format_utc_ms(m.start_utc)}  "
                  f"{m.duration_s:6.2f} s  {m.meteor_id}")
    return 0
