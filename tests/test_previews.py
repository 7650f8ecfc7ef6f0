"""Preview JPEGs in the bucket: `ams sa` (a real process) uploads a day's previews once, and a
partner's previews of an event's members come down with the event (validated)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_be import _config
from test_syncer import Rig, doc, puts

from ams_actors.runtime.loop import run_async
from ams_actors.store.local_paths import StationPaths
from ams_actors.store.objectstore import ObjectStore
from ams_actors.store.outcomes import StoredObject
from ams_actors.store.proxy import FaultProxy
from protocols import ms_detects
from protocols import s3_keys as k
from protocols.events import Event, EventMember, encode_event
from protocols.pipeline_files import preview_names

BUCKET = "ams-test"
DAY = "2026_07_12"
MID = "2026_07_12_22_15_00_000_010001-trim-0120"
PARTNER_MID = "2026_07_12_22_15_00_000_010002-trim-0131"
T0 = datetime(2026, 7, 12, 22, 15, 6, 355000, tzinfo=UTC)


def _jpeg(value: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((30, 40), value, np.uint8))
    assert ok
    return bytes(buf.tobytes())


def _ams(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AMS_S3_ACCESS_KEY_ID": "test", "AMS_S3_SECRET_ACCESS_KEY": "test"}
    return subprocess.run([sys.executable, "-m", "ams_actors", *argv], capture_output=True, text=True,
                          timeout=120, env=env)


async def _bucket(endpoint: str, puts: dict[str, bytes]) -> dict[str, bytes]:
    async with ObjectStore.open(endpoint, BUCKET) as store:
        await store.ensure_bucket()
        for key, body in puts.items():
            await store.put(key, body)
        out = {}
        for key in await store.list_keys(k.previews_prefix("AMS1")):
            got = await store.get(key)
            assert isinstance(got, StoredObject)
            out[key] = got.body
        return out


def test_sa_uploads_a_days_previews_once(tmp_path: Path, s3_endpoint: str) -> None:
    run_async(_bucket(s3_endpoint, {}))
    folder = StationPaths(tmp_path / "data", "AMS1").meteors_dir(DAY)
    folder.mkdir(parents=True)
    names = preview_names(MID)
    (folder / names["crop"]).write_bytes(_jpeg(10))
    (folder / names["frame"]).write_bytes(_jpeg(200))
    (folder / f"{MID}.json").write_text("{}")  # not a preview: not uploaded by sa
    cfg = _config(tmp_path, s3_endpoint)

    first = _ams("sa", "--day", DAY, "-c", str(cfg))
    assert first.returncode == 0, first.stderr
    assert "uploaded 2, 0 unchanged" in first.stdout, first.stdout
    day = k.parse_day(DAY)
    assert run_async(_bucket(s3_endpoint, {})) == {
        k.preview_key("AMS1", day, names["crop"]): _jpeg(10),
        k.preview_key("AMS1", day, names["frame"]): _jpeg(200),
    }
    again = _ams("sa", "--day", DAY, "-c", str(cfg))
    assert again.returncode == 0 and "uploaded 0, 2 unchanged" in again.stdout, again.stdout
    bad = _ams("sa", "--day", "2026_13_40", "-c", str(cfg))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "--day" in bad.stderr


def test_partner_previews_come_down_with_the_event(tmp_path: Path, s3_endpoint: str) -> None:
    ev = Event("20260712_221506_355", 1, T0, (EventMember("AMS1", MID, T0, 1.0, "010001"),
                                              EventMember("AMS2", PARTNER_MID, T0, 1.0, "010002")))
    day = k.parse_day(DAY)
    names = preview_names(PARTNER_MID)
    detects = ms_detects.MsDetects("AMS1", DAY, (ms_detects.Detect(ev.event_id, 1, MID, ("AMS1", "AMS2")),))
    run_async(_bucket(s3_endpoint, {
        k.event_key(ev.event_id): encode_event(ev),
        k.ms_detects_key(day, "AMS1"): ms_detects.encode(detects),
        k.preview_key("AMS2", day, names["crop"]): _jpeg(77),
        k.preview_key("AMS2", day, names["frame"]): b"<html>not a picture</html>",
    }))
    done = _ams("be", "--day", DAY, "-c", str(_config(tmp_path, s3_endpoint)))
    assert done.returncode == 0, done.stderr
    folder = StationPaths(tmp_path / "data", "AMS1").events_dir(DAY) / ev.event_id / "previews" / "AMS2"
    assert (folder / names["crop"]).read_bytes() == _jpeg(77)
    assert not (folder / names["frame"]).exists()  # not a JPEG: skipped, one line naming the key
    assert f"{k.preview_key('AMS2', day, names['frame'])}: not a JPEG" in done.stderr, done.stderr
    # the partner fixes its preview: the next look at the (unchanged) event fetches what is missing
    run_async(_bucket(s3_endpoint, {k.preview_key("AMS2", day, names["frame"]): _jpeg(99)}))
    again = _ams("be", "--day", DAY, "-c", str(_config(tmp_path, s3_endpoint)))
    assert again.returncode == 0 and "(0 new or revised)" in again.stdout, again.stderr
    assert (folder / names["frame"]).read_bytes() == _jpeg(99)


def test_preview_keys() -> None:
    day = k.parse_day(DAY)
    key = k.preview_key("AMS1", day, f"{MID}-preview.jpg")
    assert key == f"stations/AMS1/previews/2026/07/12/{MID}-preview.jpg"
    assert k.parse_key(key) == k.PreviewKey("AMS1", day, f"{MID}-preview.jpg")
    for bad in ("x.jpg", "../a-preview.jpg", f"{MID}-preview.png", "-preview.jpg", "..-frame.jpg"):
        with pytest.raises(k.InvalidId):
            k.preview_key("AMS1", day, bad)
        with pytest.raises(k.InvalidKey):
            k.parse_key(f"stations/AMS1/previews/2026/07/12/{bad}")


async def test_the_daemons_syncer_uploads_previews_once_and_reconcile_agrees(tmp_path: Path, s3_endpoint: str) -> None:
    """Every sync sends the day's previews with its meteors; the daily reconcile lists them too (a
    reconcile that did not would send every preview again at each start)."""
    with FaultProxy(s3_endpoint, seed=1) as proxy:
        async with ObjectStore.open(proxy.url, BUCKET) as store:
            await store.ensure_bucket()
            rig = Rig(tmp_path, store)
            try:
                meteor = rig.meteor(doc(0))
                names = preview_names(meteor.stem)
                folder = rig.paths.meteors_dir(DAY)
                folder.mkdir(parents=True, exist_ok=True)
                (folder / names["crop"]).write_bytes(_jpeg(1))
                (folder / names["frame"]).write_bytes(_jpeg(2))
                day = k.parse_day(DAY)
                previews = sorted(k.preview_key("AMS1", day, n) for n in names.values())
                proxy.stats.log.clear()
                report = await rig.sync()  # the first cycle after a start reconciles too
                sent = [key for key in puts(proxy) if "/previews/" in key]
                assert sorted(sent) == previews and sorted(key for key in report.uploaded if "/previews/" in key) \
                    == previews
                rec = await rig.syncer.reconcile(rig.syncer.engine())  # type: ignore[arg-type]
                assert rec.uploaded == [] and rec.failed == []
            finally:
                rig.ledger.close()
