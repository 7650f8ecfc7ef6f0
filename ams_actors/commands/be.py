"""`ams be [--day D] -c station.toml`: build the station's local EVENTS tree once (the old `be`).

For each day, this station's ms_detects in the bucket names the multi-station events it is in; each
event's ``event.json`` is fetched, validated and written to
``meteor_archive/<STATION>/EVENTS/YYYY/YYYY_MM_DD/<EVENT_ID>/`` (``store.events_tree``) — exactly
what the daemon's Syncer does on every sync (``SyncEngine.own_events``), without the uploads and the
partners' indexes. Next to the daemon it refuses, like the other one-shot verbs: there
``ams admin run sync --day D`` does this and the rest of a sync.

Exit codes: 0 done, 1 the bucket could not be reached, 2 bad input or the daemon is running.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ams_actors.commands.common import add_config_option

if TYPE_CHECKING:
    from ams_actors.config import StationConfig
    from ams_actors.netsync.sync import SyncReport


def configure(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.add_argument("--day", action="append", metavar="YYYY_MM_DD",
                        help="day of the events (repeatable; default: yesterday and today, UTC)")


async def build_events(config: StationConfig, days: list[str]) -> SyncReport:
    """Fetch the events of ``days`` this station is in into its local EVENTS tree."""
    from ams_actors.commands.common import sync_each_day

    return await sync_each_day(config, days, lambda engine, day, report: engine.own_events(day, report))


def run(args: argparse.Namespace) -> int:
    from ams_actors.commands.common import bucket_one_shot
    from ams_actors.store.events_tree import local_events
    from ams_actors.store.local_paths import StationPaths

    got = bucket_one_shot(args, "be", build_events)
    if isinstance(got, int):
        return got
    config, days, report = got
    paths = StationPaths(config.data_root, config.station_id)
    written = set(report.events_written)
    for day in days:
        events = local_events(paths, day)
        new = sum(1 for ev in events if ev.event_id in written)
        print(f"{day}: {len(events)} event(s) in {paths.events_dir(day)} ({new} new or revised)")
        for ev in events:
            gone = f"  superseded by {ev.superseded_by}" if ev.superseded_by else ""
            print(f"  {ev.event_id}  rev {ev.revision}  {' '.join(ev.stations)}{gone}")
    return 0  # bad bucket files were logged as they were skipped
