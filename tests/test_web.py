"""The station's web page without a browser: files only from inside the data root, writes only with the
token, a rejected meteor leaves the archive, the daily index and the bucket (and comes back on restore),
the trash is purged after [web] trash_days, and /metrics is per station."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from web_helpers import make_bucket, web_config, write_fits

from ams_actors.config import parse_config
from ams_actors.runtime.clock import VirtualClock
from ams_actors.sim.meteor_archive import year_of_meteors
from ams_actors.station import Station
from ams_actors.store.local_paths import StationPaths
from ams_actors.web import review
from protocols.errors import InputError
from protocols.meteor_index import decode_index
from protocols.s3_keys import daily_index_key, meteor_key, parse_day

DAY = "2026_11_26"
TOKEN = "test-token-123"


def _index_ids(paths: StationPaths, day: str) -> set[str]:
    doc = json.loads(gzip.decompress(paths.meteor_index(day).read_bytes()))
    return {m["meteor_id"] for m in doc["meteors"]}


@pytest.fixture()
async def station(tmp_path: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AMS_WEB_TOKEN", TOKEN)
    root = tmp_path / "data"
    paths = StationPaths(root, "AMS1")
    year_of_meteors(paths, ["010001", "010002"], datetime(2026, 11, 25, tzinfo=UTC), 3, 4)
    await make_bucket(s3_endpoint)
    st = Station(web_config(root, s3_endpoint), clock=VirtualClock(datetime(2026, 11, 27, 2, tzinfo=UTC)),
                 admin_socket=False, web=True)
    await st.start()
    try:
        yield st
    finally:
        await st.stop()


async def _get(url: str, **kw: object) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as s, s.get(url, **kw) as r:  # type: ignore[arg-type]
        return r.status, await r.read()


async def test_files_are_served_only_from_inside_the_data_root(station: Station, tmp_path: Path) -> None:
    assert station.web is not None
    base = station.web.url
    root = station.paths.root
    mid = next(iter(sorted((root / "meteors" / DAY).glob("*-preview.jpg")))).name
    ok, body = await _get(f"{base}files/meteors/{DAY}/{mid}")
    assert ok == 200 and body[:2] == b"\xff\xd8"
    secret = tmp_path / "secret.json"
    secret.write_text('{"password": 1}')
    (root / "meteors" / DAY / "link.json").symlink_to(secret)
    (root / "meteors" / "outside").symlink_to(tmp_path)
    for bad in ("files/../secret.json", "files/meteors/..%2f..%2fsecret.json", "files/%2e%2e/secret.json",
                "files/meteors/%2e%2e/%2e%2e/secret.json", f"files/{tmp_path}/secret.json", "files//etc/passwd",
                f"files/meteors/{DAY}/link.json", "files/meteors/outside/secret.json", "files/state/ledger.sqlite3",
                "files/meteors/%00.json"):
        status, body = await _get(base + bad)
        assert status in (400, 404), (bad, status)
        assert b"password" not in body
    # the same checks without aiohttp's URL handling in between
    assert review.check_ids(DAY, "x") is None
    from ams_actors.web.safe_paths import served_file

    for rel in ("../secret.json", "/etc/passwd", "meteors/../../secret.json", f"meteors/{DAY}/link.json",
                "meteors/outside/secret.json", "state/ledger.sqlite3", "meteors\\..\\x.json"):
        assert served_file(root, rel) is None, rel


async def test_writes_need_the_token(station: Station) -> None:
    assert station.web is not None
    mid = sorted(p.stem for p in station.paths.archive_meteor(DAY, "x").parent.glob("*.json"))[0]
    body = {"day": DAY, "meteor": mid, "action": "reject"}
    async with aiohttp.ClientSession() as s:
        for headers in ({}, {"X-AMS-Token": "wrong"}, {"X-AMS-Token": ""}):
            async with s.post(station.web.url + "api/review", json=body, headers=headers) as r:
                assert r.status == 403
        async with s.post(station.web.url + "login", data={"token": "wrong", "who": "eve"}) as r:
            assert r.status == 403
    assert station.paths.archive_meteor(DAY, mid).exists()  # nothing moved
    # a station without AMS_WEB_TOKEN is read-only: even an empty token does not pass
    station.web.token = None
    async with aiohttp.ClientSession() as s, s.post(station.web.url + "api/review", json=body,
                                                    headers={"X-AMS-Token": ""}) as r:
        assert r.status == 403


async def test_reject_and_restore_move_the_meteor_out_of_and_back_into_index_and_bucket(station: Station) -> None:
    assert station.web is not None
    paths = station.paths
    mid = sorted(p.stem for p in paths.archive_meteor(DAY, "x").parent.glob("*.json"))[0]
    await station.run_task("proc_index", DAY)
    (res,) = await station.run_task("sync", DAY)
    assert res.failed == 0
    store = station.ctx.store
    ikey = daily_index_key("AMS1", parse_day(DAY))
    mkey = meteor_key("AMS1", parse_day(DAY), mid)

    async def bucket_ids() -> set[str]:
        got = await store.get(ikey)
        return {e.meteor_id for e in decode_index(got.body).meteors}

    assert mid in _index_ids(paths, DAY) and mid in await bucket_ids()
    headers = {"X-AMS-Token": TOKEN, "X-AMS-User": "alice"}
    night_url = f"{station.web.url}night?day={DAY}"
    async with aiohttp.ClientSession() as s:
        # the night page is rendered once and kept: every review must show on the next view all the same
        status, page = await _get(night_url)
        assert status == 200 and mid.encode() in page and b'class="card confirm"' not in page
        async with s.post(station.web.url + "api/review", json={"day": DAY, "meteor": mid, "action": "confirm"},
                          headers=headers) as r:
            assert r.status == 200, await r.text()
        _, page = await _get(night_url)
        assert f'class="card confirm" href="/meteor/{DAY}/{mid}"'.encode() in page
        async with s.post(station.web.url + "api/review", json={"day": DAY, "meteor": mid, "action": "reject"},
                          headers=headers) as r:
            assert r.status == 200, await r.text()
        assert not paths.archive_meteor(DAY, mid).exists()
        assert not list(paths.meteors_dir(DAY).glob(f"{mid}*"))
        assert mid not in _index_ids(paths, DAY)  # the Indexer rebuilt the day at once
        await station.run_task("sync")
        assert mid not in await bucket_ids()
        assert type(await store.head(mkey)).__name__ == "NotFound"  # withdrawn from the bucket
        status, page = await _get(f"{station.web.url}night?day={DAY}")
        assert status == 200 and mid.encode() not in page
        # restore puts everything back
        async with s.post(station.web.url + "api/review", json={"day": DAY, "meteor": mid, "action": "restore"},
                          headers=headers) as r:
            assert r.status == 200, await r.text()
        _, page = await _get(night_url)
        assert mid.encode() in page
    assert paths.archive_meteor(DAY, mid).exists() and (paths.meteors_dir(DAY) / f"{mid}-preview.jpg").exists()
    assert mid in _index_ids(paths, DAY)
    await station.run_task("sync")
    assert mid in await bucket_ids()
    assert type(await store.head(mkey)).__name__ == "ObjectInfo"
    assert station.ctx.ledger is not None
    log = await station.ctx.ledger.review_log()
    assert [(r[0], r[2], r[3]) for r in log[:3]] == [(mid, "restore", "alice"), (mid, "reject", "alice"),
                                                    (mid, "confirm", "alice")]


async def test_trash_is_purged_after_trash_days(tmp_path: Path) -> None:
    paths = StationPaths(tmp_path, "AMS1")
    (mid_day, mid), *_ = year_of_meteors(paths, ["010001"], datetime(2026, 11, 25, tzinfo=UTC), 1, 2)
    review.reject(paths, mid_day, mid, "bob", "2026-11-26T01:00:00+00:00")
    assert [t.meteor_id for t in review.trashed(paths)] == [mid]
    assert review.purge(paths, 30, datetime(2026, 12, 20, tzinfo=UTC)) == []
    assert review.purge(paths, 30, datetime(2026, 11, 26, 1, tzinfo=UTC) + timedelta(days=31)) == [mid]
    assert review.trashed(paths) == [] and not paths.archive_meteor(mid_day, mid).exists()


async def test_metrics_are_per_station(station: Station, tmp_path: Path, s3_endpoint: str) -> None:
    assert station.web is not None
    assert station.ctx.ledger is not None
    from ams_actors.sim.meteor_archive import ledger_rows

    # three nights of two cameras: the old days (counted hourly) and the last two (every scrape) add up
    rows = ledger_rows(["010001", "010002"], datetime(2026, 11, 24, tzinfo=UTC), 3, [], "2026-11-27T00:00:00Z")
    station.ctx.ledger.replace_all(rows, [])
    status, body = await _get(station.web.url + "metrics")
    text = body.decode()
    assert status == 200
    assert 'ams_minutes_scanned_total{camera="010001",station="AMS1"} 1440.0' in text
    assert 'ams_detections_total{camera="010002",class="detect",station="AMS1"} 1440.0' in text
    for name in ("ams_minutes_scanned", "ams_detections", "ams_meteors", "ams_inbox_depth", "ams_pool_busy",
                 "ams_sync_backlog_days", "ams_claims_held", "ams_claims_total", "ams_solve_seconds_bucket",
                 "ams_last_minute_age_seconds", "ams_disk_free_bytes", "ams_web_held_back_seconds_total"):
        assert name in text, name
    assert 'ams_inbox_depth{actor="Indexer",station="AMS1"}' in text
    # a second station in the same process has its own registry: no clash, its own numbers
    other = Station(web_config(tmp_path / "other", s3_endpoint, ("010001",), station_id="AMS2"),
        clock=VirtualClock(), admin_socket=False, web=True)
    await other.start()
    try:
        assert other.web is not None
        _, body2 = await _get(other.web.url + "metrics")
        assert 'station="AMS2"' in body2.decode() and 'station="AMS1"' not in body2.decode()
    finally:
        await other.stop()


def test_web_config_is_checked(tmp_path: Path) -> None:
    cfg = parse_config(f'[station]\nid = "A"\nlat = 1.0\nlon = 2.0\nalt_m = 0.0\ndata_root = "{tmp_path}"\n'
                       f'[[cameras]]\nid = "010001"\n')
    assert (cfg.web.enabled, cfg.web.bind, cfg.web.port) == (True, "127.0.0.1", 8087)
    with pytest.raises(InputError, match=r"web\.port"):
        parse_config(f'[station]\nid = "A"\nlat = 1.0\nlon = 2.0\nalt_m = 0.0\ndata_root = "{tmp_path}"\n'
                     f'[[cameras]]\nid = "010001"\n[web]\nport = 70000\n')
    with pytest.raises(InputError, match=r"web\.max_busy"):
        parse_config(f'[station]\nid = "A"\nlat = 1.0\nlon = 2.0\nalt_m = 0.0\ndata_root = "{tmp_path}"\n'
                     f'[[cameras]]\nid = "010001"\n[web]\nmax_busy = 0\n')


@pytest.mark.slow
def test_ams_run_logs_the_page_and_admin_status_shows_it(tmp_path: Path) -> None:
    """A real `ams run`: the URL at start, the same URL in `ams admin status`, and the page answers there."""
    import re
    import subprocess
    import sys
    import urllib.request

    from daemon_helpers import start_daemon, station_toml, wait_for_socket

    cfg = tmp_path / "station.toml"
    cfg.write_text(station_toml(tmp_path / "data"))
    log = (tmp_path / "stderr.log").open("w+")
    proc = start_daemon(cfg, stderr=log)
    try:
        wait_for_socket(tmp_path / "data" / "state" / "admin.sock", proc)
        status = subprocess.run([sys.executable, "-m", "ams_actors", "admin", "-c", str(cfg), "status"],
                                capture_output=True, text=True, timeout=60)
        log.seek(0)
        logged = re.search(r"web page: (http://127\.0\.0\.1:\d+/)", log.read())
        assert logged, "no URL at start"
        assert f"page {logged.group(1)}" in status.stdout
        with urllib.request.urlopen(logged.group(1), timeout=10) as r:
            assert r.status == 200 and b"Dashboard" in r.read()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()


async def test_calibration_page_shows_residuals_and_history(station: Station) -> None:
    assert station.web is not None
    write_fits(station.paths.root / "cal" / "010001")
    status, body = await _get(station.web.url + "calibration")
    text = body.decode()
    assert status == 200
    assert "20 stars, residuals" in text and text.count("2026-11-0") == 2  # the newest fit's plot, both fits
    assert "Camera 010002" in text and "uncalibrated model" in text  # the camera without a fit says so
    status, body = await _get(station.web.url)
    assert status == 200 and b"0.30 px rms" in body  # the dashboard shows the newest fit's quality
