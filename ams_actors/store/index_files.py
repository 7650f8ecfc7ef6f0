"""The station's meteor index files: daily (what the correlator reads) and a yearly roll-up.

Daily: ``meteor_archive/<STATION>/DETECTS/MI/YYYY/YYYY_MM_DD-meteor_index.json.gz`` in the format
of ``protocols.meteor_index`` (the station's site from its config, one entry per archived meteor).
Yearly: ``meteor_archive/<STATION>/DETECTS/MI/YYYY-meteor_index.json.gz``, the compact roll-up
described in :func:`year_doc` (no samples: it is for browsing a year, not for correlating).

Why the functions here take paths and do their own file I/O: they run in the station's process
pool (gzip + JSON + schema checks of a few hundred entries is tens of milliseconds, a rebuild of a
busy day or a year is seconds), so they must be module-level, picklable and self-contained. They
never log (a worker's log lines would not reach the station's handlers): problems come back as
strings in :class:`IndexChange` for the actor to log.

Equal content gives equal bytes (``encode_index`` is deterministic), so "changed" is a byte
comparison with the file on disk, and the Syncer's content hashes only move when something did.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ams_actors.runtime.files import atomic_write_bytes
from ams_actors.store.local_paths import StationPaths
from protocols.errors import InputError
from protocols.meteor_index import (
    MAX_DECOMPRESSED_BYTES,
    MeteorIndex,
    MeteorIndexEntry,
    SiteInfo,
    decode_index,
    encode_index,
    entry_from_meteor_json,
    format_utc_ms,
    read_bounded_json,
)
from protocols.pipeline_files import validate

YEAR_FORMAT = "ams-meteor-index-year"
YEAR_VERSION = 1
#: A meteor archive JSON is a few kB to a few hundred kB; anything far larger is not one of ours.
MAX_METEOR_JSON_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class IndexChange:
    """The outcome of an index update: was the file rewritten, how many meteors it holds, and the
    one-line problems met on the way (bad archive files skipped)."""

    path: Path
    changed: bool
    meteors: int
    problems: tuple[str, ...] = ()
    index: MeteorIndex | None = None  # the daily index now on disk, and the SHA-256 of its bytes:
    digest: str = ""  # the caller may hand both back to `add_meteor` to skip decoding the file again


def archive_day_dir(paths: StationPaths, day: str) -> Path:
    """``meteor_archive/<STATION>/METEOR/YYYY/MM/DD/`` (the capture day's archive folder)."""
    return paths.archive_meteor(day, "x").parent


def yearly_index_path(paths: StationPaths, year: int) -> Path:
    """``meteor_archive/<STATION>/DETECTS/MI/YYYY-meteor_index.json.gz`` (beside the year folders, so a
    glob for a year's daily files never picks it up)."""
    return paths.archive / "DETECTS" / "MI" / f"{year:04d}-meteor_index.json.gz"


def read_archive_meteor(path: Path, station_id: str) -> MeteorIndexEntry:
    """One archive meteor JSON → its index entry; InputError (naming file and field) if it is not valid
    against METEOR_SCHEMA or belongs to another station."""
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_METEOR_JSON_BYTES:
            raise InputError(source, None, f"{size} bytes, more than {MAX_METEOR_JSON_BYTES}")
        doc = json.loads(path.read_bytes())
    except OSError as err:
        raise InputError(source, None, f"unreadable: {err}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(source, None, f"not JSON: {err}") from None
    validate("meteor", doc, source)
    try:
        entry = entry_from_meteor_json(doc, source)
    except (ValueError, TypeError, KeyError) as err:  # content the schema leaves open (e.g. calibration)
        raise InputError(source, None, f"cannot index: {type(err).__name__}: {err}") from None
    if entry.station_id != station_id:
        raise InputError(source, "station", f"meteor of station {entry.station_id!r}, this is {station_id!r}")
    return entry


def read_index_file(path: Path) -> MeteorIndex | None:
    """The index on disk, None when there is none; InputError when it is corrupt."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise InputError(str(path), None, f"unreadable: {err}") from None
    return decode_index(data, str(path))


def write_if_changed(path: Path, data: bytes) -> bool:
    """Atomically write ``data`` unless the file already holds exactly these bytes."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    atomic_write_bytes(path, data)
    return True


def _write_index(paths: StationPaths, day: str, site: SiteInfo, entries: list[MeteorIndexEntry],
                 problems: list[str]) -> IndexChange:
    index = MeteorIndex(station_id=paths.station_id, day=day, site=site, meteors=tuple(entries))
    path = paths.meteor_index(day)
    data = encode_index(index)
    changed = write_if_changed(path, data)
    return IndexChange(path, changed, len(entries), tuple(problems), index, hashlib.sha256(data).hexdigest())


def add_meteor(
    paths: StationPaths,
    day: str,
    site: SiteInfo,
    archive_path: Path,
    known: MeteorIndex | None = None,
    known_digest: str = "",
) -> IndexChange:
    """Put one verified meteor into its day's index (replacing an older entry of the same id).

    ``known``/``known_digest`` (from the previous IndexChange of the day) spare decoding and
    schema-checking the whole file again when it still holds exactly those bytes — a busy night's
    index would otherwise be re-validated for every meteor. A corrupt index file is not patched: the
    day is rebuilt from the archive instead. A bad archive file leaves the index as it is and is
    reported as a problem.
    """
    path = paths.meteor_index(day)
    try:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            existing = None
        else:
            same = known is not None and known_digest == hashlib.sha256(data).hexdigest()
            existing = known if same else decode_index(data, str(path))
    except (InputError, OSError) as err:
        change = rebuild_day(paths, day, site)
        return IndexChange(change.path, change.changed, change.meteors, (f"{err}; rebuilt from the archive",
                                                                         *change.problems))
    entries = list(existing.meteors) if existing is not None else []
    try:
        entry = read_archive_meteor(archive_path, paths.station_id)
    except InputError as err:
        return IndexChange(path, False, len(entries), (f"{err}; not indexed",), existing,
                           known_digest if existing is known else "")
    entries = [e for e in entries if e.meteor_id != entry.meteor_id] + [entry]
    return _write_index(paths, day, site, entries, [])


def rebuild_day(paths: StationPaths, day: str, site: SiteInfo) -> IndexChange:
    """Recreate a day's index from the archive folder alone (``proc_index``-style repair)."""
    folder = archive_day_dir(paths, day)
    entries: list[MeteorIndexEntry] = []
    problems: list[str] = []
    seen: set[str] = set()
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            entry = read_archive_meteor(path, paths.station_id)
        except InputError as err:
            problems.append(f"{err}; not indexed")
            continue
        if entry.meteor_id in seen:
            problems.append(f"{path}: meteor id {entry.meteor_id!r} appears twice in the day; kept the first")
            continue
        seen.add(entry.meteor_id)
        entries.append(entry)
    return _write_index(paths, day, site, entries, problems)


# ---------------------------------------------------------------- yearly roll-up


def _compact(e: MeteorIndexEntry) -> dict[str, Any]:
    return {
        "meteor_id": e.meteor_id,
        "camera_id": e.camera_id,
        "start_utc": format_utc_ms(e.start_utc),
        "duration_s": e.duration_s,
        "begin": {"az": e.begin.az, "el": e.begin.el},
        "end": {"az": e.end.az, "el": e.end.el},
        "peak_mag": e.peak_mag,
        "peak_intensity": e.peak_intensity,
    }


def year_doc(station_id: str, year: int, site: SiteInfo, days: list[MeteorIndex]) -> dict[str, Any]:
    """The yearly roll-up: ``{"format": "ams-meteor-index-year", "version": 1, "station_id", "year",
    "site": {lat, lon, alt_m}, "days": [{"day", "meteors": [{meteor_id, camera_id, start_utc,
    duration_s, begin: {az, el}, end: {az, el}, peak_mag, peak_intensity}]}]}`` with days and meteors
    in time order."""
    return {
        "format": YEAR_FORMAT,
        "version": YEAR_VERSION,
        "station_id": station_id,
        "year": year,
        "site": {"lat": site.lat, "lon": site.lon, "alt_m": site.alt_m},
        "days": [
            {
                "day": idx.day,
                "meteors": [_compact(e) for e in sorted(idx.meteors, key=lambda e: (e.start_utc, e.meteor_id))],
            }
            for idx in sorted(days, key=lambda i: i.day)
        ],
    }


def rebuild_year(paths: StationPaths, year: int, site: SiteInfo) -> IndexChange:
    """Recreate the yearly roll-up from the year's daily index files."""
    folder = paths.archive / "DETECTS" / "MI" / f"{year:04d}"
    days: list[MeteorIndex] = []
    problems: list[str] = []
    for path in sorted(folder.glob(f"{year:04d}_??_??-meteor_index.json.gz")) if folder.is_dir() else []:
        try:
            idx = read_index_file(path)
        except InputError as err:
            problems.append(f"{err}; left out of the yearly roll-up")
            continue
        if idx is not None:
            days.append(idx)
    raw = json.dumps(year_doc(paths.station_id, year, site, days), sort_keys=True, separators=(",", ":")).encode()
    target = yearly_index_path(paths, year)
    changed = write_if_changed(target, gzip.compress(raw, compresslevel=6, mtime=0))
    return IndexChange(target, changed, sum(len(d.meteors) for d in days), tuple(problems))


def read_gzip_json(data: bytes, source: str, max_decompressed: int = MAX_DECOMPRESSED_BYTES) -> Any:
    """Bounded gunzip + JSON of bytes from anywhere (plain JSON accepted too); InputError if bad."""
    return read_bounded_json(data, source, max_compressed=len(data), max_decompressed=max_decompressed)
