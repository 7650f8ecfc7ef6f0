"""The solver input (Observation set, design.md §7) of an event, from its members' files in the bucket.

Everything here is a partner's file (design.md §5): each member's meteor JSON and its station's daily
index are fetched bounded and validated; a bad one is logged once and that member left out, so one
broken station never crash-loops the others. With fewer than two stations left the event cannot be
solved: InputError with the reason (the EventBroker hands it to the Solver, which records a failed
solution, so the event is not retried in a loop). A file that is not in the bucket (yet) is a
LookupError: the caller tries later.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date
from typing import Any

from ams_actors.netsync.downloads import check_index, get_bounded
from ams_actors.netsync.partner_meteor import check_meteor
from protocols import s3_keys
from protocols.errors import InputError
from protocols.events import Event, EventMember
from protocols.observation_build import Site
from protocols.observations import ObservationSet, StationObservation

MAX_PARTNER_BYTES = 4 * 1024 * 1024


async def build_obs(store: Any, event_id: str, event: Event, logged: set[str], log: logging.Logger,
                    sites: dict[tuple[str, date], Site] | None = None) -> dict[str, Any]:
    """The Observation set as a JSON dict; ``logged`` remembers the problems already logged. ``sites``:
    stations' sites already read from their validated indexes (the archive's day task passes them), so
    only the missing ones cost a read. The members' files are read concurrently (latency, not bytes,
    is what a member costs)."""
    sites = {} if sites is None else dict(sites)
    got = await asyncio.gather(*(member_observation(store, m, sites) for m in event.members),
                               return_exceptions=True)
    observations: list[StationObservation] = []
    left_out: list[str] = []
    for m, res in zip(event.members, got, strict=True):
        if isinstance(res, InputError):  # the meteor file or its station's index
            if str(res) not in logged:  # logged once, not on every attempt
                logged.add(str(res))
                log.warning("event %s: member left out: %s", event_id, res)
            left_out.append(f"{m.station_id}/{m.meteor_id}")
        elif isinstance(res, BaseException):
            raise res
        else:
            observations.append(res)
    if len({o.station_id for o in observations}) < 2:
        raise InputError(event_id, "members", f"fewer than 2 stations with a usable meteor file "
                                              f"(left out: {', '.join(left_out) or 'none'})")
    observations.sort(key=lambda o: (o.station_id, o.camera_id))
    return ObservationSet(event_id=event_id, observations=tuple(observations)).to_json_dict()


async def member_observation(store: Any, m: EventMember, sites: dict[tuple[str, date], Site]) -> StationObservation:
    """One member's observation from the bucket, validated; LookupError when a file is not there (yet)."""
    day = m.start_utc.date()
    key = s3_keys.meteor_key(m.station_id, day, m.meteor_id)
    got = await get_bounded(store, key, MAX_PARTNER_BYTES)
    if got is None:
        raise LookupError(f"meteor {m.station_id}/{m.meteor_id} is not in the bucket")
    if (m.station_id, day) not in sites:
        idx_key = s3_keys.daily_index_key(m.station_id, day)
        idx = await get_bounded(store, idx_key, MAX_PARTNER_BYTES)
        if idx is None:
            raise LookupError(f"index of {m.station_id} for {day} is not in the bucket")
        site = check_index(idx.body, idx_key, m.station_id, s3_keys.day_str(day)).site
        sites[(m.station_id, day)] = Site(site.lat, site.lon, site.alt_m)
    return check_meteor(got.body, key, m.station_id, m.meteor_id, sites[(m.station_id, day)])
