"""The numbers a catalogue row needs beyond the Solution itself (GMN's trajectory summary columns).

Low-precision closed forms on purpose: the solar longitude (Meeus ch. 25, ~0.01°), sidereal time
(IAU 1982 GMST, nutation left out: < 0.005°) and the J2000 ecliptic are far inside the radiant's own
uncertainty, and a catalogue of thousands of rows should not pay for astropy per row. Orbit-derived
columns follow from the elements: longitude and latitude of perihelion, aphelion, true and mean
anomaly at the Earth, mean motion, period, Tisserand's parameter with respect to Jupiter.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

J2000_JD = 2451545.0
OBLIQUITY_J2000_DEG = 23.4392911
A_JUPITER_AU = 5.2026
GAUSS_DEG_PER_DAY = math.degrees(0.01720209895)
_UNIX_EPOCH_JD = 2440587.5


def julian_date(t: datetime) -> float:
    return _UNIX_EPOCH_JD + t.astimezone(UTC).timestamp() / 86400.0


def solar_longitude_deg(jd: float) -> float:
    """The Sun's geometric ecliptic longitude, equinox J2000 (the meteor-shower calendar)."""
    t = (jd - J2000_JD) / 36525.0
    l0 = 280.46646 + 36000.76983 * t + 0.0003032 * t * t
    m = math.radians(357.52911 + 35999.05029 * t - 0.0001537 * t * t)
    c = ((1.914602 - 0.004817 * t - 0.000014 * t * t) * math.sin(m) + (0.019993 - 0.000101 * t) * math.sin(2 * m)
         + 0.000289 * math.sin(3 * m))
    return (l0 + c - 1.397 * t) % 360.0  # of date -> J2000: general precession 1.397°/century


def local_sidereal_deg(jd: float, lon_deg: float) -> float:
    t = (jd - J2000_JD) / 36525.0
    gmst = 280.46061837 + 360.98564736629 * (jd - J2000_JD) + 0.000387933 * t * t - t**3 / 38710000.0
    return (gmst + lon_deg) % 360.0


def ecliptic_deg(ra_deg: float, dec_deg: float) -> tuple[float, float]:
    """Equatorial J2000 -> ecliptic J2000 (longitude, latitude), degrees."""
    a, d, e = math.radians(ra_deg), math.radians(dec_deg), math.radians(OBLIQUITY_J2000_DEG)
    lam = math.atan2(math.sin(a) * math.cos(e) + math.tan(d) * math.sin(e), math.cos(a))
    beta = math.asin(math.sin(d) * math.cos(e) - math.cos(d) * math.sin(e) * math.sin(a))
    return math.degrees(lam) % 360.0, math.degrees(beta)


def azimuth_elevation_deg(ra_deg: float, dec_deg: float, lat_deg: float, lst_deg: float) -> tuple[float, float]:
    """Where a direction stands in a place's sky: azimuth from north through east, elevation."""
    h, d, p = math.radians(lst_deg - ra_deg), math.radians(dec_deg), math.radians(lat_deg)
    el = math.asin(math.sin(p) * math.sin(d) + math.cos(p) * math.cos(d) * math.cos(h))
    az = math.atan2(-math.sin(h) * math.cos(d), math.sin(d) * math.cos(p) - math.cos(d) * math.sin(p) * math.cos(h))
    return math.degrees(az) % 360.0, math.degrees(el)


def orbit_extras(a_au: float | None, e: float | None, i_deg: float | None, peri_deg: float | None,
                 node_deg: float | None, sol_lon_deg: float) -> dict[str, float | None]:
    """Pi, b, Q, f, M, n, T and Tisserand's parameter (None where the orbit does not define them)."""
    out: dict[str, float | None] = dict.fromkeys(("pi", "b", "q_aph", "f", "m", "n", "t", "tj"))
    if i_deg is None or peri_deg is None or node_deg is None:
        return out
    w = peri_deg
    out["pi"] = (w + node_deg) % 360.0
    out["b"] = math.degrees(math.asin(math.sin(math.radians(i_deg)) * math.sin(math.radians(w))))
    # the Earth (and the meteor) is at heliocentric longitude sol_lon + 180: at the ascending node
    # when that is the node, else at the descending one
    earth = (sol_lon_deg + 180.0) % 360.0
    ascending = abs((node_deg - earth + 180.0) % 360.0 - 180.0) < 90.0
    f = (-w if ascending else 180.0 - w) % 360.0
    out["f"] = f
    if a_au is None or e is None or not (0.0 <= e < 1.0) or a_au <= 0:
        return out
    out["q_aph"] = a_au * (1.0 + e)
    out["n"] = GAUSS_DEG_PER_DAY / a_au**1.5
    out["t"] = a_au**1.5
    big_e = 2.0 * math.atan(math.sqrt((1.0 - e) / (1.0 + e)) * math.tan(math.radians(f) / 2.0))
    out["m"] = math.degrees(big_e - e * math.sin(big_e)) % 360.0
    out["tj"] = A_JUPITER_AU / a_au + 2.0 * math.cos(math.radians(i_deg)) * math.sqrt(
        a_au * (1.0 - e * e) / A_JUPITER_AU)
    return out
