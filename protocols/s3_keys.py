"""The shared bucket's key layout (design.md §5) as pure functions: build, parse, validate.

Every station, the correlator, the publisher and outside tools address the same keys, so they are
spelled in exactly one place. Parsing is strict: a key read from the bucket is untrusted (another
station wrote it), so ids must match ``^[A-Za-z0-9_.-]{1,64}$`` and must not be ``.`` or ``..``
(the pattern alone admits them, and they would climb out of a folder), dates must be real dates, and
:func:`local_path` proves a key maps inside a local root before anything is written there.

Layout::

    stations/<STATION>/meteors/YYYY/MM/DD/<meteor id>.json
    stations/<STATION>/index/YYYY/YYYY_MM_DD.json.gz
    stations/<STATION>/index/YYYY.json.gz
    stations/<STATION>/instance.json
    stations/<STATION>/previews/YYYY/MM/DD/<meteor id>-preview.jpg | <meteor id>-frame.jpg
    network/ms_detects/YYYY/YYYY_MM_DD/<STATION>.json.gz
    events/YYYY/YYYY_MM_DD/<EVENT_ID>/event.json | claim.json | obs.json
    events/YYYY/YYYY_MM_DD/<EVENT_ID>/solutions/e<epoch>-<STATION>.json
    events/YYYY/YYYY_MM_DD/index.json
    _probe/<STATION>/<uuid>
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal, TypeAlias

ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
EVENT_ID_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})_(\d{6})_(\d{3})(?:_[a-z]{1,2})?$")
PREVIEW_NAME_RE = re.compile(r"^([A-Za-z0-9_.-]{1,64})-(?:preview|frame)\.jpg$")
_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
_DAY_RE = re.compile(r"^(\d{4})_(\d{2})_(\d{2})$")

EventFileName = Literal["event.json", "claim.json", "obs.json"]
EVENT_FILES: tuple[EventFileName, ...] = ("event.json", "claim.json", "obs.json")


class InvalidId(ValueError):
    """An id (station, meteor, event, probe) that may not appear in a key."""


class InvalidKey(ValueError):
    """A key that is not part of the layout, or not safe to map to a local path."""


# ---------------------------------------------------------------------- validation


def validate_id(value: str, what: str = "id") -> str:
    """Return ``value`` if it is a legal id, else raise :class:`InvalidId` naming ``what``."""
    if not isinstance(value, str) or not ID_RE.fullmatch(value) or set(value) == {"."}:
        raise InvalidId(f"{what}: expected 1-64 characters of A-Z a-z 0-9 _ . - (not only dots), got {value!r}")
    return value


def validate_event_id(event_id: str) -> str:
    """An event id: ``YYYYMMDD_HHMMSS_mmm`` with an optional collision suffix (``_b``, ``_c``...)."""
    validate_id(event_id, "event id")
    m = EVENT_ID_RE.fullmatch(event_id)
    if not m:
        raise InvalidId(f"event id: expected YYYYMMDD_HHMMSS_mmm[_b], got {event_id!r}")
    try:
        date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise InvalidId(f"event id: {event_id!r} does not start with a real date") from None
    hh, mm, ss = int(m[4][:2]), int(m[4][2:4]), int(m[4][4:])
    if hh > 23 or mm > 59 or ss > 60:
        raise InvalidId(f"event id: {event_id!r} does not hold a real time of day")
    return event_id


def event_day(event_id: str) -> date:
    """The UTC date an event id starts with (the default day folder of the event)."""
    m = EVENT_ID_RE.fullmatch(validate_event_id(event_id))
    assert m is not None
    return date(int(m[1]), int(m[2]), int(m[3]))


def day_str(day: date) -> str:
    """``YYYY_MM_DD`` as used in keys and local folders."""
    return f"{day.year:04d}_{day.month:02d}_{day.day:02d}"


def parse_day(text: str) -> date:
    """Inverse of :func:`day_str`; :class:`InvalidKey` for anything else."""
    m = _DAY_RE.fullmatch(text)
    if not m:
        raise InvalidKey(f"expected YYYY_MM_DD, got {text!r}")
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise InvalidKey(f"not a real date: {text!r}") from None


def _check_epoch(epoch: int) -> int:
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 1:
        raise InvalidId(f"epoch: expected a positive integer, got {epoch!r}")
    return epoch


# ---------------------------------------------------------------------- builders


def station_prefix(station: str) -> str:
    """``stations/<STATION>/``: everything one station owns."""
    return f"stations/{validate_id(station, 'station id')}/"


def instance_key(station: str) -> str:
    """``stations/<S>/instance.json``: the running instance of this station id (protocols/instance.py)."""
    return station_prefix(station) + "instance.json"


def meteors_prefix(station: str, day: date | None = None) -> str:
    """``stations/<S>/meteors/`` or one day's ``stations/<S>/meteors/YYYY/MM/DD/``."""
    base = station_prefix(station) + "meteors/"
    return base if day is None else f"{base}{day.year:04d}/{day.month:02d}/{day.day:02d}/"


def meteor_key(station: str, day: date, meteor_id: str) -> str:
    """``stations/<S>/meteors/YYYY/MM/DD/<meteor id>.json``."""
    return f"{meteors_prefix(station, day)}{validate_id(meteor_id, 'meteor id')}.json"


def index_prefix(station: str) -> str:
    """``stations/<S>/index/``."""
    return station_prefix(station) + "index/"


def daily_index_key(station: str, day: date) -> str:
    """``stations/<S>/index/YYYY/YYYY_MM_DD.json.gz``."""
    return f"{index_prefix(station)}{day.year:04d}/{day_str(day)}.json.gz"


def yearly_index_key(station: str, year: int) -> str:
    """``stations/<S>/index/YYYY.json.gz``."""
    if not 1 <= year <= 9999:
        raise InvalidId(f"year: expected 1..9999, got {year!r}")
    return f"{index_prefix(station)}{year:04d}.json.gz"


def ms_detects_prefix(day: date) -> str:
    """``network/ms_detects/YYYY/YYYY_MM_DD/``."""
    return f"network/ms_detects/{day.year:04d}/{day_str(day)}/"


def ms_detects_key(day: date, station: str) -> str:
    """``network/ms_detects/YYYY/YYYY_MM_DD/<STATION>.json.gz``."""
    return f"{ms_detects_prefix(day)}{validate_id(station, 'station id')}.json.gz"


def events_day_prefix(day: date) -> str:
    """``events/YYYY/YYYY_MM_DD/``: one day's events (and its public index)."""
    return f"events/{day.year:04d}/{day_str(day)}/"


def day_index_key(day: date) -> str:
    """``events/YYYY/YYYY_MM_DD/index.json``: the publisher's public day index."""
    return events_day_prefix(day) + "index.json"


def event_prefix(event_id: str, day: date | None = None) -> str:
    """``events/YYYY/YYYY_MM_DD/<EVENT_ID>/``; the day defaults to the event id's date."""
    validate_event_id(event_id)
    return f"{events_day_prefix(day or event_day(event_id))}{event_id}/"


def event_file_key(event_id: str, name: EventFileName, day: date | None = None) -> str:
    """``events/.../<EVENT_ID>/{event,claim,obs}.json``."""
    if name not in EVENT_FILES:
        raise InvalidKey(f"event file must be one of {EVENT_FILES}, got {name!r}")
    return event_prefix(event_id, day) + name


def event_key(event_id: str, day: date | None = None) -> str:
    """``events/.../<EVENT_ID>/event.json`` (members and revision; written by the correlator)."""
    return event_file_key(event_id, "event.json", day)


def claim_key(event_id: str, day: date | None = None) -> str:
    """``events/.../<EVENT_ID>/claim.json`` (the checkout record of design.md §6)."""
    return event_file_key(event_id, "claim.json", day)


def obs_key(event_id: str, day: date | None = None) -> str:
    """``events/.../<EVENT_ID>/obs.json`` (solver input, written by the claimant)."""
    return event_file_key(event_id, "obs.json", day)


def solutions_prefix(event_id: str, day: date | None = None) -> str:
    """``events/.../<EVENT_ID>/solutions/``."""
    return event_prefix(event_id, day) + "solutions/"


def solution_key(event_id: str, epoch: int, station: str, day: date | None = None) -> str:
    """``events/.../<EVENT_ID>/solutions/e<epoch>-<STATION>.json`` (fenced by the claim epoch)."""
    return f"{solutions_prefix(event_id, day)}e{_check_epoch(epoch)}-{validate_id(station, 'station id')}.json"


def probe_prefix(station: str) -> str:
    """``_probe/<STATION>/``."""
    return f"_probe/{validate_id(station, 'station id')}/"


def probe_key(station: str, probe_id: str) -> str:
    """``_probe/<STATION>/<uuid>``: start-up probe scratch key."""
    return probe_prefix(station) + validate_id(probe_id, "probe id")


ARCHIVE_FILES: tuple[str, ...] = ("obs.json", "solution.json")
ARCHIVE_RUN_FILES: tuple[str, ...] = ("manifest.json", "summary.txt")


def archive_prefix(run_id: str) -> str:
    """``archive/<RUN ID>/``: one archive re-solve run (never touches ``events/``)."""
    return f"archive/{validate_id(run_id, 'archive run id')}/"


def archive_event_key(run_id: str, event_id: str, name: str) -> str:
    """``archive/<RUN>/events/YYYY/YYYY_MM_DD/<EVENT_ID>/{obs,solution}.json`` of an archive run."""
    if name not in ARCHIVE_FILES:
        raise InvalidKey(f"archive event file must be one of {ARCHIVE_FILES}, got {name!r}")
    return archive_prefix(run_id) + event_prefix(event_id) + name


def archive_run_file_key(run_id: str, name: str) -> str:
    """``archive/<RUN>/{manifest.json,summary.txt}``: the run's manifest and GMN summary."""
    if name not in ARCHIVE_RUN_FILES:
        raise InvalidKey(f"archive run file must be one of {ARCHIVE_RUN_FILES}, got {name!r}")
    return archive_prefix(run_id) + name


def archive_day_rows_key(run_id: str, day: date) -> str:
    """``archive/<RUN>/days/YYYY_MM_DD.txt``: a completed day's summary rows (the run's summary.txt is
    their concatenation, so a resumed run need not read every solution again)."""
    return f"{archive_prefix(run_id)}days/{day_str(day)}.txt"


def previews_prefix(station: str, day: date | None = None) -> str:
    """``stations/<S>/previews/`` or one day's ``stations/<S>/previews/YYYY/MM/DD/``."""
    base = station_prefix(station) + "previews/"
    return base if day is None else f"{base}{day.year:04d}/{day.month:02d}/{day.day:02d}/"


def validate_preview_name(name: str) -> str:
    """``<meteor id>-preview.jpg`` or ``<meteor id>-frame.jpg`` (pipeline_files.preview_names)."""
    m = PREVIEW_NAME_RE.fullmatch(name) if isinstance(name, str) else None
    if m is None:
        raise InvalidId(f"preview name {name!r} is not <meteor id>-preview.jpg or <meteor id>-frame.jpg")
    validate_id(m[1], "meteor id")
    return name


def preview_key(station: str, day: date, name: str) -> str:
    """``stations/<S>/previews/YYYY/MM/DD/<meteor id>-preview.jpg`` (or ``-frame.jpg``)."""
    return f"{previews_prefix(station, day)}{validate_preview_name(name)}"


# ---------------------------------------------------------------------- parsed keys


@dataclass(frozen=True, slots=True)
class PreviewKey:
    station: str
    day: date
    name: str

    @property
    def key(self) -> str:
        return preview_key(self.station, self.day, self.name)


@dataclass(frozen=True, slots=True)
class MeteorKey:
    station: str
    day: date
    meteor_id: str

    @property
    def key(self) -> str:
        return meteor_key(self.station, self.day, self.meteor_id)


@dataclass(frozen=True, slots=True)
class DailyIndexKey:
    station: str
    day: date

    @property
    def key(self) -> str:
        return daily_index_key(self.station, self.day)


@dataclass(frozen=True, slots=True)
class YearlyIndexKey:
    station: str
    year: int

    @property
    def key(self) -> str:
        return yearly_index_key(self.station, self.year)


@dataclass(frozen=True, slots=True)
class MsDetectsKey:
    day: date
    station: str

    @property
    def key(self) -> str:
        return ms_detects_key(self.day, self.station)


@dataclass(frozen=True, slots=True)
class EventFileKey:
    day: date
    event_id: str
    name: EventFileName

    @property
    def key(self) -> str:
        return event_file_key(self.event_id, self.name, self.day)


@dataclass(frozen=True, slots=True)
class SolutionKey:
    day: date
    event_id: str
    epoch: int
    station: str

    @property
    def key(self) -> str:
        return solution_key(self.event_id, self.epoch, self.station, self.day)


@dataclass(frozen=True, slots=True)
class DayIndexKey:
    day: date

    @property
    def key(self) -> str:
        return day_index_key(self.day)


@dataclass(frozen=True, slots=True)
class ProbeKey:
    station: str
    probe_id: str

    @property
    def key(self) -> str:
        return probe_key(self.station, self.probe_id)


@dataclass(frozen=True, slots=True)
class ArchiveEventKey:
    run_id: str
    event_id: str
    name: str

    @property
    def key(self) -> str:
        return archive_event_key(self.run_id, self.event_id, self.name)


@dataclass(frozen=True, slots=True)
class ArchiveRunFileKey:
    run_id: str
    name: str

    @property
    def key(self) -> str:
        return archive_run_file_key(self.run_id, self.name)


@dataclass(frozen=True, slots=True)
class ArchiveDayRowsKey:
    run_id: str
    day: date

    @property
    def key(self) -> str:
        return archive_day_rows_key(self.run_id, self.day)


@dataclass(frozen=True, slots=True)
class InstanceKey:
    station: str

    @property
    def key(self) -> str:
        return instance_key(self.station)


ParsedKey: TypeAlias = (
    MeteorKey | DailyIndexKey | YearlyIndexKey | MsDetectsKey | EventFileKey | SolutionKey | DayIndexKey | ProbeKey
    | InstanceKey | PreviewKey | ArchiveEventKey | ArchiveRunFileKey | ArchiveDayRowsKey
)

_SOLUTION_RE = re.compile(r"^e([1-9][0-9]{0,17})-(.+)\.json$")


def _ymd(yyyy: str, mm: str, dd: str, key: str) -> date:
    if not (len(yyyy) == 4 and len(mm) == 2 and len(dd) == 2 and (yyyy + mm + dd).isdigit()):
        raise InvalidKey(f"{key!r}: expected YYYY/MM/DD")
    try:
        return date(int(yyyy), int(mm), int(dd))
    except ValueError:
        raise InvalidKey(f"{key!r}: not a real date") from None


def _day_folder(year: str, folder: str, key: str) -> date:
    day = parse_day(folder)
    if f"{day.year:04d}" != year:
        raise InvalidKey(f"{key!r}: year folder {year} does not match {folder}")
    return day


def _strip(name: str, suffix: str, key: str) -> str:
    if not name.endswith(suffix) or len(name) == len(suffix):
        raise InvalidKey(f"{key!r}: expected a name ending in {suffix}")
    return name[: -len(suffix)]


def parse_key(key: str) -> ParsedKey:
    """Parse any key of the layout into its typed form; :class:`InvalidKey` for anything else.

    Ids inside are validated, so a parsed key is safe to use in local paths and log lines.
    ``parse_key(k).key == k`` for every valid key (keys have exactly one spelling).
    """
    if not isinstance(key, str):
        raise InvalidKey(f"key must be a string, got {type(key).__name__}")
    parts = key.split("/")
    try:
        result = _parse_parts(parts, key)
    except InvalidId as e:
        raise InvalidKey(f"{key!r}: {e}") from None
    if result.key != key:  # e.g. a day folder in another year's spelling
        raise InvalidKey(f"{key!r}: not in canonical form (expected {result.key!r})")
    return result


def _parse_parts(parts: list[str], key: str) -> ParsedKey:
    n = len(parts)
    head = parts[0]
    if head == "stations" and n == 3 and parts[2] == "instance.json":
        return InstanceKey(validate_id(parts[1], "station id"))
    if head == "stations" and n >= 4:
        station = validate_id(parts[1], "station id")
        if parts[2] == "meteors" and n == 7:
            return MeteorKey(
                station,
                _ymd(parts[3], parts[4], parts[5], key),
                validate_id(_strip(parts[6], ".json", key), "meteor id"),
            )
        if parts[2] == "previews" and n == 7:
            return PreviewKey(station, _ymd(parts[3], parts[4], parts[5], key), validate_preview_name(parts[6]))
        if parts[2] == "index" and n == 5:
            return DailyIndexKey(station, _day_folder(parts[3], _strip(parts[4], ".json.gz", key), key))
        if parts[2] == "index" and n == 4:
            year = _strip(parts[3], ".json.gz", key)
            if len(year) != 4 or not year.isdigit():
                raise InvalidKey(f"{key!r}: expected index/YYYY.json.gz")
            return YearlyIndexKey(station, int(year))
    elif head == "network" and n == 5 and parts[1] == "ms_detects":
        return MsDetectsKey(
            _day_folder(parts[2], parts[3], key), validate_id(_strip(parts[4], ".json.gz", key), "station id")
        )
    elif head == "events" and n >= 4:
        day = _day_folder(parts[1], parts[2], key)
        if n == 4 and parts[3] == "index.json":
            return DayIndexKey(day)
        event_id = validate_event_id(parts[3])
        if n == 5 and parts[4] in EVENT_FILES:
            name: EventFileName = (
                "event.json" if parts[4] == "event.json" else ("claim.json" if parts[4] == "claim.json" else "obs.json")
            )
            return EventFileKey(day, event_id, name)
        if n == 6 and parts[4] == "solutions":
            m = _SOLUTION_RE.fullmatch(parts[5])
            if not m:
                raise InvalidKey(f"{key!r}: expected solutions/e<epoch>-<STATION>.json")
            return SolutionKey(day, event_id, int(m[1]), validate_id(m[2], "station id"))
    elif head == "archive" and n == 3 and parts[2] in ARCHIVE_RUN_FILES:
        return ArchiveRunFileKey(validate_id(parts[1], "archive run id"), parts[2])
    elif head == "archive" and n == 4 and parts[2] == "days":
        return ArchiveDayRowsKey(validate_id(parts[1], "archive run id"), parse_day(_strip(parts[3], ".txt", key)))
    elif head == "archive" and n == 7 and parts[2] == "events" and parts[6] in ARCHIVE_FILES:
        _day_folder(parts[3], parts[4], key)
        return ArchiveEventKey(validate_id(parts[1], "archive run id"), validate_event_id(parts[5]), parts[6])
    elif head == "_probe" and n == 3:
        return ProbeKey(validate_id(parts[1], "station id"), validate_id(parts[2], "probe id"))
    raise InvalidKey(f"{key!r} is not a key of the bucket layout")


# ---------------------------------------------------------------------- local mapping


def local_path(root: Path | str, key: str, *, strip_prefix: str = "") -> Path:
    """Map a bucket key (minus ``strip_prefix``) to a path that is provably inside ``root``.

    A key read from the bucket is written by another machine: ``..`` segments, absolute paths,
    backslashes, empty segments, control characters or a symlink inside ``root`` pointing out would
    let it write anywhere. Every segment must match ``[A-Za-z0-9_.-]+`` and not be ``.``/``..``, and
    the resolved result must lie under the resolved root; otherwise :class:`InvalidKey`.
    """
    if not isinstance(key, str) or not key:
        raise InvalidKey("empty key")
    if strip_prefix:
        if not key.startswith(strip_prefix):
            raise InvalidKey(f"{key!r} is not under {strip_prefix!r}")
        key = key[len(strip_prefix) :]
    if not key or key.startswith("/"):
        raise InvalidKey(f"{key!r}: absolute or empty key")
    parts = key.split("/")
    for part in parts:
        if part in ("", ".", "..") or not _SEGMENT_RE.fullmatch(part):
            raise InvalidKey(f"{key!r}: unsafe path segment {part!r}")
    base = Path(root).resolve()
    target = base.joinpath(*parts)
    if not target.resolve().is_relative_to(base):
        raise InvalidKey(f"{key!r} resolves outside {base}")
    return target
