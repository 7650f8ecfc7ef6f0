"""Multi-station events: the ``event.json`` format, event ids, and how a new correlation updates events.

An event is "these observations (station, meteor id) are one meteor". Its id is
``YYYYMMDD_HHMMSS_mmm`` from the UTC start of its earliest member (design.md §5), with ``_b``,
``_c``, … when two events would get the same id. Ids are for ever: an event that later gains a
member keeps its id and its ``revision`` goes up (that is what makes a solved event stale).

Why membership only ever grows (a join): two correlators may run at once, or one may run on stale
partner indexes. If every update is "union of what is stored and what was found, then one
observation per station chosen by a fixed rule", the stored event converges to the same members
whatever order the writes land in, and never flaps between two member sets. The per-station rule
(longest observation, then earliest start, then smallest meteor id) is a maximum over a total order,
so choosing on a union is associative: pick(pick(A) ∪ B) == pick(A ∪ B).

Format (``format: "ams-event"``, ``version: 1``)::

    {"format": "ams-event", "version": 1, "event_id": "20260712_221506_355", "revision": 2,
     "start_utc": "2026-07-12T22:15:06.355Z",
     "members": [{"station_id": "AMS1", "meteor_id": "...", "camera_id": "010001",
                  "start_utc": "2026-07-12T22:15:06.355Z", "duration_s": 1.24}, ...],
     "superseded_by": null}

Members are sorted by (station_id, meteor_id). ``superseded_by`` names the event this one was merged
into when a later correlation showed two stored events to be one meteor (the older id survives).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from protocols.errors import InputError
from protocols.meteor_index import ID_PATTERN, MeteorIndexEntry, format_utc_ms, parse_utc_ms

__all__ = [
    "EVENT_FORMAT",
    "EVENT_ID_PATTERN",
    "EVENT_SCHEMA",
    "MAX_EVENT_BYTES",
    "MAX_MEMBERS",
    "Event",
    "EventMember",
    "Reconciliation",
    "assign_event_ids",
    "decode_event",
    "encode_event",
    "event_id_base",
    "event_to_doc",
    "member_from_entry",
    "parse_event",
    "pick_members",
    "reconcile",
    "station_detections",
]

EVENT_FORMAT = "ams-event"
EVENT_VERSION = 1
# the same as protocols.s3_keys.EVENT_ID_RE (whose event_day() gives an event's bucket folder)
EVENT_ID_PATTERN = r"^\d{8}_\d{6}_\d{3}(_[a-z]{1,2})?$"
_EVENT_ID_RE = re.compile(EVENT_ID_PATTERN)
_ID_RE = re.compile(ID_PATTERN)
MAX_MEMBERS = 256
MAX_EVENT_BYTES = 1024 * 1024

_member_schema: dict[str, Any] = {
    "type": "object",
    "required": ["station_id", "meteor_id", "start_utc", "duration_s"],
    "additionalProperties": False,
    "properties": {
        "station_id": {"type": "string", "pattern": ID_PATTERN},
        "meteor_id": {"type": "string", "pattern": ID_PATTERN},
        "camera_id": {"type": ["string", "null"], "pattern": ID_PATTERN},
        "start_utc": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"},
        "duration_s": {"type": "number", "minimum": 0, "maximum": 60},
    },
}

EVENT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "AMS multi-station event",
    "type": "object",
    "required": ["format", "version", "event_id", "revision", "start_utc", "members"],
    "additionalProperties": False,
    "properties": {
        "format": {"const": EVENT_FORMAT},
        "version": {"const": EVENT_VERSION},
        "event_id": {"type": "string", "pattern": EVENT_ID_PATTERN, "maxLength": 64},
        "revision": {"type": "integer", "minimum": 1},
        "start_utc": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"},
        "members": {"type": "array", "minItems": 2, "maxItems": MAX_MEMBERS, "items": _member_schema},
        "superseded_by": {"type": ["string", "null"], "pattern": EVENT_ID_PATTERN},
    },
}


@dataclass(frozen=True, slots=True)
class EventMember:
    """One observation in an event. (station_id, meteor_id) identifies it; the rest chooses between
    two observations of the same station and dates the event."""

    station_id: str
    meteor_id: str
    start_utc: datetime
    duration_s: float
    camera_id: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.station_id, self.meteor_id)


@dataclass(frozen=True, slots=True)
class Event:
    """The content of one ``event.json``."""

    event_id: str
    revision: int
    start_utc: datetime
    members: tuple[EventMember, ...]
    superseded_by: str | None = None

    @property
    def stations(self) -> tuple[str, ...]:
        return tuple(sorted({m.station_id for m in self.members}))

    @property
    def member_keys(self) -> frozenset[tuple[str, str]]:
        return frozenset(m.key for m in self.members)


def member_from_entry(e: MeteorIndexEntry) -> EventMember:
    """The event member for one station's index entry (what both correlator front ends need)."""
    return EventMember(
        station_id=e.station_id, meteor_id=e.meteor_id, start_utc=e.start_utc, duration_s=e.duration_s,
        camera_id=e.camera_id,
    )


# ---------------------------------------------------------------- ids


def _ms_floor(t: datetime) -> datetime:
    return t.replace(microsecond=(t.microsecond // 1000) * 1000)


def event_id_base(start_utc: datetime) -> str:
    """``YYYYMMDD_HHMMSS_mmm`` of a UTC time (rounded to the ms like the index, so ids match index times)."""
    if start_utc.tzinfo is None:
        raise ValueError("naive datetime: event times must be tz-aware UTC")
    t = parse_utc_ms(format_utc_ms(start_utc))
    return t.strftime("%Y%m%d_%H%M%S_") + f"{t.microsecond // 1000:03d}"


def _suffix(n: int) -> str:
    """'' for the first event with a base id, then _b … _z, then _ba … _zz (675 events in one ms)."""
    if n == 0:
        return ""
    if n <= 25:
        return "_" + chr(ord("a") + n)
    m = n - 26
    if m >= 25 * 26:
        raise ValueError("more than 675 events starting in the same millisecond")
    return "_" + chr(ord("b") + m // 26) + chr(ord("a") + m % 26)


def assign_event_ids(starts: Sequence[datetime], taken: Iterable[str] = ()) -> list[str]:
    """Ids for events in the given order (the caller sorts deterministically), avoiding ``taken``.

    Collisions get ``_b``, ``_c``, …: the first event (in the caller's order) with a base id that is
    not yet taken gets the bare id.
    """
    used = set(taken)
    out = []
    for t in starts:
        base = event_id_base(t)
        n = 0
        while base + _suffix(n) in used:
            n += 1
        eid = base + _suffix(n)
        used.add(eid)
        out.append(eid)
    return out


# ---------------------------------------------------------------- membership rule


def _pick_key(m: EventMember) -> tuple[float, datetime, str]:
    return (-round(m.duration_s, 6), m.start_utc, m.meteor_id)


def pick_members(members: Iterable[EventMember]) -> tuple[EventMember, ...]:
    """One observation per station (its longest; ties: earliest, then smallest id), sorted by key."""
    best: dict[str, EventMember] = {}
    for m in members:
        cur = best.get(m.station_id)
        if cur is None or _pick_key(m) < _pick_key(cur):
            best[m.station_id] = m
    return tuple(sorted(best.values(), key=lambda m: m.key))


# ---------------------------------------------------------------- reconcile


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """What to write after a correlation: ``new`` events (create with If-None-Match), ``revised`` ones
    (same id, revision + 1: write with If-Match), ``superseded`` ones (merged into another event;
    revision + 1 with ``superseded_by`` set) and ``unchanged`` ones (nothing to write)."""

    new: tuple[Event, ...]
    revised: tuple[Event, ...]
    superseded: tuple[Event, ...]
    unchanged: tuple[Event, ...]

    @property
    def to_write(self) -> tuple[Event, ...]:
        return self.new + self.revised + self.superseded


def reconcile(existing: Sequence[Event], found: Sequence[Sequence[EventMember]]) -> Reconciliation:
    """Merge a correlation result (groups of members) into the stored events, keeping ids stable.

    Stored events and found groups that share an observation are one meteor: each connected set
    becomes one event whose members are pick(union of all). If it contains stored events, the one
    with the smallest id (the earliest) keeps its id and gets a new revision when its members
    changed; any other stored event in the set is superseded by it. Otherwise it is a new event, its
    id from its earliest member. Superseded stored events take no further part. The result depends
    only on the contents of the inputs, not their order.
    """
    active = sorted((e for e in existing if e.superseded_by is None), key=lambda e: e.event_id)
    taken = {e.event_id for e in existing}
    # union-find over stored events (0..n-1) and found groups (n..)
    n_e = len(active)
    parent = list(range(n_e + len(found)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    owner: dict[tuple[str, str], int] = {}
    nodes_members: list[Sequence[EventMember]] = [e.members for e in active] + list(found)
    for node, members in enumerate(nodes_members):
        for m in members:
            other = owner.setdefault(m.key, node)
            if other != node:
                union(other, node)
    comps: dict[int, list[int]] = {}
    for node in range(len(nodes_members)):
        comps.setdefault(find(node), []).append(node)

    new_groups: list[tuple[EventMember, ...]] = []
    revised: list[Event] = []
    superseded: list[Event] = []
    unchanged: list[Event] = []
    for nodes in comps.values():
        stored = [active[i] for i in nodes if i < n_e]
        pool: dict[tuple[str, str], EventMember] = {}
        for i in nodes:
            for m in nodes_members[i]:
                pool.setdefault(m.key, m)
        members = pick_members(pool[k] for k in sorted(pool))
        if not stored:
            if len({m.station_id for m in members}) >= 2:
                new_groups.append(members)
            continue
        keep = stored[0]  # smallest id: `active` is sorted and nodes ascend
        start = min(m.start_utc for m in members)
        if {m.key for m in members} == keep.member_keys:
            unchanged.append(keep)
        else:
            revised.append(replace(keep, revision=keep.revision + 1, members=members, start_utc=start))
        for old in stored[1:]:
            superseded.append(replace(old, revision=old.revision + 1, superseded_by=keep.event_id))

    new_groups.sort(key=lambda ms: (min(m.start_utc for m in ms), [m.key for m in ms]))
    starts = [min(m.start_utc for m in ms) for ms in new_groups]
    ids = assign_event_ids(starts, taken)
    new = [
        Event(event_id=eid, revision=1, start_utc=t, members=ms)
        for eid, t, ms in zip(ids, starts, new_groups, strict=True)
    ]
    by_id = lambda e: e.event_id  # noqa: E731
    return Reconciliation(
        new=tuple(new),
        revised=tuple(sorted(revised, key=by_id)),
        superseded=tuple(sorted(superseded, key=by_id)),
        unchanged=tuple(sorted(unchanged, key=by_id)),
    )


def station_detections(events: Iterable[Event]) -> dict[str, list[tuple[str, str]]]:
    """Per station, its (meteor id, event id) pairs in the given events, sorted: the content of each
    station's ``network/ms_detects/…/<STATION>.json.gz``. Superseded events are left out."""
    out: dict[str, list[tuple[str, str]]] = {}
    for ev in events:
        if ev.superseded_by is not None:
            continue
        for m in ev.members:
            out.setdefault(m.station_id, []).append((m.meteor_id, ev.event_id))
    return {k: sorted(v) for k, v in sorted(out.items())}


# ---------------------------------------------------------------- (de)serialisation


def event_to_doc(event: Event) -> dict[str, Any]:
    """The ``event.json`` dict (members sorted, so equal events are equal bytes)."""
    return {
        "format": EVENT_FORMAT,
        "version": EVENT_VERSION,
        "event_id": event.event_id,
        "revision": event.revision,
        "start_utc": format_utc_ms(event.start_utc),
        "members": [
            {
                "station_id": m.station_id,
                "meteor_id": m.meteor_id,
                "camera_id": m.camera_id,
                "start_utc": format_utc_ms(m.start_utc),
                "duration_s": m.duration_s,
            }
            for m in sorted(event.members, key=lambda m: m.key)
        ],
        "superseded_by": event.superseded_by,
    }


def encode_event(event: Event) -> bytes:
    """Deterministic JSON bytes of an event (sorted keys)."""
    return json.dumps(event_to_doc(event), sort_keys=True, separators=(",", ":")).encode()


def parse_event(doc: object, source: str = "<event.json>") -> Event:
    """An event from its dict, validated (schema, ids, unique members, ≥ 2 stations); InputError if bad."""
    import jsonschema

    validator = jsonschema.validators.validator_for(EVENT_SCHEMA)(EVENT_SCHEMA)
    err = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if err is not None:
        path = "/".join(str(p) for p in err.absolute_path) or None
        msg = err.message if len(err.message) <= 200 else f"{err.validator} {err.validator_value!r:.80} failed"
        raise InputError(source, path, msg)
    assert isinstance(doc, Mapping)
    members = []
    seen: set[tuple[str, str]] = set()
    if _EVENT_ID_RE.fullmatch(doc["event_id"]) is None:  # Python's "$" also matches before a final newline
        raise InputError(source, "event_id", f"{doc['event_id']!r:.80} is not an event id")
    sup = doc.get("superseded_by")
    if sup is not None and _EVENT_ID_RE.fullmatch(sup) is None:
        raise InputError(source, "superseded_by", f"{sup!r:.80} is not an event id")
    for k, m in enumerate(doc["members"]):
        for f in ("station_id", "meteor_id", "camera_id"):
            v = m.get(f)
            if v is not None and _ID_RE.fullmatch(v) is None:
                raise InputError(source, f"members/{k}/{f}", f"{v!r:.80} does not match {ID_PATTERN}")
        mem = EventMember(
            station_id=m["station_id"],
            meteor_id=m["meteor_id"],
            start_utc=parse_utc_ms(m["start_utc"], source, f"members/{k}/start_utc"),
            duration_s=float(m["duration_s"]),
            camera_id=m.get("camera_id"),
        )
        if mem.key in seen:
            raise InputError(source, f"members/{k}", f"duplicate member {mem.key}")
        seen.add(mem.key)
        members.append(mem)
    if len({m.station_id for m in members}) < 2:
        raise InputError(source, "members", "an event needs observations from at least two stations")
    return Event(
        event_id=doc["event_id"],
        revision=int(doc["revision"]),
        start_utc=parse_utc_ms(doc["start_utc"], source, "start_utc"),
        members=tuple(sorted(members, key=lambda m: m.key)),
        superseded_by=doc.get("superseded_by"),
    )


def decode_event(data: bytes, source: str = "<event.json>", max_bytes: int = MAX_EVENT_BYTES) -> Event:
    """Parse ``event.json`` bytes from the bucket, bounded in size."""
    if len(data) > max_bytes:
        raise InputError(source, None, f"{len(data)} bytes, more than the limit of {max_bytes}")
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(source, None, f"not JSON: {err}") from None
    return parse_event(doc, source)


def utc_from_seconds(t: float) -> datetime:
    """Unix seconds → tz-aware UTC datetime rounded to the ms (the kernel's floats → the formats' times)."""
    ms = round(t * 1000.0)
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
