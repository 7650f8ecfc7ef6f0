"""A synthetic archive in a bucket, for the archive re-solve's tests and benchmark (issue 14): several
days of several stations' verified meteors (network-mode archive JSON from sim/detections.py) and
their daily indexes, as the stations' Syncers would have uploaded them.

Stations sit on a grid about 40 km apart; each meteor is seen by 2–4 stations near it, so it is one
multi-station event. One meteor per day starts just before midnight, so some stations' copies fall on
the next capture day: the archive run must still find it once.
"""

from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ams_actors.sim.detections import meteor_archive_doc, straight_trajectory
from protocols.meteor_index import MeteorIndex, MeteorIndexEntry, SiteInfo, encode_index, entry_from_meteor_json
from protocols.s3_keys import daily_index_key, day_str, meteor_key, parse_day


def station_sites(n: int) -> dict[str, tuple[float, float, float]]:
    """``n`` stations on a square grid ~40 km apart around 51°N 0°E."""
    side = max(1, math.ceil(math.sqrt(n)))
    return {f"AMS{k + 1}": (51.0 + 0.36 * (k // side), 0.57 * (k % side), 50.0 + 10.0 * (k % 3)) for k in range(n)}


def meteor_docs(days: list[date], sites: dict[str, tuple[float, float, float]], per_day: int,
                seed: int = 0) -> list[dict[str, Any]]:
    """Every station's archive JSON of ``per_day`` meteors per day (the last one of each day crosses midnight)."""
    rng = random.Random(seed)
    names = sorted(sites)
    out: list[dict[str, Any]] = []
    for d in days:
        night = datetime(d.year, d.month, d.day, 20, 0, tzinfo=UTC)
        slot = 3.9 * 3600 / max(1, per_day)
        for k in range(per_day):
            # jitter within the meteor's slot: two meteors of one station never start in the same frame
            # (their ids would collide and the station's index be refused) however dense the night
            t = night + timedelta(seconds=int(slot * k) + rng.uniform(0, min(5.0, 0.9 * slot)))
            speed, late = rng.uniform(25, 60), 0.05
            if k == per_day - 1:  # across midnight: the partners' first frames come after it
                t, speed, late = datetime(d.year, d.month, d.day, 23, 59, 59, 500000, tzinfo=UTC), 20.0, 0.4
            home = rng.choice(names)
            lat, lon, _ = sites[home]
            near = sorted(names, key=lambda s: math.hypot(sites[s][0] - lat, (sites[s][1] - lon) * 0.63))
            seen = near[: rng.randint(3 if k == per_day - 1 else 2, min(4, len(names)))]
            b, e = straight_trajectory(lat + rng.uniform(-0.1, 0.1), lon + rng.uniform(-0.1, 0.1),
                                       rng.uniform(95, 110), rng.uniform(70, 85), rng.uniform(0, 360),
                                       rng.uniform(30, 60))
            for j, sid in enumerate(seen):
                first = 0.0 if j == 0 else rng.uniform(late, late + 0.25)
                out.append(meteor_archive_doc(station_id=sid, camera_id="010001", site=sites[sid], begin=b, end=e,
                                              t_begin=t, speed_km_s=speed,
                                              part=(first, rng.uniform(0.75, 1.0))))
    return out


def archive_objects(docs: Iterable[dict[str, Any]], sites: dict[str, tuple[float, float, float]]
                    ) -> Iterator[tuple[str, bytes]]:
    """``(key, body)`` of every meteor file as ``docs`` come (a generator: a big archive is never
    whole in memory), then of each station's daily indexes."""
    by_index: dict[tuple[str, str], list[MeteorIndexEntry]] = defaultdict(list)
    for doc in docs:
        entry = entry_from_meteor_json(doc)
        day = entry.start_utc.date()
        yield meteor_key(entry.station_id, day, entry.meteor_id), json.dumps(doc).encode()
        by_index[(entry.station_id, day_str(day))].append(entry)
    for (sid, day_text), entries in sorted(by_index.items()):
        lat, lon, alt = sites[sid]
        idx = MeteorIndex(sid, day_text, SiteInfo(lat, lon, alt), tuple(sorted(entries, key=lambda e: e.meteor_id)))
        yield daily_index_key(sid, parse_day(day_text)), encode_index(idx)


async def fill_archive(store: Any, docs: list[dict[str, Any]], sites: dict[str, tuple[float, float, float]]) -> int:
    """Upload the meteor files and each station's daily indexes; the number of index files."""
    n_idx = 0
    for key, body in archive_objects(docs, sites):
        await store.put(key, body)
        n_idx += "/index/" in key
    return n_idx
