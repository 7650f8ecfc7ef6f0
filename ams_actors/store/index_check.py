"""Is the daily meteor index what the archive says? The check and repair behind "the index cannot drift".

The archive (``meteor_archive/<ST>/METEOR/YYYY/MM/DD/<meteor id>.json``) is the truth and the daily
index derived from it. An index can fall behind when a MeteorVerified message is lost (a kill, a stop
with a full inbox); these functions find such days by comparing the meteor ids of both sides, which
costs one directory listing and one small gunzip per day, so every day can be checked at start and
once a day. A day that differs (or that the ledger marked changed) is rebuilt from the archive.

They run off the event loop (the Indexer uses a worker thread, so a station start does not need the
process pool) and do no logging: what they found comes back as values for the Indexer to log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ams_actors.store.index_files import IndexChange, archive_day_dir, rebuild_day
from ams_actors.store.local_paths import StationPaths
from protocols.errors import InputError
from protocols.meteor_index import SiteInfo, read_bounded_json

_DAY_FILE = re.compile(r"^(\d{4}_\d{2}_\d{2})-meteor_index\.json\.gz$")


@dataclass(frozen=True, slots=True)
class DayRepair:
    """One day whose index did not match its archive (or was marked changed) and was rebuilt."""

    day: str
    archive_ids: int  # meteor files in the archive folder
    index_ids: int  # entries the index held before (-1: no index or unreadable)
    change: IndexChange


def index_days(paths: StationPaths) -> list[str]:
    """Every day with an archive folder or a daily index file (either side may be the one missing)."""
    days: set[str] = set()
    meteor = paths.archive / "METEOR"
    for d in meteor.glob("[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]") if meteor.is_dir() else []:
        if d.is_dir():
            days.add(f"{d.parent.parent.name}_{d.parent.name}_{d.name}")
    mi = paths.archive / "DETECTS" / "MI"
    for f in mi.glob("[0-9][0-9][0-9][0-9]/*-meteor_index.json.gz") if mi.is_dir() else []:
        m = _DAY_FILE.match(f.name)
        if m:
            days.add(m.group(1))
    return sorted(days)


def _archive_ids(paths: StationPaths, day: str) -> set[str]:
    folder = archive_day_dir(paths, day)
    return {p.stem for p in folder.glob("*.json")} if folder.is_dir() else set()


def _index_ids(paths: StationPaths, day: str) -> set[str] | None:
    """The meteor ids of the day's index (empty: no index); None when it is unreadable. Only the ids
    are read, without the schema check of every entry (a year of busy days would take minutes): a
    damaged entry is caught by the next full decode, which rebuilds the day."""
    try:
        doc = read_bounded_json(paths.meteor_index(day).read_bytes(), str(paths.meteor_index(day)))
        return {str(m["meteor_id"]) for m in doc["meteors"]}
    except FileNotFoundError:
        return set()
    except (OSError, InputError, TypeError, KeyError):
        return None


def check_days(
    paths: StationPaths, site: SiteInfo, days: Iterable[str] | None = None, rebuild: Iterable[str] = ()
) -> list[DayRepair]:
    """Rebuild every day in ``rebuild`` and every day of ``days`` (None: all days) whose index ids are
    not the archive's; returns what was rebuilt (a rebuild that wrote nothing is still listed)."""
    forced = set(rebuild)
    out: list[DayRepair] = []
    for day in sorted(set(index_days(paths) if days is None else days) | forced):
        have = _archive_ids(paths, day)
        indexed = _index_ids(paths, day)
        if day not in forced and indexed is not None and indexed == have:
            continue
        change = rebuild_day(paths, day, site)
        out.append(DayRepair(day, len(have), -1 if indexed is None else len(indexed), change))
    return out
