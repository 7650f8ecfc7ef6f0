"""WGS84 geodesy on numpy arrays: the one place that turns station coordinates and look directions
into Earth-fixed (ECEF) vectors and back.

Every kernel that combines stations (trajectory, correlate, astrometry, simulator) uses these, so a
station's position means the same thing everywhere. Angles in degrees at the interfaces, metres for
lengths; azimuth from north through east, elevation above the local ellipsoid horizon (geodetic).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

WGS84_A = 6378137.0
WGS84_F = 1.0 / 298.257223563
WGS84_B = WGS84_A * (1.0 - WGS84_F)
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
WGS84_EP2 = WGS84_E2 / (1.0 - WGS84_E2)

Float = NDArray[np.float64]


def geodetic_to_ecef(lat_deg: ArrayLike, lon_deg: ArrayLike, alt_m: ArrayLike) -> Float:
    """(..., 3) ECEF metres from geodetic latitude/longitude (deg) and height above the ellipsoid (m)."""
    lat = np.radians(np.asarray(lat_deg, dtype=float))
    lon = np.radians(np.asarray(lon_deg, dtype=float))
    h = np.asarray(alt_m, dtype=float)
    sl, cl = np.sin(lat), np.cos(lat)
    n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * sl * sl)
    x = (n + h) * cl * np.cos(lon)
    y = (n + h) * cl * np.sin(lon)
    z = (n * (1.0 - WGS84_E2) + h) * sl
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)


def ecef_to_geodetic(xyz: ArrayLike) -> tuple[Float, Float, Float]:
    """Geodetic (lat_deg, lon_deg, alt_m) from (..., 3) ECEF metres.

    Bowring's closed form plus two Newton refinements: sub-millimetre from the ground to well beyond
    meteor heights, with no iteration count that depends on the input.
    """
    p = np.asarray(xyz, dtype=float)
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    lon = np.arctan2(y, x)
    r = np.hypot(x, y)
    theta = np.arctan2(z * WGS84_A, r * WGS84_B)
    lat = np.arctan2(
        z + WGS84_EP2 * WGS84_B * np.sin(theta) ** 3,
        r - WGS84_E2 * WGS84_A * np.cos(theta) ** 3,
    )
    for _ in range(2):
        sl = np.sin(lat)
        n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * sl * sl)
        h = np.where(np.abs(np.cos(lat)) > 1e-9, r / np.maximum(np.cos(lat), 1e-300) - n, np.abs(z) - WGS84_B)
        lat = np.arctan2(z, r * (1.0 - WGS84_E2 * n / (n + h)))
    sl = np.sin(lat)
    n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * sl * sl)
    cl = np.cos(lat)
    h = np.where(np.abs(cl) > 1e-9, r / np.where(np.abs(cl) > 1e-9, cl, 1.0) - n, np.abs(z) - WGS84_B)
    return np.degrees(lat), np.degrees(lon), h


def enu_basis(lat_deg: ArrayLike, lon_deg: ArrayLike) -> Float:
    """(..., 3, 3) rows = east, north, up unit vectors in ECEF at each geodetic position."""
    lat = np.radians(np.asarray(lat_deg, dtype=float))
    lon = np.radians(np.asarray(lon_deg, dtype=float))
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    zero = np.zeros_like(sl * so)
    east = np.stack(np.broadcast_arrays(-so, co, zero), axis=-1)
    north = np.stack(np.broadcast_arrays(-sl * co, -sl * so, cl), axis=-1)
    up = np.stack(np.broadcast_arrays(cl * co, cl * so, sl), axis=-1)
    return np.stack([east, north, up], axis=-2)


def azel_to_enu(az_deg: ArrayLike, el_deg: ArrayLike) -> Float:
    """(..., 3) local east/north/up unit vectors for azimuth (N through E) and elevation, degrees."""
    az = np.radians(np.asarray(az_deg, dtype=float))
    el = np.radians(np.asarray(el_deg, dtype=float))
    ce = np.cos(el)
    return np.stack(np.broadcast_arrays(ce * np.sin(az), ce * np.cos(az), np.sin(el)), axis=-1)


def enu_to_azel(enu: ArrayLike) -> tuple[Float, Float]:
    """(az_deg in [0, 360), el_deg) of (..., 3) local east/north/up vectors (any length)."""
    v = np.asarray(enu, dtype=float)
    e, n, u = v[..., 0], v[..., 1], v[..., 2]
    az = np.degrees(np.arctan2(e, n)) % 360.0
    el = np.degrees(np.arctan2(u, np.hypot(e, n)))
    return az, el


def azel_to_ecef_dir(az_deg: ArrayLike, el_deg: ArrayLike, lat_deg: float, lon_deg: float) -> Float:
    """(..., 3) ECEF unit look directions seen from a station at (lat, lon)."""
    basis = enu_basis(lat_deg, lon_deg)  # (3, 3)
    return azel_to_enu(az_deg, el_deg) @ basis


def ecef_dir_to_azel(dirs: ArrayLike, lat_deg: float, lon_deg: float) -> tuple[Float, Float]:
    """(az_deg, el_deg) of (..., 3) ECEF directions as seen from a station at (lat, lon)."""
    basis = enu_basis(lat_deg, lon_deg)
    return enu_to_azel(np.asarray(dirs, dtype=float) @ basis.T)


def look_azel(station_ecef: ArrayLike, target_ecef: ArrayLike, lat_deg: float, lon_deg: float) -> tuple[
    Float, Float, Float
]:
    """(az_deg, el_deg, range_m) from a station to target points (geometric, no refraction)."""
    d = np.asarray(target_ecef, dtype=float) - np.asarray(station_ecef, dtype=float)
    az, el = ecef_dir_to_azel(d, lat_deg, lon_deg)
    return az, el, np.linalg.norm(d, axis=-1)


def angle_between_deg(a: ArrayLike, b: ArrayLike) -> Float:
    """Angle in degrees between (..., 3) vectors, accurate for tiny angles (atan2 of cross and dot)."""
    u = np.asarray(a, dtype=float)
    v = np.asarray(b, dtype=float)
    cross = np.linalg.norm(np.cross(u, v), axis=-1)
    dot = np.sum(u * v, axis=-1)
    return np.degrees(np.arctan2(cross, dot))


def ground_distance_m(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> Float:
    """Great-circle distance on the mean-radius sphere (m): good to ~0.5% for station spacing filters."""
    p1, p2 = np.radians(np.asarray(lat1, float)), np.radians(np.asarray(lat2, float))
    dl = np.radians(np.asarray(lon2, float) - np.asarray(lon1, float))
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2.0 * 6371008.8 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
