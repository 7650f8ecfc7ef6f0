"""Publisher against a real S3 endpoint (moto): the public day index lists each solved event once, with
the accepted solution only; it grows as events are solved, is not rewritten when nothing changed, and
two publishers racing for it converge to one correct index."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from ams_actors.actors.base import StationActor, StationContext
from ams_actors.actors.publisher import DayResult, Publisher
from ams_actors.config import StationConfig, parse_config
from ams_actors.runtime.clock import VirtualClock
from ams_actors.station import Station
from ams_actors.store.local_paths import StationPaths
from ams_actors.store.objectstore import Credentials, ObjectStore
from ams_actors.store.outcomes import StoredObject
from protocols import claims as c
from protocols import s3_keys
from protocols.observations import GeoPoint, Orbit, Quality, Radiant, Solution, SolverInfo

DAY = date(2026, 7, 12)
NOW = datetime(2026, 7, 12, 23, 30, tzinfo=UTC)


def config(station: str, root: Path, endpoint: str) -> StationConfig:
    return parse_config(
        f"""
[station]
id = "{station}"
lat = 51.0
lon = 0.0
alt_m = 30.0
data_root = "{root / station}"
[[cameras]]
id = "010001"
[store]
endpoint = "{endpoint}"
bucket = "ams-test"
access_key_env = "AWS_ACCESS_KEY_ID"
secret_key_env = "AWS_SECRET_ACCESS_KEY"
[network]
roles = ["station", "publisher"]
""",
        source=f"{station}.toml",
    )


@pytest.fixture()
async def store(s3_endpoint: str) -> AsyncIterator[ObjectStore]:
    async with ObjectStore.open(s3_endpoint, "ams-test", credentials=Credentials("testing", "testing")) as st:
        await st.ensure_bucket()
        yield st


def publisher(station: str, tmp_path: Path, endpoint: str, store: Any, clock: VirtualClock) -> Publisher:
    cfg = config(station, tmp_path, endpoint)
    ctx = StationContext(cfg, clock, StationPaths(cfg.data_root, station), store=store, claims_enabled=True)
    return Publisher("Publisher", ctx)


def solution(event_id: str, stations: tuple[str, ...], v: float = 30_000.0, quality: Quality | None = None) -> bytes:
    sol = Solution(
        event_id=event_id,
        status="solved",
        solver=SolverInfo("ams", "0.1", "lsq", 0, 0.5),
        stations=stations,
        begin=GeoPoint(51.0, 0.5, 98_765.4),
        end=GeoPoint(51.1, 0.6, 81_234.5),
        v_init_m_s=v,
        v_avg_m_s=v - 500,
        radiant=Radiant(310.1234, 58.4321),
        v_g_m_s=v - 2000,
        orbit=Orbit(2.5, 0.6, 110.0, 150.0, 110.0, 0.95),
        convergence_angle_deg=40.0,
        quality=quality,
    )
    return json.dumps(sol.to_json_dict()).encode()


async def put_claim(store: ObjectStore, event_id: str, epoch: int, owner: str, state: str, revision: int = 1) -> None:
    rec = c.ClaimRecord(event_id, c.ClaimState.CLAIMED, owner, f"tok-{owner}", epoch, 60.0, epoch * 10,
                        "2026-07-12T23:00:00+00:00", revision)
    if state == "solved":
        rec = c.solved(rec, s3_keys.solution_key(event_id, epoch, owner), "2026-07-12T23:05:00+00:00")
    await store.put(s3_keys.claim_key(event_id), rec.to_bytes())


async def solve(store: ObjectStore, event_id: str, epoch: int = 1, owner: str = "AMS1", revision: int = 1) -> str:
    key = s3_keys.solution_key(event_id, epoch, owner)
    await store.put(key, solution(event_id, ("AMS1", "AMS2")), if_none_match="*")
    await put_claim(store, event_id, epoch, owner, "solved", revision)
    return key


async def read_index(store: ObjectStore, day: date = DAY) -> tuple[dict[str, Any], str]:
    got = await store.get(s3_keys.day_index_key(day))
    assert isinstance(got, StoredObject)
    return json.loads(got.body), got.etag


EVENTS = ["20260712_221506_355", "20260712_223000_001", "20260712_231500_500"]


async def test_index_lists_solved_events_with_accepted_keys_and_grows(
    s3_endpoint: str, store: ObjectStore, tmp_path: Path
) -> None:
    clock = VirtualClock(start=NOW)
    pub = publisher("PUB1", tmp_path, s3_endpoint, store, clock)
    k0 = await solve(store, EVENTS[0])
    k1 = await solve(store, EVENTS[1], epoch=2, owner="AMS2", revision=3)
    await put_claim(store, EVENTS[2], 1, "AMS1", "claimed")  # claimed, being solved: not public yet
    await store.put(s3_keys.event_key(EVENTS[2]), b"{}")
    # yesterday has no events: an empty index is written for it
    r_yesterday, r_today = await pub.publish_recent()
    assert r_today.written and r_today.listed == 2 and not r_today.error
    assert r_yesterday.day == "2026_07_11" and r_yesterday.listed == 0

    doc, etag = await read_index(store)
    assert doc["format"] == "ams-day-index" and doc["day"] == "2026_07_12" and doc["count"] == 2
    assert [e["event_id"] for e in doc["events"]] == EVENTS[:2]
    e0, e1 = doc["events"]
    assert e0["solution_key"] == k0 and e0["epoch"] == 1 and e0["solved_by"] == "AMS1"
    assert e1["solution_key"] == k1 and e1["epoch"] == 2 and e1["solved_by"] == "AMS2" and e1["revision"] == 3
    assert e0["status"] == "solved" and e0["stations"] == ["AMS1", "AMS2"]
    assert e0["begin_alt_m"] == 98_765.4 and e0["end_alt_m"] == 81_234.5 and e0["v_init_m_s"] == 30_000.0
    assert e0["radiant"] == {"ra_deg": 310.1234, "dec_deg": 58.4321} and e0["v_g_m_s"] == 28_000.0
    assert e0["orbit"] == {"a_au": 2.5, "e": 0.6, "i_deg": 110.0, "q_au": 0.95}

    # nothing changed: no write (the ETag stays, the result says so)
    again = await pub.publish_day(DAY)
    assert again.unchanged and not again.written
    assert (await read_index(store))[1] == etag

    # the third event is solved later: added on the next pass, the others kept, each listed once
    k2 = await solve(store, EVENTS[2])
    clock_result = await pub.on_task("publish", "2026_07_12")
    assert clock_result.done == 1 and clock_result.failed == 0
    doc, etag2 = await read_index(store)
    assert etag2 != etag
    assert [e["event_id"] for e in doc["events"]] == EVENTS
    assert doc["events"][2]["solution_key"] == k2

    # the first event gains a member: stale, re-claimed at epoch 2 and re-solved; the new solution replaces
    # the old one in place (listed once), and until it is accepted the old one stays listed
    await put_claim(store, EVENTS[0], 2, "AMS2", "claimed", revision=2)
    assert (await pub.publish_day(DAY)).unchanged
    k0b = await solve(store, EVENTS[0], epoch=2, owner="AMS2", revision=2)
    assert (await pub.publish_day(DAY)).written
    doc, _ = await read_index(store)
    assert [e["event_id"] for e in doc["events"]] == EVENTS
    assert doc["events"][0]["solution_key"] == k0b and doc["events"][0]["revision"] == 2
    assert (await pub.on_task("publish", "not-a-day")).failed == 1


async def test_zombie_solutions_and_bad_partner_files_never_appear(
    s3_endpoint: str, store: ObjectStore, tmp_path: Path
) -> None:
    clock = VirtualClock(start=NOW)
    pub = publisher("PUB1", tmp_path, s3_endpoint, store, clock)
    ev_zombie, ev_badclaim, ev_big, ev_badsol, ev_wrongkey = (
        "20260712_220000_000", "20260712_220100_000", "20260712_220200_000", "20260712_220300_000",
        "20260712_220400_000",
    )
    # AMS1 held epoch 1, lost its lease, and uploaded late: e1-AMS1 exists but the claim says epoch 2
    await store.put(s3_keys.solution_key(ev_zombie, 1, "AMS1"), solution(ev_zombie, ("AMS1", "AMS2"), v=11_111.0))
    accepted = await solve(store, ev_zombie, epoch=2, owner="AMS2")
    # a later zombie too (a higher epoch that no claim ever accepted)
    await store.put(s3_keys.solution_key(ev_zombie, 3, "AMS3"), solution(ev_zombie, ("AMS1", "AMS2"), v=22_222.0))
    # a claim that is not a claim
    await store.put(s3_keys.claim_key(ev_badclaim), b"<html>oops</html>")
    # an oversized solution
    await store.put(s3_keys.solution_key(ev_big, 1, "AMS1"), b" " * (1024 * 1024 + 10))
    await put_claim(store, ev_big, 1, "AMS1", "solved")
    # a solution that fails the schema
    await store.put(s3_keys.solution_key(ev_badsol, 1, "AMS1"), b'{"event_id": "x", "status": "maybe"}')
    await put_claim(store, ev_badsol, 1, "AMS1", "solved")
    # a solved claim naming a solution of another epoch (not acceptable by the fencing rule)
    await store.put(s3_keys.solution_key(ev_wrongkey, 1, "AMS1"), solution(ev_wrongkey, ("AMS1", "AMS2")))
    rec = c.solved(
        c.ClaimRecord(ev_wrongkey, c.ClaimState.CLAIMED, "AMS1", "t", 2, 60.0, 5, "x", 1),
        s3_keys.solution_key(ev_wrongkey, 1, "AMS1"),
        "y",
    )
    await store.put(s3_keys.claim_key(ev_wrongkey), rec.to_bytes())

    result = await pub.publish_day(DAY)
    assert result.written and not result.error
    doc, _ = await read_index(store)
    assert [e["event_id"] for e in doc["events"]] == [ev_zombie]
    (entry,) = doc["events"]
    assert entry["solution_key"] == accepted and entry["epoch"] == 2 and entry["v_init_m_s"] == 30_000.0
    text = json.dumps(doc)
    assert "e1-AMS1" not in text and "e3-AMS3" not in text
    skipped = "\n".join(result.skipped)
    for ev in (ev_badclaim, ev_big, ev_badsol, ev_wrongkey):
        assert ev in skipped
    # bad files are logged once: the next pass does not read them again (their claim ETag is unchanged)
    quiet = await pub.publish_day(DAY)
    assert quiet.unchanged and quiet.skipped == []


class _RacingStore:
    """Delegates to the real store, but holds each index write until every racer has read the index,
    so all but one conditional write must fail and merge."""

    def __init__(self, inner: ObjectStore, gate: asyncio.Barrier) -> None:
        self.inner = inner
        self.gate = gate
        self.index_reads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def get(self, key: str, **kw: Any) -> Any:
        got = await self.inner.get(key, **kw)
        if key.endswith("/index.json"):
            self.index_reads += 1
            if self.index_reads == 1:  # only the first round is forced into a race
                await self.gate.wait()
        return got


async def test_poor_solutions_stay_out_of_the_index(s3_endpoint: str, store: ObjectStore, tmp_path: Path) -> None:
    """Issue 13 item 6: a solution the solver flagged poor is solved but never published."""
    clock = VirtualClock(start=NOW)
    pub = publisher("PUB1", tmp_path, s3_endpoint, store, clock)
    good, poor = EVENTS[0], EVENTS[1]
    for ev, q in ((good, Quality(True)), (poor, Quality(False, ("convergence angle 1.2° < 3° (degenerate geometry)",)))):
        await store.put(s3_keys.solution_key(ev, 1, "AMS1"), solution(ev, ("AMS1", "AMS2"), quality=q))
        await put_claim(store, ev, 1, "AMS1", "solved")
    _, today = await pub.publish_recent()
    assert today.listed == 1 and today.poor == [poor]
    doc, _ = await read_index(store)
    assert [e["event_id"] for e in doc["events"]] == [good]


async def test_two_publishers_racing_converge(s3_endpoint: str, store: ObjectStore, tmp_path: Path) -> None:
    clock = VirtualClock(start=NOW)
    for ev in EVENTS:
        await solve(store, ev)
    gate = asyncio.Barrier(2)
    pubs = [publisher(s, tmp_path, s3_endpoint, _RacingStore(store, gate), clock) for s in ("PUB1", "PUB2")]
    # each publisher has seen a different part of the day (listings taken at different moments)
    views = [await p.scan_day(DAY, _result()) for p in pubs]
    views[0].pop(EVENTS[2])
    views[1].pop(EVENTS[0])
    results = [_result(), _result()]
    await asyncio.gather(*(p.write_index(DAY, v, r) for p, v, r in zip(pubs, views, results, strict=True)))
    assert all(r.written and not r.error for r in results)
    assert sorted(r.merges for r in results) == [0, 1]  # exactly one lost the race, re-read and merged
    doc, etag = await read_index(store)
    ids = [e["event_id"] for e in doc["events"]]
    assert ids == EVENTS  # the union, each event once

    # a full concurrent pass of both (fresh scans) changes nothing
    again = await asyncio.gather(*(p.publish_day(DAY) for p in pubs))
    assert all(r.unchanged for r in again)
    assert (await read_index(store))[1] == etag

    # many racing rounds while events keep being solved: still one entry per event, all present
    more = [f"20260712_2340{i:02d}_000" for i in range(6)]
    for ev in more:
        await solve(store, ev)
        await asyncio.gather(*(p.publish_day(DAY) for p in pubs))
    doc, _ = await read_index(store)
    ids = [e["event_id"] for e in doc["events"]]
    assert ids == sorted(EVENTS + more) and len(set(ids)) == len(ids)


def _result() -> DayResult:
    return DayResult("2026_07_12")


def test_merge_is_a_join() -> None:
    from ams_actors.actors.publisher import merge_entries

    def e(ev: str, epoch: int, rev: int = 1) -> dict[str, Any]:
        return {"event_id": ev, "epoch": epoch, "revision": rev, "solution_key": f"{ev}/e{epoch}"}

    a = {"A": e("A", 1), "B": e("B", 2)}
    b = {"B": e("B", 1), "C": e("C", 1)}
    d = {"A": e("A", 2, 2)}
    assert merge_entries(a, b) == merge_entries(b, a)
    assert merge_entries(merge_entries(a, b), d) == merge_entries(a, merge_entries(b, d))
    assert merge_entries(a, a) == a
    assert merge_entries(a, b, d)["A"]["epoch"] == 2 and merge_entries(a, b)["B"]["epoch"] == 2


class _PublisherStation(Station):
    """What station.py will do once wired: a Publisher on stations with the "publisher" role."""

    def _build_actors(self) -> list[StationActor]:
        actors = super()._build_actors()
        if "publisher" in self.config.network.roles:
            actors.append(Publisher("Publisher", self.ctx, self.publish))
        return actors


async def test_publisher_ticks_inside_a_station(s3_endpoint: str, store: ObjectStore, tmp_path: Path) -> None:
    for ev in EVENTS[:2]:
        await solve(store, ev)
    clock = VirtualClock(start=NOW)
    pool = ThreadPoolExecutor(1)  # nothing CPU-heavy runs here; spares the test a process pool
    station = _PublisherStation(config("PUB1", tmp_path, s3_endpoint), clock=clock, executor=pool,
                                admin_socket=False)
    await station.start()
    try:
        pub = station.actors["Publisher"]
        assert isinstance(pub, Publisher) and pub.tick_interval_s == 300.0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20.0
        while "2026_07_12" not in pub.last or not (pub.last["2026_07_12"].written or pub.last["2026_07_12"].unchanged):
            assert loop.time() < deadline, "no publish pass"
            await clock.advance(60.0)
            await asyncio.sleep(0.05)
    finally:
        await station.stop()
        pool.shutdown()
    doc, _ = await read_index(store)
    assert [e["event_id"] for e in doc["events"]] == EVENTS[:2] and doc["updated_by"] == "PUB1"


def event_json(event_id: str, revision: int, superseded_by: str | None = None) -> bytes:
    from protocols.events import Event, EventMember, encode_event

    start = datetime.strptime(event_id[:15], "%Y%m%d_%H%M%S").replace(tzinfo=UTC)
    members = tuple(EventMember(s, f"2026_07_12_22_15_06_000_01000{k}-trim-0001", start, 1.0, f"01000{k}")
                    for k, s in enumerate(("AMS1", "AMS2"), 1))
    return encode_event(Event(event_id, revision, start, members, superseded_by))


async def test_an_event_merged_into_another_is_not_listed(s3_endpoint: str, store: ObjectStore,
                                                          tmp_path: Path) -> None:
    """Issue 16 item 4: one meteor, one entry. An event solved and then merged into another (its
    event.json says `superseded_by`) leaves the public index, and is never listed by a new publisher."""
    clock = VirtualClock(start=NOW)
    pub = publisher("PUB1", tmp_path, s3_endpoint, store, clock)
    for e in EVENTS[:2]:
        await store.put(s3_keys.event_key(e), event_json(e, 1))
        await solve(store, e)
    assert (await pub.publish_day(DAY)).listed == 2
    await store.put(s3_keys.event_key(EVENTS[1]), event_json(EVENTS[1], 2, superseded_by=EVENTS[0]))
    result = await pub.publish_day(DAY)
    assert result.written and result.superseded == [EVENTS[1]] and result.skipped == []
    doc, _ = await read_index(store)
    assert [e["event_id"] for e in doc["events"]] == EVENTS[:1]
    fresh = publisher("PUB2", tmp_path, s3_endpoint, store, clock)
    assert (await fresh.publish_day(DAY)).unchanged
    assert [e["event_id"] for e in (await read_index(store))[0]["events"]] == EVENTS[:1]
