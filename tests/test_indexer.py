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
