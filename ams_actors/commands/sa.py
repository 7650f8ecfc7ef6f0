"""`ams sa [--day D] -c station.toml`: upload a day's preview JPEGs to the bucket once (the old `sa`).

The same upload as every daemon sync (``SyncEngine.upload_day``), limited to the previews under
``stations/<STATION>/previews/YYYY/MM/DD/``: a file whose content is already there (SHA-256 in its
metadata) is not sent again, so a second run uploads nothing. Next to the daemon it refuses, like
the other one-shot verbs: there ``ams admin run sync --day D`` does this and the rest of a sync.

Exit codes: 0 done, 1 the bucket could not be reached or an upload failed, 2 bad input or the daemon
is running.
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
                        help="day of the meteors (repeatable; default: yesterday and today, UTC)")


async def sync_previews(config: StationConfig, days: list[str]) -> SyncReport:
    """Upload the previews of ``days`` that changed (the rest of the day's sync is the daemon's)."""
    from ams_actors.commands.common import sync_each_day

    return await sync_each_day(
        config, days, lambda engine, day, report: engine.upload_day(day, report, previews_only=True))


def run(args: argparse.Namespace) -> int:
    from ams_actors.commands.common import bucket_one_shot

    got = bucket_one_shot(args, "sa", sync_previews)
    if isinstance(got, int):
        return got
    _config, days, report = got
    print(f"previews of {', '.join(days)}: uploaded {len(report.uploaded)}, {report.unchanged} unchanged, "
          f"{len(report.failed)} failed")
    return 1 if report.failed else 0
