"""Network-mode detections: what a station's Verifier would have written for a true meteor.

In network mode the simulator skips video and hands each station the meteor archive JSON (design.md
§7) its pipeline would produce: frames at the camera's frame rate with UTC times, measured az/el
(true direction + noise), and pixel positions from a gnomonic camera pointed as configured. Which
camera sees the meteor decides the camera id and the clip name, like a real station.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from ams_actors.config import CameraSection
from ams_actors.kernels import geo
from ams_actors.sim.trajectories import SimTrack, TrueMeteor, observe
from protocols.pipeline_files import METEOR_FORMAT, format_clip_name, iso_ms


@dataclass(frozen=True, slots=True)
class CameraView:
    camera: CameraSection

    def project(self, az: np.ndarray, el: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gnomonic pixel coordinates and an in-frame mask (SD pixels, centre = optical axis)."""
        cam = self.camera
        axis = geo.azel_to_enu(cam.az_deg, cam.el_deg)
        right = np.cross(axis, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        up = np.cross(right, axis)
        rot = math.radians(cam.rotation_deg)
        right, up = math.cos(rot) * right + math.sin(rot) * up, -math.sin(rot) * right + math.cos(rot) * up
        v = geo.azel_to_enu(az, el)
        z = v @ axis
        f_px = (cam.sd_width / 2) / math.tan(math.radians(cam.fov_h_deg / 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            x = cam.sd_width / 2 + f_px * (v @ right) / z
            y = cam.sd_height / 2 - f_px * (v @ up) / z
        inside = (z > 0.2) & (x >= 2) & (x <= cam.sd_width - 3) & (y >= 2) & (y <= cam.sd_height - 3)
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
        x, y, inside = CameraView(cam).project(track.azimuths, track.elevations)
        idx = np.flatnonzero(inside)
        if len(idx) < min_frames:
            continue
        t_utc = [track.t_ref_utc + timedelta(seconds=float(track.times[i])) for i in idx]
        minute = t_utc[0].replace(second=0, microsecond=0)
        clip = format_clip_name(minute, cam.id)
        fn0 = round((t_utc[0] - minute).total_seconds() * cam.fps)
        frames = []
        for k, i in enumerate(idx):
            frames.append(
                {
                    "fn": int(fn0 + k),
                    "t_utc": iso_ms(t_utc[k]),
                    "x": round(float(x[i]), 2),
                    "y": round(float(y[i]), 2),
                    "w": 5.0,
                    "h": 5.0,
                    "intensity": float(round(2000 * math.sin(math.pi * (k + 0.5) / len(idx)) + 100)),
                    "az": round(float(track.azimuths[i]), 5),
                    "el": round(float(track.elevations[i]), 5),
                }
            )
        stem = clip[: -len(".mp4")]
        meteor_id = f"{stem}-trim-{fn0:04d}"
        docs.append(
            {
                "format": METEOR_FORMAT,
                "meteor_id": meteor_id,
                "station": station_id,
                "camera": cam.id,
                "sd_clip": clip,
                "sd_trim": f"{meteor_id}.mp4",
                "calibration": {"file": "simulated", "model": "gnomonic", "res_arcsec": noise_arcsec},
                "frames": frames,
                "report": {"source": "ams sim network mode"},
            }
        )
    return docs
