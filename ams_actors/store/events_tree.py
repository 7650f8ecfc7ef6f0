"""The station's local EVENTS tree (old ``be``): one folder per event it took part in.

``meteor_archive/<STATION>/EVENTS/YYYY/YYYY_MM_DD/<EVENT_ID>/event.json`` holds the validated event
exactly as the correlator stored it (``protocols.events.encode_event`` bytes; the day folder is the
date in the event id, the same folder as in the bucket). Solutions copied from the bucket later land
beside it (EventBroker). The path is built with ``s3_keys.local_path`` from a validated event id, so
nothing read from the bucket can place a file outside the EVENTS tree.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from ams_actors.store.index_files import write_if_changed
from ams_actors.store.local_paths import StationPaths
from protocols.errors import InputError
from protocols.events import Event, decode_event, encode_event
from protocols.s3_keys import day_str, event_day, local_path


def events_root(paths: StationPaths) -> Path:
    return paths.archive / "EVENTS"


def event_folder_day(event_id: str) -> str:
    """``YYYY_MM_DD`` of the folder an event lives in (the date in its id)."""
    return day_str(event_day(event_id))


def recent_days(today: date) -> list[str]:
    """The day folders a station still works on after a start: yesterday's and today's (UTC). A
    night spans midnight UTC in much of the world, and events appear hours after their meteors."""
    return [day_str(today - timedelta(days=1)), day_str(today)]


def local_event_path(paths: StationPaths, event_id: str) -> Path:
    """``EVENTS/YYYY/YYYY_MM_DD/<EVENT_ID>/event.json``, proven to lie inside the EVENTS tree."""
    day = event_folder_day(event_id)
    return local_path(events_root(paths), f"{day[:4]}/{day}/{event_id}/event.json")


def read_local_event(paths: StationPaths, event_id: str) -> Event | None:
    """The local copy, None when missing or unreadable (then it is simply rewritten)."""
    path = local_event_path(paths, event_id)
    try:
        return decode_event(path.read_bytes(), str(path))
    except (OSError, InputError):
        return None


def write_local_event(paths: StationPaths, event: Event) -> bool:
    """Write the event's folder and ``event.json``; True when the content changed."""
    return write_if_changed(local_event_path(paths, event.event_id), encode_event(event))


def local_events(paths: StationPaths, day: str) -> list[Event]:
    """The valid events of one day folder (for the EventBroker and tools), in id order."""
    out = []
    folder = paths.events_dir(day)
    for path in sorted(folder.glob("*/event.json")) if folder.is_dir() else []:
        try:
            out.append(decode_event(path.read_bytes(), str(path)))
        except (OSError, InputError):
            continue
    return out
