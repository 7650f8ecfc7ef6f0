"""Astrometry kernels: the camera model (pixel ↔ az/el ↔ RA/Dec J2000), RMS platepar import, star
detection, catalog matching and the calibration fit. Pure numpy/scipy/astropy; no I/O, no asyncio.

Typical use (the Verifier)::

    from protocols.calibration import newest_valid_calibration
    from ams_actors.kernels.astrometry import camera_from_record
    rec = newest_valid_calibration(cal_dir, "010001")
    cam = camera_from_record(rec)
    az, el = cam.pixel_to_azel(x, y)                 # true az/el (refraction removed), degrees
    ra, dec = cam.pixel_to_radec(x, y, times_utc)    # J2000, degrees; times: datetime(s) or astropy Time

Pixel convention everywhere: x = column, y = row, the centre of pixel [i, j] is (x=j, y=i).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ams_actors.kernels.astrometry.camera import CameraModel, guess_camera, orientation_matrix
from ams_actors.kernels.astrometry.catalog import ProjectedStars, StarTable, project_stars
from ams_actors.kernels.astrometry.fit import CalibrationFailed, CalibrationFit, calibrate_stars
from ams_actors.kernels.astrometry.frames import AstrometryWarning, EarthFrame, as_time, earth_frame
from ams_actors.kernels.astrometry.lens import Lens
from ams_actors.kernels.astrometry.rms import camera_from_platepar
from ams_actors.kernels.astrometry.stars import DetectedStars, detect_stars

__all__ = [
    "AstrometryWarning",
    "CalibrationFailed",
    "CalibrationFit",
    "CameraModel",
    "DetectedStars",
    "EarthFrame",
    "Lens",
    "ProjectedStars",
    "StarTable",
    "as_time",
    "calibrate_stars",
    "camera_from_platepar",
    "camera_from_record",
    "detect_stars",
    "earth_frame",
    "guess_camera",
    "orientation_matrix",
    "project_stars",
]


def camera_from_record(record: Any) -> CameraModel:
    """The camera model of a ``protocols.calibration.CalibrationRecord`` (or its ``model`` dict)."""
    if isinstance(record, dict):
        return CameraModel.from_dict(record)
    cam = CameraModel.from_dict(record.model)
    path = getattr(record, "path", None)
    return replace(cam, file=path.name if path is not None else None, fit_quality=dict(record.fit))
