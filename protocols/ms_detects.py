"""``network/ms_detects/YYYY/YYYY_MM_DD/<STATION>.json.gz``: a station's meteors of one capture day
that are in multi-station events — the correlator's answer to each station (old ``ms_detects``).

A station reads only its own file (one small GET per day) to learn which events it is in, instead of
listing every event of the network. Format (``format: "ams-ms-detects"``, ``version: 1``)::

    {"format": "ams-ms-detects", "version": 1, "station_id": "AMS1", "day": "2026_07_12",
     "detects": [{"event_id": "20260712_221506_355", "revision": 2, "meteor_id": "...",
                  "stations": ["AMS1", "AMS2", "AMS3"], "superseded_by": null}, ...]}

Sorted by event id; the event's bucket folder is the date in its id (``s3_keys.event_key``).

Why a merge rule: two correlators may write the same file at once, or one working from older partner
indexes may write after a newer one. Writes are compare-and-swap (read, merge, ``If-Match``), and the
merge keeps, per event id, the entry with the highest revision — a join, so the file converges to the
same content whatever order the writes land in and an entry never goes back to an older revision.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from protocols.errors import InputError
from protocols.events import EVENT_ID_PATTERN, Event
from protocols.meteor_index import ID_PATTERN, read_bounded_json
from protocols.s3_keys import InvalidId, validate_event_id, validate_id

MS_DETECTS_FORMAT = "ams-ms-detects"
MS_DETECTS_VERSION = 1
MAX_DETECTS = 20_000
MAX_COMPRESSED_BYTES = 4 * 1024 * 1024
MAX_DECOMPRESSED_BYTES = 32 * 1024 * 1024

_id = {"type": "string", "pattern": ID_PATTERN}
_event_id = {"type": "string", "pattern": EVENT_ID_PATTERN, "maxLength": 64}

MS_DETECTS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "AMS per-station detections that are in events",
    "type": "object",
    "required": ["format", "version", "station_id", "day", "detects"],
    "additionalProperties": False,
    "properties": {
        "format": {"const": MS_DETECTS_FORMAT},
        "version": {"const": MS_DETECTS_VERSION},
        "station_id": _id,
        "day": {"type": "string", "pattern": r"^\d{4}_\d{2}_\d{2}$"},
        "detects": {
            "type": "array",
            "maxItems": MAX_DETECTS,
            "items": {
                "type": "object",
                "required": ["event_id", "revision", "meteor_id", "stations"],
                "additionalProperties": False,
                "properties": {
                    "event_id": _event_id,
                    "revision": {"type": "integer", "minimum": 1},
                    "meteor_id": _id,
                    "stations": {"type": "array", "minItems": 1, "maxItems": 256, "items": _id},
                    "superseded_by": {"oneOf": [{"type": "null"}, _event_id]},
                },
            },
        },
    },
}


@dataclass(frozen=True, slots=True)
class Detect:
    """One of the station's meteors and the event it is in (at ``revision``)."""

    event_id: str
    revision: int
    meteor_id: str
    stations: tuple[str, ...]
    superseded_by: str | None = None

    def rank(self) -> tuple[int, str, tuple[str, ...], str]:
        """Total order used by the merge: the highest revision wins; the rest only breaks exact ties."""
        return (self.revision, self.meteor_id, self.stations, self.superseded_by or "")


@dataclass(frozen=True, slots=True)
class MsDetects:
    station_id: str
    day: str
    detects: tuple[Detect, ...]

    def by_event(self) -> dict[str, Detect]:
        return {d.event_id: d for d in self.detects}


def _sorted(detects: Iterable[Detect]) -> tuple[Detect, ...]:
    return tuple(sorted(detects, key=lambda d: d.event_id))


def merge(a: MsDetects, b: MsDetects) -> MsDetects:
    """Per event id the entry with the highest rank (commutative, associative, idempotent)."""
    if (a.station_id, a.day) != (b.station_id, b.day):
        raise ValueError(f"cannot merge ms_detects of {a.station_id}/{a.day} with {b.station_id}/{b.day}")
    best = a.by_event()
    for d in b.detects:
        cur = best.get(d.event_id)
        if cur is None or d.rank() > cur.rank():
            best[d.event_id] = d
    return MsDetects(a.station_id, a.day, _sorted(best.values()))


def to_doc(ms: MsDetects) -> dict[str, Any]:
    return {
        "format": MS_DETECTS_FORMAT,
        "version": MS_DETECTS_VERSION,
        "station_id": ms.station_id,
        "day": ms.day,
        "detects": [
            {
                "event_id": d.event_id,
                "revision": d.revision,
                "meteor_id": d.meteor_id,
                "stations": list(d.stations),
                "superseded_by": d.superseded_by,
            }
            for d in _sorted(ms.detects)
        ],
    }


def encode(ms: MsDetects) -> bytes:
    """Deterministic gzip bytes (sorted keys, mtime 0): equal content is equal bytes."""
    raw = json.dumps(to_doc(ms), sort_keys=True, separators=(",", ":")).encode()
    return gzip.compress(raw, compresslevel=6, mtime=0)


def parse(doc: object, source: str) -> MsDetects:
    import jsonschema

    validator = jsonschema.validators.validator_for(MS_DETECTS_SCHEMA)(MS_DETECTS_SCHEMA)
    err = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if err is not None:
        path = "/".join(str(p) for p in err.absolute_path) or None
        raise InputError(source, path, err.message[:200])
    assert isinstance(doc, Mapping)
    detects = []
    seen: set[str] = set()
    for k, d in enumerate(doc["detects"]):
        if d["event_id"] in seen:
            raise InputError(source, f"detects/{k}/event_id", f"duplicate event id {d['event_id']!r}")
        try:
            validate_event_id(d["event_id"])  # the pattern alone admits impossible dates
            validate_id(d["meteor_id"], "meteor id")  # ... and ids that are only dots
            for s in d["stations"]:
                validate_id(s, "station id")
            if d.get("superseded_by") is not None:
                validate_event_id(d["superseded_by"])
        except InvalidId as err:
            raise InputError(source, f"detects/{k}/event_id", str(err)) from None
        seen.add(d["event_id"])
        detects.append(
            Detect(
                event_id=d["event_id"],
                revision=int(d["revision"]),
                meteor_id=d["meteor_id"],
                stations=tuple(d["stations"]),
                superseded_by=d.get("superseded_by"),
            )
        )
    return MsDetects(station_id=doc["station_id"], day=doc["day"], detects=_sorted(detects))


def decode(data: bytes, source: str) -> MsDetects:
    """Validate bytes from the bucket (size before and after gunzip, schema, unique event ids)."""
    if len(data) > MAX_COMPRESSED_BYTES:
        raise InputError(source, None, f"{len(data)} bytes, more than the limit of {MAX_COMPRESSED_BYTES}")
    return parse(read_bounded_json(data, source, len(data), MAX_DECOMPRESSED_BYTES), source)


def from_events(
    events: Iterable[Event], capture_day: Mapping[tuple[str, str], str]
) -> dict[tuple[str, str], MsDetects]:
    """Each (station, capture day)'s detects from a set of events.

    ``capture_day`` maps (station, meteor id) to the day of the index the meteor is in; members not in
    it (meteors of days outside this run) are left to the run that loaded their day.
    """
    out: dict[tuple[str, str], list[Detect]] = {}
    for ev in events:
        stations = ev.stations
        for m in ev.members:
            day = capture_day.get(m.key)
            if day is None:
                continue
            out.setdefault((m.station_id, day), []).append(
                Detect(ev.event_id, ev.revision, m.meteor_id, stations, ev.superseded_by)
            )
    return {k: MsDetects(k[0], k[1], _sorted(v)) for k, v in out.items()}
