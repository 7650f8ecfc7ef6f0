"""The nightly calibration re-check on rendered stacks (the simulator's star field through a known true
camera): a clear stack after the check time gives a new dated calibration that the Detector/Verifier
lookup uses; a poor stack, or a fit worse than the one in use, is refused and the old one kept."""

from __future__ import annotations

import asyncio
import json
import pickle
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from ams_actors.actors.base import StationContext
from ams_actors.actors.calibration_check import CalibrationCheck, CheckRequest, check_camera_job, stack_mid_time
from ams_actors.actors.calibrations import Calibrations
from ams_actors.config import StationConfig, parse_config
from ams_actors.runtime.clock import VirtualClock
from ams_actors.runtime.pool import make_pool, run_cpu
from ams_actors.sim.reference_cameras import UK002F
from ams_actors.sim.starfield import render_star_stack
from ams_actors.store.local_paths import StationPaths
from protocols.calibration import CalibrationRecord, read_calibration, write_calibration

TRUE = UK002F
CAM = "010001"
DAY = "2026_07_12"
# 23:30 UTC is 23:25 local mean solar time at 1.3° W: before a 00:30 check time
START = datetime(2026, 7, 12, 23, 30, tzinfo=UTC)
OLD_OBS = datetime(2026, 7, 11, 23, 0, 30, tzinfo=UTC)


def config(root: Path) -> StationConfig:
    return parse_config(
        f"""
[station]
id = "AMS1"
lat = 51.8831
lon = -1.30616
alt_m = 80.0
data_root = "{root}"
[[cameras]]
id = "{CAM}"
az_deg = 62.0
el_deg = 41.0
fov_h_deg = 84.0
rotation_deg = 3.0
""",
        source=str(root / "station.toml"),
    )


def actor(root: Path, clock: VirtualClock, **kw: Any) -> CalibrationCheck:
    cfg = config(root)
    paths = StationPaths(cfg.data_root, cfg.station_id)
    paths.ensure()
    return CalibrationCheck("CalibrationCheck", StationContext(cfg, clock, paths), check_hour=0.5, **kw)


def install_current(root: Path, rms_px: float = 0.3, n: int = 80) -> Path:
    """The calibration in use: last night's fit, a little off (0.3° in azimuth) as cameras drift."""
    cfg = config(root)
    folder = Calibrations(cfg).folder(cfg.cameras[0])
    model = replace(TRUE, az=TRUE.az + 0.3).to_dict()
    rec = CalibrationRecord(camera_id=CAM, obs_utc=OLD_OBS, model=model,
                            fit={"n_matched": n, "rms_px": rms_px, "rms_arcmin": rms_px * 60 / TRUE.scale},
                            station_id="AMS1", created_utc=OLD_OBS)
    return write_calibration(folder, rec)


def write_stack(root: Path, start: datetime, seed: int, **render: Any) -> Path:
    name = f"{start:%Y_%m_%d_%H_%M_%S}_000_{CAM}-stacked.png"
    path = root / "SD" / "proc2" / f"{start:%Y_%m_%d}" / "images" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), render_star_stack(TRUE, start, rng=np.random.default_rng(seed), n_steps=3, **render))
    return path


CLOUDY = {"background_dn": 60.0, "noise_dn": 8.0}  # haze: raised sky, few stars through it
FEW_STARS = {"mag_limit": 3.5}  # thin cloud: only the brightest stars


async def run_until(clock: VirtualClock, cond: Callable[[], bool], step_s: float, limit_s: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not cond():
        assert loop.time() < deadline, "condition not reached"
        await clock.advance(step_s)
        await asyncio.sleep(0.05)


async def test_clear_stack_after_check_time_gives_new_calibration(tmp_path: Path) -> None:
    old = install_current(tmp_path)
    write_stack(tmp_path, datetime(2026, 7, 12, 22, 15, tzinfo=UTC), 1, **CLOUDY)
    good = write_stack(tmp_path, datetime(2026, 7, 12, 22, 45, tzinfo=UTC), 2)
    write_stack(tmp_path, datetime(2026, 7, 12, 23, 10, tzinfo=UTC), 3, **FEW_STARS)
    write_stack(tmp_path, datetime(2026, 7, 12, 18, 0, tzinfo=UTC), 4)  # clear but outside the last 3 h
    clock = VirtualClock(start=START)
    check = actor(tmp_path, clock, interval_s=600.0)
    cals = Calibrations(check.ctx.config)
    assert cals.model(CAM).file == old.name
    task = asyncio.create_task(check.run())
    try:
        await run_until(clock, lambda: clock.now() >= START + timedelta(minutes=50), 600.0)
        assert check.done == {}  # 00:20 UTC = 00:15 local: not yet
        await run_until(clock, lambda: CAM in check.done, 600.0)
    finally:
        check.request_stop()
        await task
    row = check.done[CAM]
    assert row["night"] == DAY and row["accepted"] is True and row["stack"] == good.name, row
    new = tmp_path / "cal" / CAM / row["written"]
    assert new.name == "calib_010001_20260712_224530.json"  # dated by the stack, not the wall clock
    rec = read_calibration(new)
    assert rec.obs_utc == datetime(2026, 7, 12, 22, 45, 30, tzinfo=UTC)
    assert START + timedelta(minutes=60) <= rec.created_utc <= clock.now()  # the station clock's time
    assert rec.n_matched >= 80 and rec.rms_px < 0.5 and rec.station_id == "AMS1" and rec.stack == good.name
    # the Detector/Verifier lookup now uses it, and it is the true pointing (the old one was 0.3° off)
    model = cals.model(CAM)
    assert model.file == new.name
    assert abs(model.az - TRUE.az) < 0.05 and abs(model.el - TRUE.el) < 0.05
    # remembered for the night (and across a restart): no second check
    again = actor(tmp_path, clock)
    await again.on_start()
    assert await again.check_due() == []
    # the next night is due again
    clock2 = VirtualClock(start=START + timedelta(days=1, hours=1))
    assert actor(tmp_path, clock2).night_of(clock2.now()) == "2026_07_13"


@pytest.mark.parametrize(
    ("case", "current", "render", "why"),
    [
        ("few stars", {"rms_px": 0.3, "n": 80}, FEW_STARS, "stars matched vs 80"),
        ("worse fit", {"rms_px": 0.05, "n": 80}, {}, "worse than the calibration in use"),
    ],
)
async def test_poor_fit_is_refused_and_old_calibration_kept(
    tmp_path: Path, case: str, current: dict[str, Any], render: dict[str, Any], why: str
) -> None:
    old = install_current(tmp_path, **current)
    write_stack(tmp_path, datetime(2026, 7, 13, 0, 5, tzinfo=UTC), 5, **render)
    clock = VirtualClock(start=datetime(2026, 7, 13, 0, 45, tzinfo=UTC))
    check = actor(tmp_path, clock, min_clear_stars=20)
    (row,) = await check.check_due()
    assert row["accepted"] is False and why in row["reason"] and row["written"] is None, row
    assert [p.name for p in (tmp_path / "cal" / CAM).glob("*.json")] == [old.name]
    assert Calibrations(check.ctx.config).model(CAM).file == old.name
    # an attempted fit counts: the night is done, and it is on disk for the next start
    assert json.loads(check.state_path.read_text())[CAM]["night"] == DAY
    assert await check.check_due() == []


async def test_cloudy_night_is_retried_not_fitted(tmp_path: Path) -> None:
    old = install_current(tmp_path)
    write_stack(tmp_path, datetime(2026, 7, 13, 0, 5, tzinfo=UTC), 6, **CLOUDY)
    clock = VirtualClock(start=datetime(2026, 7, 13, 0, 45, tzinfo=UTC))
    check = actor(tmp_path, clock)
    (row,) = await check.check_due()
    assert "no clear stack" in row["result"] and check.done == {}
    assert Calibrations(check.ctx.config).model(CAM).file == old.name
    # it clears up: the next tick fits the clear stack
    good = write_stack(tmp_path, datetime(2026, 7, 13, 1, 0, tzinfo=UTC), 7)
    await clock.advance(3600)
    (row,) = await check.check_due()
    assert row["accepted"] is True and row["stack"] == good.name


async def test_job_runs_in_the_station_process_pool(tmp_path: Path) -> None:
    """The job runs in the station's (forkserver) process pool: request and outcome cross processes."""
    stack = write_stack(tmp_path, datetime(2026, 7, 13, 0, 5, tzinfo=UTC), 8)
    req = CheckRequest(CAM, "AMS1", str(tmp_path / "cal"), (str(stack), str(tmp_path / "not-a-stack.png")),
                       {"lat": TRUE.lat, "lon": TRUE.lon, "alt_m": 80.0, "az": 62.0, "el": 41.0, "fov_h": 84.0,
                        "rotation": 3.0})
    pool = make_pool(1)
    try:
        out = await run_cpu(pool, check_camera_job, req)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    assert pickle.loads(pickle.dumps(out)) == out
    # no calibration in use: fitted from the station.toml pointing (3° off) and accepted
    assert out.attempted and out.accept and out.reason == "no calibration in use" and out.current is None
    assert out.quality is not None and out.quality["n_matched"] >= 80
    assert stack_mid_time(stack.name) == (datetime(2026, 7, 13, 0, 5, 30, tzinfo=UTC), CAM)
    assert stack_mid_time("2026_07_13_00_05_00_000_010001-stacked-tn.jpg") is None


def test_uncalibrated_camera_is_the_calibration_start(tmp_path: Path) -> None:
    """Before the first star fit the Detector/Verifier see the sky through the same model (equidistant,
    config pointing) that the re-check and `ams calibrate` start their fit from: one uncalibrated model."""
    from ams_actors.kernels.astrometry import guess_camera

    cfg = config(tmp_path)
    cam = cfg.cameras[0]
    fallback = Calibrations(cfg).model(CAM)
    assert fallback.file is None and fallback.fit_quality is None
    start = guess_camera(cfg.station.lat, cfg.station.lon, cfg.station.alt_m, cam.sd_width, cam.sd_height,
                         cam.az_deg, cam.el_deg, cam.fov_h_deg, cam.rotation_deg)
    xs = np.array([0.0, cam.sd_width / 2, cam.sd_width - 1.0, 37.0, 600.0])
    ys = np.array([0.0, cam.sd_height / 2, cam.sd_height - 1.0, 300.0, 20.0])
    az_f, el_f = fallback.pixel_to_azel(xs, ys)
    az_s, el_s = start.pixel_to_azel(xs, ys)
    assert np.allclose(az_f, az_s, atol=1e-9) and np.allclose(el_f, el_s, atol=1e-9)
    assert fallback.pixel_scale_deg == pytest.approx(cam.fov_h_deg / cam.sd_width)
    # an all-sky lens is equidistant: the frame's edge is half the configured field from the centre
    assert fallback.fov_deg()[0] == pytest.approx(cam.fov_h_deg, abs=0.05)  # (refraction removed: +0.03°)


def test_simulated_meteors_are_placed_with_the_uncalibrated_model(tmp_path: Path) -> None:
    """Network mode of the simulator writes each frame's pixel where the station's own uncalibrated
    model puts the frame's az/el: pixel and sky of a simulated meteor tell the same story."""
    from ams_actors.sim.detections import meteor_docs_for_station
    from ams_actors.sim.trajectories import TrueMeteor

    cfg = config(tmp_path)
    st = cfg.station
    # ~100 km north-east of the station at 95 km height: in the middle of the camera's view (az 62°, el 41°)
    meteor = TrueMeteor.from_geodetic(st.lat + 0.45, st.lon + 1.25, 95_000.0, 200.0, 40.0, 30_000.0, 1.0, START)
    docs = meteor_docs_for_station(meteor, st.id, st.lat, st.lon, st.alt_m, cfg.cameras,
                                   np.random.default_rng(3), noise_arcsec=30.0)
    assert len(docs) == 1
    frames = docs[0]["frames"]
    assert len(frames) >= 10
    model = Calibrations(cfg).model(CAM)
    xs, ys = np.array([f["x"] for f in frames]), np.array([f["y"] for f in frames])
    az, el = model.pixel_to_azel(xs, ys)
    # pixels are rounded to 0.01 px (~0.002°)
    assert np.max(np.abs((az - np.array([f["az"] for f in frames]) + 180) % 360 - 180)) < 0.005
    assert np.max(np.abs(el - np.array([f["el"] for f in frames]))) < 0.005
    assert docs[0]["calibration"]["model"] == model.model
