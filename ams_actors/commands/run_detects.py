"""`ams run_detects [--day D] -c station.toml`: run the network Correlator once against the bucket.

The old cron job of the solving node, as a one-shot verb: it reads every station's daily index of
the day(s) from the bucket named in the station config, correlates them, writes new and revised
events and each station's ms_detects (conditional writes: safe while a daemon's Correlator, or
another machine's, runs at the same time — so it does not take the station lock) and prints the
events. ``--dry-run`` writes nothing. ``--month YYYY_MM`` and ``--year YYYY`` (the old ``md`` and
``d.sh``) correlate every day of that month or year up to today, one day at a time together with the
day before it (an event may cross midnight), with a progress bar on stderr (on a terminal, or with
``--progress``). The kernel runs in a worker thread: nothing else shares this
process's event loop, so a process pool would only add start-up time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from ams_actors.commands.common import add_config_option, load, open_bucket
from ams_actors.commands.progress import progress_bar
from protocols.s3_keys import day_str, parse_day

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
    parser.add_argument("--month", action="append", metavar="YYYY_MM", help="every day of a month (repeatable)")
    parser.add_argument("--year", action="append", metavar="YYYY", help="every day of a year up to today (repeatable)")
    parser.add_argument("--progress", action="store_true", help="show a progress bar on stderr even when not a tty")
    parser.add_argument("--json", action="store_true", help="print the events as JSON")
    parser.add_argument("--dry-run", action="store_true", help="correlate and report, but write nothing")


async def run_detects(
    config: StationConfig,
    days: list[str],
    *,
    write: bool = True,
    day_by_day: bool = False,
    progress: Callable[[float], None] | None = None,
) -> CorrelationReport:
    """Open the configured bucket and run one correlation over ``days`` (``day_by_day``: one run per
    day, each with the day before it, for a month or a year; the reports merged)."""
    from ams_actors.netsync.correlation import NetworkCorrelator

    async with open_bucket(config) as store:
        correlator = NetworkCorrelator(store, None, concurrency=config.store.max_concurrency)
        if not day_by_day:
            return await correlator.run(days, write=write)
        reports = []
        for k, day in enumerate(sorted(days)):
            before = day_str(parse_day(day) - timedelta(days=1))
            reports.append(await correlator.run([before, day], write=write))
            if progress is not None:
                progress((k + 1) / len(days))
        return merge_reports(sorted(days), reports)


def merge_reports(days: list[str], reports: list[CorrelationReport]) -> CorrelationReport:
    """One report for a run made day by day (each event once, in its latest form)."""
    from ams_actors.netsync.correlation import CorrelationReport

    out = CorrelationReport(days=tuple(days))
    events = {}
    for r in reports:
        out.stations = tuple(sorted(set(out.stations) | set(r.stations)))
        out.meteors += r.meteors
        events.update({e.event_id: e for e in r.events})
        out.created += [e for e in r.created if e not in out.created]
        out.revised += [e for e in r.revised if e not in out.revised and e not in out.created]
        out.superseded += [e for e in r.superseded if e not in out.superseded]
        out.ms_detects_written += [w for w in r.ms_detects_written if w not in out.ms_detects_written]
        out.problems += [p for p in r.problems if p not in out.problems]
        out.rounds = max(out.rounds, r.rounds)
    out.events = [events[k] for k in sorted(events) if k not in out.superseded]
    return out


def days_of(months: list[str], years: list[str], today: date) -> list[str]:
    """Every day of the given months (``YYYY_MM``) and years (``YYYY``) up to ``today``; InputError if bad."""
    from protocols.errors import InputError

    firsts: list[tuple[date, date]] = []
    for text in months:
        try:
            y, mth = (int(x) for x in text.split("_")) if re.fullmatch(r"\d{4}_\d{2}", text) else (0, 0)
            first = date(y, mth, 1)
        except ValueError:
            raise InputError("--month", None, f"{text!r} is not YYYY_MM") from None
        firsts.append((first, date(y + mth // 12, mth % 12 + 1, 1)))
    for text in years:
        if not re.fullmatch(r"\d{4}", text) or int(text) < 1:
            raise InputError("--year", None, f"{text!r} is not YYYY")
        firsts.append((date(int(text), 1, 1), date(int(text) + 1, 1, 1)))
    out: set[str] = set()
    for first, end in firsts:
        d = first
        while d < end and d <= today:
            out.add(day_str(d))
            d += timedelta(days=1)
    return sorted(out)


def run(args: argparse.Namespace) -> int:
    from ams_actors.netsync.correlation import default_days
    from ams_actors.store.outcomes import StoreError
    from protocols.errors import InputError
    from protocols.events import event_to_doc
    from protocols.meteor_index import format_utc_ms
    from protocols.s3_keys import InvalidKey

    config = load(args)
    today = datetime.now(UTC).date()
    try:
        days = [day_str(parse_day(d)) for d in args.day or []]
    except InvalidKey as err:
        raise InputError("--day", None, str(err)) from None
    long_run = bool(args.month or args.year)
    days = sorted(set(days) | set(days_of(args.month or [], args.year or [], today)))
    if not days and long_run:
        print("ams run_detects: no day of that month/year has begun yet", file=sys.stderr)
        return 2
    days = days or default_days(today)
    show = progress_bar("run_detects ") if long_run and (args.progress or sys.stderr.isatty()) else None
    try:
        report = asyncio.run(run_detects(config, days, write=not args.dry_run, day_by_day=long_run, progress=show))
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
