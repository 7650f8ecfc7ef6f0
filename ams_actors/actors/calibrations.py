"""The camera calibration an actor should use now: the newest valid star fit, else the config's pointing.

Both the Detector (pixel scale for angular speeds) and the Verifier (pixel → sky) ask here, so they
always agree on which calibration is in use. The newest file is re-read only when the folder changes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ams_actors.config import CameraSection, StationConfig

log = logging.getLogger("ams.calibration")


class Calibrations:
    def __init__(self, config: StationConfig) -> None:
        self.config = config
        self._cache: dict[str, tuple[float, Any]] = {}

    def folder(self, cam: CameraSection) -> Path:
        from protocols.calibration import camera_calibration_dir

        config_dir = Path(self.config.source).parent if not self.config.source.startswith("sim:") else Path(".")
        return camera_calibration_dir(cam.calibration, cam.id, config_dir, self.config.data_root)

    def model(self, camera_id: str) -> Any:
        """A picklable camera model with pixel_to_azel / pixel_to_radec and pixel_scale_deg."""
        cam = self.config.camera(camera_id)
        folder = self.folder(cam)
        try:
            stamp = folder.stat().st_mtime if folder.is_dir() else 0.0
        except OSError:
            stamp = 0.0
        cached = self._cache.get(camera_id)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        model = self._load(cam, folder) if stamp else None
        if model is None:
            model = self.fallback(cam)
        self._cache[camera_id] = (stamp, model)
        return model

    def uncalibrated(self) -> list[tuple[str, Path]]:
        """(camera id, folder looked in) of each camera without a valid star fit: it uses the config's
        pointing, so its meteors' sky positions are rough until `ams calibrate` fits one."""
        out = []
        for cam in self.config.cameras:
            folder = self.folder(cam)
            if not folder.is_dir() or self._load(cam, folder) is None:
                out.append((cam.id, folder))
        return out

    def _load(self, cam: CameraSection, folder: Path) -> Any:
        from ams_actors.kernels.astrometry import camera_from_record
        from protocols.calibration import newest_valid_calibration
        from protocols.errors import InputError

        try:
            record = newest_valid_calibration(folder, cam.id)
        except (OSError, InputError) as err:
            log.warning("camera %s: calibration folder %s unusable: %s", cam.id, folder, err)
            return None
        return camera_from_record(record) if record is not None else None

    def fallback(self, cam: CameraSection) -> Any:
        """Before the first star fit: the config's pointing through the same equidistant (all-sky) model
        that ``ams calibrate`` starts its fit from, so the uncalibrated sky and the first fit agree."""
        from ams_actors.kernels.astrometry import guess_camera

        st = self.config.station
        return guess_camera(st.lat, st.lon, st.alt_m, cam.sd_width, cam.sd_height, cam.az_deg, cam.el_deg,
                            cam.fov_h_deg, cam.rotation_deg)
