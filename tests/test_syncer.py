"""The Syncer against a real moto S3 server: uploads only what changed (PUTs counted on the wire by
the fault proxy), resumes from the ledger and from the objects' metadata, syncs older days only when
named, does nothing offline, and validates every download before it reaches the disk."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ams_actors.actors.base import StationContext
from ams_actors.actors.syncer import Syncer
from ams_actors.config import StationConfig, parse_config
from ams_actors.runtime.clock import VirtualClock
from ams_actors.runtime.files import atomic_write_json
from ams_actors.runtime.pool import make_pool
from ams_actors.sim.detections import meteor_archive_doc, straight_trajectory
from ams_actors.store import index_files
from ams_actors.store.ledger import Ledger
from ams_actors.store.local_paths import StationPaths
from ams_actors.store.objectstore import ObjectStore
from ams_actors.store.outcomes import ObjectInfo
from ams_actors.store.proxy import FaultProxy
from ams_actors.store.retry import RetryPolicy
from protocols import ms_detects
from protocols.events import Event, EventMember, encode_event
from protocols.messages import EventsChanged, IndexUpdated
from protocols.meteor_index import MeteorIndex, SiteInfo, encode_index, entry_from_meteor_json
from protocols.s3_keys import daily_index_key, event_key, meteor_key, ms_detects_key, parse_day

BUCKET = "ams-test"
DAY = "2026_07_12"
OLD_DAY = "2026_07_01"
T0 = datetime(2026, 7, 12, 22, 15, 6, 355000, tzinfo=UTC)
SITE = SiteInfo(51.0, 0.0, 50.0)


def config(root: Path) -> StationConfig:
    return parse_config(
        f"""
[station]
id = "AMS1"
lat = 51.0
lon = 0.0
alt_m = 50.0
data_root = "{root}"

[[cameras]]
id = "010001"

[store]
max_concurrency = 3

[network]
partners = ["AMS2", "AMS3"]
"""
    )


def doc(k: int, station: str = "AMS1", t0: datetime = T0) -> dict[str, Any]:
    from datetime import timedelta

    b, e = straight_trajectory(51.3, 0.7, 105, 80, 40 + k, 45)
    return meteor_archive_doc(
        station_id=station, camera_id="010001", site=(51.0, 0.0, 50.0), begin=b, end=e,
        t_begin=t0 + timedelta(minutes=3 * k), speed_km_s=35.0,
    )


@pytest.fixture()
def proxy(s3_endpoint: str) -> Iterator[FaultProxy]:
    with FaultProxy(s3_endpoint, seed=1) as p:
        yield p


@pytest.fixture()
async def store(proxy: FaultProxy) -> AsyncIterator[ObjectStore]:
    async with ObjectStore.open(proxy.url, BUCKET) as st:
        await st.ensure_bucket()
        yield st


class Rig:
    """A Syncer on a virtual clock (23:30 on DAY) with a real ledger, publishing into a list."""

    def __init__(self, root: Path, store: Any, ledger_name: str = "ledger.sqlite3", executor: Any = None) -> None:
        cfg = config(root)
        self.clock = VirtualClock(start=datetime(2026, 7, 12, 23, 30, tzinfo=UTC))
        self.paths = StationPaths(cfg.data_root, cfg.station_id)
        self.ledger = Ledger(root / "state" / ledger_name)
        self.published: list[Any] = []

        async def publish(msg: Any) -> None:
            self.published.append(msg)

        ctx = StationContext(cfg, self.clock, self.paths, executor=executor, store=store, ledger=self.ledger)
        self.syncer = Syncer("Syncer", ctx, publish)

    def meteor(self, d: dict[str, Any], day: str = DAY) -> Path:
        path = self.paths.archive_meteor(day, d["meteor_id"])
        atomic_write_json(path, d)
        index_files.add_meteor(self.paths, day, SITE, path)
        return path

    async def sync(self, day: str | None = None) -> Any:
        res = await self.syncer.on_task("sync", day)
        assert res.failed == 0, res.detail
        return self.syncer.last_report


def puts(proxy: FaultProxy) -> list[str]:
    return [path.split(f"/{BUCKET}/", 1)[1] for method, path, _ in proxy.stats.log if method == "PUT" and
            f"/{BUCKET}/" in path]


async def test_uploads_only_what_changed_and_resumes_from_ledger_or_metadata(
    tmp_path: Path, store: ObjectStore, proxy: FaultProxy
) -> None:
    rig = Rig(tmp_path, store)
    m0, m1 = rig.meteor(doc(0)), rig.meteor(doc(1))
    day = parse_day(DAY)
    keys = sorted([meteor_key("AMS1", day, m0.stem), meteor_key("AMS1", day, m1.stem), daily_index_key("AMS1", day)])
    proxy.stats.log.clear()
    report = await rig.sync()
    assert sorted(puts(proxy)) == keys == sorted(report.uploaded)
    head = await store.head(keys[0])
    assert isinstance(head, ObjectInfo) and len(head.metadata["sha256"]) == 64

    proxy.stats.log.clear()
    report = await rig.sync()
    assert puts(proxy) == [] and report.unchanged == 3
    assert not [p for m, p, _ in proxy.stats.log if m == "HEAD" and "/stations/AMS1/" in p]  # the ledger knew

    # a meteor whose report changed (its index entry did not): only that meteor goes up
    d1 = json.loads(m1.read_text())
    d1["report"] = {"source": "synthetic", "reviewed": True}
    rig.meteor(d1)
    proxy.stats.log.clear()
    await rig.sync()
    assert puts(proxy) == [meteor_key("AMS1", day, m1.stem)]

    # restart with a lost ledger: the objects' metadata says they are there, nothing is re-sent
    rig.ledger.close()
    again = Rig(tmp_path, store, ledger_name="fresh.sqlite3")
    try:
        proxy.stats.log.clear()
        report = await again.sync()
        assert puts(proxy) == [] and report.unchanged == 3
        assert await again.ledger.uploaded_hash(keys[0]) == head.metadata["sha256"]
    finally:
        again.ledger.close()


async def test_older_days_sync_when_named_or_pending_on_disk(tmp_path: Path, store: ObjectStore,
                                                            proxy: FaultProxy) -> None:
    rig = Rig(tmp_path, store)
    try:
        old = parse_day(OLD_DAY)
        rig.meteor(doc(0, t0=datetime(2026, 7, 1, 22, 0, tzinfo=UTC)), day=OLD_DAY)
        # first cycle after a start: the old day's index was never uploaded, so it is caught up
        report = await rig.sync()
        assert OLD_DAY in report.days and daily_index_key("AMS1", old) in report.uploaded
        assert rig.syncer.pending == set()

        # later changes of an old day wait for an IndexUpdated naming it
        rig.meteor(doc(1, t0=datetime(2026, 7, 1, 23, 0, tzinfo=UTC)), day=OLD_DAY)
        report = await rig.sync()
        assert OLD_DAY not in report.days and report.days == ("2026_07_11", DAY)
        await rig.syncer.on_message(IndexUpdated("AMS1", OLD_DAY, rig.paths.meteor_index(OLD_DAY), 2))
        proxy.stats.log.clear()
        report = await rig.sync()
        assert OLD_DAY in report.days and len(puts(proxy)) == 2  # the new meteor and the index
        assert rig.syncer.pending == set()
        # admin `run sync --day D` syncs just that day
        report = await rig.sync(OLD_DAY)
        assert report.days == (OLD_DAY,)
    finally:
        rig.ledger.close()


async def test_offline_does_nothing_and_says_so(tmp_path: Path) -> None:
    rig = Rig(tmp_path, None)
    try:
        rig.meteor(doc(0))
        res = await rig.syncer.on_task("sync", None)
        assert res.done == 0 and res.failed == 0 and res.detail.startswith("offline")
        assert await rig.syncer.sync() is None
        await rig.syncer.on_tick()  # no crash, no store
    finally:
        rig.ledger.close()


def _event(members: list[tuple[str, str]], revision: int = 1) -> Event:
    ms = tuple(EventMember(s, mid, T0, 1.0, "010001") for s, mid in members)
    return Event("20260712_221506_355", revision, T0, ms)


async def test_downloads_are_validated_and_build_the_events_tree(
    tmp_path: Path, store: ObjectStore, caplog: pytest.LogCaptureFixture
) -> None:
    pool = make_pool(1)  # validation runs in the station's real process pool: its results must pickle
    rig = Rig(tmp_path, store, executor=pool)
    day = parse_day(DAY)
    try:
        # partners: AMS2 valid, AMS3 an index that claims to be someone else's
        good = MeteorIndex("AMS2", DAY, SITE, (entry_from_meteor_json(doc(0, station="AMS2")),))
        await store.put(daily_index_key("AMS2", day), encode_index(good))
        liar = MeteorIndex("AMS9", DAY, SITE, (entry_from_meteor_json(doc(0, station="AMS9")),))
        await store.put(daily_index_key("AMS3", day), encode_index(liar))
        # our ms_detects: one good event, one whose event.json is malformed, one we are not in
        ev = _event([("AMS1", "a1"), ("AMS2", "b1")])
        await store.put(event_key(ev.event_id), encode_event(ev))
        bad_id, other_id = "20260712_230000_000", "20260712_231000_000"
        await store.put(event_key(bad_id), b'{"format": "ams-event", "members": "../../"}')
        other = Event(other_id, 1, T0, (EventMember("AMS2", "x", T0, 1.0), EventMember("AMS3", "y", T0, 1.0)))
        await store.put(event_key(other_id), encode_event(other))
        detects = ms_detects.MsDetects("AMS1", DAY, (
            ms_detects.Detect(ev.event_id, 1, "a1", ("AMS1", "AMS2")),
            ms_detects.Detect(bad_id, 1, "a2", ("AMS1", "AMS2")),
            ms_detects.Detect(other_id, 1, "a3", ("AMS1", "AMS2")),
        ))
        await store.put(ms_detects_key(day, "AMS1"), ms_detects.encode(detects))

        caplog.set_level(logging.WARNING)
        report = await rig.sync()
        assert report.partner_indexes == [daily_index_key("AMS2", day)]
        local = StationPaths(rig.paths.root, "AMS2").meteor_index(DAY)
        assert local.read_bytes() == encode_index(good)
        assert not StationPaths(rig.paths.root, "AMS3").meteor_index(DAY).exists()
        assert (rig.paths.events_dir(DAY) / ev.event_id / "event.json").read_bytes() == encode_event(ev)
        assert not (rig.paths.events_dir(DAY) / bad_id).exists()
        assert not (rig.paths.events_dir(DAY) / other_id).exists()
        assert rig.published == [EventsChanged(DAY, (ev.event_id,))]
        lines = [r.getMessage() for r in caplog.records]
        assert len(lines) == 3, lines
        assert any(daily_index_key("AMS3", day) in line and "AMS9" in line for line in lines)
        assert any(event_key(bad_id) in line for line in lines)
        assert any(event_key(other_id) in line and "not a member" in line for line in lines)

        # nothing new: nothing announced, nothing logged again
        caplog.clear()
        await rig.sync()
        assert len(rig.published) == 1 and caplog.records == []

        # a new revision comes in through ms_detects
        ev2 = _event([("AMS1", "a1"), ("AMS2", "b1"), ("AMS3", "c1")], revision=2)
        await store.put(event_key(ev.event_id), encode_event(ev2))
        detects2 = ms_detects.merge(detects, ms_detects.MsDetects("AMS1", DAY, (
            ms_detects.Detect(ev.event_id, 2, "a1", ("AMS1", "AMS2", "AMS3")),)))
        await store.put(ms_detects_key(day, "AMS1"), ms_detects.encode(detects2))
        await rig.sync()
        assert rig.published[-1] == EventsChanged(DAY, (ev.event_id,)) and len(rig.published) == 2
        assert (rig.paths.events_dir(DAY) / ev.event_id / "event.json").read_bytes() == encode_event(ev2)

        # a malformed or oversized ms_detects is one log line, and the tree stays as it was
        caplog.clear()
        await store.put(ms_detects_key(day, "AMS1"), gzip.compress(b'{"detects": [{"event_id": "../x"}]}'))
        huge = b"\x1f\x8b" + bytes(ms_detects.MAX_COMPRESSED_BYTES)
        await store.put(ms_detects_key(parse_day("2026_07_11"), "AMS1"), huge)
        await rig.sync()
        lines = [r.getMessage() for r in caplog.records]
        assert len(lines) == 2 and all(line.startswith("skipped network/ms_detects/") for line in lines), lines
        assert any("over the limit" in line for line in lines)
        assert len(rig.published) == 2

        # after a restart the first cycle offers the recent active local events again (the broker's
        # tracking is in memory); later cycles do not
        again = Rig(tmp_path, store, ledger_name="restart.sqlite3")
        try:
            await again.sync()
            assert again.published == [EventsChanged(DAY, (ev.event_id,))]
            await again.sync()
            assert len(again.published) == 1
        finally:
            again.ledger.close()
    finally:
        rig.ledger.close()
        pool.shutdown()


async def test_store_errors_are_retried_and_what_still_fails_is_sent_next_cycle(
    tmp_path: Path, proxy: FaultProxy
) -> None:
    async def no_wait(_: float) -> None:
        return None

    policy = RetryPolicy(attempts=2, base_delay=0.01, sleep=no_wait)
    async with ObjectStore.open(proxy.url, BUCKET, retry=policy) as store:
        await store.ensure_bucket()
        rig = Rig(tmp_path, store)
        try:
            for k in range(3):
                rig.meteor(doc(k))
            # one 503 on a PUT is absorbed by the store's retry; five more exhaust it for some keys
            proxy.update(methods=frozenset({"PUT"}), error_count=1)
            res = await rig.syncer.on_task("sync", None)
            assert res.failed == 0 and len(rig.syncer.last_report.uploaded) == 4, res.detail  # type: ignore[union-attr]
            rig.meteor(doc(3))
            rig.meteor(doc(4))
            proxy.update(methods=frozenset({"PUT"}), error_count=4)
            res = await rig.syncer.on_task("sync", None)
            assert res.failed >= 1, res.detail  # logged and left for the next cycle, no crash
            failed = set(rig.syncer.last_report.failed)  # type: ignore[union-attr]
            proxy.clear()
            proxy.stats.log.clear()
            await rig.sync()
            assert set(puts(proxy)) == failed
        finally:
            rig.ledger.close()


async def test_back_after_ten_days_offline_the_bucket_gets_everything(tmp_path: Path, store: ObjectStore,
                                                                     proxy: FaultProxy) -> None:
    """Issue 16 item 8: reconcile with the bucket by content hash over `[sync] reconcile_days` at start
    and daily. Ten days of meteors made while offline, and a day the ledger says was uploaded but the
    bucket lost: all of it goes up on the first cycle; the listing then matches the station's files;
    nothing the station does not know about is deleted."""
    from datetime import timedelta

    rig = Rig(tmp_path, store)
    try:
        start = datetime(2026, 7, 1, 22, 0, tzinfo=UTC)
        lost_day = "2026_07_01"
        rig.meteor(doc(0, t0=start), day=lost_day)
        await rig.sync(lost_day)  # uploaded (and in the ledger) ...
        for key in await store.list_keys("stations/AMS1/meteors/2026/07/01/"):
            await store.delete(key)  # ... and then lost by the bucket (a restore, a bad lifecycle rule)
        await store.put("stations/AMS1/meteors/2026/07/01/not-ours.json", b"{}")  # never deleted
        for k in range(1, 11):  # ten days offline: nothing uploaded, nothing in the ledger
            day = start + timedelta(days=k)
            rig.meteor(doc(k, t0=day), day=day.strftime("%Y_%m_%d"))

        changed = next((rig.paths.archive / "METEOR" / "2026" / "07" / "05").glob("*.json"))
        wrong_key = meteor_key("AMS1", parse_day("2026_07_05"), changed.stem)
        await store.put(wrong_key, b"{}")  # the bucket holds other content under a key of ours
        proxy.stats.log.clear()
        report = await rig.sync()
        got = await store.get(wrong_key)
        assert got.body == changed.read_bytes()  # type: ignore[union-attr]
        local = {str(p.relative_to(rig.paths.archive / "METEOR")) for p in (rig.paths.archive / "METEOR").rglob("*.json")}
        in_bucket = {k.removeprefix("stations/AMS1/meteors/") for k in await store.list_keys("stations/AMS1/meteors/")}
        assert in_bucket == local | {"2026/07/01/not-ours.json"}
        indexes = {k.rsplit("/", 1)[1][:10] for k in await store.list_keys("stations/AMS1/index/")}
        assert {f"2026_07_{d:02d}" for d in range(1, 12)} <= indexes
        assert report.failed == [] and len(report.uploaded) >= 11
        rec = rig.syncer.last_reconcile
        assert rec is not None and rec.failed == [] and rec.days[0] == "2026_06_13" and rec.days[-1] == DAY

        # the same day again: no second reconcile; the next day (station clock): one more, all in place
        proxy.stats.log.clear()
        await rig.sync()
        assert puts(proxy) == [] and rig.syncer.last_reconcile is rec
        await rig.clock.advance(24 * 3600.0)
        await rig.sync()
        assert rig.syncer.last_reconcile is not rec and rig.syncer.last_reconcile.uploaded == []
        assert rig.syncer.last_reconcile.matching >= 12
    finally:
        rig.ledger.close()
