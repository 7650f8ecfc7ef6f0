"""Preview JPEGs in the bucket: ours up (`ams sa`, every sync), the partners' of an event down.

A station showing a multi-station event wants every member's picture, so when the Syncer writes an
event locally it fetches the partners' previews of its members into
``EVENTS/YYYY/YYYY_MM_DD/<EVENT_ID>/previews/<STATION>/<meteor id>-preview.jpg`` (and ``-frame.jpg``).
They come from another machine: bounded in size, JPEG magic checked, names built from validated ids
only. A preview that is not in the bucket (a partner without previews, or not synced yet) is skipped
quietly: the event is complete without it.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from ams_actors.store.events_tree import local_event_path
from ams_actors.store.local_paths import StationPaths
from protocols.errors import InputError
from protocols.events import Event
from protocols.pipeline_files import preview_names
from protocols.s3_keys import InvalidId, InvalidKey, local_path, parse_day, preview_key

MAX_PREVIEW_BYTES = 2 * 1024 * 1024  # a 400 px JPEG is ~30 kB; a 640 px one ~60 kB
JPEG_MAGIC = b"\xff\xd8\xff"


def preview_items(paths: StationPaths, day: str, log: logging.Logger) -> list[tuple[Path, str]]:
    """(local file, bucket key) of the day's preview JPEGs in ``meteors/DAY/``."""
    folder = paths.meteors_dir(day)
    d = parse_day(day)
    items: list[tuple[Path, str]] = []
    found = sorted([*folder.glob("*-preview.jpg"), *folder.glob("*-frame.jpg")]) if folder.is_dir() else []
    for path in found:
        if path.name.startswith("."):
            continue  # a temp file of a write in progress
        try:
            items.append((path, preview_key(paths.station_id, d, path.name)))
        except InvalidId as err:
            log.warning("not uploading %s: %s", path, err)
    return items


def check_jpeg(data: bytes, key: str) -> bytes:
    if not data.startswith(JPEG_MAGIC):
        raise InputError(key, None, "not a JPEG (bad magic bytes)")
    return data


def member_day(meteor_id: str, start_utc_day: date) -> date:
    """The day folder of a member's meteor: the date its id starts with (our ids and AllSky7's start
    with the clip's ``YYYY_MM_DD``, which differs from the meteor's own date just after midnight)."""
    try:
        return parse_day(meteor_id[:10])
    except InvalidKey:
        return start_utc_day


def member_previews(paths: StationPaths, ev: Event) -> tuple[list[tuple[str, Path]], list[str]]:
    """(bucket key, local target) of each partner preview of ``ev``'s members not on disk yet, and a
    line for each member whose ids cannot name one (fetched by ``SyncEngine.member_previews``)."""
    folder = local_event_path(paths, ev.event_id).parent
    wanted: list[tuple[str, Path]] = []
    bad: list[str] = []
    for m in ev.members:
        if m.station_id == paths.station_id:
            continue
        for name in preview_names(m.meteor_id).values():
            try:
                key = preview_key(m.station_id, member_day(m.meteor_id, m.start_utc.date()), name)
                target = local_path(folder, f"previews/{m.station_id}/{name}")
            except (InvalidId, InvalidKey) as err:
                bad.append(f"skipped preview of event {ev.event_id}: {err}")
                continue
            if not target.exists():
                wanted.append((key, target))
    return wanted, bad
