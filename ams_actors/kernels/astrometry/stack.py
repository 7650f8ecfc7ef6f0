"""One stack → one judged calibration fit: shared by `ams calibrate` and the nightly CalibrationCheck.

Both must detect, fit and judge a stack the same way, or an operator's manual fit and the daemon's
re-check would disagree about the same night. No I/O: the caller loads the image, the star table and
the calibration in use, and decides what to write.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ams_actors.kernels.astrometry import camera_from_record
from ams_actors.kernels.astrometry.catalog import StarTable
from ams_actors.kernels.astrometry.fit import CalibrationFailed, CalibrationFit, calibrate_stars
from ams_actors.kernels.astrometry.stars import detect_stars
from ams_actors.kernels.geo import angle_between_deg
from protocols.calibration import DEFAULT_MAX_SHIFT_DEG, compare_fits


def fit_stack(
    image: Any,
    t_mid: datetime,
    guess: Any,
    current: Any,
    *,
    table: StarTable,
    mag_limit: float = 5.5,
    mask: Any = None,
    max_shift_deg: float = DEFAULT_MAX_SHIFT_DEG,
) -> tuple[CalibrationFit | None, bool, str]:
    """(fit or None, accept, reason): calibrate one stack and judge it against the calibration in use.

    ``guess`` is the starting ``CameraModel`` (the calibration in use, or the config's pointing);
    ``current`` the ``CalibrationRecord`` in use (or None); the record is written only when ``accept``.
    A fit that moves the pointing by more than ``max_shift_deg`` from ``current`` is refused
    (``protocols.calibration.compare_fits``): a camera knocked by the wind needs a person, not a new model.
    """
    detected = detect_stars(image, mask=mask)
    try:
        fit = calibrate_stars(detected, guess, table, t_mid, mag_limit=mag_limit)
    except CalibrationFailed as err:
        return None, False, f"{err} ({len(detected)} stars detected)"
    shift = None
    if current is not None:

        shift = float(angle_between_deg(fit.camera.center_enu(), camera_from_record(current).center_enu()))
    accept, reason = compare_fits(fit.quality(), current, shift_deg=shift, max_shift_deg=max_shift_deg)
    return fit, accept, reason


def matched_stars(fit: CalibrationFit, table: StarTable) -> list[dict[str, Any]]:
    """The matched stars as a calibration record lists them (detection, catalog star, residual)."""
    return [
        {"x": round(float(a), 3), "y": round(float(b), 3), "cat_no": int(table.catalog_no[i]),
         "vmag": round(float(m), 2), "dx": round(float(cx - a), 3), "dy": round(float(cy - b), 3)}
        for a, b, i, m, cx, cy in zip(fit.det_x, fit.det_y, fit.cat_index, fit.cat_vmag, fit.cat_x, fit.cat_y,
                                      strict=True)
    ]
