"""The network path end to end against a real moto S3 server: verified meteors of several stations →
Indexer → Syncer upload → Correlator → each station's Syncer builds the same events locally (``be``)
and tells its EventBroker. Plus the failure modes: a late station, a malformed partner index, two
correlators at once, and ``ams run_detects``.

Real ``Station`` objects on a virtual clock; nothing of ours is mocked (a Station subclass only
records what it publishes).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ams_actors.config import StationConfig, parse_config
from ams_actors.netsync.correlation import NetworkCorrelator
from ams_actors.runtime.clock import VirtualClock
from ams_actors.runtime.files import atomic_write_json
from ams_actors.runtime.pool import make_pool
from ams_actors.sim.detections import meteor_archive_doc, straight_trajectory
from ams_actors.station import Station
from ams_actors.store import events_tree
from ams_actors.store.local_paths import StationPaths
from ams_actors.store.objectstore import ObjectStore
from ams_actors.store.outcomes import StoredObject
from protocols import messages as m
from protocols.events import decode_event
from protocols.meteor_index import MeteorIndex, SiteInfo, encode_index, entry_from_meteor_json
from protocols.s3_keys import daily_index_key, event_key, ms_detects_key, parse_day

BUCKET = "ams-test"
DAY = "2026_07_12"
EVENT_ID = "20260712_221506_355"
SITES = {"AMS1": (51.0, 0.0, 50.0), "AMS2": (51.6, 1.1, 30.0), "AMS3": (50.7, 1.4, 80.0)}
PARTS = {"AMS1": (0.0, 0.9), "AMS2": (0.1, 1.0), "AMS3": (0.05, 0.8)}
T_BEGIN = datetime(2026, 7, 12, 22, 15, 6, 355000, tzinfo=UTC)


def meteor_doc(station: str) -> dict[str, Any]:
    """What ``station`` records of the one meteor every test here uses."""
    b, e = straight_trajectory(51.3, 0.7, 105, 80, 40, 45)
    return meteor_archive_doc(
        station_id=station, camera_id="010001", site=SITES[station], begin=b, end=e,
        t_begin=T_BEGIN, speed_km_s=35.0, part=PARTS[station],
    )


def station_toml(root: Path, sid: str, endpoint: str, partners: tuple[str, ...] = (),
                 roles: tuple[str, ...] = ("station",)) -> str:
    lat, lon, alt = SITES.get(sid, (52.0, -1.0, 10.0))
    return f"""
[station]
id = "{sid}"
lat = {lat}
lon = {lon}
alt_m = {alt}
data_root = "{root}"

[[cameras]]
id = "010001"

[store]
endpoint = "{endpoint}"
bucket = "{BUCKET}"
access_key_env = "AWS_ACCESS_KEY_ID"
secret_key_env = "AWS_SECRET_ACCESS_KEY"
timeout_s = 5.0
max_concurrency = 4

[network]
partners = {json.dumps(list(partners))}
roles = {json.dumps(list(roles))}
"""


def make_config(tmp: Path, sid: str, endpoint: str, **kw: Any) -> StationConfig:
    return parse_config(station_toml(tmp / sid, sid, endpoint, **kw))


class RecordingStation(Station):
    """The production Station, recording every fact it routes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.published: list[Any] = []
        super().__init__(*args, **kwargs)

    async def publish(self, msg: Any) -> None:
        self.published.append(msg)
        await super().publish(msg)

    def events_changed(self) -> list[m.EventsChanged]:
        return [x for x in self.published if isinstance(x, m.EventsChanged)]


@pytest.fixture()
async def store(s3_endpoint: str) -> AsyncIterator[ObjectStore]:
    async with ObjectStore.open(s3_endpoint, BUCKET) as st:
        await st.ensure_bucket()
        yield st


@pytest.fixture()
def pool() -> Any:
    with ThreadPoolExecutor(2) as ex:
        yield ex


async def verified(station: Station, doc: dict[str, Any]) -> None:
    """Archive a meteor as the Verifier would and tell the Indexer; wait until it is indexed."""
    path = station.paths.archive_meteor(DAY, doc["meteor_id"])
    atomic_write_json(path, doc)
    indexer = station.actors["Indexer"]
    before = indexer.processed
    await indexer.tell(m.MeteorVerified(station.config.station_id, "010001", doc["meteor_id"], DAY, path))
    for _ in range(2000):
        if indexer.processed > before:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the Indexer did not take the meteor")


async def start(tmp: Path, sid: str, endpoint: str, pool: Any, clock: VirtualClock, **kw: Any) -> RecordingStation:
    """A station with its EventBroker and Solver paused: this file tests what reaches them (the
    EventsChanged facts and the local EVENTS tree), not what they then do (their own tests)."""
    st = RecordingStation(make_config(tmp, sid, endpoint, **kw), clock=clock, executor=pool, admin_socket=False)
    st.actors["EventBroker"].pause()
    st.actors["Solver"].pause()
    await st.start()
    return st


async def test_stations_build_the_same_events_and_a_late_station_raises_the_revision(
    tmp_path: Path, s3_endpoint: str, store: ObjectStore, pool: Any
) -> None:
    clock = VirtualClock(start=datetime(2026, 7, 12, 23, 30, tzinfo=UTC))
    a = await start(tmp_path, "AMS1", s3_endpoint, pool, clock, partners=("AMS2",), roles=("station", "correlator"))
    b = await start(tmp_path, "AMS2", s3_endpoint, pool, clock, partners=("AMS1",))
    try:
        for st in (a, b):
            await verified(st, meteor_doc(st.config.station_id))
            [res] = await st.run_task("sync")
            assert res.failed == 0, res.detail
            assert any(isinstance(x, m.IndexUpdated) for x in st.published)
        key = daily_index_key("AMS2", parse_day(DAY))
        assert isinstance(await store.head(key), object)

        [res] = await a.run_task("correlate")
        assert res.done == 1 and res.failed == 0, res.detail
        got = await store.get(event_key(EVENT_ID))
        assert isinstance(got, StoredObject)
        ev = decode_event(got.body)
        assert ev.revision == 1 and ev.stations == ("AMS1", "AMS2")
        assert isinstance(await store.get(ms_detects_key(parse_day(DAY), "AMS2")), StoredObject)

        for st in (a, b):
            await st.run_task("sync")
            assert [(x.day, x.event_ids) for x in st.events_changed()] == [(DAY, (EVENT_ID,))]
            local = events_tree.read_local_event(st.paths, EVENT_ID)
            assert local == ev
            expected = st.paths.events_dir(DAY) / EVENT_ID / "event.json"
            assert events_tree.local_event_path(st.paths, EVENT_ID) == expected
        # AMS1 downloaded its partner's index
        partner_idx = StationPaths(a.paths.root, "AMS2").meteor_index(DAY)
        assert partner_idx.exists()

        # nothing changed: a second round announces nothing
        await a.run_task("correlate")
        for st in (a, b):
            await st.run_task("sync")
            assert len(st.events_changed()) == 1

        # a third station joins late: the event keeps its id and its revision goes up
        c = await start(tmp_path, "AMS3", s3_endpoint, pool, clock)
        try:
            await verified(c, meteor_doc("AMS3"))
            await c.run_task("sync")
            [res] = await a.run_task("correlate")
            assert res.done == 1, res.detail
            ev2 = decode_event((await store.get(event_key(EVENT_ID))).body)  # type: ignore[union-attr]
            assert ev2.event_id == EVENT_ID and ev2.revision == 2
            assert ev2.stations == ("AMS1", "AMS2", "AMS3")
            for st in (a, b, c):
                await st.run_task("sync")
                assert st.events_changed()[-1] == m.EventsChanged(DAY, (EVENT_ID,))
                assert events_tree.read_local_event(st.paths, EVENT_ID) == ev2
            assert len(a.events_changed()) == 2 and len(c.events_changed()) == 1
        finally:
            await c.stop()
    finally:
        await a.stop()
        await b.stop()


async def put_index(store: ObjectStore, station: str) -> None:
    entry = entry_from_meteor_json(meteor_doc(station))
    lat, lon, alt = SITES[station]
    idx = MeteorIndex(station, DAY, SiteInfo(lat, lon, alt), (entry,))
    await store.put(daily_index_key(station, parse_day(DAY)), encode_index(idx))


async def event_keys(store: ObjectStore) -> list[str]:
    return sorted(k for k in await store.list_keys("events/") if k.endswith("/event.json"))


async def test_two_correlators_at_once_give_one_set_of_events(s3_endpoint: str, store: ObjectStore) -> None:
    for sid in ("AMS1", "AMS2"):
        await put_index(store, sid)
    pool = make_pool(1)  # one of them with the station's real process pool: its jobs must pickle
    try:
        async with ObjectStore.open(s3_endpoint, BUCKET) as other:
            one, two = NetworkCorrelator(store, pool), NetworkCorrelator(other)
            r1, r2 = await asyncio.gather(one.run([DAY]), two.run([DAY]))
    finally:
        pool.shutdown()
    assert await event_keys(store) == [event_key(EVENT_ID)]
    assert sorted(r1.created + r2.created) == [EVENT_ID]
    assert [e.event_id for e in r1.events] == [e.event_id for e in r2.events] == [EVENT_ID]
    assert decode_event((await store.get(event_key(EVENT_ID))).body).revision == 1  # type: ignore[union-attr]

    # forced interleaving: a correlator that read the events before another one revised them must
    # lose its compare-and-swap, read again and agree (one revision, not two)
    await put_index(store, "AMS3")
    slow = NetworkCorrelator(store)
    report = type(r1)(days=(DAY,))
    found = await slow.find([DAY], report)
    stale = await slow.read_events([parse_day(DAY)], report)
    await NetworkCorrelator(store).run([DAY])  # the fast one writes revision 2
    [(ev, etag)] = stale.values()
    from protocols.events import reconcile

    [revised] = reconcile([ev], found.groups).revised
    assert revised.revision == 2
    assert await slow._write_event(revised, etag) is None  # 412: someone else wrote
    final = await slow.run([DAY])
    assert final.revised == [] and final.created == []
    stored = decode_event((await store.get(event_key(EVENT_ID))).body)  # type: ignore[union-attr]
    assert stored.revision == 2 and stored.stations == ("AMS1", "AMS2", "AMS3")
    assert await event_keys(store) == [event_key(EVENT_ID)]


async def test_a_malformed_partner_index_is_logged_and_skipped(
    tmp_path: Path, s3_endpoint: str, store: ObjectStore, pool: Any, caplog: pytest.LogCaptureFixture
) -> None:
    for sid in ("AMS1", "AMS2"):
        await put_index(store, sid)
    day = parse_day(DAY)
    bad = {
        "BAD1": gzip.compress(b"{not json"),
        "BAD2": gzip.compress(json.dumps({"format": "ams-meteor-index", "version": 1, "station_id": "../../x",
                                          "day": DAY, "site": {"lat": 0, "lon": 0, "alt_m": 0},
                                          "meteors": []}).encode()),
        "BAD3": b"\x1f\x8b" + b"\x00" * 64,
    }
    for sid, body in bad.items():
        await store.put(daily_index_key(sid, day), body)
    caplog.set_level(logging.WARNING)
    correlator = NetworkCorrelator(store)
    report = await correlator.run([DAY])
    assert [e.event_id for e in report.events] == [EVENT_ID]
    for sid in bad:
        lines = [r.getMessage() for r in caplog.records if daily_index_key(sid, day) in r.getMessage()]
        assert len(lines) == 1 and lines[0].startswith("skipped"), lines
        assert "\n" not in lines[0]
    # the next run (same correlator) neither re-validates nor re-reports an unchanged file
    caplog.clear()
    report = await correlator.run([DAY])
    assert [e.event_id for e in report.events] == [EVENT_ID] and caplog.records == []

    # a station with the bad partners in its list skips them too, and writes nothing for them
    caplog.clear()
    clock = VirtualClock(start=datetime(2026, 7, 12, 23, 30, tzinfo=UTC))
    st = await start(tmp_path, "AMS1", s3_endpoint, pool, clock, partners=("AMS2", "BAD1", "BAD2", "BAD3"))
    try:
        [res] = await st.run_task("sync")
        assert res.failed == 0, res.detail
        assert StationPaths(st.paths.root, "AMS2").meteor_index(DAY).exists()
        for sid in bad:
            assert not StationPaths(st.paths.root, sid).meteor_index(DAY).exists()
            assert any(daily_index_key(sid, day) in r.getMessage() for r in caplog.records)
        assert not (tmp_path / "x").exists()
        # reported once per version of the file, not every cycle
        caplog.clear()
        await st.run_task("sync")
        assert not [r for r in caplog.records if "BAD" in r.getMessage()]
        assert st.events_changed() == [m.EventsChanged(DAY, (EVENT_ID,))]
    finally:
        await st.stop()


def two_indexes_and_a_correlator(tmp_path: Path, s3_endpoint: str) -> Path:
    """AMS1's and AMS2's index of DAY in the bucket; the config file of a correlator station."""

    async def setup() -> None:
        async with ObjectStore.open(s3_endpoint, BUCKET) as st:
            await st.ensure_bucket()
            for sid in ("AMS1", "AMS2"):
                await put_index(st, sid)

    asyncio.run(setup())
    cfg = tmp_path / "station.toml"
    cfg.write_text(station_toml(tmp_path / "root", "AMS1", s3_endpoint, roles=("station", "correlator")))
    return cfg


def test_run_detects_prints_the_events(tmp_path: Path, s3_endpoint: str, capsys: pytest.CaptureFixture[str]) -> None:
    from ams_actors.cli import main

    cfg = two_indexes_and_a_correlator(tmp_path, s3_endpoint)
    assert main(["run_detects", "-c", str(cfg), "--day", DAY, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "(dry run)" in out and EVENT_ID in out and "AMS2" in out
    assert main(["run_detects", "-c", str(cfg), "--day", DAY, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["created"] == [EVENT_ID] and [e["event_id"] for e in doc["events"]] == [EVENT_ID]
    assert main(["run_detects", "-c", str(cfg), "--day", "2026_13_01"]) == 2


async def test_merged_events_are_superseded_and_stations_learn_it_quietly(
    tmp_path: Path, store: ObjectStore
) -> None:
    from ams_actors.netsync.sync import SyncEngine
    from protocols.events import Event, EventMember, encode_event

    for sid in ("AMS1", "AMS2", "AMS3"):
        await put_index(store, sid)
    entries = {sid: entry_from_meteor_json(meteor_doc(sid)) for sid in SITES}

    def member(sid: str) -> EventMember:
        e = entries[sid]
        return EventMember(sid, e.meteor_id, e.start_utc, e.duration_s, e.camera_id)

    # two stored events (say, from two correlators that each saw part of the network) are one meteor
    x = Event(EVENT_ID, 1, entries["AMS1"].start_utc, (member("AMS1"), member("AMS2")))
    y_id = "20260712_221506_405"
    y = Event(y_id, 1, entries["AMS3"].start_utc, (member("AMS2"), member("AMS3")))
    for ev in (x, y):
        await store.put(event_key(ev.event_id), encode_event(ev))
    report = await NetworkCorrelator(store).run([DAY])
    assert report.revised == [EVENT_ID] and report.superseded == [y_id] and report.created == []
    assert [e.event_id for e in report.events] == [EVENT_ID]
    stored_y = decode_event((await store.get(event_key(y_id))).body)  # type: ignore[union-attr]
    assert stored_y.superseded_by == EVENT_ID and stored_y.revision == 2

    engine = SyncEngine(StationPaths(tmp_path, "AMS3"), store)
    sync = await engine.run([DAY])
    assert sync.events_changed == {DAY: [EVENT_ID]}  # the superseded one is not offered for solving
    assert sorted(sync.events_written) == [EVENT_ID, y_id]
    local_y = events_tree.read_local_event(engine.paths, y_id)
    assert local_y is not None and local_y.superseded_by == EVENT_ID


def test_ms_detects_merge_converges_and_local_paths_stay_inside() -> None:
    from protocols import ms_detects as md
    from protocols.s3_keys import InvalidId

    a = md.MsDetects("AMS1", DAY, (md.Detect(EVENT_ID, 1, "m1", ("AMS1", "AMS2")),))
    b = md.MsDetects("AMS1", DAY, (md.Detect(EVENT_ID, 2, "m1", ("AMS1", "AMS2", "AMS3")),
                                   md.Detect("20260712_230000_000", 1, "m2", ("AMS1", "AMS2"))))
    assert md.merge(a, b) == md.merge(b, a) == md.merge(md.merge(a, b), a)
    assert md.merge(a, b).by_event()[EVENT_ID].revision == 2
    assert md.decode(md.encode(md.merge(a, b)), "k") == md.merge(a, b)

    paths = StationPaths(Path("/data"), "AMS1")
    assert events_tree.local_event_path(paths, EVENT_ID) == Path(
        "/data/meteor_archive/AMS1/EVENTS/2026/2026_07_12/20260712_221506_355/event.json"
    )
    for bad in ("..", "../x", "20260712_221506_355/../../x", "x/y"):
        with pytest.raises(InvalidId):
            events_tree.local_event_path(paths, bad)


async def test_the_correlator_picks_up_an_old_day_whose_partner_index_changed(
    tmp_path: Path, s3_endpoint: str, store: ObjectStore, pool: Any
) -> None:
    """Issue 16 item 8: a partner back after ten days offline uploads an old day; the correlator, which
    ran over today and yesterday only, must correlate that day too (its index ETag changed)."""
    from datetime import timedelta

    from ams_actors.store import index_files

    old_day, t_old = "2026_07_02", T_BEGIN - timedelta(days=10)

    def archive(st: Station) -> None:
        sid = st.config.station_id
        b, e = straight_trajectory(51.3, 0.7, 105, 80, 40, 45)
        doc = meteor_archive_doc(station_id=sid, camera_id="010001", site=SITES[sid], begin=b, end=e,
                                 t_begin=t_old, speed_km_s=35.0, part=PARTS[sid])
        path = st.paths.archive_meteor(old_day, doc["meteor_id"])
        atomic_write_json(path, doc)
        index_files.add_meteor(st.paths, old_day, SiteInfo(*SITES[sid]), path)

    clock = VirtualClock(start=datetime(2026, 7, 12, 23, 30, tzinfo=UTC))
    a = await start(tmp_path, "AMS1", s3_endpoint, pool, clock, partners=("AMS2",), roles=("station", "correlator"))
    b = await start(tmp_path, "AMS2", s3_endpoint, pool, clock, partners=("AMS1",))
    try:
        archive(a)
        [res] = await a.run_task("sync")
        assert res.failed == 0, res.detail
        assert await store.head(daily_index_key("AMS1", parse_day(old_day))) is not None
        await a.run_task("correlate")  # AMS1 alone on that day: no event
        assert await store.list_keys("events/2026/2026_07_02/") == []
        await a.run_task("correlate")
        assert old_day not in a.actors["Correlator"].last_report.days  # type: ignore[attr-defined]  # unchanged

        archive(b)  # the partner comes back and uploads its old day (reconcile at its first sync)
        [res] = await b.run_task("sync")
        assert res.failed == 0, res.detail
        [res] = await a.run_task("correlate")
        assert res.failed == 0, res.detail
        assert old_day in a.actors["Correlator"].last_report.days  # type: ignore[attr-defined]
        keys = await store.list_keys("events/2026/2026_07_02/")
        events = [decode_event((await store.get(k)).body) for k in keys if k.endswith("/event.json")]  # type: ignore[union-attr]
        assert [e.stations for e in events] == [("AMS1", "AMS2")]
    finally:
        await a.stop()
        await b.stop()


def test_run_detects_month_and_year_with_a_progress_bar(tmp_path: Path, s3_endpoint: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 16 item 8: `--month YYYY_MM` / `--year YYYY` (the old `md` and `d.sh`) correlate every day of
    the month or year, day by day, with a progress bar on stderr (here forced with --progress)."""
    from ams_actors.cli import main
    from ams_actors.commands.run_detects import days_of

    cfg = two_indexes_and_a_correlator(tmp_path, s3_endpoint)
    assert main(["run_detects", "-c", str(cfg), "--month", "2026_07", "--json", "--progress"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert len(doc["days"]) == 31 and doc["days"][0] == "2026_07_01" and doc["days"][-1] == "2026_07_31"
    assert doc["created"] == [EVENT_ID] and [e["event_id"] for e in doc["events"]] == [EVENT_ID]
    assert captured.err.rstrip().endswith("100.0%") and "[" + "#" * 40 + "]" in captured.err
    assert main(["run_detects", "-c", str(cfg), "--month", "2026_07", "--json"]) == 0  # not a tty: no bar
    captured = capsys.readouterr()
    assert captured.err == "" and json.loads(captured.out)["created"] == []
    # --year: every day up to today; bad values are one line, exit 2
    from datetime import date

    assert days_of([], ["2026"], date(2026, 3, 1))[-1] == "2026_03_01" and len(days_of([], ["2026"], date(2026, 3, 1))) == 60
    assert days_of(["2024_02"], [], date(2026, 1, 1))[-1] == "2024_02_29"
    for bad in (["--month", "2026_13"], ["--month", "July"], ["--year", "26"]):
        assert main(["run_detects", "-c", str(cfg), *bad]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and bad[0] in err
