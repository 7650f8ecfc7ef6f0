"""`ams be` as a real process against a real S3 endpoint: the events this station is in → its EVENTS tree."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from ams_actors.runtime.lock import StationLock
from ams_actors.runtime.loop import run_async
from ams_actors.store.local_paths import StationPaths
from ams_actors.store.objectstore import ObjectStore
from protocols import ms_detects
from protocols.events import Event, EventMember, encode_event
from protocols.s3_keys import event_key, ms_detects_key, parse_day

BUCKET = "ams-test"
DAY = "2026_07_12"
T0 = datetime(2026, 7, 12, 22, 15, 6, 355000, tzinfo=UTC)


def _config(tmp_path: Path, endpoint: str) -> Path:
    p = tmp_path / "station.toml"
    p.write_text(f"""
[station]
id = "AMS1"
lat = 51.0
lon = 0.0
alt_m = 50.0
data_root = "{tmp_path / 'data'}"
[[cameras]]
id = "010001"
[store]
endpoint = "{endpoint}"
bucket = "{BUCKET}"
""")
    return p


async def _fill_bucket(endpoint: str) -> Event:
    ev = Event("20260712_221506_355", 1, T0, (EventMember("AMS1", "a1", T0, 1.0, "010001"),
                                              EventMember("AMS2", "b1", T0, 1.0, "010002")))
    other = Event("20260712_231000_000", 1, T0, (EventMember("AMS2", "x", T0, 1.0), EventMember("AMS3", "y", T0, 1.0)))
    async with ObjectStore.open(endpoint, BUCKET) as store:
        await store.ensure_bucket()
        await store.put(event_key(ev.event_id), encode_event(ev))
        await store.put(event_key(other.event_id), encode_event(other))
        detects = ms_detects.MsDetects("AMS1", DAY, (ms_detects.Detect(ev.event_id, 1, "a1", ("AMS1", "AMS2")),))
        await store.put(ms_detects_key(parse_day(DAY), "AMS1"), ms_detects.encode(detects))
    return ev


def _be(cfg: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AMS_S3_ACCESS_KEY_ID": "test", "AMS_S3_SECRET_ACCESS_KEY": "test"}
    return subprocess.run([sys.executable, "-m", "ams_actors", "be", "--day", DAY, "-c", str(cfg)],
                          capture_output=True, text=True, timeout=120, env=env)


def test_be_builds_the_days_events_tree_and_refuses_next_to_the_daemon(tmp_path: Path, s3_endpoint: str) -> None:
    ev = run_async(_fill_bucket(s3_endpoint))
    cfg = _config(tmp_path, s3_endpoint)
    paths = StationPaths(tmp_path / "data", "AMS1")

    first = _be(cfg)
    assert first.returncode == 0, first.stderr
    local = paths.events_dir(DAY) / ev.event_id / "event.json"
    assert local.read_bytes() == encode_event(ev)
    assert [p.name for p in paths.events_dir(DAY).iterdir()] == [ev.event_id]  # only the events we are in
    assert first.stdout.splitlines() == [
        f"{DAY}: 1 event(s) in {paths.events_dir(DAY)} (1 new or revised)",
        f"  {ev.event_id}  rev 1  AMS1 AMS2",
    ]
    again = _be(cfg)
    assert again.returncode == 0 and "(0 new or revised)" in again.stdout

    lock = StationLock(tmp_path / "data" / "state" / "ams.lock")
    lock.acquire()  # as the daemon holds it
    try:
        refused = _be(cfg)
    finally:
        lock.release()
    assert refused.returncode == 2
    assert refused.stderr.strip().endswith("use `ams admin run sync --day D` instead"), refused.stderr
