"""Geoid height (EGM96 undulation N, metres): sea-level heights to heights above the WGS84 ellipsoid.

RMS configs and platepars give a station's elevation above mean sea level; the solver works above
the ellipsoid, h = H + N. A full EGM96 grid (~2 MB at 15′) is not shipped: no package on this
project's registries carries one, and astropy has none. What is here is a COARSE table: N at a few
dozen places where meteor networks run (read off EGM96 maps, good to ~5-10 m), interpolated by
inverse distance within 1500 km. Far from every table point the undulation is unknown and the caller
says so. The difference it makes (tens of metres) is well inside a trajectory's begin-height error.
"""

from __future__ import annotations

import math

#: (lat, lon, N metres)
_TABLE: tuple[tuple[float, float, float], ...] = (
    # British Isles (OSGM15/EGM96: 45 m in the south-east to 55+ m in the north-west)
    (50.8, 0.3, 45.5), (51.5, -0.1, 46.0), (51.9, -1.3, 47.5), (53.5, -0.4, 47.5), (52.5, -3.5, 51.0),
    (50.4, -4.1, 51.0), (55.9, -3.2, 51.5), (57.5, -4.2, 54.0), (54.6, -5.9, 55.0), (53.3, -6.3, 56.0),
    # continental Europe
    (48.9, 2.4, 44.6), (52.4, 4.9, 42.8), (52.5, 13.4, 39.4), (50.1, 14.4, 44.5), (40.4, -3.7, 51.6),
    (41.9, 12.5, 48.0), (45.8, 16.0, 45.0), (44.8, 20.5, 44.0),
    # North America
    (39.7, -105.0, -16.8), (35.1, -106.6, -21.8), (40.7, -74.0, -32.6), (34.0, -118.2, -35.4),
    (43.7, -79.4, -36.5), (45.4, -75.7, -35.0), (38.9, -77.0, -33.0), (33.7, -84.4, -30.0),
    (29.8, -95.4, -27.0), (47.6, -122.3, -19.0), (44.9, -93.2, -27.0),
    # elsewhere
    (-33.9, 151.2, 22.9), (-37.8, 145.0, 4.6), (-33.9, 18.4, 32.0), (35.7, 139.7, 36.7),
    (-36.9, 174.8, 34.0), (-23.5, -46.6, -5.0), (31.8, 35.2, 20.0),
)
MAX_DISTANCE_KM = 1500.0
_EARTH_KM = 6371.0


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dlat, dlon = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dlat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlon / 2) ** 2
    return 2 * _EARTH_KM * math.asin(min(1.0, math.sqrt(h)))


def geoid_height_m(lat: float, lon: float) -> float | None:
    """N at (lat, lon) from the coarse table; None when no table point is within MAX_DISTANCE_KM."""
    num = den = 0.0
    for plat, plon, n in _TABLE:
        d = _distance_km(lat, lon, plat, plon)
        if d > MAX_DISTANCE_KM:
            continue
        if d < 1.0:
            return n
        w = 1.0 / (d * d)
        num += w * n
        den += w
    return num / den if den else None
