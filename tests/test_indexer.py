"""The Indexer: daily index per MeteorVerified (published only when it changed), rebuild from the
archive, bad archive files skipped with a log line, yearly roll-up on the tick, and the work done in
a real process pool (everything handed to it must pickle)."""

from __future__ import annotations

import gzip
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ams_actors.actors.base import StationContext
from ams_actors.actors.indexer import Indexer
from ams_actors.config import StationConfig, parse_config
from ams_actors.runtime.clock import VirtualClock
from ams_actors.runtime.files import atomic_write_json
from ams_actors.runtime.pool import make_pool
from ams_actors.sim.detections import meteor_archive_doc, straight_trajectory
from ams_actors.store.index_files import yearly_index_path
from ams_actors.store.local_paths import StationPaths
from protocols.messages import IndexUpdated, MeteorVerified
from protocols.meteor_index import decode_index

DAY = "2026_07_12"
T0 = datetime(2026, 7, 12, 22, 15, 6, 355000, tzinfo=UTC)


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

[schedule]
index_interval_s = 60.0
"""
    )


def doc(k: int, station: str = "AMS1") -> dict[str, Any]:
    b, e = straight_trajectory(51.3, 0.7, 105, 80, 40 + k, 45)
    return meteor_archive_doc(
        station_id=station, camera_id="010001", site=(51.0, 0.0, 50.0), begin=b, end=e,
        t_begin=T0 + timedelta(minutes=3 * k), speed_km_s=35.0,
    )


class Rig:
    def __init__(self, root: Path, executor: Any = None) -> None:
        cfg = config(root)
        self.clock = VirtualClock(start=datetime(2026, 7, 12, 23, 0, tzinfo=UTC))
        self.paths = StationPaths(cfg.data_root, cfg.station_id)
        self.published: list[Any] = []

        async def publish(msg: Any) -> None:
            self.published.append(msg)

        self.indexer = Indexer("Indexer", StationContext(cfg, self.clock, self.paths, executor=executor), publish)

    def archive(self, d: dict[str, Any], day: str = DAY) -> MeteorVerified:
        path = self.paths.archive_meteor(day, d["meteor_id"])
        atomic_write_json(path, d)
        return MeteorVerified("AMS1", d["camera"], d["meteor_id"], day, path)


async def test_index_follows_verified_meteors_and_publishes_only_changes(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    await rig.indexer.on_message(rig.archive(doc(0)))
    index_path = rig.paths.meteor_index(DAY)
    assert rig.published == [IndexUpdated("AMS1", DAY, index_path, 1)]
    idx = decode_index(index_path.read_bytes())
    assert (idx.station_id, idx.day, idx.site.lat, idx.site.alt_m) == ("AMS1", DAY, 51.0, 50.0)
    e = idx.meteors[0]
    assert e.start_utc == T0 and e.camera_id == "010001" and e.calib.res_arcsec == 60.0
    assert len(e.t) <= 16 and e.t[0] == 0.0 and e.duration_s > 0.5

    # the same meteor verified again: same bytes, nothing published
    before = index_path.read_bytes()
    await rig.indexer.on_message(rig.archive(doc(0)))
    assert len(rig.published) == 1 and index_path.read_bytes() == before

    await rig.indexer.on_message(rig.archive(doc(1)))
    assert rig.published[-1] == IndexUpdated("AMS1", DAY, index_path, 2)
    assert [m.meteor_id for m in decode_index(index_path.read_bytes()).meteors] == [doc(0)["meteor_id"],
                                                                                  doc(1)["meteor_id"]]


async def test_bad_archive_files_are_logged_and_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rig = Rig(tmp_path)
    await rig.indexer.on_message(rig.archive(doc(0)))
    caplog.set_level(logging.WARNING)
    broken = dict(doc(1), frames="nope")
    await rig.indexer.on_message(rig.archive(broken))
    other = rig.archive(doc(2, station="AMS9"))
    await rig.indexer.on_message(MeteorVerified("AMS1", "010001", doc(2)["meteor_id"], DAY, other.archive_path))
    garbage = rig.paths.archive_meteor(DAY, "garbage")
    garbage.write_text("{")
    await rig.indexer.on_message(MeteorVerified("AMS1", "010001", "garbage", DAY, garbage))
    assert len(rig.published) == 1
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3 and all("not indexed" in line and "\n" not in line for line in lines)
    assert "frames" in lines[0] and "AMS9" in lines[1] and "not JSON" in lines[2]
    # a meteor of another station or a bad day never touches the index
    await rig.indexer.on_message(MeteorVerified("AMS2", "010001", "x", DAY, garbage))
    await rig.indexer.on_message(MeteorVerified("AMS1", "010001", "x", "../../etc", garbage))
    assert len(rig.published) == 1


async def test_rebuild_from_the_archive_and_repair_a_corrupt_index(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    for k in range(3):
        await rig.indexer.on_message(rig.archive(doc(k)))
    index_path = rig.paths.meteor_index(DAY)
    incremental = index_path.read_bytes()
    n = len(rig.published)

    change = await rig.indexer.rebuild_day(DAY)
    assert not change.changed and change.meteors == 3 and len(rig.published) == n
    assert index_path.read_bytes() == incremental

    index_path.unlink()
    change = await rig.indexer.rebuild_day(DAY)
    assert change.changed and index_path.read_bytes() == incremental
    assert rig.published[-1] == IndexUpdated("AMS1", DAY, index_path, 3)

    # a corrupt index is rebuilt from the archive on the next meteor, not patched
    index_path.write_bytes(gzip.compress(b"[]"))
    await rig.indexer.on_message(rig.archive(doc(3)))
    assert len(decode_index(index_path.read_bytes()).meteors) == 4


async def test_yearly_roll_up_on_the_tick(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    await rig.indexer.on_message(rig.archive(doc(0)))
    await rig.indexer.on_message(rig.archive(doc(1), day="2026_07_13"))
    year_path = yearly_index_path(rig.paths, 2026)
    assert not year_path.exists()
    [change] = await rig.indexer.roll_up()
    assert change.changed and change.meteors == 2
    year = json.loads(gzip.decompress(year_path.read_bytes()))
    assert year["format"] == "ams-meteor-index-year" and year["station_id"] == "AMS1"
    assert [d["day"] for d in year["days"]] == [DAY, "2026_07_13"]
    assert year["days"][0]["meteors"][0]["meteor_id"] == doc(0)["meteor_id"]
    assert await rig.indexer.roll_up() == []  # nothing changed since

    # in the running actor the roll-up follows on the tick
    import asyncio

    task = asyncio.ensure_future(rig.indexer.run())
    await rig.indexer.tell(rig.archive(doc(2)))
    for _ in range(200):
        await asyncio.sleep(0.005)
        if rig.indexer.processed:
            break
    await rig.clock.advance(61.0)
    for _ in range(200):
        await asyncio.sleep(0.005)
        if len(json.loads(gzip.decompress(year_path.read_bytes()))["days"][0]["meteors"]) == 2:
            break
    rig.indexer.request_stop()
    await task
    assert len(json.loads(gzip.decompress(year_path.read_bytes()))["days"][0]["meteors"]) == 2


async def test_work_runs_in_the_process_pool(tmp_path: Path) -> None:
    pool = make_pool(1)
    try:
        rig = Rig(tmp_path, executor=pool)
        await rig.indexer.on_message(rig.archive(doc(0)))
        assert rig.published == [IndexUpdated("AMS1", DAY, rig.paths.meteor_index(DAY), 1)]
        assert (await rig.indexer.rebuild_day(DAY)).meteors == 1
        assert (await rig.indexer.roll_up())[0].meteors == 1
    finally:
        pool.shutdown()


# ---------------------------------------------------------------- the index cannot drift from the archive


def ledger_rig(root: Path) -> tuple[Rig, Any]:
    from ams_actors.store.ledger import Ledger

    rig = Rig(root)
    ledger = Ledger(rig.paths.ledger)
    rig.indexer.ctx.ledger = ledger
    return rig, ledger


def indexed_ids(rig: Rig, day: str = DAY) -> list[str]:
    path = rig.paths.meteor_index(day)
    return [m.meteor_id for m in decode_index(path.read_bytes()).meteors] if path.exists() else []


async def run_until_processed(indexer: Indexer, n: int) -> None:
    import asyncio

    for _ in range(400):
        await asyncio.sleep(0.005)
        if indexer.processed >= n:
            return


async def test_a_stopped_indexer_with_an_unprocessed_message_loses_no_meteor(tmp_path: Path) -> None:
    """`ams bs`: "Indexer: stopped with 1 message(s) unprocessed; they are redone from disk" — they were not."""
    import asyncio

    rig, ledger = ledger_rig(tmp_path)
    try:
        task = asyncio.ensure_future(rig.indexer.run())
        await rig.indexer.tell(rig.archive(doc(0)))
        await run_until_processed(rig.indexer, 1)
        # the Verifier's order: mark the day, write the archive, mark again, then the message
        await ledger.mark_index_day(DAY)
        late = rig.archive(doc(1))
        await ledger.mark_index_day(DAY)
        rig.indexer.pause()  # the message stays in the inbox, as when the stop comes first
        await rig.indexer.tell(late)
        rig.indexer.request_stop()
        rig.indexer.resume()
        await task
        assert sorted(indexed_ids(rig)) == sorted([doc(0)["meteor_id"], doc(1)["meteor_id"]])
        assert await ledger.index_days_marked() == {}
    finally:
        ledger.close()


async def test_a_killed_indexer_is_repaired_at_the_next_start(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """kill -9 mid-work: the message is gone with the process; the next start rebuilds from the archive."""
    import asyncio

    rig, ledger = ledger_rig(tmp_path)
    try:
        task = asyncio.ensure_future(rig.indexer.run())
        for k in range(2):
            await rig.indexer.tell(rig.archive(doc(k)))
        await run_until_processed(rig.indexer, 2)
        rig.archive(doc(2))  # verified and archived; its MeteorVerified died with the process
        task.cancel()  # the kill: no on_stop
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(indexed_ids(rig)) == 2
    finally:
        ledger.close()
    rig2, ledger2 = ledger_rig(tmp_path)
    caplog.set_level(logging.WARNING)
    try:
        task = asyncio.ensure_future(rig2.indexer.run())
        await asyncio.sleep(0.05)
        for _ in range(200):
            if len(indexed_ids(rig2)) == 3:
                break
            await asyncio.sleep(0.01)
        rig2.indexer.request_stop()
        await task
    finally:
        ledger2.close()
    assert sorted(indexed_ids(rig2)) == sorted(doc(k)["meteor_id"] for k in range(3))
    assert any("did not match the archive" in r.getMessage() and DAY in r.getMessage() for r in caplog.records)
    assert rig2.published[-1] == IndexUpdated("AMS1", DAY, rig2.paths.meteor_index(DAY), 3)


async def test_a_hand_removed_entry_is_repaired_at_start_and_daily(tmp_path: Path) -> None:
    import asyncio

    from protocols.meteor_index import encode_index

    rig = Rig(tmp_path)
    for k in range(3):
        await rig.indexer.on_message(rig.archive(doc(k)))
    await rig.indexer.on_message(rig.archive(doc(3), day="2026_07_11"))
    path = rig.paths.meteor_index(DAY)
    full = path.read_bytes()
    idx = decode_index(full)
    path.write_bytes(encode_index(type(idx)(idx.station_id, idx.day, idx.site, idx.meteors[:2])))

    await rig.indexer.on_start()  # at start
    assert path.read_bytes() == full
    path.write_bytes(b"not gzip")  # unreadable: rebuilt too
    await rig.indexer.on_start()
    assert path.read_bytes() == full

    # daily, on the station clock: an index deleted by hand comes back on the first tick of the next day
    task = asyncio.ensure_future(rig.indexer.run())
    await asyncio.sleep(0.02)
    path.unlink()
    await rig.clock.advance(61.0)
    await asyncio.sleep(0.05)
    assert not path.exists()  # same day: no full check on every tick
    await rig.clock.advance(24 * 3600.0)
    for _ in range(200):
        await asyncio.sleep(0.01)
        if path.exists():
            break
    rig.indexer.request_stop()
    await task
    assert path.read_bytes() == full


async def test_fix_days_and_proc_index_repair_the_index(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    await rig.indexer.on_message(rig.archive(doc(0)))
    rig.archive(doc(1))  # no message
    assert "fix_days" in rig.indexer.tasks and "proc_index" in rig.indexer.tasks
    result = await rig.indexer.on_task("fix_days", DAY)
    assert result.done == 1 and len(indexed_ids(rig)) == 2
    rig.archive(doc(2))
    result = await rig.indexer.on_task("proc_index", None)
    assert result.done == 1 and len(indexed_ids(rig)) == 3
    assert (await rig.indexer.on_task("fix_days", "2026-07-12")).failed == 1
