"""Catalog stars on the sky and in the image at a given time (proper motion, aberration, refraction).

The calibration compares detected stars with these positions, and the simulator renders them, so both
see exactly the same physics: J2000 catalog position + proper motion to the date, annual aberration
(±20″, the Earth's velocity), Earth orientation (astropy/ERFA via :mod:`.frames`), refraction and lens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ams_actors.kernels.astrometry.camera import CameraModel
from ams_actors.kernels.astrometry.frames import EarthFrame, TimeLike, as_time, radec_to_vec

Float = NDArray[np.float64]


@dataclass(frozen=True)
class StarTable:
    """Catalog (J2000 positions at epoch 2000.0; proper motion μα·cos δ and μδ in deg/yr)."""

    catalog_no: NDArray[np.int32]
    ra_deg: Float
    dec_deg: Float
    vmag: NDArray[np.float32]
    pm_ra_deg_yr: NDArray[np.float32]
    pm_dec_deg_yr: NDArray[np.float32]

    def __len__(self) -> int:
        return len(self.ra_deg)

    def subset(self, idx: NDArray[np.intp] | NDArray[np.bool_]) -> StarTable:
        return StarTable(
            self.catalog_no[idx],
            self.ra_deg[idx],
            self.dec_deg[idx],
            self.vmag[idx],
            self.pm_ra_deg_yr[idx],
            self.pm_dec_deg_yr[idx],
        )


def star_vectors(table: StarTable, t: TimeLike) -> Float:
    """(n, 3) catalog directions moved by proper motion to the date (barycentric, unaberrated)."""
    years = float(np.mean(as_time(t).jyear)) - 2000.0
    dec = table.dec_deg + table.pm_dec_deg_yr.astype(float) * years
    cosd = np.cos(np.radians(table.dec_deg))
    ra = table.ra_deg + table.pm_ra_deg_yr.astype(float) * years / np.maximum(cosd, 1e-6)
    return radec_to_vec(ra, dec)


def star_enu(table: StarTable, frame: EarthFrame, t: TimeLike) -> Float:
    """(n, 3) true (unrefracted) ENU directions in which the site sees the catalog stars at ``t``."""
    tt = as_time(t)
    dt = float(np.mean((tt - frame.t_ref).to_value("s")))
    apparent = frame.aberrate(star_vectors(table, tt))
    return frame.gcrs_to_enu(apparent, dt)


@dataclass(frozen=True)
class ProjectedStars:
    """Catalog stars that fall in the image: index into the table, pixel position, V magnitude."""

    index: NDArray[np.intp]
    x: Float
    y: Float
    vmag: Float
    az: Float
    el: Float


def project_stars(
    camera: CameraModel,
    table: StarTable,
    t: TimeLike,
    mag_limit: float = 6.5,
    min_el_deg: float = 0.0,
    margin_px: float = 0.0,
    frame: EarthFrame | None = None,
) -> ProjectedStars:
    """Stars brighter than ``mag_limit``, above ``min_el_deg`` and inside the frame (± margin)."""
    from ams_actors.kernels.geo import enu_to_azel

    sel = np.flatnonzero(table.vmag <= mag_limit)
    sub = table.subset(sel)
    fr = frame if frame is not None else camera.frame(t)
    enu = star_enu(sub, fr, t)
    az, el = enu_to_azel(enu)
    up = el >= min_el_deg
    # cheap cone cut before the Newton inversion of the lens
    axis = camera.center_enu()
    half_diag = 0.5 * np.hypot(camera.width, camera.height) / camera.scale
    near = enu @ axis >= np.cos(np.radians(min(half_diag * 1.5 + 5.0, 120.0)))
    keep = np.flatnonzero(up & near)
    x, y = camera.enu_to_pixel(enu[keep])
    inside = (
        np.isfinite(x)
        & (x >= -margin_px)
        & (x <= camera.width + margin_px)
        & (y >= -margin_px)
        & (y <= camera.height + margin_px)
    )
    k = keep[inside]
    return ProjectedStars(
        index=sel[k],
        x=x[inside],
        y=y[inside],
        vmag=table.vmag[sel[k]].astype(float),
        az=az[k],
        el=el[k],
    )
