"""One correlation run against the bucket (the Correlator actor and ``ams run_detects``).

1. Read every station's daily index of the run's days (``stations/<S>/index/YYYY/YYYY_MM_DD.json.gz``;
   the stations are the folders under ``stations/``), bounded in size.
2. In the process pool: validate each index (a bad one is skipped with one log line naming its key)
   and run the pure correlator kernel over all of them together, so a meteor at midnight pairs
   across two capture days.
3. Read the stored events of the days around (``events/YYYY/YYYY_MM_DD/*/event.json``, with ETags)
   and ``protocols.events.reconcile`` them with what was found: stable ids, revisions for events that
   gained members, supersessions for merged ones.
4. Write new events with ``If-None-Match: *`` and changed ones with ``If-Match: <etag>``. Any refusal
   means another correlator wrote first: read the events again and reconcile again. Because
   reconcile is a join over the stored events and the groups found, every round converges on the
   same events, so two correlators at once produce one set (design.md §5).
5. Write each participating station's ``network/ms_detects/…/<STATION>.json.gz`` as a
   compare-and-swap merge (``ms_detects.merge``), so a slower correlator can never take an entry
   back to an older revision.

Nothing here blocks the loop: decoding thousands of index entries (schema checks) and the kernel run
in the executor; the loop only moves bytes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from ams_actors.netsync.downloads import check_event, check_index, check_ms_detects, get_bounded
from ams_actors.runtime.pool import run_cpu
from ams_actors.store.outcomes import Created, NotFound, Replaced
from protocols import ms_detects
from protocols.errors import InputError
from protocols.events import MAX_EVENT_BYTES, Event, EventMember, encode_event, member_from_entry, reconcile
from protocols.meteor_index import MAX_COMPRESSED_BYTES as MAX_INDEX_BYTES
from protocols.meteor_index import MeteorIndex
from protocols.s3_keys import (
    EventFileKey,
    InvalidId,
    InvalidKey,
    daily_index_key,
    day_str,
    event_key,
    events_day_prefix,
    ms_detects_key,
    parse_day,
    parse_key,
    validate_id,
)

log = logging.getLogger("ams.network.correlation")

MAX_ROUNDS = 8


# ---------------------------------------------------------------- pool jobs (pure, picklable)


@dataclass(frozen=True, slots=True)
class FoundGroups:
    """What the pool job returns: groups of members found, where each loaded meteor came from, the
    stations and meteors loaded, the indexes it decoded (key, ETag, index or None when bad, for the
    caller's cache), and one line per skipped index."""

    groups: tuple[tuple[EventMember, ...], ...]
    capture_day: dict[tuple[str, str], str]
    stations: tuple[str, ...]
    meteors: int
    decoded: tuple[tuple[str, str, MeteorIndex | None], ...]
    problems: tuple[str, ...]


def correlate_indexes(
    known: Sequence[tuple[str, MeteorIndex]],
    raw: Sequence[tuple[str, bytes, str, str, str]],
    params: Any = None,
) -> FoundGroups:
    """Validate the ``raw`` ``(key, bytes, etag, station, day)`` indexes, then correlate their meteors
    together with the already validated ``known`` ``(day, index)`` ones."""
    from ams_actors.kernels.correlate import Site, correlate, observation_from_entry

    problems: list[str] = []
    decoded: list[tuple[str, str, MeteorIndex | None]] = []
    loaded = list(known)
    for key, data, etag, station, day in raw:
        try:
            idx = check_index(data, key, station, day)
        except InputError as err:
            problems.append(f"skipped {err}")
            decoded.append((key, etag, None))
            continue
        decoded.append((key, etag, idx))
        loaded.append((day, idx))
    entries = []
    capture_day: dict[tuple[str, str], str] = {}
    sites: dict[str, Site] = {}
    for day, idx in sorted(loaded, key=lambda di: (di[0], di[1].station_id)):
        s = idx.site
        sites.setdefault(idx.station_id, Site(s.lat, s.lon, s.alt_m, s.clock_sigma_s))
        for e in idx.meteors:
            if (e.station_id, e.meteor_id) in capture_day:
                continue  # the same meteor in two days' indexes: the first (earlier day) counts
            capture_day[(e.station_id, e.meteor_id)] = day
            entries.append(e)
    result = correlate([observation_from_entry(e) for e in entries], sites, params)
    groups = tuple(
        tuple(
            member_from_entry(entries[i])
            for i in ev.members
        )
        for ev in result.events
    )
    return FoundGroups(groups, capture_day, tuple(sorted(sites)), len(entries), tuple(decoded), tuple(problems))


def decode_events(
    items: Sequence[tuple[str, bytes, str, str]],
) -> tuple[list[tuple[Event, str]], list[tuple[str, str]], list[str]]:
    """Validate stored ``(key, bytes, etag, event id)`` events: the good ones with their ETags, the
    (key, ETag) of the bad ones, and one problem line per bad one."""
    out: list[tuple[Event, str]] = []
    bad: list[tuple[str, str]] = []
    problems: list[str] = []
    for key, data, etag, event_id in items:
        try:
            out.append((check_event(data, key, event_id), etag))
        except InputError as err:
            bad.append((key, etag))
            problems.append(f"skipped {err}")
    return out, bad, problems


# ---------------------------------------------------------------- the run


@dataclass(slots=True)
class CorrelationReport:
    days: tuple[str, ...]
    stations: tuple[str, ...] = ()
    meteors: int = 0
    events: list[Event] = field(default_factory=list)  # active events with a member loaded in this run
    created: list[str] = field(default_factory=list)
    revised: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)
    ms_detects_written: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    rounds: int = 0

    def summary(self) -> str:
        return (
            f"days {', '.join(self.days)}: {len(self.stations)} station index(es), {self.meteors} meteors, "
            f"{len(self.events)} event(s): {len(self.created)} new, {len(self.revised)} revised, "
            f"{len(self.superseded)} superseded; {len(self.ms_detects_written)} ms_detects written"
            + (f"; {len(self.problems)} file(s) skipped" if self.problems else "")
            + (f"; {self.rounds} rounds (another correlator wrote concurrently)" if self.rounds > 1 else "")
        )


class NetworkCorrelator:
    """Correlates the bucket's station indexes into events. One instance per store, kept between runs
    (it caches the validated indexes by ETag); one run at a time."""

    def __init__(
        self,
        store: Any,
        executor: Executor | None = None,
        *,
        params: Any = None,
        concurrency: int = 8,
        logger: logging.Logger | None = None,
    ) -> None:
        self.store = store
        self.executor = executor
        self.params = params
        self.concurrency = max(1, concurrency)
        self.log = logger or log
        # key -> (ETag, validated content or None when bad): unchanged objects are not read again
        self._index_cache: dict[str, tuple[str, MeteorIndex | None]] = {}
        self._event_cache: dict[str, tuple[str, Event | None]] = {}

    def _problem(self, report: CorrelationReport, line: str) -> None:
        report.problems.append(line)
        self.log.warning("%s", line)

    async def _gather(self, coros: Iterable[Any]) -> list[Any]:
        sem = asyncio.Semaphore(self.concurrency)

        async def one(c: Any) -> Any:
            async with sem:
                return await c

        return list(await asyncio.gather(*(one(c) for c in coros)))

    # -- reading ---------------------------------------------------------------------------------
    async def stations(self, report: CorrelationReport) -> list[str]:
        """Station ids under ``stations/`` (a folder whose name is not a valid id is skipped)."""
        out = []
        for prefix in await self.store.list_prefixes("stations/"):
            name = prefix[len("stations/") :].rstrip("/")
            try:
                out.append(validate_id(name, "station id"))
            except InvalidId as err:
                self._problem(report, f"skipped stations/{name[:80]!r}: {err}")
        return sorted(out)

    async def fetch_indexes(
        self, days: Sequence[str], report: CorrelationReport
    ) -> tuple[list[tuple[str, MeteorIndex]], list[tuple[str, bytes, str, str, str]]]:
        """(day, index) pairs still valid from the cache, and (key, bytes, etag, station, day) to decode.

        A HEAD first for an index seen before: one whose ETag has not changed since the last run is
        neither downloaded nor validated again (a 500-meteor index takes ~0.4 s of schema checks; a network-day of them
        would take minutes every run). A bad one is reported once per version.
        """
        stations = await self.stations(report)
        known: list[tuple[str, MeteorIndex]] = []
        raw: list[tuple[str, bytes, str, str, str]] = []

        async def one(station: str, day: str) -> None:
            key = daily_index_key(station, parse_day(day))
            cached = self._index_cache.get(key)
            if cached is not None:
                head = await self.store.head(key)
                if isinstance(head, NotFound):
                    self._index_cache.pop(key, None)
                    return
                if cached[0] == head.etag:
                    if cached[1] is not None:
                        known.append((day, cached[1]))
                    return
            try:  # nothing cached: a GET says as much as a HEAD would, in one request
                got = await get_bounded(self.store, key, MAX_INDEX_BYTES)
            except InputError as err:
                head = await self.store.head(key)
                if not isinstance(head, NotFound):
                    self._index_cache[key] = (head.etag, None)
                self._problem(report, f"skipped {err}")
                return
            if got is None:
                self._index_cache.pop(key, None)
            else:
                raw.append((key, got.body, got.etag, station, day))

        await self._gather(one(s, d) for s in stations for d in days)
        return known, raw

    def keep_indexes(self, keep: Callable[[str], bool]) -> None:
        """Forget the cached indexes whose key ``keep`` refuses (a long-lived correlator walking
        through an archive keeps only the days around the one in hand)."""
        for key in [k for k in self._index_cache if not keep(k)]:
            del self._index_cache[key]

    def cached_indexes(self, days: Collection[str]) -> list[tuple[str, str, MeteorIndex]]:
        """``(key, ETag, index)`` of every valid index of ``days`` as the last :meth:`find` saw them."""
        return [(key, etag, idx) for key, (etag, idx) in sorted(self._index_cache.items())
                if idx is not None and idx.day in days]

    async def find(self, days: Sequence[str], report: CorrelationReport) -> FoundGroups:
        known, raw = await self.fetch_indexes(days, report)
        found = await run_cpu(self.executor, correlate_indexes, known, raw, self.params)
        for key, etag, idx in found.decoded:
            self._index_cache[key] = (etag, idx)
        for line in found.problems:
            self._problem(report, line)
        report.stations, report.meteors = found.stations, found.meteors
        return found

    async def read_events(self, folder_days: Iterable[date], report: CorrelationReport) -> dict[str, tuple[Event, str]]:
        """Stored events of the given day folders: id → (event, ETag).

        The listing carries each object's ETag, so an event unchanged since the last run is taken from
        the cache without a GET (every run reads several days of events; most never change).
        """
        out: dict[str, tuple[Event, str]] = {}
        todo: list[tuple[str, str]] = []
        for d in sorted(set(folder_days)):
            async for info in self.store.list_objects(events_day_prefix(d)):
                key = info.key
                if not key.endswith("/event.json"):
                    continue
                cached = self._event_cache.get(key)
                if cached is not None and cached[0] == info.etag:
                    if cached[1] is not None:
                        out[cached[1].event_id] = (cached[1], info.etag)
                    continue
                try:
                    parsed = parse_key(key)
                except InvalidKey as err:
                    self._event_cache[key] = (info.etag, None)
                    self._problem(report, f"skipped {key[:200]!r}: {err}")
                    continue
                assert isinstance(parsed, EventFileKey)
                if key != event_key(parsed.event_id):
                    self._event_cache[key] = (info.etag, None)
                    self._problem(report, f"skipped {key}: not in the folder of its id's date")
                    continue
                todo.append((key, parsed.event_id))

        async def one(key: str, event_id: str) -> tuple[str, bytes, str, str] | None:
            try:
                got = await get_bounded(self.store, key, MAX_EVENT_BYTES)
            except InputError as err:
                self._problem(report, f"skipped {err}")
                return None
            return None if got is None else (key, got.body, got.etag, event_id)

        items = [i for i in await self._gather(one(k, e) for k, e in todo) if i is not None]
        decoded, bad, problems = await run_cpu(self.executor, decode_events, items)
        for line in problems:
            self._problem(report, line)
        for key, etag in bad:
            self._event_cache[key] = (etag, None)
        for ev, etag in decoded:
            self._event_cache[event_key(ev.event_id)] = (etag, ev)
            out[ev.event_id] = (ev, etag)
        return out

    # -- writing ---------------------------------------------------------------------------------
    async def _write_event(self, ev: Event, etag: str | None) -> tuple[Event, str] | None:
        """Create (etag None) or compare-and-swap one event; None when another writer got there first."""
        key = event_key(ev.event_id)
        body = encode_event(ev)
        if etag is None:
            out = await self.store.put(key, body, if_none_match="*", content_type="application/json")
        else:
            out = await self.store.put(key, body, if_match=etag, content_type="application/json")
        if isinstance(out, Created | Replaced):
            self._event_cache[key] = (out.etag, ev)
            return ev, out.etag
        self.log.info("event %s: %s; another correlator wrote it, reconciling again", key, type(out).__name__)
        return None

    async def write_ms_detects(self, mine: ms_detects.MsDetects, report: CorrelationReport) -> bool:
        """Compare-and-swap merge of one station's ms_detects; True when the stored file changed."""
        key = ms_detects_key(parse_day(mine.day), mine.station_id)
        for _ in range(MAX_ROUNDS):
            try:
                got = await get_bounded(self.store, key, ms_detects.MAX_COMPRESSED_BYTES)
            except InputError as err:
                got = None
                self._problem(report, f"replacing {err}")
            merged, etag = mine, None
            if got is not None:
                etag = got.etag
                try:
                    merged = ms_detects.merge(check_ms_detects(got.body, key, mine.station_id, mine.day), mine)
                except InputError as err:
                    self._problem(report, f"replacing {err}")
            body = ms_detects.encode(merged)
            if got is not None and got.body == body:
                return False
            if etag is None:
                out = await self.store.put(key, body, if_none_match="*", content_type="application/gzip")
            else:
                out = await self.store.put(key, body, if_match=etag, content_type="application/gzip")
            if isinstance(out, Created | Replaced):
                return True
        self._problem(report, f"gave up writing {key}: it kept changing under {MAX_ROUNDS} attempts")
        return False

    async def run(self, days: Sequence[str], *, write: bool = True) -> CorrelationReport:
        """Correlate ``days`` (``YYYY_MM_DD``) together; write events and ms_detects unless ``write``
        is False (a dry run reports what would be written)."""
        days = tuple(sorted({day_str(parse_day(d)) for d in days}))
        report = CorrelationReport(days=days)
        found = await self.find(days, report)
        folders = {parse_day(d) + timedelta(days=k) for d in days for k in (-1, 0, 1)}
        stored: dict[str, tuple[Event, str]] = {}
        created: set[str] = set()
        revised: set[str] = set()
        superseded: set[str] = set()
        for rnd in range(1, MAX_ROUNDS + 1):
            report.rounds = rnd
            stored = await self.read_events(folders, report)
            rec = reconcile([ev for ev, _ in stored.values()], found.groups)
            if not write:
                created |= {e.event_id for e in rec.new}
                revised |= {e.event_id for e in rec.revised}
                superseded |= {e.event_id for e in rec.superseded}
                for ev in rec.to_write:
                    stored[ev.event_id] = (ev, "")
                break
            jobs = [self._write_event(ev, None) for ev in rec.new]
            jobs += [self._write_event(ev, stored[ev.event_id][1]) for ev in rec.revised + rec.superseded]
            results = await self._gather(jobs)
            for ev, res in zip(rec.to_write, results, strict=True):
                if res is None:
                    continue
                stored[ev.event_id] = res
                (created if ev in rec.new else superseded if ev.superseded_by else revised).add(ev.event_id)
            if all(r is not None for r in results):
                break
        else:
            self._problem(
                report, f"events of {', '.join(days)} kept changing under {MAX_ROUNDS} rounds; left for the next run"
            )
        report.created, report.revised, report.superseded = sorted(created), sorted(revised), sorted(superseded)
        final = [ev for ev, _ in stored.values()]
        report.events = sorted(
            (e for e in final if e.superseded_by is None and any(m.key in found.capture_day for m in e.members)),
            key=lambda e: e.event_id,
        )
        if write:
            per_station = ms_detects.from_events(final, found.capture_day)
            todo = [per_station[k] for k in sorted(per_station)]
            written = await self._gather(self.write_ms_detects(ms, report) for ms in todo)
            report.ms_detects_written = [f"{ms.station_id}/{ms.day}" for ms, w in zip(todo, written, strict=True) if w]
        return report


def default_days(today: date) -> list[str]:
    """Today and yesterday (by the caller's clock), the days whose indexes still change."""
    return [day_str(today - timedelta(days=1)), day_str(today)]
