"""EventBroker + Solver on real Stations against a real S3 endpoint (moto), on a virtual clock.

Two stations see one true meteor. The claim protocol must give the event to exactly one of them,
that one solves and publishes, and the other copies the accepted solution. A holder that dies
mid-solve (no release) is taken over after the lease, at epoch 2, by the other station.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ams_actors.config import parse_config
from ams_actors.kernels import geo
from ams_actors.runtime.clock import VirtualClock
from ams_actors.runtime.files import atomic_write_bytes
from ams_actors.runtime.pool import make_pool
from ams_actors.sim.detections import meteor_docs_for_station
from ams_actors.sim.trajectories import TrueMeteor
from ams_actors.station import Station
from ams_actors.store.objectstore import Credentials, ObjectStore
from ams_actors.store.outcomes import StoredObject
from protocols import claims as c
from protocols import s3_keys
from protocols.events import Event, EventMember, encode_event, event_id_base
from protocols.messages import EventsChanged
from protocols.meteor_index import MeteorIndex, SiteInfo, encode_index, entry_from_meteor_json
from protocols.pipeline_files import parse_clip_name

SITES = {"AMS1": (51.0, 0.0), "AMS2": (51.0, 1.3)}  # ~91 km apart
EPOCH = datetime(2026, 7, 12, 22, 15, 6, 355000, tzinfo=UTC)


def config(station: str, root: Path, endpoint: str):  # type: ignore[no-untyped-def]
    lat, lon = SITES[station]
    cams = "".join(
        f'[[cameras]]\nid = "{10001 + i:06d}"\naz_deg = {az:.1f}\nel_deg = 40.0\nfov_h_deg = 100.0\n'
        for i, az in enumerate((0.0, 90.0, 180.0, 270.0))
    )
    return parse_config(
        f"""
[station]
id = "{station}"
lat = {lat}
lon = {lon}
alt_m = 30.0
data_root = "{root / station}"
{cams}
[store]
endpoint = "{endpoint}"
bucket = "ams-test"
access_key_env = "AWS_ACCESS_KEY_ID"
secret_key_env = "AWS_SECRET_ACCESS_KEY"
[network]
partners = ["{'AMS2' if station == 'AMS1' else 'AMS1'}"]
[claims]
lease_s = 30.0
skew_margin_s = 5.0
renew_margin_s = 3.0
[runtime]
workers = 1
""",
        source=f"{station}.toml",
    )


async def publish_world(endpoint: str, stations: list[Station]) -> tuple[str, str, TrueMeteor]:
    """Upload both stations' meteor JSON and daily index; write the event.json each would have synced."""
    mid = geo.geodetic_to_ecef(51.0, 0.65, 0.0)
    lat, lon, _ = geo.ecef_to_geodetic(mid)
    meteor = TrueMeteor.from_geodetic(float(lat) + 0.05, float(lon), 95_000.0, 120.0, 45.0, 30_000.0, 1.0, EPOCH)
    rng = np.random.default_rng(5)
    members, day = [], ""
    async with ObjectStore.open(endpoint, "ams-test", credentials=Credentials("testing", "testing")) as store:
        await store.ensure_bucket()
        for st in stations:
            cfg = st.config
            docs = meteor_docs_for_station(meteor, cfg.station_id, cfg.station.lat, cfg.station.lon,
                                           cfg.station.alt_m, cfg.cameras, rng, noise_arcsec=30.0)
            assert docs, f"{cfg.station_id} sees nothing"
            doc = max(docs, key=lambda d: len(d["frames"]))
            clip = parse_clip_name(doc["sd_clip"])
            day = clip.day
            entry = entry_from_meteor_json(doc)
            await store.put(s3_keys.meteor_key(cfg.station_id, clip.start_utc.date(), doc["meteor_id"]),
                            json.dumps(doc).encode())
            site = SiteInfo(cfg.station.lat, cfg.station.lon, cfg.station.alt_m)
            index = MeteorIndex(cfg.station_id, day, site, (entry,))
            await store.put(s3_keys.daily_index_key(cfg.station_id, clip.start_utc.date()), encode_index(index))
            members.append(EventMember(cfg.station_id, doc["meteor_id"], entry.start_utc, entry.duration_s, doc["camera"]))
    start = min(m.start_utc for m in members)
    event = Event(event_id_base(start), 1, start, tuple(members))
    for st in stations:
        atomic_write_bytes(st.paths.events_dir(day) / event.event_id / "event.json", encode_event(event))
    return day, event.event_id, meteor


def status(station: Station, event_id: str) -> str:
    tracked = station.actors["EventBroker"].events.get(event_id)  # type: ignore[attr-defined]
    return "untracked" if tracked is None else str(tracked.status)


def holds(station: Station, event_id: str) -> bool:
    tracked = station.actors["EventBroker"].events.get(event_id)  # type: ignore[attr-defined]
    return tracked is not None and tracked.held is not None


async def run_until(clock: VirtualClock, cond, step_s: float = 1.0, real_limit_s: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    """Advance virtual time in steps, giving real time to S3 round trips and the process pool."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + real_limit_s
    while loop.time() < deadline:
        if cond():
            return
        await clock.advance(step_s)
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def read_claim(endpoint: str, event_id: str) -> c.ClaimRecord:
    async with ObjectStore.open(endpoint, "ams-test", credentials=Credentials("testing", "testing")) as store:
        got = await store.get(s3_keys.claim_key(event_id))
        assert isinstance(got, StoredObject)
        return c.ClaimRecord.from_bytes(got.body)


async def list_solutions(endpoint: str, event_id: str) -> list[str]:
    async with ObjectStore.open(endpoint, "ams-test", credentials=Credentials("testing", "testing")) as store:
        return await store.list_keys(s3_keys.solutions_prefix(event_id))


def _warm() -> bool:
    import ams_actors.kernels.trajectory  # noqa: F401  (the solver's imports take seconds the first time)

    return True


@pytest.fixture(scope="module")
def pool():  # type: ignore[no-untyped-def]
    p = make_pool(1)
    assert p.submit(_warm).result(timeout=120)
    yield p
    p.shutdown(wait=True, cancel_futures=True)


async def test_one_station_solves_the_other_copies(any_s3: str, tmp_path: Path, pool) -> None:  # type: ignore[no-untyped-def]
    clock = VirtualClock(start=EPOCH)
    stations = [Station(config(s, tmp_path, any_s3), clock=clock, executor=pool, admin_socket=False)
                for s in SITES]
    day, event_id, meteor = await publish_world(any_s3, stations)
    await asyncio.gather(*(s.start() for s in stations))
    try:
        assert all(s.ctx.claims_enabled for s in stations)
        for s in stations:
            await s.publish(EventsChanged(day, (event_id,)))
        brokers = [s.actors["EventBroker"] for s in stations]
        await run_until(clock, lambda: all(status(s, event_id) == "done" for s in stations))
        claim = await read_claim(any_s3, event_id)
        assert claim.state == c.ClaimState.SOLVED and claim.epoch == 1
        assert await list_solutions(any_s3, event_id) == [claim.solution_key]
        docs = [json.loads((s.paths.events_dir(day) / event_id / "solution.json").read_text()) for s in stations]
        assert docs[0] == docs[1] and docs[0]["status"] == "solved"
        # the solution is the true meteor (30" noise, ~90 km baseline)
        begin = geo.geodetic_to_ecef(docs[0]["begin"]["lat"], docs[0]["begin"]["lon"], docs[0]["begin"]["alt_m"])
        assert float(meteor.distance_from_line_m(np.asarray(begin)[None, :])[0]) < 500.0
        assert abs(docs[0]["v_init_m_s"] - 30_000.0) / 30_000.0 < 0.03
        report = brokers[0].claims_report()  # type: ignore[attr-defined]
        assert report["held"] == [] and report["seen"][0]["event_id"] == event_id
    finally:
        await asyncio.gather(*(s.stop() for s in stations))


async def test_a_holder_killed_mid_solve_is_taken_over_after_the_lease(any_s3: str, tmp_path: Path, pool) -> None:  # type: ignore[no-untyped-def]
    clock = VirtualClock(start=EPOCH)
    stations = [Station(config(s, tmp_path, any_s3), clock=clock, executor=pool, admin_socket=False)
                for s in SITES]
    day, event_id, _ = await publish_world(any_s3, stations)
    await asyncio.gather(*(s.start() for s in stations))
    try:
        for s in stations:
            s.actors["Solver"].pause()  # whoever claims first never gets to solve ...
        for s in stations:
            await s.publish(EventsChanged(day, (event_id,)))
        await run_until(clock, lambda: any(holds(s, event_id) for s in stations))
        first = next(s for s in stations if holds(s, event_id))
        other = next(s for s in stations if s is not first)
        await first.supervisor.cancel_all()  # ... because it dies: tasks cancelled, nothing released
        other.actors["Solver"].resume()
        t_killed = clock.monotonic()
        await run_until(clock, lambda: status(other, event_id) == "done")
        claim = await read_claim(any_s3, event_id)
        assert claim.state == c.ClaimState.SOLVED and claim.epoch == 2 and claim.owner == other.config.station_id
        assert clock.monotonic() - t_killed >= 30.0  # not before the lease (+ margin) ran out
        assert await list_solutions(any_s3, event_id) == [
            s3_keys.solution_key(event_id, 2, other.config.station_id)
        ]
    finally:
        await asyncio.gather(*(s.stop() for s in stations))



async def test_a_restarted_station_takes_up_its_previous_runs_claim_before_its_first_sync(
        any_s3: str, tmp_path: Path, pool) -> None:  # type: ignore[no-untyped-def]
    """The holder crashes and systemd starts it again at once: the new process must take the claim
    its previous run held (same station, older token) right away, not after its Syncer's first
    cycle (300 s, longer than the 30 s lease here and than the 120 s default) lets the lease run out
    and another station solve the event again."""
    clock = VirtualClock(start=EPOCH)
    stations = [Station(config(s, tmp_path, any_s3), clock=clock, executor=pool, admin_socket=False)
                for s in SITES]
    day, event_id, _ = await publish_world(any_s3, stations)
    await asyncio.gather(*(s.start() for s in stations))
    reborn: Station | None = None
    try:
        for s in stations:
            s.actors["Solver"].pause()
            await s.publish(EventsChanged(day, (event_id,)))
        await run_until(clock, lambda: any(holds(s, event_id) for s in stations))
        first = next(s for s in stations if holds(s, event_id))
        other = next(s for s in stations if s is not first)
        await first.supervisor.cancel_all()  # a crash: nothing released
        await first.stop()
        t_restart = clock.monotonic()
        reborn = Station(first.config, clock=clock, executor=pool, admin_socket=False)
        await reborn.start()  # nobody tells it about the event: its broker must look by itself
        await run_until(clock, lambda: holds(reborn, event_id) or status(reborn, event_id) == "done")
        assert clock.monotonic() - t_restart < 30.0  # taken up within the old lease ...
        assert reborn.actors["Syncer"].last_report is None  # type: ignore[attr-defined]  # ... before any sync
        await run_until(clock, lambda: status(reborn, event_id) == "done")
        claim = await read_claim(any_s3, event_id)
        assert claim.state == c.ClaimState.SOLVED and claim.epoch == 2 and claim.owner == first.config.station_id
        assert claim.token == reborn.actors["EventBroker"].me.token  # type: ignore[attr-defined]
        other.actors["Solver"].resume()
        await run_until(clock, lambda: status(other, event_id) == "done")
        assert await list_solutions(any_s3, event_id) == [claim.solution_key]
    finally:
        await asyncio.gather(*(s.stop() for s in [*stations, *([reborn] if reborn else [])]))


async def test_a_station_that_boots_offline_claims_once_the_store_is_back(s3_endpoint: str, tmp_path: Path,
                                                                         pool) -> None:  # type: ignore[no-untyped-def]
    """Issue 16 item 3: both stations start while every request fails (503): the probe gets no
    answer, claims are off and nothing is claimed. The store returns: station AMS1 notices at its
    next request (as a Syncer upload would) and probes at once; AMS2, with no traffic of its own,
    probes on its timer at the latest. Both claim again and the event is solved once."""
    from ams_actors.actors.store_watch import REPROBE_DISABLED_S
    from ams_actors.store import RetryPolicy
    from ams_actors.store.proxy import FaultProxy

    async def no_sleep(_: float) -> None:
        await asyncio.sleep(0)

    clock = VirtualClock(start=EPOCH)
    with FaultProxy(s3_endpoint) as proxy:
        async with contextlib.AsyncExitStack() as stack:
            stores = [await stack.enter_async_context(ObjectStore.open(
                proxy.url, "ams-test", credentials=Credentials("testing", "testing"),
                retry=RetryPolicy(attempts=2, sleep=no_sleep))) for _ in SITES]
            stations = [Station(config(s, tmp_path, proxy.url), clock=clock, executor=pool, admin_socket=False,
                                store=store) for s, store in zip(SITES, stores, strict=True)]
            day, event_id, _ = await publish_world(s3_endpoint, stations)
            proxy.update(error_rate=1.0, error_status=503)
            await asyncio.gather(*(s.start() for s in stations))
            try:
                assert not any(s.ctx.claims_enabled for s in stations)
                assert all("no usable answer" in s.status()["store"] for s in stations)
                for s in stations:
                    await s.publish(EventsChanged(day, (event_id,)))
                for _ in range(12):  # two minutes of outage: nothing is claimed
                    await clock.advance(10.0)
                    await asyncio.sleep(0.01)
                assert not any(holds(s, event_id) for s in stations)
                proxy.clear()
                back = clock.monotonic()
                await stores[0].head("any/key")  # the first request that gets an answer again
                await run_until(clock, lambda: stations[0].ctx.claims_enabled, step_s=1.0)
                # at its next watch tick, not on the 10-min timer (run_until keeps advancing virtual
                # time while the probe's real round trips run, hence the slack)
                assert clock.monotonic() - back < REPROBE_DISABLED_S / 4
                await run_until(clock, lambda: all(status(s, event_id) == "done" for s in stations), step_s=5.0)
                assert stations[1].ctx.claims_enabled and clock.monotonic() - back <= REPROBE_DISABLED_S + 120.0
                assert "claims enabled" in stations[1].status()["store"]
                claim = await read_claim(s3_endpoint, event_id)
                assert claim.state == c.ClaimState.SOLVED and claim.epoch == 1
                assert await list_solutions(s3_endpoint, event_id) == [claim.solution_key]
            finally:
                await asyncio.gather(*(s.stop() for s in stations))


async def test_an_event_merged_into_another_is_never_solved(s3_endpoint: str, tmp_path: Path, pool) -> None:  # type: ignore[no-untyped-def]
    """Issue 16 item 4: a tracked event that the correlator then merged into another one (its event.json
    now has `superseded_by`) must not be claimed, solved or published: the claim held is released."""
    from dataclasses import replace

    clock = VirtualClock(start=EPOCH)
    stations = [Station(config(s, tmp_path, s3_endpoint), clock=clock, executor=pool, admin_socket=False)
                for s in SITES]
    day, event_id, _ = await publish_world(s3_endpoint, stations)
    await asyncio.gather(*(s.start() for s in stations))
    try:
        for s in stations:
            s.actors["Solver"].pause()  # the holder is mid-solve when the merge arrives
            await s.publish(EventsChanged(day, (event_id,)))
        await run_until(clock, lambda: any(holds(s, event_id) for s in stations))
        path = stations[0].paths.events_dir(day) / event_id / "event.json"
        from protocols.events import decode_event

        merged = replace(decode_event(path.read_bytes()), revision=2, superseded_by=event_id[:-3] + "999")
        for s in stations:  # what the Syncer writes when it downloads the new revision
            atomic_write_bytes(s.paths.events_dir(day) / event_id / "event.json", encode_event(merged))
        for s in stations:
            s.actors["Solver"].resume()
        for _ in range(90):  # time enough to solve and publish (old code: it did), and for the lease to run out
            await clock.advance(2.0)
            await asyncio.sleep(0.05)
        assert await list_solutions(s3_endpoint, event_id) == []
        assert all(status(s, event_id) == "superseded" and not holds(s, event_id) for s in stations)
        claim = await read_claim(s3_endpoint, event_id)
        assert claim.state != c.ClaimState.SOLVED
        assert all(not (s.paths.events_dir(day) / event_id / "solution.json").exists() for s in stations)
    finally:
        await asyncio.gather(*(s.stop() for s in stations))


async def test_bad_partner_files_leave_their_member_out_and_the_station_runs_on(
        s3_endpoint: str, tmp_path: Path, pool, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    """Issue 16 item 2: a malformed partner meteor JSON (or index) crashed the EventBroker in build_obs,
    the claim was still ours after the restart, and the station crash-looped. Now each bad member is
    logged once and left out: solved without it when >= 2 stations remain, else recorded as failed."""
    import gzip
    import logging
    from dataclasses import replace

    from protocols.events import decode_event

    clock = VirtualClock(start=EPOCH)
    stations = [Station(config(s, tmp_path, s3_endpoint), clock=clock, executor=pool, admin_socket=False)
                for s in SITES]
    day, event_id, _ = await publish_world(s3_endpoint, stations)
    event = decode_event((stations[0].paths.events_dir(day) / event_id / "event.json").read_bytes())
    good = {m.station_id: m for m in event.members}
    m2, d = good["AMS2"], event.start_utc.date()
    async with ObjectStore.open(s3_endpoint, "ams-test", credentials=Credentials("testing", "testing")) as store:
        got = await store.get(s3_keys.meteor_key("AMS2", d, m2.meteor_id))
        idx = await store.get(s3_keys.daily_index_key("AMS2", d))
        assert isinstance(got, StoredObject) and isinstance(idx, StoredObject)
        doc2 = json.loads(got.body)

        def as_station(station: str, **changes: object) -> bytes:
            return json.dumps({**doc2, "station": station, **changes}).encode()

        nan_frames = [dict(f) for f in doc2["frames"]]
        nan_frames[0]["az"] = float("nan")
        bad: dict[str, bytes] = {
            "AMS3": b"{not json",
            "AMS4": as_station("AMS4", frames="nope"),  # wrong type
            "AMS5": json.dumps({k: v for k, v in json.loads(as_station("AMS5")).items() if k != "frames"}).encode(),
            "AMS6": as_station("AMS6") + b" " * (5 * 1024 * 1024),  # huge
            "AMS7": as_station("AMS7", frames=nan_frames),  # NaN
            "AMS8": as_station(".."),  # bad id (and not the station its key names)
            "AMS9": as_station("AMS9"),  # a good meteor file, but its station's index is garbage
        }
        index2 = json.loads(gzip.decompress(idx.body))
        for st, body in bad.items():
            await store.put(s3_keys.meteor_key(st, d, m2.meteor_id), body)
            index = gzip.compress(json.dumps({**index2, "station_id": st}).encode())
            await store.put(s3_keys.daily_index_key(st, d), b"garbage" if st == "AMS9" else index)
    members = tuple(replace(m2, station_id=st) for st in bad)
    solvable = replace(event, members=event.members + members)
    unsolvable = replace(event, event_id=event_id[:-3] + "999", members=(good["AMS1"], *members))
    for s in stations:
        for ev in (solvable, unsolvable):
            atomic_write_bytes(s.paths.events_dir(day) / ev.event_id / "event.json", encode_event(ev))
    caplog.set_level(logging.WARNING)
    await asyncio.gather(*(s.start() for s in stations))
    try:
        for s in stations:
            await s.publish(EventsChanged(day, (solvable.event_id, unsolvable.event_id)))
        await run_until(clock, lambda: all(status(s, e) in ("done", "failed") for s in stations
                                           for e in (solvable.event_id, unsolvable.event_id)), real_limit_s=180.0)
        for _ in range(20):  # and a while longer: nothing is retried, nothing crashes
            await clock.advance(5.0)
            await asyncio.sleep(0.02)
        assert all(s.supervisor.failed.is_set() is False for s in stations)
        assert all(s.actors["EventBroker"].failed == 0 for s in stations)  # no crash, no restart
        claim = await read_claim(s3_endpoint, solvable.event_id)
        assert claim.state == c.ClaimState.SOLVED
        obs = json.loads((stations[0].paths.events_dir(day) / solvable.event_id / "obs.json").read_text()
                         if (stations[0].paths.events_dir(day) / solvable.event_id / "obs.json").exists() else
                         (stations[1].paths.events_dir(day) / solvable.event_id / "obs.json").read_text())
        assert sorted(o["station_id"] for o in obs["observations"]) == ["AMS1", "AMS2"]
        sol = json.loads((stations[0].paths.events_dir(day) / solvable.event_id / "solution.json").read_text())
        assert sol["status"] == "solved"
        claim = await read_claim(s3_endpoint, unsolvable.event_id)
        assert claim.state == c.ClaimState.SOLVED  # recorded (as failed), so nobody retries it
        assert await list_solutions(s3_endpoint, unsolvable.event_id) == [claim.solution_key]
        failed = json.loads((stations[0].paths.events_dir(day) / unsolvable.event_id / "solution.json").read_text())
        assert failed["status"] == "failed" and "fewer than 2 stations" in json.dumps(failed)
    finally:
        await asyncio.gather(*(s.stop() for s in stations))
    lines = [r.getMessage() for r in caplog.records if "member left out" in r.getMessage()]
    assert all("\n" not in line for line in lines)
    for st in bad:  # each bad file named, and logged once per station process at most
        assert 1 <= sum(f"/{st}/" in line or f"stations/{st}" in line for line in lines) <= 2, (st, lines)
    assert "Traceback" not in caplog.text


async def test_a_holder_publishes_only_under_a_fresh_lease(s3_endpoint: str, tmp_path: Path, pool) -> None:  # type: ignore[no-untyped-def]
    """The duplicate solve of the network-mode night: the holder's renewals had not landed for a while
    (here: 503s), its solve finished just before its self-fence deadline, the check before publishing
    passed, and the upload then took a few seconds. The partner's lease timer ran out meanwhile, it
    took epoch 2 and solved again, the holder's upload landed as a second solution object, and its
    `solved` write got 412 ("claim changed before it could be marked solved"). Publishing now first
    renews the claim, which restarts the partner's timer: one solve, one solution object."""
    from ams_actors.store import RetryPolicy
    from ams_actors.store.proxy import FaultProxy

    async def no_sleep(_: float) -> None:
        await asyncio.sleep(0)

    clock = VirtualClock(start=EPOCH)  # lease 30 s: the holder fences at 27 s, the partner takes at 35 s
    with FaultProxy(s3_endpoint) as p0, FaultProxy(s3_endpoint) as p1:
        proxies = [p0, p1]
        async with contextlib.AsyncExitStack() as stack:
            stores = [await stack.enter_async_context(ObjectStore.open(
                p.url, "ams-test", credentials=Credentials("testing", "testing"),
                retry=RetryPolicy(attempts=2, sleep=no_sleep))) for p in proxies]
            stations = [Station(config(s, tmp_path, p.url), clock=clock, executor=pool, admin_socket=False,
                                store=store) for s, p, store in zip(SITES, proxies, stores, strict=True)]
            day, event_id, _ = await publish_world(s3_endpoint, stations)
            await asyncio.gather(*(s.start() for s in stations))
            try:
                for s in stations:
                    s.actors["Solver"].pause()
                    await s.publish(EventsChanged(day, (event_id,)))
                await run_until(clock, lambda: any(holds(s, event_id) for s in stations))
                i = next(i for i, s in enumerate(stations) if holds(s, event_id))
                holder, partner, proxy = stations[i], stations[1 - i], proxies[i]
                hb: Any = holder.actors["EventBroker"]
                pb: Any = partner.actors["EventBroker"]
                await run_until(clock, lambda: status(partner, event_id) == "waiting")
                proxy.update(error_rate=1.0, error_status=503, methods=frozenset({"PUT"}), path_regex="claim\\.json")
                while clock.monotonic() - hb.events[event_id].held.renewed_at < 24.0:  # renewals fail ...
                    await clock.advance(1.0)
                    await asyncio.sleep(0.02)
                assert holds(holder, event_id)  # ... but not for long enough to self-fence (27 s)
                since = pb.events[event_id].observed.unchanged_since
                # the solution upload takes 4 s of real time, in which the partner's timer runs out (35 s
                # after it first saw the holder's last renewal) but not 35 s after a renewal sent now
                proxy.update(error_rate=0.0, delay_s=4.0, path_regex="/solutions/")
                holder.actors["Solver"].resume()
                await run_until(clock, lambda: proxy.stats.delays_injected > 0, step_s=0.0)
                assert since + 38.0 < clock.monotonic() + 35.0
                while clock.monotonic() < since + 38.0:
                    await clock.advance(0.5)
                    await asyncio.sleep(0.02)
                await run_until(clock, lambda: status(holder, event_id) in ("done", "pending"), step_s=0.0)
                partner.actors["Solver"].resume()
                await run_until(clock, lambda: all(status(s, event_id) == "done" for s in stations))
                claim = await read_claim(s3_endpoint, event_id)
                assert claim.state == c.ClaimState.SOLVED
                assert await list_solutions(s3_endpoint, event_id) == [claim.solution_key]
                assert claim.epoch == 1 and claim.owner == holder.config.station_id
            finally:
                await asyncio.gather(*(s.stop() for s in stations))
