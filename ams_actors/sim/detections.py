"""Synthetic verified meteors: what a station's Verifier would have written for a true meteor.

Used by network mode of the simulator, the claims benchmark and the tests of the network path, which
all need several stations' views of one trajectory without decoding video (one builder of the
archive JSON, `archive_doc`, serves them all).

In network mode the simulator skips video and hands each station the meteor archive JSON (design.md
§7) its pipeline would produce: frames at the camera's frame rate with UTC times, measured az/el
(true direction + noise), and pixel positions from the uncalibrated camera model a station starts
with (its config's pointing). Which camera sees the meteor decides the camera id and the clip name,
like a real station.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ams_actors.config import CameraSection
from ams_actors.kernels import geo
from ams_actors.kernels.astrometry import guess_camera
from ams_actors.sim.trajectories import SimTrack, TrueMeteor, observe
from protocols.pipeline_files import METEOR_FORMAT, format_clip_name, iso_ms

Float = NDArray[np.float64]


def camera_model(cam: CameraSection, lat: float, lon: float, alt_m: float) -> Any:
    """The camera as the station sees it before its first star fit: the config's pointing through the
    one uncalibrated model (``kernels.astrometry.guess_camera``, equidistant like an all-sky lens)."""
    return guess_camera(lat, lon, alt_m, cam.sd_width, cam.sd_height, cam.az_deg, cam.el_deg, cam.fov_h_deg,
                        cam.rotation_deg)


def in_frame(model: Any, az: Float, el: Float) -> tuple[Float, Float, NDArray[np.bool_]]:
    """SD pixel coordinates of true (az, el) directions and which of them the frame shows (2 px margin)."""
    x, y = model.azel_to_pixel(az, el)
    with np.errstate(invalid="ignore"):
        inside = (x >= 2) & (x <= model.width - 3) & (y >= 2) & (y <= model.height - 3)
    return x, y, inside


def meteor_docs_for_station(
    meteor: TrueMeteor,
    station_id: str,
    lat: float,
    lon: float,
    alt_m: float,
    cameras: tuple[CameraSection, ...],
    rng: np.random.Generator,
    noise_arcsec: float = 60.0,
    min_frames: int = 6,
    clock_offset_s: float = 0.0,
) -> list[dict[str, Any]]:
    """One meteor archive document per camera that sees ≥ `min_frames` frames of the meteor."""
    docs: list[dict[str, Any]] = []
    for cam in cameras:
        track: SimTrack = observe(
            meteor, lat, lon, alt_m, cam.fps, noise_arcsec, rng, clock_offset_s, min_elevation_deg=5.0
        )
        if len(track) < min_frames:
            continue
        model = camera_model(cam, lat, lon, alt_m)
        x, y, inside = in_frame(model, track.azimuths, track.elevations)
        idx = np.flatnonzero(inside)
        if len(idx) < min_frames:
            continue
        t_utc = [track.t_ref_utc + timedelta(seconds=float(track.times[i])) for i in idx]
        n = len(idx)
        docs.append(archive_doc(
            station_id, cam.id, cam.fps, t_utc, track.azimuths[idx], track.elevations[idx], x[idx], y[idx],
            [2000 * math.sin(math.pi * (k + 0.5) / n) + 100 for k in range(n)],
            calibration={"file": "simulated", "model": model.model, "res_arcsec": noise_arcsec},
            source="ams sim network mode", size_px=5.0,
        ))
    return docs


def archive_doc(
    station_id: str, camera_id: str, fps: float, t_utc: list[datetime], az: Any, el: Any, xs: Any, ys: Any,
    intensities: Any, *, calibration: dict[str, Any], source: str, size_px: float = 4.0,
) -> dict[str, Any]:
    """The meteor archive JSON (METEOR_SCHEMA) of one camera's view: frame numbers and the clip name
    from the first frame's time, as the Verifier names them."""
    minute = t_utc[0].replace(second=0, microsecond=0)
    clip = format_clip_name(minute, camera_id)
    fn0 = round((t_utc[0] - minute).total_seconds() * fps)
    frames = [
        {"fn": int(fn0 + k), "t_utc": iso_ms(t), "x": round(float(x), 2), "y": round(float(y), 2), "w": size_px,
         "h": size_px, "intensity": float(round(float(inten))), "az": round(float(a), 5), "el": round(float(e), 5)}
        for k, (t, a, e, x, y, inten) in enumerate(zip(t_utc, az, el, xs, ys, intensities, strict=True))
    ]
    meteor_id = f"{clip[: -len('.mp4')]}-trim-{fn0:04d}"
    return {
        "format": METEOR_FORMAT,
        "meteor_id": meteor_id,
        "station": station_id,
        "camera": camera_id,
        "sd_clip": clip,
        "sd_trim": f"{meteor_id}.mp4",
        "calibration": calibration,
        "frames": frames,
        "report": {"source": source},
    }


def straight_trajectory(
    lat: float, lon: float, h_begin_km: float, h_end_km: float, heading_deg: float, entry_deg: float
) -> tuple[Float, Float]:
    """Begin and end points (ECEF, m) of a straight meteor starting above (lat, lon), flying towards
    ``heading_deg`` (from north through east) and descending at ``entry_deg`` below the horizontal."""
    b = geo.geodetic_to_ecef(lat, lon, h_begin_km * 1000.0)
    entry, head = math.radians(entry_deg), math.radians(heading_deg)
    d_enu = np.array([math.cos(entry) * math.sin(head), math.cos(entry) * math.cos(head), -math.sin(entry)])
    d = d_enu @ geo.enu_basis(lat, lon)
    length = (h_begin_km - h_end_km) * 1000.0 / math.sin(entry)
    return b, b + length * d


def meteor_archive_doc(
    *,
    station_id: str,
    camera_id: str,
    site: tuple[float, float, float],
    begin: Float,
    end: Float,
    t_begin: datetime,
    speed_km_s: float,
    part: tuple[float, float] = (0.0, 1.0),
    fps: float = 25.0,
) -> dict[str, Any]:
    """For tests of the network path (Indexer → Syncer → Correlator) that need several stations'
    views of one straight meteor without decoding video: the archive JSON of what a station at
    ``site`` (lat, lon, alt_m) records of the meteor from ``begin`` to ``end`` (ECEF m) that passes
    ``begin`` at ``t_begin`` (tz-aware UTC): the ``part`` of the trail it sees, one frame per 1/fps s,
    with exact az/el per frame (true, geometric) and made-up pixel positions."""
    lat, lon, alt = site
    length_km = float(np.linalg.norm(end - begin)) / 1000.0
    t0 = part[0] * length_km / speed_km_s
    t1 = part[1] * length_km / speed_km_s
    n = max(3, int((t1 - t0) * fps) + 1)
    t = t0 + np.arange(n) / fps
    pts = begin + (t * speed_km_s / length_km)[:, None] * (end - begin)
    az, el, _ = geo.look_azel(geo.geodetic_to_ecef(lat, lon, alt), pts, lat, lon)
    times = [t_begin + timedelta(seconds=float(tk)) for tk in t]
    k = np.arange(n)
    return archive_doc(
        station_id, camera_id, fps, times, az, el, 100.0 + 4.0 * k, 80.0 + 2.0 * k,
        500.0 + 100.0 * np.sin(np.pi * k / max(1, n - 1)),
        calibration={"file": None, "model": "synthetic", "fit_quality": 60.0, "res_arcsec": 60.0, "stars": 30},
        source="synthetic",
    )
