"""Grading of events merged into another (``superseded_by``): were any solved or published anyway?

The night's report counts only active events; a superseded one that a station still claimed and
solved, or that the public day index still lists, is the same meteor solved or listed twice, so the
report names them (issue 16 item 4).
"""

from __future__ import annotations

import json
from typing import Any

from protocols.events import MAX_EVENT_BYTES


async def published_event_ids(store: Any) -> set[str]:
    """Every event id listed in a public day index (``events/YYYY/YYYY_MM_DD/index.json``)."""
    from ams_actors.store.outcomes import StoredObject

    out: set[str] = set()
    for key in await store.list_keys("events/"):
        if len(key.split("/")) != 4 or not key.endswith("/index.json"):
            continue
        got = await store.get(key, max_bytes=16 * MAX_EVENT_BYTES)
        if isinstance(got, StoredObject):
            out |= {str(e.get("event_id")) for e in json.loads(got.body).get("events", []) if isinstance(e, dict)}
    return out


def superseded_report(bucket: dict[str, Any]) -> dict[str, Any]:
    """``superseded_solved`` / ``superseded_published``: merged events with a solution object / listed
    publicly (should both be empty, except an event solved before the merge that made it superseded)."""
    superseded = sorted(e for e, ev in bucket["events"].items() if ev.get("superseded_by"))
    published = bucket.get("published", set())
    return {
        "events_superseded": len(superseded),
        "superseded_solved": [e for e in superseded if bucket["solutions"].get(e)],
        "superseded_published": [e for e in superseded if e in published],
    }
