"""The camera model: image pixel ↔ local (az, el) ↔ celestial (RA, Dec J2000), vectorized.

A camera is bolted to the Earth, so its natural parameters are Earth-fixed: the look direction of the
optical axis (az, el), a roll about it, the scale (px/deg) and the lens distortion. Everything
time-dependent lives in :mod:`.frames`; pixel → az/el needs no time at all.

Chain (pixel → sky):  pixel --Lens.to_focal--> (u, v) ideal px --equidistant--> camera-frame unit
vector --R--> apparent ENU --refraction removed--> true ENU (az, el) --EarthFrame--> GCRS (RA, Dec).
Camera frame: x along image columns, y along rows (down), z out through the lens (right-handed).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ams_actors.kernels.astrometry.frames import (
    EarthFrame,
    TimeLike,
    as_time,
    earth_frame,
    enu_refract,
    mat_apply,
    radec_to_vec,
    seconds_since,
    vec_to_radec,
)
from ams_actors.kernels.astrometry.lens import Lens
from ams_actors.kernels.geo import azel_to_enu, enu_to_azel

Float = NDArray[np.float64]


def orientation_matrix(az_deg: float, el_deg: float, roll_deg: float) -> Float:
    """(3, 3) R with columns = camera x, y, z axes in ENU (so v_enu = R @ v_cam).

    roll = 0: image rows parallel to the horizon, top of the image up. The reference "right" vector is
    (cos az, −sin az, 0), the limit of boresight × zenith, so looking straight up is not singular.
    Positive roll turns the image x axis from "right" towards "down" (clockwise as the image shows it).
    """
    az, el, roll = np.radians([az_deg, el_deg, roll_deg])
    b = np.array([np.cos(el) * np.sin(az), np.cos(el) * np.cos(az), np.sin(el)])
    right = np.array([np.cos(az), -np.sin(az), 0.0])
    down = np.cross(b, right)
    xa = np.cos(roll) * right + np.sin(roll) * down
    ya = -np.sin(roll) * right + np.cos(roll) * down
    return np.stack([xa, ya, b], axis=1)


def orientation_angles(r: ArrayLike) -> tuple[float, float, float]:
    """(az, el, roll) in degrees of a rotation built by :func:`orientation_matrix`."""
    m = np.asarray(r, dtype=float)
    b = m[:, 2]
    az = float(np.degrees(np.arctan2(b[0], b[1])) % 360.0)
    el = float(np.degrees(np.arctan2(b[2], np.hypot(b[0], b[1]))))
    azr = np.radians(az)
    right = np.array([np.cos(azr), -np.sin(azr), 0.0])
    down = np.cross(b, right)
    roll = float(np.degrees(np.arctan2(m[:, 0] @ down, m[:, 0] @ right)))
    return az, el, roll


def rotvec_matrix(w: ArrayLike) -> Float:
    """Rodrigues rotation matrix of a rotation vector (rad); used for small pointing corrections."""
    v = np.asarray(w, dtype=float)
    th = float(np.linalg.norm(v))
    if th < 1e-15:
        return np.eye(3)
    k = v / th
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(th) * kx + (1 - np.cos(th)) * (kx @ kx)


def cam_to_focal(c: ArrayLike, scale: float) -> tuple[Float, Float]:
    """Equidistant projection of (..., 3) camera-frame vectors onto the focal plane (ideal px)."""
    v = np.asarray(c, dtype=float)
    rho = np.hypot(v[..., 0], v[..., 1])
    theta = np.degrees(np.arctan2(rho, v[..., 2]))
    f = np.where(rho > 0, theta * scale / np.where(rho > 0, rho, 1.0), 0.0)
    return v[..., 0] * f, v[..., 1] * f


def focal_to_cam(u: ArrayLike, v: ArrayLike, scale: float) -> Float:
    uu = np.asarray(u, dtype=float)
    vv = np.asarray(v, dtype=float)
    rho = np.hypot(uu, vv)
    theta = np.radians(rho / scale)
    s = np.where(rho > 0, np.sin(theta) / np.where(rho > 0, rho, 1.0), 0.0)
    return np.stack(np.broadcast_arrays(uu * s, vv * s, np.cos(theta)), axis=-1)


@dataclass(frozen=True)
class CameraModel:
    """One calibrated camera at one site. Immutable; ``replace()`` to vary a parameter.

    Angles in degrees, ``scale`` in ideal px per degree, ``alt_m`` above the WGS84 ellipsoid.
    ``refraction``: pixel directions are apparent (True, the physical default) or already true.
    """

    lat: float
    lon: float
    alt_m: float
    az: float
    el: float
    roll: float
    scale: float
    lens: Lens
    refraction: bool = True
    # where it came from, for the meteor JSON's "calibration" entry (not part of the model itself)
    file: str | None = field(default=None, compare=False)
    fit_quality: dict[str, Any] | None = field(default=None, compare=False)

    # --- geometry ----------------------------------------------------------------------------------------
    @property
    def width(self) -> int:
        return self.lens.width

    @property
    def height(self) -> int:
        return self.lens.height

    @property
    def model(self) -> str:
        """Short model name (the Verifier's calibration protocol records it)."""
        return f"ams-equidistant/{self.lens.kind}"

    @property
    def pixel_scale_deg(self) -> float:
        """Degrees per pixel near the image centre (distortion aside)."""
        return 1.0 / self.scale

    @property
    def rotation(self) -> Float:
        return orientation_matrix(self.az, self.el, self.roll)

    def with_rotation(self, r: ArrayLike) -> CameraModel:
        az, el, roll = orientation_angles(r)
        return replace(self, az=az, el=el, roll=roll)

    def pixel_to_enu(self, x: ArrayLike, y: ArrayLike) -> Float:
        """(..., 3) unit ENU look directions of pixels, refraction removed if ``refraction``."""
        u, v = self.lens.to_focal(x, y)
        enu = mat_apply(self.rotation, focal_to_cam(u, v, self.scale))
        return enu_refract(enu, apparent_to_true=True) if self.refraction else enu

    def enu_to_pixel(self, enu: ArrayLike) -> tuple[Float, Float]:
        """Pixels of (..., 3) true ENU directions; NaN behind the lens or where the lens cannot map it."""
        e = np.asarray(enu, dtype=float)
        e = e / np.linalg.norm(e, axis=-1, keepdims=True)
        if self.refraction:
            e = enu_refract(e, apparent_to_true=False)
        c = mat_apply(self.rotation.T, e)
        u, v = cam_to_focal(c, self.scale)
        x, y = self.lens.to_pixel(u, v)
        behind = c[..., 2] <= np.cos(np.radians(100.0))  # beyond 100° off-axis: no real lens images it
        return np.where(behind, np.nan, x), np.where(behind, np.nan, y)

    def pixel_to_azel(self, x: ArrayLike, y: ArrayLike, t: object = None) -> tuple[Float, Float]:
        """True (refraction-removed) azimuth (N through E) and elevation, degrees.

        ``t`` is accepted and ignored (a camera is fixed to the Earth), so this fits the Verifier's
        ``pixel_to_azel(x, y, times)`` calibration protocol.
        """
        return enu_to_azel(self.pixel_to_enu(x, y))

    def azel_to_pixel(self, az: ArrayLike, el: ArrayLike) -> tuple[Float, Float]:
        return self.enu_to_pixel(azel_to_enu(az, el))

    # --- celestial ---------------------------------------------------------------------------------------
    def frame(self, t_ref: TimeLike) -> EarthFrame:
        """The Earth-orientation matrices for this site near ``t_ref`` (compute once, reuse per batch)."""
        return earth_frame(self.lat, self.lon, t_ref)

    def pixel_to_radec(
        self, x: ArrayLike, y: ArrayLike, t: TimeLike, frame: EarthFrame | None = None
    ) -> tuple[Float, Float]:
        """Geometric RA/Dec (J2000/GCRS axes, degrees) of pixels seen at UTC ``t`` (scalar or per point)."""
        tt = as_time(t)
        fr = frame if frame is not None else self.frame(tt)
        dt = seconds_since(tt, fr.t_ref)
        return vec_to_radec(fr.enu_to_gcrs(self.pixel_to_enu(x, y), dt))

    def radec_to_pixel(
        self, ra: ArrayLike, dec: ArrayLike, t: TimeLike, frame: EarthFrame | None = None
    ) -> tuple[Float, Float]:
        """Pixels of geometric RA/Dec directions at UTC ``t`` (inverse of :meth:`pixel_to_radec`)."""
        tt = as_time(t)
        fr = frame if frame is not None else self.frame(tt)
        dt = seconds_since(tt, fr.t_ref)
        return self.enu_to_pixel(fr.gcrs_to_enu(radec_to_vec(ra, dec), dt))

    def center_enu(self) -> Float:
        """True look direction of the image centre pixel (what "pointing" means to an operator)."""
        return self.pixel_to_enu(self.width / 2.0, self.height / 2.0)

    def fov_deg(self) -> tuple[float, float]:
        """Angle across the frame between the mid-points of opposite edges (horizontal, vertical)."""
        w, h = self.width, self.height
        e = self.pixel_to_enu(np.array([0.0, w, w / 2, w / 2]), np.array([h / 2, h / 2, 0.0, h]))
        ang = lambda a, b: float(np.degrees(np.arccos(np.clip(a @ b, -1, 1))))  # noqa: E731
        return ang(e[0], e[1]), ang(e[2], e[3])

    # --- (de)serialisation ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "site": {"lat": self.lat, "lon": self.lon, "alt_m": self.alt_m},
            "az_deg": self.az,
            "el_deg": self.el,
            "roll_deg": self.roll,
            "scale_px_per_deg": self.scale,
            "refraction": self.refraction,
            "projection": "equidistant",
            "lens": self.lens.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CameraModel:
        site = d["site"]
        if d.get("projection", "equidistant") != "equidistant":
            raise ValueError(f"unknown projection {d.get('projection')!r}")
        return cls(
            lat=float(site["lat"]),
            lon=float(site["lon"]),
            alt_m=float(site.get("alt_m", 0.0)),
            az=float(d["az_deg"]),
            el=float(d["el_deg"]),
            roll=float(d["roll_deg"]),
            scale=float(d["scale_px_per_deg"]),
            lens=Lens.from_dict(d["lens"]),
            refraction=bool(d.get("refraction", True)),
        )


def guess_camera(
    lat: float,
    lon: float,
    alt_m: float,
    width: int,
    height: int,
    az: float,
    el: float,
    fov_h: float,
    rotation: float = 0.0,
) -> CameraModel:
    """A distortion-free model from the approximate pointing in station.toml (the calibration's start)."""
    return CameraModel(
        lat=lat,
        lon=lon,
        alt_m=alt_m,
        az=az,
        el=el,
        roll=rotation,
        scale=width / fov_h,
        lens=Lens(width=width, height=height, kind="radial-odd", k=()),
    )
