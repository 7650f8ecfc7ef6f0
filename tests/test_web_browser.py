"""The station's page in a real browser (Debian's chromium driven by Playwright; never `playwright install`).

A real station scans rendered minutes with a meteor on two cameras, verifies them and syncs them to a
real S3 server; then in chromium: the dashboard shows both cameras, the night page the previews, the
meteor page plays the trim (H.264 mp4, readyState >= 2), a write without the token gets 403, and after
logging in a keyboard reject takes the meteor out of the daily index file and (after a sync) out of the
bucket's index, and undo brings it back. No page logs a console error. Screenshots of every page are
saved in the test's tmp dir.
"""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from web_helpers import make_bucket, web_config, write_fits

from ams_actors.runtime.clock import VirtualClock
from ams_actors.runtime.pool import make_pool
from ams_actors.station import Station
from ams_actors.store.local_paths import StationPaths
from protocols.events import Event, EventMember, encode_event
from protocols.meteor_index import decode_index
from protocols.s3_keys import daily_index_key, parse_day

playwright_api = pytest.importorskip("playwright.async_api")
CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)")

DAY = "2026_07_12"
CLIP = "2026_07_12_23_15_00_000_{cam}.mp4"
CAMS = ("010001", "010002")
TOKEN = "browser-token"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SD minute with a meteor (and its HD minute), used for both cameras."""
    from ams_actors.sim.render import render_clip
    from ams_actors.sim.scene import Meteor, Scene

    d = tmp_path_factory.mktemp("clips")
    scene = Scene(duration=6.0, seed=3,
                  meteors=(Meteor(t0=2.0, duration=1.2, x0=150.0, y0=90.0, vx=180.0, vy=70.0, amp=100.0),))
    render_clip(scene, d / "sd.mp4", d / "hd.mp4", hd_preset="ultrafast")
    return d


def _previews(paths: StationPaths) -> list[str]:
    """Preview JPEGs and the `previews` field, as the preview maker writes them (its contract)."""
    import cv2
    import numpy as np

    ids = []
    for meta in sorted(paths.meteors_dir(DAY).glob("*-trim-????.json")):
        doc = json.loads(meta.read_text())
        img = np.zeros((225, 400, 3), np.uint8)
        cv2.line(img, (60, 60), (340, 170), (230, 230, 230), 2)
        cv2.imwrite(str(meta.with_name(f"{meta.stem}-preview.jpg")), img)
        cv2.imwrite(str(meta.with_name(f"{meta.stem}-frame.jpg")), cv2.resize(img, (640, 360)))
        doc["previews"] = {"crop": f"{meta.stem}-preview.jpg", "frame": f"{meta.stem}-frame.jpg"}
        meta.write_text(json.dumps(doc))
        ids.append(doc["meteor_id"])
    return ids


def _event(paths: StationPaths, meteor_id: str) -> None:
    """A solved two-station event with this meteor (the events page and the meteor's link)."""
    t0 = datetime(2026, 7, 12, 23, 15, 2, tzinfo=UTC)
    ev = Event("20260712_231502_000", 1, t0, (EventMember("AMS1", meteor_id, t0, 1.2, "010001"),
                                              EventMember("AMS2", "x-trim-0050", t0, 1.1, "020001")))
    folder = paths.events_dir(DAY) / ev.event_id
    folder.mkdir(parents=True)
    (folder / "event.json").write_bytes(encode_event(ev))
    (folder / "obs.json").write_text(json.dumps({"event_id": ev.event_id, "observations": [
        {"station_id": "AMS1", "lat": 51.5, "lon": -0.1}, {"station_id": "AMS2", "lat": 51.9, "lon": 0.9}]}))
    (folder / "solution.json").write_text(json.dumps({
        "event_id": ev.event_id, "status": "solved", "begin": {"lat": 51.7, "lon": 0.2, "alt_m": 98000.0},
        "end": {"lat": 51.6, "lon": 0.5, "alt_m": 76000.0}, "v_init_m_s": 41200.0,
        "radiant": {"ra_deg": 46.2, "dec_deg": 57.9}, "orbit": {"a_au": 12.1, "e": 0.93, "i_deg": 113.0}}))


def _index_ids(paths: StationPaths) -> set[str]:
    return {m["meteor_id"] for m in json.loads(gzip.decompress(paths.meteor_index(DAY).read_bytes()))["meteors"]}


@pytest.mark.slow
async def test_the_station_page_in_chromium(rendered: Path, tmp_path: Path, s3_endpoint: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMS_WEB_TOKEN", TOKEN)
    root = tmp_path / "data"
    for cam in CAMS:
        for sub, src in (("SD", "sd.mp4"), ("HD", "hd.mp4")):
            (root / sub).mkdir(parents=True, exist_ok=True)
            shutil.copy(rendered / src, root / sub / CLIP.format(cam=cam))
    await make_bucket(s3_endpoint)
    pool = make_pool(2)
    station = Station(web_config(root, s3_endpoint, CAMS), clock=VirtualClock(datetime(2026, 7, 12, 23, 30, tzinfo=UTC)),
                      executor=pool, admin_socket=False, web=True)
    await station.start()
    shots = tmp_path / "screenshots"
    shots.mkdir()
    try:
        await station.run_task("bs")
        await station.run_task("rvd")
        await station.run_task("rvms")
        ids = _previews(station.paths)
        assert len(ids) == 2, ids  # one meteor per camera
        await station.run_task("proc_index", DAY)
        await station.run_task("sync", DAY)
        assert _index_ids(station.paths) == set(ids)
        assert station.web is not None
        await _browse(station, ids, shots)
    finally:
        await station.stop()
        pool.shutdown()


async def _bucket_ids(station: Station) -> set[str]:
    got = await station.ctx.store.get(daily_index_key("AMS1", parse_day(DAY)))
    return {e.meteor_id for e in decode_index(got.body).meteors}


async def _browse(station: Station, ids: list[str], shots: Path) -> None:
    assert station.web is not None
    base = station.web.url.rstrip("/")
    errors: list[str] = []
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            ctx = await browser.new_context(viewport={"width": 1440, "height": 900})
            page = await ctx.new_page()
            page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))

            await page.goto(base + "/")
            cams = await page.eval_on_selector_all("section.cam", "els => els.map(e => e.dataset.camera)")
            assert sorted(cams) == list(CAMS)
            await page.screenshot(path=str(shots / "dashboard.png"), full_page=True)

            await page.goto(f"{base}/night?day={DAY}")
            sizes = await page.eval_on_selector_all(
                ".card img", "els => Promise.all(els.map(e => e.decode().then(() => e.naturalWidth, () => 0)))")
            assert len(sizes) == len(ids) and all(w > 0 for w in sizes), sizes
            await page.screenshot(path=str(shots / "night.png"), full_page=True)

            # read-only until logged in: the write is refused
            denied = await ctx.request.post(base + "/api/review", data={"day": DAY, "meteor": ids[0], "action": "reject"})
            assert denied.status == 403
            assert station.paths.archive_meteor(DAY, ids[0]).exists()

            await page.goto(base + "/login")
            await page.fill("input[name=who]", "night-shift")
            await page.fill("input[name=token]", TOKEN)
            await page.click("form.login button")
            await page.wait_for_url("**/review")
            await page.goto(f"{base}/review?day={DAY}")
            first = await page.get_attribute(".reviewlist .item.sel", "data-meteor")
            async with page.expect_response("**/api/review") as resp:
                await page.keyboard.press("x")
            assert (await resp.value).status == 200
            assert first not in _index_ids(station.paths)  # out of the daily index file at once
            await station.run_task("sync")
            assert first not in await _bucket_ids(station)  # and out of the bucket's index after a sync
            await page.screenshot(path=str(shots / "review.png"), full_page=True)
            async with page.expect_response("**/api/review") as resp:
                await page.keyboard.press("u")
            assert (await resp.value).status == 200
            assert first in _index_ids(station.paths)
            await station.run_task("sync")
            assert first in await _bucket_ids(station)

            _event(station.paths, ids[0])  # now: no more syncs, so the EventBroker does not try to solve it
            await page.goto(f"{base}/meteor/{DAY}/{ids[0]}")
            await page.wait_for_function("document.getElementById('trim').readyState >= 2", timeout=15000)
            assert await page.locator("a[href^='/events?event=']").count() == 1
            await page.screenshot(path=str(shots / "meteor.png"), full_page=True)

            await page.goto(f"{base}/events?day={DAY}")
            assert await page.locator("section.event").count() == 1
            await page.screenshot(path=str(shots / "events.png"), full_page=True)
            write_fits(station.paths.root / "cal" / "010001")
            await page.goto(base + "/calibration")
            assert await page.locator("svg.resid").count() == 1
            await page.screenshot(path=str(shots / "calibration.png"), full_page=True)
        finally:
            await browser.close()
    assert errors == [], errors


