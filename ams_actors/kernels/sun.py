"""Sun altitude for the daytime rule: a clip recorded with the Sun above −6° is not scanned.

A low-precision solar position (the Astronomical Almanac's formula: about 0.01° in declination
1950–2050) is far below what the rule needs and costs microseconds, where an astropy ephemeris
call costs milliseconds for every clip of a 7-camera station. Tested against astropy.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

CIVIL_TWILIGHT_DEG = -6.0
_J2000 = datetime(2000, 1, 1, 12, 0, tzinfo=UTC)


def sun_altitude_deg(lat_deg: float, lon_deg: float, t_utc: datetime) -> float:
    """Geometric altitude of the Sun's centre (degrees; no refraction) at a place and UTC time."""
    n = (t_utc.astimezone(UTC) - _J2000).total_seconds() / 86400.0
    mean_lon = np.radians((280.460 + 0.9856474 * n) % 360.0)
    g = np.radians((357.528 + 0.9856003 * n) % 360.0)
    ecl_lon = mean_lon + np.radians(1.915) * np.sin(g) + np.radians(0.020) * np.sin(2 * g)
    eps = np.radians(23.439 - 0.0000004 * n)
    ra = np.arctan2(np.cos(eps) * np.sin(ecl_lon), np.cos(ecl_lon))
    dec = np.arcsin(np.sin(eps) * np.sin(ecl_lon))
    gmst_h = (18.697374558 + 24.06570982441908 * n) % 24.0
    hour_angle = np.radians(gmst_h * 15.0 + lon_deg) - ra
    lat = np.radians(lat_deg)
    alt = np.arcsin(np.sin(lat) * np.sin(dec) + np.cos(lat) * np.cos(dec) * np.cos(hour_angle))
    return float(np.degrees(alt))


def is_daytime(lat_deg: float, lon_deg: float, t_utc: datetime, limit_deg: float = CIVIL_TWILIGHT_DEG) -> bool:
    return sun_altitude_deg(lat_deg, lon_deg, t_utc) > limit_deg
