"""Publisher (role "publisher"): keeps `events/YYYY/YYYY_MM_DD/index.json`, the public day list of solved events.

What the index says comes only from the claim protocol (design.md §6): an event is listed when its
`claim.json` is `solved`, with the solution that `accepted_solution_key` names (the claim's own epoch
and owner), so a zombie's late upload under an old epoch can never be published.

Why it is built the way it is:
- The index is a *join*: a map event_id → entry, merged per event by the highest (epoch, revision)
  and then by the entry's canonical bytes. Claim epochs only grow, so a higher epoch is always the
  newer accepted solution; the merge is commutative, associative and idempotent, so any number of
  publishers writing in any order converge to the same index, and every event is listed once.
  Entries are never removed by a merge: an event whose claim went stale keeps its last accepted
  solution listed (with its revision) until the re-solve is accepted at a higher epoch.
- Writes are conditional: `If-None-Match: *` when there is no index, `If-Match: etag` afterwards; on
  412/404/409 (or a lost answer) the index is read again and merged, so a concurrent publisher's
  entries are kept. Nothing is written when the merged entries equal the stored ones, so two
  publishers do not ping-pong and a quiet day costs one listing and one GET per pass.
- One listing of the day prefix gives every claim's ETag: a claim is re-read only when its ETag
  changed, and its solution only then (solutions are written once, with `If-None-Match`).
- Everything read from the bucket is a partner's file: size-limited, schema-checked, ids checked;
  a bad one is logged once (per ETag) and skipped, never fatal.

Format (``format: "ams-day-index"``, ``version: 1``; events sorted by id, each listed once)::

    {"format": "ams-day-index", "version": 1, "day": "2026_07_12", "count": 1,
     "updated_at": "...", "updated_by": "<publisher station>",
     "events": [{"event_id": "20260712_221506_355", "revision": 1, "stations": ["AMS1", "AMS2"],
                 "status": "solved", "begin_alt_m": 98765.4, "end_alt_m": 81234.5, "v_init_m_s": 30000.0,
                 "radiant": {"ra_deg": ..., "dec_deg": ...}, "v_g_m_s": ..., "orbit": {"a_au", "e", "i_deg",
                 "q_au"} | null, "t_begin_utc": ..., "solution_key": "events/.../solutions/e1-AMS1.json",
                 "epoch": 1, "solved_by": "AMS1", "solved_at": "<claim updated_at>"}]}

``status`` is the solution's (a claim is also marked solved when the solve failed: listed as "failed").
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from ams_actors.actors.base import StationActor, StationContext
from ams_actors.runtime.actor import Publish
from protocols import claims as c
from protocols import s3_keys
from protocols.errors import InputError
from protocols.messages import TaskResult

INDEX_FORMAT = "ams-day-index"
INDEX_VERSION = 1
DEFAULT_INTERVAL_S = 300.0
MAX_SOLUTION_BYTES = 1024 * 1024
MAX_INDEX_BYTES = 16 * 1024 * 1024
MAX_WRITE_ATTEMPTS = 8

_ENTRY_KEYS = frozenset(
    {
        "event_id", "revision", "stations", "status", "begin_alt_m", "end_alt_m", "v_init_m_s", "radiant",
        "v_g_m_s", "orbit", "t_begin_utc", "solution_key", "epoch", "solved_by", "solved_at",
    }
)


@dataclass(slots=True)
class DayResult:
    """What one pass over a day did (for logs, `run publish` and tests)."""

    day: str
    listed: int = 0  # events in the index after the pass
    written: bool = False
    unchanged: bool = False
    merges: int = 0  # times the stored index moved under us and was re-read and merged
    skipped: list[str] = field(default_factory=list)  # partner files that were bad (logged)
    superseded: list[str] = field(default_factory=list)  # solved events merged into another: not listed
    poor: list[str] = field(default_factory=list)  # events solved, but flagged poor: not listed
    error: str = ""


@dataclass(slots=True)
class _Cached:
    etag: str
    entry: dict[str, Any] | None  # None: not listable (not solved, or a bad partner file)


def _num(x: Any, ndigits: int) -> float | None:
    """A finite JSON number rounded for the public file, else None (bool is not a number)."""
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        return None
    return round(float(x), ndigits)


def entry_from(rec: c.ClaimRecord, solution_key: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The public summary of one accepted solution: a pure function of the solved claim and solution,
    so every publisher derives byte-identical entries."""
    begin, end = doc.get("begin") or {}, doc.get("end") or {}
    radiant, orbit = doc.get("radiant"), doc.get("orbit")
    return {
        "event_id": rec.event_id,
        "revision": rec.event_revision,
        "stations": sorted(str(s) for s in doc.get("stations", [])),
        "status": doc["status"],
        "begin_alt_m": _num(begin.get("alt_m"), 1),
        "end_alt_m": _num(end.get("alt_m"), 1),
        "v_init_m_s": _num(doc.get("v_init_m_s"), 1),
        "radiant": None
        if not isinstance(radiant, dict)
        else {"ra_deg": _num(radiant.get("ra_deg"), 4), "dec_deg": _num(radiant.get("dec_deg"), 4)},
        "v_g_m_s": _num(doc.get("v_g_m_s"), 1),
        "orbit": None
        if not isinstance(orbit, dict)
        else {k: _num(orbit.get(k), 6) for k in ("a_au", "e", "i_deg", "q_au")},
        "t_begin_utc": doc.get("t_begin_utc") if isinstance(doc.get("t_begin_utc"), str) else None,
        "solution_key": solution_key,
        "epoch": rec.epoch,
        "solved_by": rec.owner,
        "solved_at": rec.updated_at,
    }


def poor_reasons(doc: dict[str, Any]) -> list[str]:
    """Why a solution must stay out of the index (empty: publish it); the solver's own ``quality``."""
    quality = doc.get("quality")
    if isinstance(quality, dict) and quality.get("ok") is False:
        return [str(r) for r in quality.get("reasons", [])] or ["flagged poor"]
    return []


def _canonical(entry: dict[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"))


def _rank(entry: dict[str, Any]) -> tuple[int, int, str]:
    return (int(entry["epoch"]), int(entry["revision"]), _canonical(entry))


def merge_entries(*views: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per event, the entry with the highest (epoch, revision, canonical bytes): a join, so publishers
    that merge in any order end with the same map."""
    out: dict[str, dict[str, Any]] = {}
    for view in views:
        for event_id, entry in view.items():
            have = out.get(event_id)
            if have is None or _rank(entry) > _rank(have):
                out[event_id] = entry
    return dict(sorted(out.items()))


def check_entry(entry: Any, day: date) -> dict[str, Any]:
    """Validate one entry of a stored index (another publisher wrote it); ValueError says why."""
    if not isinstance(entry, dict) or set(entry) != _ENTRY_KEYS:
        raise ValueError("not an index entry")
    event_id = entry["event_id"]
    s3_keys.validate_event_id(event_id)
    epoch, revision = entry["epoch"], entry["revision"]
    if isinstance(epoch, bool) or not isinstance(epoch, int) or isinstance(revision, bool) or not isinstance(
        revision, int
    ):
        raise ValueError(f"{event_id}: epoch/revision must be integers")
    parsed = s3_keys.parse_key(entry["solution_key"])
    if not isinstance(parsed, s3_keys.SolutionKey) or parsed.event_id != event_id or parsed.epoch != epoch:
        raise ValueError(f"{event_id}: solution_key does not name this event at epoch {epoch}")
    if parsed.day != day or parsed.station != entry["solved_by"]:
        raise ValueError(f"{event_id}: solution_key is not in this day or not by solved_by")
    if entry["status"] not in ("solved", "failed"):
        raise ValueError(f"{event_id}: unknown status")
    return entry


def parse_index(body: bytes, day: date, source: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """(valid entries by event id, problems). InputError when the file is not an index at all."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InputError(source, None, "not JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != INDEX_FORMAT or not isinstance(doc.get("events"), list):
        raise InputError(source, None, f"not an {INDEX_FORMAT} document")
    if doc.get("day") != s3_keys.day_str(day):
        raise InputError(source, "day", f"expected {s3_keys.day_str(day)}, got {doc.get('day')!r}")
    entries: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for k, raw in enumerate(doc["events"]):
        try:
            e = check_entry(raw, day)
        except (ValueError, KeyError, TypeError) as err:  # InvalidId/InvalidKey are ValueErrors
            problems.append(f"{source}: events[{k}]: {err}")
            continue
        have = entries.get(e["event_id"])
        if have is not None:
            problems.append(f"{source}: events[{k}]: {e['event_id']} listed twice")
            if _rank(have) >= _rank(e):
                continue
        entries[e["event_id"]] = e
    return dict(sorted(entries.items())), problems


def encode_index(day: date, entries: dict[str, dict[str, Any]], publisher: str, now_iso: str) -> bytes:
    doc = {
        "format": INDEX_FORMAT,
        "version": INDEX_VERSION,
        "day": s3_keys.day_str(day),
        "updated_at": now_iso,
        "updated_by": publisher,
        "count": len(entries),
        "events": [entries[k] for k in sorted(entries)],
    }
    return (json.dumps(doc, sort_keys=True, indent=1, allow_nan=False) + "\n").encode()


_solution_validator: Any = None


def _validate_solution(doc: Any) -> None:
    global _solution_validator
    if _solution_validator is None:
        import jsonschema

        from protocols.observations import SOLUTION_SCHEMA

        cls = jsonschema.validators.validator_for(SOLUTION_SCHEMA)
        _solution_validator = cls(SOLUTION_SCHEMA)
    import jsonschema

    err = jsonschema.exceptions.best_match(_solution_validator.iter_errors(doc))
    if err is not None:
        where = "/".join(str(p) for p in err.absolute_path) or "document"
        raise ValueError(f"{where}: {err.message[:200]}")


class Publisher(StationActor):
    """Only on stations with role "publisher" (safe on several machines at once: all writes are CAS)."""

    tasks = ("publish",)

    def __init__(self, name: str, ctx: StationContext, publish: Publish | None = None) -> None:
        super().__init__(name, ctx, publish)
        self.tick_interval_s = float(getattr(ctx.config.schedule, "publish_interval_s", DEFAULT_INTERVAL_S))
        self._claims: dict[str, _Cached] = {}  # claim key -> what its current ETag gave
        self._bad_keys: set[str] = set()
        self._events: dict[str, tuple[str, bool]] = {}  # event.json key -> (etag, superseded)
        self.last: dict[str, DayResult] = {}

    async def on_tick(self) -> None:
        await self.publish_recent()

    async def on_task(self, task: str, day: str | None) -> TaskResult:
        try:
            days = [s3_keys.parse_day(day)] if day else self.recent_days()
        except s3_keys.InvalidKey as err:  # an operator's typo must not crash the actor
            return TaskResult(task=task, actor=self.name, done=0, failed=1, detail=str(err))
        results = [await self.publish_day(d) for d in days]
        failed = sum(1 for r in results if r.error)
        detail = "; ".join(
            f"{r.day}: {r.listed} listed, " + (r.error or ("written" if r.written else "unchanged")) for r in results
        )
        return TaskResult(task=task, actor=self.name, done=len(results) - failed, failed=failed, detail=detail)

    def recent_days(self) -> list[date]:
        """Today and yesterday by the station clock (UTC days, as the bucket's day folders)."""
        today = self.clock.now().date()
        return [today - timedelta(days=1), today]

    async def publish_recent(self) -> list[DayResult]:
        days = self.recent_days()
        results = [await self.publish_day(d) for d in days]
        # forget claims of days that left the window (an on-demand day is re-read when asked again)
        keep = tuple(s3_keys.events_day_prefix(d) for d in days)
        self._claims = {k: v for k, v in self._claims.items() if k.startswith(keep)}
        self._bad_keys = {k for k in self._bad_keys if k.startswith(keep)}
        self._events = {k: v for k, v in self._events.items() if k.startswith(keep)}
        return results

    # -- one day ---------------------------------------------------------------------------------
    async def publish_day(self, day: date) -> DayResult:
        """Bring the day's index up to date (the on-demand entry point; also any older day)."""
        from ams_actors.store.outcomes import StoreError

        result = DayResult(s3_keys.day_str(day))
        self.last[result.day] = result
        if self.ctx.store is None:
            result.error = "offline: no store"
            return result
        try:
            fresh = await self.scan_day(day, result)
            await self.write_index(day, fresh, result)
        except StoreError as err:
            result.error = str(err)
            self.log.warning("day %s: index not updated: %s", result.day, err)
        return result

    async def scan_day(self, day: date, result: DayResult) -> dict[str, dict[str, Any]]:
        """Entries for every solved event of the day, from its claims and their accepted solutions."""
        store = self.ctx.store
        claims: list[tuple[str, str]] = []
        event_etags: dict[str, tuple[str, str]] = {}  # event id -> (event.json key, etag)
        async for info in store.list_objects(s3_keys.events_day_prefix(day)):
            if info.key.endswith("/event.json"):
                event_etags[info.key.rsplit("/", 2)[-2]] = (info.key, info.etag)
            if not info.key.endswith("/claim.json"):
                continue
            try:
                parsed = s3_keys.parse_key(info.key)
            except s3_keys.InvalidKey as err:
                if info.key not in self._bad_keys:  # logged once, not every pass
                    self._bad_keys.add(info.key)
                    self._skip(result, info.key, f"unexpected key: {err}")
                continue
            if isinstance(parsed, s3_keys.EventFileKey) and parsed.name == "claim.json":
                claims.append((info.key, info.etag))
        entries: dict[str, dict[str, Any]] = {}
        for key, etag in claims:
            cached = self._claims.get(key)
            if cached is None or cached.etag != etag:
                cached = await self._read_event(key, etag, result)
                if cached is None:  # transient: try again next pass
                    continue
                self._claims[key] = cached
            if cached.entry is not None:
                entries[cached.entry["event_id"]] = cached.entry
        # an event merged into another (event.json `superseded_by`) is the same meteor as that one: not listed,
        # and taken out of the stored index (superseding is final, so every publisher agrees on it)
        result.superseded = [e for e in entries if e in event_etags and await self._superseded(*event_etags[e], result)]
        return {k: v for k, v in entries.items() if k not in result.superseded}

    async def _superseded(self, key: str, etag: str, result: DayResult) -> bool:
        """Does the event.json at `key` say the event was merged into another? (cached by ETag)"""
        from ams_actors.store.outcomes import StoredObject
        from protocols.events import MAX_EVENT_BYTES, decode_event

        cached = self._events.get(key)
        if cached is not None and cached[0] == etag:
            return cached[1]
        got = await self.ctx.store.get(key, max_bytes=MAX_EVENT_BYTES)
        if not isinstance(got, StoredObject):
            return False  # gone or too large: the claim decides, as before
        try:
            superseded = decode_event(got.body, source=key).superseded_by is not None
        except InputError as err:
            self._skip(result, key, str(err))
            superseded = False
        self._events[key] = (got.etag, superseded)
        return superseded

    async def _read_event(self, key: str, etag: str, result: DayResult) -> _Cached | None:
        from ams_actors.store.outcomes import NotFound, StoredObject

        store = self.ctx.store
        got = await store.get(key, max_bytes=c.MAX_CLAIM_BYTES)
        if isinstance(got, NotFound):
            return None
        if not isinstance(got, StoredObject):
            return self._bad(result, key, etag, f"claim over {c.MAX_CLAIM_BYTES} bytes")
        try:
            rec = c.ClaimRecord.from_bytes(got.body, source=key)
        except InputError as err:
            return self._bad(result, key, got.etag, str(err))
        parsed = s3_keys.parse_key(key)
        assert isinstance(parsed, s3_keys.EventFileKey)
        if rec.event_id != parsed.event_id:
            return self._bad(result, key, got.etag, f"claim is for event {rec.event_id}")
        if rec.state != c.ClaimState.SOLVED:
            return _Cached(got.etag, None)
        sol_key = c.accepted_solution_key(rec)
        if sol_key is None:
            return self._bad(result, key, got.etag, f"solved claim names no acceptable solution ({rec.solution_key})")
        try:
            sk = s3_keys.parse_key(sol_key)
        except s3_keys.InvalidKey as err:
            return self._bad(result, key, got.etag, f"solution key: {err}")
        if not isinstance(sk, s3_keys.SolutionKey) or sk.event_id != rec.event_id or sk.day != parsed.day:
            return self._bad(result, key, got.etag, f"solution key {sol_key} is not this event's")
        sol = await store.get(sol_key, max_bytes=MAX_SOLUTION_BYTES)
        if isinstance(sol, NotFound):
            self.log.info("%s: accepted solution %s not readable yet", rec.event_id, sol_key)
            return None
        if not isinstance(sol, StoredObject):
            return self._bad(result, sol_key, got.etag, f"solution over {MAX_SOLUTION_BYTES} bytes")
        try:
            doc = json.loads(sol.body)
            _validate_solution(doc)
            if doc["event_id"] != rec.event_id:
                raise ValueError(f"solution is for event {doc['event_id']}")
        except (ValueError, UnicodeDecodeError) as err:
            return self._bad(result, sol_key, got.etag, f"bad solution: {err}")
        poor = poor_reasons(doc)
        if poor:  # kept in the bucket for whoever wants it, never in the public list (issue 13 item 6)
            self.log.info("%s: not published, poor solution: %s", rec.event_id, "; ".join(poor))
            result.poor.append(rec.event_id)
            return _Cached(got.etag, None)
        return _Cached(got.etag, entry_from(rec, sol_key, doc))

    def _skip(self, result: DayResult, key: str, why: str) -> None:
        self.log.warning("skipping %s: %s", key, why)
        result.skipped.append(f"{key}: {why}")

    def _bad(self, result: DayResult, key: str, etag: str, why: str) -> _Cached:
        """A bad partner file: logged once (cached by the claim's ETag) and left out of the index."""
        self._skip(result, key, why)
        return _Cached(etag, None)

    async def write_index(self, day: date, fresh: dict[str, dict[str, Any]], result: DayResult) -> None:
        """Merge `fresh` into the stored index and write it with a compare-and-swap; re-read on a race."""
        from ams_actors.store.outcomes import Created, Replaced, StoredObject, TooLarge

        store = self.ctx.store
        key = s3_keys.day_index_key(day)
        for attempt in range(MAX_WRITE_ATTEMPTS):
            got = await store.get(key, max_bytes=MAX_INDEX_BYTES)
            stored: dict[str, dict[str, Any]] | None = None
            etag: str | None = None
            problems: list[str] = []
            if isinstance(got, StoredObject):
                etag = got.etag
                try:
                    stored, problems = parse_index(got.body, day, key)
                except InputError as err:
                    problems = [f"{err}; replacing it"]
            elif isinstance(got, TooLarge):
                etag = got.etag
                problems = [f"{got.size} bytes is over {MAX_INDEX_BYTES}; replacing it"]
            for p in problems:  # a bad index is rewritten clean (its good entries kept)
                self._skip(result, key, p)
            merged = {k: v for k, v in merge_entries(stored or {}, fresh).items() if k not in result.superseded}
            result.listed = len(merged)
            if stored is not None and merged == stored and not problems:
                result.unchanged = True
                return
            body = encode_index(day, merged, self.ctx.config.station_id, self.clock.now().isoformat())
            if etag is None:
                out = await store.put(key, body, if_none_match="*", content_type="application/json")
            else:
                out = await store.put(key, body, if_match=etag, content_type="application/json")
            if isinstance(out, Created | Replaced):
                result.written = True
                self.log.info("day %s: index written, %d event(s)", result.day, len(merged))
                return
            # 412 / 404 (someone wrote or deleted it) / 409 (a write in flight) / no answer: re-read, merge
            result.merges += 1
            self.log.info("day %s: index changed under us (%s), merging (attempt %d)", result.day,
                          type(out).__name__, attempt + 1)
        result.error = f"index still contended after {MAX_WRITE_ATTEMPTS} attempts (next pass retries)"
        self.log.warning("day %s: %s", result.day, result.error)
