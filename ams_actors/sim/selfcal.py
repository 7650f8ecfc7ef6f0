"""Video mode's calibration as a real station gets it: a rough pointing typed in, then a star fit.

An operator sets a camera up with a compass and a level and types its azimuth, elevation, roll and
field of view into station.toml: a few degrees and a few per cent off the truth, and nothing about
the lens. :func:`rough_camera` draws such a guess for each true camera (from its own generator, so the
world of a seed is the same with or without it); the stations are configured with it, while the
renderer draws the sky through the true camera (with its lens distortion).

After the night's first minute, each station fits every camera from the stars in its own minute
stack through its own CalibrationCheck (`ams admin run calibrate`: detection, BSC5 match, fit and the
same acceptance rule as `ams calibrate`). :func:`calibration_figures` then compares the model each
station uses against the truth, so the report says how good the stations' astrometry really was
instead of assuming it. ``ams sim --true-calibration`` keeps the old shortcut (each camera handed its
true model) for comparison.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np

from ams_actors.kernels.geo import angle_between_deg
from ams_actors.sim.world import SimCamera, SimStation

#: the operator's errors: |az|, |el|, |roll| drawn in this range (deg), each with a random sign ...
POINTING_ERROR_DEG = (1.0, 3.0)
#: ... and the field of view off by this fraction (either way)
SCALE_ERROR = (0.02, 0.05)


def rough_camera(cam: SimCamera, rng: np.random.Generator) -> SimCamera:
    """What an operator would type for ``cam``: az/el/roll 1–3° off, field of view 2–5 % off."""

    def off(lo: float, hi: float) -> float:
        return float(rng.choice((-1.0, 1.0)) * rng.uniform(lo, hi))

    d_az, d_el, d_roll = (off(*POINTING_ERROR_DEG) for _ in range(3))
    return replace(cam, az_deg=round((cam.az_deg + d_az) % 360.0, 2), el_deg=round(cam.el_deg + d_el, 2),
                   rotation_deg=round(cam.rotation_deg + d_roll, 2),
                   fov_h_deg=round(cam.fov_h_deg * (1.0 + off(*SCALE_ERROR)), 2))


def rough_stations(stations: tuple[SimStation, ...], seed: int) -> tuple[SimStation, ...]:
    """Every station with its cameras' pointing as typed by its operator (seeded, independent of the world)."""
    rng = np.random.default_rng(seed + 3000)
    return tuple(replace(st, cameras=tuple(rough_camera(c, rng) for c in st.cameras)) for st in stations)


async def calibrate_from_first_stacks(net: Any, minute: datetime,
                                      max_wait_s: float = 3600.0) -> tuple[list[str], float]:
    """Once every camera's stack of ``minute`` is on disk (or ``max_wait_s`` virtual seconds passed),
    each station re-checks its calibration as an operator's `ams admin run calibrate` would make it.
    The next minutes are placed only after that (the caller waits): a station whose scans lag (a loaded
    machine) would otherwise measure its first meteors with the typed pointing, differently each run.

    Virtual time stands still during the fits (one pool job per camera, ~1 s each), as it does while
    the clips are rendered, so no meteor of the next minutes is measured half-way through. Returns what
    each camera's check said and the real seconds the checks took."""
    import asyncio
    import time

    from protocols.pipeline_files import format_clip_name, parse_clip_name

    def stacks_missing() -> int:
        missing = 0
        for station in net.stations:
            for cam in station.config.cameras:
                name = parse_clip_name(format_clip_name(minute, cam.id))
                missing += not (station.paths.images_dir(name.day) / f"{name.stem}-stacked.png").exists()
        return missing

    waited = 0.0
    while stacks_missing() and waited < max_wait_s:
        await net.clock.sleep(5.0)
        waited += 5.0
    rate = net.clock.rate
    net.clock.set_rate(0.0)
    t0 = time.perf_counter()
    try:
        # a check that crashes is restarted by the station's supervisor; the night goes on uncalibrated
        results = await asyncio.gather(*(s.run_task("calibrate") for s in net.stations), return_exceptions=True)
    finally:
        net.clock.set_rate(rate)
    said = []
    for station, rs in zip(net.stations, results, strict=True):
        details = [f"failed: {rs!r}"] if isinstance(rs, BaseException) else [r.detail for r in rs]
        said += [f"{station.config.station_id}: {d}" for d in details]
    return said, time.perf_counter() - t0


def model_error(model: Any, truth: Any) -> dict[str, float]:
    """How far a camera model is from the true one: centre direction, roll and scale, and the sky
    position of a grid of pixels over the whole frame (arcmin) — what the Verifier's astrometry inherits."""
    w, h = truth.width, truth.height
    xs, ys = np.meshgrid(np.linspace(0.02 * w, 0.98 * w, 32), np.linspace(0.02 * h, 0.98 * h, 18))
    sky = angle_between_deg(model.pixel_to_enu(xs.ravel(), ys.ravel()),
                            truth.pixel_to_enu(xs.ravel(), ys.ravel())) * 60.0
    sky = sky[np.isfinite(sky)]
    return {
        "centre_deg": round(float(angle_between_deg(model.center_enu(), truth.center_enu())), 4),
        "roll_deg": round(float(abs((model.roll - truth.roll + 180.0) % 360.0 - 180.0)), 4),
        "scale_pct": round(float(abs(model.scale / truth.scale - 1.0) * 100.0), 3),
        "sky_median_arcmin": round(float(np.median(sky)), 3) if len(sky) else float("nan"),
        "sky_max_arcmin": round(float(np.max(sky)), 3) if len(sky) else float("nan"),
    }


def calibration_figures(stations: list[Any], true_models: dict[tuple[str, str], Any]) -> dict[str, Any]:
    """Per camera: the star fit in use (or none), its residuals, and the model's error against the
    truth, beside the error of the pointing the station started from."""
    from ams_actors.actors.calibrations import Calibrations
    from protocols.calibration import newest_valid_calibration

    rows = []
    for station in stations:
        cals = Calibrations(station.config)
        sid = station.config.station_id
        for cam in station.config.cameras:
            truth = true_models[(sid, cam.id)]
            record = newest_valid_calibration(cals.folder(cam), cam.id)
            fit = dict(record.fit) if record is not None else {}
            rows.append({
                "camera": f"{sid}/{cam.id}",
                "fitted": record is not None and fit.get("source") != "simulator truth",
                "n_matched": fit.get("n_matched"),
                "rms_px": fit.get("rms_px"),
                "rms_arcmin": fit.get("rms_arcmin"),
                "start": model_error(cals.fallback(cam), truth),
                "in_use": model_error(cals.model(cam.id), truth),
            })
    return {"calibration": summarise(rows), "calibration_cameras": rows}


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The report's one-line figures over all cameras (medians and worst cases)."""

    def col(part: str, key: str) -> list[float]:
        return [float(r[part][key]) for r in rows]

    rms = [float(r["rms_arcmin"]) for r in rows if r["fitted"] and r["rms_arcmin"] is not None]
    return {
        "fitted": f"{sum(1 for r in rows if r['fitted'])}/{len(rows)}",
        "rms_arcmin_median": round(float(np.median(rms)), 3) if rms else None,
        "rms_arcmin_max": round(float(np.max(rms)), 3) if rms else None,
        "start_centre_err_deg_median": round(float(np.median(col("start", "centre_deg"))), 3),
        "centre_err_deg_max": round(float(np.max(col("in_use", "centre_deg"))), 4),
        "roll_err_deg_max": round(float(np.max(col("in_use", "roll_deg"))), 4),
        "scale_err_pct_max": round(float(np.max(col("in_use", "scale_pct"))), 3),
        "sky_err_arcmin_median": round(float(np.median(col("in_use", "sky_median_arcmin"))), 3),
        "sky_err_arcmin_max": round(float(np.max(col("in_use", "sky_max_arcmin"))), 3),
    }
