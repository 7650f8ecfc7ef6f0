"""Everything read from the bucket is untrusted: fetch it bounded, validate it, then use it.

Another station (or a broken one, or an attacker with its key) wrote it. Each check here raises an
:class:`~protocols.errors.InputError` naming the key and the problem, which the caller logs as one
line and skips — a bad partner file never crashes an actor, and nothing from it reaches the disk
(local paths are built from validated ids only, through ``s3_keys.local_path``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ams_actors.store.outcomes import NotFound, StoredObject, TooLarge
from protocols import ms_detects
from protocols.errors import InputError
from protocols.events import MAX_EVENT_BYTES, Event, decode_event
from protocols.meteor_index import MAX_COMPRESSED_BYTES as MAX_INDEX_BYTES
from protocols.meteor_index import MeteorIndex, decode_index
from protocols.s3_keys import InvalidId, validate_id

T = TypeVar("T")


async def get_bounded(store: Any, key: str, max_bytes: int) -> StoredObject | None:
    """The object, None when it does not exist; InputError when it is larger than ``max_bytes``."""
    got = await store.get(key, max_bytes=max_bytes)
    if isinstance(got, NotFound):
        return None
    if isinstance(got, TooLarge):
        raise InputError(key, None, f"{got.size} bytes or more, over the limit of {got.limit}")
    assert isinstance(got, StoredObject)
    return got


def check_index(data: bytes, key: str, station: str, day: str) -> MeteorIndex:
    """A station's daily index as read from ``key``: valid, and about the station and day its key names."""
    idx = decode_index(data, key, max_compressed=MAX_INDEX_BYTES)
    if idx.station_id != station:
        raise InputError(key, "station_id", f"index of {idx.station_id!r} stored under {station!r}")
    if idx.day != day:
        raise InputError(key, "day", f"index of day {idx.day} stored under {day}")
    for k, e in enumerate(idx.meteors):
        _safe_id(e.meteor_id, key, f"meteors/{k}/meteor_id")
    return idx


def _safe_id(value: str, key: str, where: str) -> None:
    """The schema's id pattern admits "." and ".."; ids may end up in paths elsewhere, so not here."""
    try:
        validate_id(value, where)
    except InvalidId as err:
        raise InputError(key, where, str(err)) from None


def check_event(data: bytes, key: str, event_id: str) -> Event:
    """An ``event.json``: valid, and the event its key names."""
    ev = decode_event(data, key, max_bytes=MAX_EVENT_BYTES)
    if ev.event_id != event_id:
        raise InputError(key, "event_id", f"event {ev.event_id!r} stored under {event_id!r}")
    for k, m in enumerate(ev.members):
        _safe_id(m.station_id, key, f"members/{k}/station_id")
        _safe_id(m.meteor_id, key, f"members/{k}/meteor_id")
    return ev


def check_ms_detects(data: bytes, key: str, station: str, day: str) -> ms_detects.MsDetects:
    """A station's ms_detects file: valid, and about the station and day its key names."""
    ms = ms_detects.decode(data, key)
    if (ms.station_id, ms.day) != (station, day):
        raise InputError(key, "station_id", f"ms_detects of {ms.station_id}/{ms.day} stored under {station}/{day}")
    return ms


def reencode_index(data: bytes, key: str, station: str, day: str) -> bytes:
    """A partner index checked by :func:`check_index` and re-encoded: what is written locally is our
    own canonical bytes of validated content, never the bytes as downloaded. (A pool job: schema
    checks of a few hundred entries take a good fraction of a second.)"""
    from protocols.meteor_index import encode_index

    return encode_index(check_index(data, key, station, day))


def checked(fn: Callable[..., T], *args: Any) -> tuple[T | None, str]:
    """Run a validator in a pool worker: ``(result, "")`` or ``(None, the InputError's one line)``.

    InputError needs three constructor arguments, so it cannot be unpickled on its way back from a
    process pool; validators called through ``run_cpu`` go through this instead.
    """
    try:
        return fn(*args), ""
    except InputError as err:
        return None, str(err)
