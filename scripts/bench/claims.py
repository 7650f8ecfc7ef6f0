"""Benchmark: N real stations race for M multi-station events on one embedded moto server (issue 7 item 5).

What runs for real: every station is a production `Station` (its own data root, ledger, aiobotocore
client, start-up probe) and its **EventBroker and Solver** do all the work — read claim.json, claim with
If-None-Match / take with If-Match, heartbeat, build and upload obs.json from the members' meteor JSON
and daily indexes in the bucket, solve (least squares; `mc_runs = 0`), publish the solution with
If-None-Match and mark the claim solved with If-Match, copy partners' accepted solutions. Time is real
(`RealClock`), leases are real seconds.

What is injected instead of simulated: the detections and events. Running 50 stations' Indexer →
Syncer → Correlator → Syncer chain for 2,000 events would measure the sync engine and the correlator
(both benchmarked on their own in `scripts/bench/correlate.py`), not the claim protocol, and does not
fit on 2 cores. So this script writes what that chain would have left behind — each member's meteor
JSON and daily index in the bucket, `event.json` in the bucket and in every member's local EVENTS
folder — pauses every other actor, and hands each station one `EventsChanged` with its events, as
`tests/test_event_broker.py::publish_world` does for one event. The meteors are true trajectories seen
from the real station sites (`sim.detections`), so the solves are real solves.

By default the members look at an event as in production: the first-ranked at once, the others
`PREFERENCE_STEP_S` (15 s) apart, each racing whoever is still unsolved. `--preference-step 0` makes
every member look at once (overriding the EventBroker's stagger in this process only): the worst case
for contention.

Measured: claims won per second and the time until every event is solved (from the first
EventsChanged), claim-write attempts and how many lost the race, and the checks: every event's claim
is `solved` and names an existing solution at its epoch; no (event, epoch) taken by two processes; no
event solved twice (two solution objects). Baselines in the same run: the raw rate of conditional
creates on this server (one client, 32 in flight, distinct keys; and 10 racers per key), and the same
benchmark with `--baseline-stations` stations on a tenth of the events.

Run: ``python scripts/bench/claims.py [--stations 50] [--events 2000] [--baseline-stations 5]``.
The last line is ``BENCH {json}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ams_actors.actors import event_broker
from ams_actors.kernels import geo
from ams_actors.runtime.clock import RealClock
from ams_actors.runtime.files import atomic_write_bytes
from ams_actors.runtime.pool import make_pool
from ams_actors.sim.detections import meteor_docs_for_station
from ams_actors.sim.stations import BUCKET, station_config
from ams_actors.sim.world import NIGHT_START, SimStation, make_meteors, make_stations
from ams_actors.station import Station
from ams_actors.store.embedded.server import EmbeddedS3
from ams_actors.store.objectstore import Credentials, ObjectStore
from ams_actors.store.outcomes import Created, StoredObject
from protocols import claims as c
from protocols import s3_keys
from protocols.events import Event, EventMember, encode_event, event_id_base
from protocols.messages import EventClaimed, EventsChanged
from protocols.meteor_index import MeteorIndex, SiteInfo, encode_index, entry_from_meteor_json
from protocols.pipeline_files import parse_clip_name

NIGHT_MINUTES = 110.0  # 22:00-23:50: one day folder
SEE_KM = 200.0  # stations farther than this from a meteor's ground point are not asked to see it


def creds() -> Credentials:
    return Credentials.from_env("AMS_S3_ACCESS_KEY_ID", "AMS_S3_SECRET_ACCESS_KEY")


# --- the world --------------------------------------------------------------------------------------

@dataclass(slots=True)
class Injected:
    day: str
    events: list[Event]
    docs: dict[str, list[dict[str, Any]]]  # station -> its meteor docs (members only)


def build_world(stations: tuple[SimStation, ...], n_events: int, seed: int, max_members: int) -> Injected:
    """`n_events` true meteors seen by >= 2 stations, and each member's meteor doc (its longest view)."""
    rng = np.random.default_rng(seed)
    lats = np.array([s.lat for s in stations])
    lons = np.array([s.lon for s in stations])
    lat0, lon0 = float(lats.mean()), float(lons.mean())
    radius_km = max(80.0, 111.0 * max(np.ptp(lats), np.ptp(lons) * math.cos(math.radians(lat0))) / 2 + 40.0)
    cams = {s.id: station_config(s, Path("/nonexistent"), "http://127.0.0.1:1", [], ["station"], 120.0).cameras
            for s in stations}
    events: list[Event] = []
    docs: dict[str, list[dict[str, Any]]] = {s.id: [] for s in stations}
    used_ids: set[str] = set()
    day = ""
    while len(events) < n_events:
        batch = make_meteors(max(64, (n_events - len(events)) * 2), NIGHT_START, NIGHT_MINUTES, lat0, lon0,
                             radius_km, rng)
        for sm in batch:
            if len(events) >= n_events:
                break
            m = sm.meteor
            mid_lat, mid_lon, _ = m.geodetic(m.duration_s / 2.0)
            dist = {s.id: float(geo.ground_distance_m(s.lat, s.lon, mid_lat, mid_lon)) for s in stations}
            near = sorted((s for s in stations if dist[s.id] < SEE_KM * 1000.0), key=lambda s: dist[s.id])
            near = near[:max_members]  # the nearest stations only
            views: list[tuple[SimStation, dict[str, Any]]] = []
            for st in near:
                got = meteor_docs_for_station(m, st.id, st.lat, st.lon, st.alt_m, cams[st.id], rng, noise_arcsec=30.0)
                if got:
                    views.append((st, max(got, key=lambda d: len(d["frames"]))))
            if len(views) < 2:
                continue
            members = []
            for st, doc in views:
                entry = entry_from_meteor_json(doc)
                members.append(EventMember(st.id, doc["meteor_id"], entry.start_utc, entry.duration_s, doc["camera"]))
            start = min(x.start_utc for x in members)
            event_id = event_id_base(start)
            for suffix in ("", "_b", "_c", "_d"):
                if event_id + suffix not in used_ids:
                    event_id += suffix
                    break
            else:
                continue
            if any(doc["meteor_id"] in {d["meteor_id"] for d in docs[st.id]} for st, doc in views):
                continue  # the same clip minute already gave this station a meteor of that id
            used_ids.add(event_id)
            day = parse_clip_name(views[0][1]["sd_clip"]).day
            events.append(Event(event_id, 1, start, tuple(members)))
            for st, doc in views:
                docs[st.id].append(doc)
    return Injected(day, events, docs)


async def upload_world(endpoint: str, stations: tuple[SimStation, ...], world: Injected) -> None:
    """What each station's Syncer and the correlator would have uploaded (32 writes in flight)."""
    sem = asyncio.Semaphore(32)
    async with ObjectStore.open(endpoint, BUCKET, credentials=creds(), max_pool_connections=40) as store:
        await store.ensure_bucket()

        async def put(key: str, body: bytes) -> None:
            async with sem:
                await store.put(key, body)

        jobs = []
        for st in stations:
            entries = []
            for doc in world.docs[st.id]:
                clip = parse_clip_name(doc["sd_clip"])
                entries.append(entry_from_meteor_json(doc))
                jobs.append(put(s3_keys.meteor_key(st.id, clip.start_utc.date(), doc["meteor_id"]),
                                json.dumps(doc).encode()))
            if entries:
                day_date = parse_clip_name(world.docs[st.id][0]["sd_clip"]).start_utc.date()
                index = MeteorIndex(st.id, world.day, SiteInfo(st.lat, st.lon, st.alt_m),
                                    tuple(sorted(entries, key=lambda e: e.start_utc)))
                jobs.append(put(s3_keys.daily_index_key(st.id, day_date), encode_index(index)))
        for ev in world.events:
            jobs.append(put(s3_keys.event_key(ev.event_id), encode_event(ev)))
        await asyncio.gather(*jobs)


# --- baselines --------------------------------------------------------------------------------------

async def raw_put_rate(endpoint: str, n: int = 600, racers: int = 10) -> dict[str, Any]:
    """The server's own speed for the claim's primitive: conditional creates, alone and racing."""
    async with ObjectStore.open(endpoint, BUCKET, credentials=creds(), max_pool_connections=40) as store:
        await store.ensure_bucket()
        sem = asyncio.Semaphore(32)

        async def create(key: str, body: bytes) -> bool:
            async with sem:
                return isinstance(await store.put(key, body, if_none_match="*"), Created)

        t0 = time.perf_counter()
        ok = await asyncio.gather(*(create(f"_bench/solo/{i}", b"x%d" % i) for i in range(n)))
        solo_s = time.perf_counter() - t0
        keys = n // racers
        t0 = time.perf_counter()
        won = await asyncio.gather(*(create(f"_bench/race/{i // racers}", b"r%d" % i) for i in range(keys * racers)))
        race_s = time.perf_counter() - t0
        winners = Counter(i // racers for i, w in enumerate(won) if w)
    return {
        "conditional_creates_per_s": round(n / solo_s, 1),
        "all_created": all(ok),
        "racing_creates_per_s": round(keys * racers / race_s, 1),
        "race_keys": keys,
        "racers_per_key": racers,
        "race_keys_with_exactly_one_winner": sum(1 for k in range(keys) if winners[k] == 1),
    }


# --- the race ---------------------------------------------------------------------------------------

async def race(endpoint: str, n_stations: int, n_events: int, seed: int, lease_s: float,
               timeout_s: float, max_members: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    sim_stations = make_stations(n_stations, 4, 51.5, 0.0, 70.0, rng)
    t_build = time.perf_counter()
    world = build_world(sim_stations, n_events, seed + 1, max_members)
    build_s = time.perf_counter() - t_build
    t_up = time.perf_counter()
    await upload_world(endpoint, sim_stations, world)
    upload_s = time.perf_counter() - t_up
    ids = [s.id for s in sim_stations]
    pool = make_pool(1)  # mc_runs = 0: the pool is never used, but a Station needs one
    claim_log: list[tuple[str, str, str, int, float]] = []  # station, token, event, epoch, t
    with tempfile.TemporaryDirectory(prefix="ams-bench-claims-") as tmp:
        root = Path(tmp)
        stations: list[Station] = []
        for st in sim_stations:
            cfg = station_config(st, root, endpoint, [p for p in ids if p != st.id], ["station"], lease_s, mc_runs=0)
            station = Station(cfg, clock=RealClock(), executor=pool, admin_socket=False)
            _watch(station, claim_log)
            stations.append(station)
        by_id = {s.config.station_id: s for s in stations}
        mine: dict[str, list[str]] = {s: [] for s in ids}
        for ev in world.events:
            body = encode_event(ev)
            for sid in ev.stations:
                atomic_write_bytes(by_id[sid].paths.events_dir(world.day) / ev.event_id / "event.json", body)
                mine[sid].append(ev.event_id)
        t_start = time.perf_counter()
        await asyncio.gather(*(s.start() for s in stations))
        start_s = time.perf_counter() - t_start
        for s in stations:
            for name, actor in s.actors.items():
                if name not in ("EventBroker", "Solver"):
                    actor.pause()
        try:
            assert all(s.ctx.claims_enabled for s in stations), "a station's probe failed"
            t0 = time.perf_counter()
            for s in stations:
                if mine[s.config.station_id]:
                    await s.publish(EventsChanged(world.day, tuple(mine[s.config.station_id])))
            all_ids = {ev.event_id for ev in world.events}
            solved_at: float | None = None
            deadline = t0 + timeout_s
            next_note = t0 + 60.0
            progress: list[list[int]] = []  # [s since start, events solved, claims won] once a minute
            while time.perf_counter() < deadline:
                published: set[str] = set()
                # an event is settled once a broker knows its accepted solution's key (a solve can
                # fail — e.g. stations that see the meteor edge-on — and is then published as failed)
                for s in stations:
                    events: dict[str, event_broker.Tracked] = s.actors["EventBroker"].events  # type: ignore[attr-defined]
                    published.update(e for e, t in events.items() if t.status in ("done", "failed") and t.solution_key)
                if published >= all_ids:
                    solved_at = time.perf_counter() - t0
                    break
                if time.perf_counter() >= next_note:
                    progress.append([round(time.perf_counter() - t0), len(published & all_ids), len(claim_log)])
                    print(f"  {progress[-1][0]:6d} s: {progress[-1][1]}/{len(all_ids)} solved, "
                          f"{progress[-1][2]} claims", file=sys.stderr, flush=True)
                    next_note += 60.0
                await asyncio.sleep(0.2)
            last_claim = max((t for *_, t in claim_log), default=t0) - t0
            history: Counter[str] = Counter()
            solve_failed: set[str] = set()  # settled with a published "failed" solution (e.g. edge-on)
            for s in stations:
                for t in s.actors["EventBroker"].events.values():  # type: ignore[attr-defined]
                    if t.status == "failed" and t.solution_key:
                        solve_failed.add(t.event_id)
                    for h in t.history:
                        history[h.split(":")[0].split(" epoch")[0]] += 1
        finally:
            await asyncio.gather(*(s.stop() for s in stations), return_exceptions=True)
            pool.shutdown(wait=True, cancel_futures=True)
    check = await check_bucket(endpoint, world.events)
    holders: dict[tuple[str, int], set[str]] = {}
    for _sid, token, event_id, epoch, _t in claim_log:
        holders.setdefault((event_id, epoch), set()).add(token)
    n_claims = len(claim_log)
    members = [len(ev.stations) for ev in world.events]
    return {
        "stations": n_stations,
        "events": len(world.events),
        "members_per_event_mean": round(float(np.mean(members)), 2),
        "members_per_event_max": int(max(members)),
        "claims_won": n_claims,
        "claims_per_s": round(n_claims / max(1e-9, last_claim), 1),
        "solved_all_s": None if solved_at is None else round(solved_at, 1),
        "solved_in_time": len(world.events) - check["events_unsolved"],
        "solutions_status_failed": len(solve_failed),
        "progress_per_min": progress,
        "events_per_s": None if solved_at is None else round(len(world.events) / solved_at, 1),
        "claim_writes": history.get("create", 0) + history.get("replace", 0),
        "claim_creates": history.get("create", 0),
        "claim_takeovers": history.get("replace", 0),
        "waits_behind_holder": history.get("wait", 0),
        "self_fenced": sum(v for k, v in history.items() if k.startswith("self-fenced")),
        "epochs_held_by_two_processes": sum(1 for v in holders.values() if len(v) > 1),
        **check,
        "setup_s": {"world": round(build_s, 1), "upload": round(upload_s, 1), "station_start": round(start_s, 1)},
    }


def _watch(station: Station, log: list[tuple[str, str, str, int, float]]) -> None:
    """Log every EventClaimed on its way to the Solver: who believed it held which epoch, when."""
    solver = station.actors["Solver"]
    token = station.actors["EventBroker"].me.token  # type: ignore[attr-defined]
    tell = solver.tell

    async def watched(msg: Any) -> None:
        if isinstance(msg, EventClaimed):
            log.append((station.config.station_id, token, msg.event_id, msg.epoch, time.perf_counter()))
        await tell(msg)

    solver.tell = watched  # type: ignore[method-assign]


async def check_bucket(endpoint: str, events: list[Event]) -> dict[str, Any]:
    """Read every event's claim and solutions back from the bucket: exactly one accepted solution each."""
    async with ObjectStore.open(endpoint, BUCKET, credentials=creds(), max_pool_connections=40) as store:
        solutions: dict[str, list[str]] = {}
        for key in await store.list_keys("events/"):
            if "/solutions/" in key:
                solutions.setdefault(key.split("/")[3], []).append(key)
        sem = asyncio.Semaphore(32)

        async def claim(event_id: str) -> c.ClaimRecord | None:
            async with sem:
                got = await store.get(s3_keys.claim_key(event_id))
            return c.ClaimRecord.from_bytes(got.body) if isinstance(got, StoredObject) else None

        claims = await asyncio.gather(*(claim(ev.event_id) for ev in events))
    unsolved = accepted_missing = same_epoch = 0
    for ev, rec in zip(events, claims, strict=True):
        keys = solutions.get(ev.event_id, [])
        accepted = c.accepted_solution_key(rec)
        if rec is None or rec.state != c.ClaimState.SOLVED:
            unsolved += 1
        elif accepted not in keys:
            accepted_missing += 1
        epochs = Counter(k.rsplit("/", 1)[-1].split("-", 1)[0] for k in keys)
        same_epoch += sum(1 for n in epochs.values() if n > 1)
    return {
        "events_unsolved": unsolved,
        "accepted_solution_missing": accepted_missing,
        "double_solves": sum(1 for ev in events if len(solutions.get(ev.event_id, [])) > 1),
        "solutions_same_epoch": same_epoch,
        "solution_objects": sum(len(v) for v in solutions.values()),
        "max_epoch": max((r.epoch for r in claims if r is not None), default=0),
    }


def _reset(endpoint: str) -> None:
    import urllib.request

    req = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(req, timeout=30).close()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    if args.preference_step is not None:
        event_broker.PREFERENCE_STEP_S = args.preference_step
    out: dict[str, Any] = {"bench": "claims", "preference_step_s": event_broker.PREFERENCE_STEP_S,
                           "lease_s": args.lease, "mc_runs": 0, "clock": "real",
                           "ran": "Station x N (EventBroker + Solver running; other actors paused); meteors, "
                                  "indexes and events injected into the bucket and EVENTS folders",
                           "cpus": os.cpu_count()}
    with EmbeddedS3() as s3:
        out["raw_server"] = await raw_put_rate(s3.url)
        _reset(s3.url)
        if args.baseline_stations:
            n = max(20, args.events // 10)
            out["baseline"] = await race(s3.url, args.baseline_stations, n, args.seed, args.lease, args.timeout,
                                   args.max_members)
            print(f"baseline: {json.dumps(out['baseline'])}", flush=True)
            _reset(s3.url)
        out["result"] = await race(s3.url, args.stations, args.events, args.seed, args.lease, args.timeout,
                                   args.max_members)
    r = out["result"]
    out["ok"] = (r["double_solves"] == 0 and r["events_unsolved"] == 0 and r["accepted_solution_missing"] == 0
                 and r["epochs_held_by_two_processes"] == 0 and r["solved_all_s"] is not None)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--stations", type=int, default=50)
    p.add_argument("--events", type=int, default=2000)
    p.add_argument("--baseline-stations", type=int, default=5, help="0: no baseline race")
    p.add_argument("--preference-step", type=float, default=None,
                   help="seconds between members' first looks (default: the EventBroker's, 15; 0 = all race at once)")
    p.add_argument("--max-members", type=int, default=4, help="stations per event at most (the nearest that see it)")
    p.add_argument("--lease", type=float, default=120.0, help="claim lease, real seconds")
    p.add_argument("--timeout", type=float, default=1800.0, help="give up waiting for all solves after this")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    os.environ.setdefault("AMS_S3_ACCESS_KEY_ID", "sim")
    os.environ.setdefault("AMS_S3_SECRET_ACCESS_KEY", "sim")
    out = asyncio.run(main_async(args))
    print("BENCH " + json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
