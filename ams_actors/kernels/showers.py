"""Shower association: which known shower, if any, a meteor belongs to.

Two tables, in order:

1. The GMN shower look-up table, by its header's own rule: a table entry within 1° of the meteor's
   solar longitude, within 10 % of its geocentric speed, and the Sun-centred ecliptic radiant
   (geocentric ecliptic longitude minus the solar longitude, latitude) within the entry's measured
   dispersion. Sun-centred coordinates because a shower's radiant drifts with the solar longitude in
   equatorial coordinates but hardly at all in them. Among several matching entries the one with the
   smallest sum of the three distances, each in units of its limit (solar longitude / 1°, radiant /
   dispersion, speed / 10 %), wins: WMPL's ``associateShower`` closeness, so ties between showers fall
   the way GMN's own code lets them fall.
2. For a meteor that matched none: the IAU Meteor Data Center list's *established* showers, whose
   entries are one published radiant at the peak (plus, when published, its daily drift): within
   ``IAU_SOL_WINDOW_DEG`` of the peak, the radiant moved by its drift to the meteor's solar
   longitude within ``IAU_RADIUS_DEG``, the speed within 10 %. The GMN table is measured from far
   more meteors, so it goes first; the IAU list catches established showers the table lacks or covers
   only near their peak (the GMN table's dispersions, ~1.5–2° for the Geminids, leave out members
   that GMN itself assigned when it solved them; see tests/test_showers.py for the agreement).

Pure numpy: the tables are data passed in (``ams_actors.data.load_shower_table`` reads the shipped ones).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from protocols.showers import SPORADIC_CODE, SPORADIC_IAU_NO, IauShower, ShowerRow

Float = NDArray[np.float64]
Int = NDArray[np.int64]

#: The GMN table header's membership rule.
SOL_WINDOW_DEG = 1.0
MAX_VG_FRACTION = 0.10
#: The IAU list fallback (established showers only).
IAU_SOL_WINDOW_DEG = 5.0
IAU_RADIUS_DEG = 5.0
#: Obliquity of the ecliptic at J2000 (IAU 2006); the GMN table's ecliptic is J2000's.
OBLIQUITY_J2000_DEG = 84381.406 / 3600.0


@dataclass(frozen=True, slots=True)
class ShowerTable:
    """Both tables as columns (degrees, km/s)."""

    sol_deg: Float
    sce_lon_deg: Float
    sce_lat_deg: Float
    v_g_km_s: Float
    disp_deg: Float
    iau_no: Int
    code: tuple[str, ...]
    # the IAU list's established entries
    iau_entry_no: Int
    iau_entry_code: tuple[str, ...]
    iau_sol_deg: Float
    iau_ra_deg: Float
    iau_dec_deg: Float
    iau_dra_deg: Float
    iau_ddec_deg: Float
    iau_v_g_km_s: Float
    names: dict[int, str]

    @classmethod
    def from_rows(cls, rows: Sequence[ShowerRow], iau: Sequence[IauShower] = ()) -> ShowerTable:
        est = [e for e in iau if e.status == 1]
        names: dict[int, str] = {}
        for e in iau:
            names.setdefault(e.iau_no, e.name)
        return cls(
            sol_deg=np.array([r.sol_deg for r in rows], float),
            sce_lon_deg=np.array([r.sce_lon_deg for r in rows], float),
            sce_lat_deg=np.array([r.sce_lat_deg for r in rows], float),
            v_g_km_s=np.array([r.v_g_km_s for r in rows], float),
            disp_deg=np.array([r.disp_deg for r in rows], float),
            iau_no=np.array([r.iau_no for r in rows], dtype=np.int64),
            code=tuple(r.code for r in rows),
            iau_entry_no=np.array([e.iau_no for e in est], dtype=np.int64),
            iau_entry_code=tuple(e.code for e in est),
            iau_sol_deg=np.array([e.sol_deg for e in est], float),
            iau_ra_deg=np.array([e.ra_deg for e in est], float),
            iau_dec_deg=np.array([e.dec_deg for e in est], float),
            iau_dra_deg=np.array([e.dra_deg for e in est], float),
            iau_ddec_deg=np.array([e.ddec_deg for e in est], float),
            iau_v_g_km_s=np.array([e.v_g_km_s for e in est], float),
            names=names,
        )


@dataclass(frozen=True, slots=True)
class ShowerMatch:
    code: str
    iau_no: int
    name: str
    distance_deg: float  # radiant distance from the matching table entry
    source: str  # "gmn" | "iau": which table matched

    def to_json_dict(self) -> dict[str, object]:
        """The Solution's ``shower`` value: code and IAU number (what catalogues key on)."""
        return {"code": self.code, "iau_no": self.iau_no}


#: A Solution's ``shower`` for a meteor that matched no shower (see protocols/observations.py).
SPORADIC: dict[str, object] = {"code": SPORADIC_CODE, "iau_no": SPORADIC_IAU_NO}


def equatorial_to_ecliptic_deg(ra_deg: float, dec_deg: float) -> tuple[float, float]:
    """J2000 equatorial → J2000 ecliptic longitude and latitude (degrees)."""
    ra, dec, eps = np.radians(ra_deg), np.radians(dec_deg), np.radians(OBLIQUITY_J2000_DEG)
    x = np.cos(dec) * np.cos(ra)
    y = np.cos(dec) * np.sin(ra) * np.cos(eps) + np.sin(dec) * np.sin(eps)
    z = -np.cos(dec) * np.sin(ra) * np.sin(eps) + np.sin(dec) * np.cos(eps)
    return float(np.degrees(np.arctan2(y, x)) % 360.0), float(np.degrees(np.arcsin(np.clip(z, -1.0, 1.0))))


def angle_deg(lon1: Float | float, lat1: Float | float, lon2: Float | float, lat2: Float | float) -> Float:
    """Great-circle angle between (lon, lat) points, degrees (vectorized)."""
    a1, b1, a2, b2 = np.radians(lon1), np.radians(lat1), np.radians(lon2), np.radians(lat2)
    c = np.sin(b1) * np.sin(b2) + np.cos(b1) * np.cos(b2) * np.cos(a1 - a2)
    return np.asarray(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))), dtype=np.float64)


def _sol_diff(a: Float, b: float) -> Float:
    return np.asarray((a - b + 180.0) % 360.0 - 180.0, dtype=np.float64)


def _gmn_match(lam: float, bet: float, v_g: float, sol: float, table: ShowerTable) -> ShowerMatch | None:
    cand = np.flatnonzero(
        (np.abs(_sol_diff(table.sol_deg, sol)) <= SOL_WINDOW_DEG)
        & (np.abs(table.v_g_km_s - v_g) <= MAX_VG_FRACTION * table.v_g_km_s)
    )
    if len(cand) == 0:
        return None
    dist = angle_deg(table.sce_lon_deg[cand], table.sce_lat_deg[cand], (lam - sol) % 360.0, bet)
    ratio = dist / table.disp_deg[cand]
    if not (ratio <= 1.0).any():
        return None
    # WMPL's closeness: each criterion's distance in units of its own limit, summed
    closeness = (np.abs(_sol_diff(table.sol_deg[cand], sol)) / SOL_WINDOW_DEG + ratio
                 + np.abs(table.v_g_km_s[cand] - v_g) / (MAX_VG_FRACTION * table.v_g_km_s[cand]))
    closeness[ratio > 1.0] = np.inf
    k = int(np.argmin(closeness))
    iau_no = int(table.iau_no[cand[k]])
    return ShowerMatch(table.code[cand[k]], iau_no, table.names.get(iau_no, ""), float(dist[k]), "gmn")


def _iau_match(ra: float, dec: float, v_g: float, sol: float, table: ShowerTable) -> ShowerMatch | None:
    d_sol = -_sol_diff(table.iau_sol_deg, sol)  # meteor minus peak
    cand = np.flatnonzero(
        (np.abs(d_sol) <= IAU_SOL_WINDOW_DEG)
        & (np.abs(table.iau_v_g_km_s - v_g) <= MAX_VG_FRACTION * table.iau_v_g_km_s)
    )
    if len(cand) == 0:
        return None
    ra_c = table.iau_ra_deg[cand] + table.iau_dra_deg[cand] * d_sol[cand]
    dec_c = table.iau_dec_deg[cand] + table.iau_ddec_deg[cand] * d_sol[cand]
    dist = angle_deg(ra_c, dec_c, ra, dec)
    inside = dist <= IAU_RADIUS_DEG
    if not inside.any():
        return None
    score = (dist / IAU_RADIUS_DEG + np.abs(d_sol[cand]) / IAU_SOL_WINDOW_DEG
             + np.abs(table.iau_v_g_km_s[cand] - v_g) / (MAX_VG_FRACTION * table.iau_v_g_km_s[cand]))
    score[~inside] = np.inf
    k = int(np.argmin(score))
    iau_no = int(table.iau_entry_no[cand[k]])
    return ShowerMatch(table.iau_entry_code[cand[k]], iau_no, table.names.get(iau_no, ""), float(dist[k]), "iau")


def shower_for(radiant_ra_deg: float, radiant_dec_deg: float, v_g_km_s: float, solar_longitude_deg: float,
               table: ShowerTable) -> ShowerMatch | None:
    """The shower a meteor belongs to, or None for a sporadic (or when a number is missing).

    Geocentric radiant (J2000 RA/Dec, degrees), geocentric speed (km/s) and the solar longitude
    (J2000, degrees) at the meteor's time: a Solution's ``radiant``, ``v_g_m_s``/1000 and
    :func:`solar_longitude_deg` of its epoch.
    """
    values = [radiant_ra_deg, radiant_dec_deg, v_g_km_s, solar_longitude_deg]
    if any(v is None for v in values) or not np.all(np.isfinite(np.asarray(values, float))):
        return None
    lam, bet = equatorial_to_ecliptic_deg(radiant_ra_deg, radiant_dec_deg)
    return (_gmn_match(lam, bet, v_g_km_s, solar_longitude_deg, table)
            or _iau_match(radiant_ra_deg, radiant_dec_deg, v_g_km_s, solar_longitude_deg, table))


def shower_json(match: ShowerMatch | None) -> dict[str, object]:
    """The Solution's ``shower`` value for a solved meteor: the match, or :data:`SPORADIC`."""
    return match.to_json_dict() if match is not None else dict(SPORADIC)


def solar_longitude_deg(earth_pos_ecliptic_m: Float) -> float:
    """The Sun's geocentric ecliptic longitude from the Earth's heliocentric position (ecliptic J2000)."""
    x, y = -float(earth_pos_ecliptic_m[0]), -float(earth_pos_ecliptic_m[1])
    return float(np.degrees(np.arctan2(y, x)) % 360.0)


def solar_longitude_at(when_utc: datetime) -> float:
    """The solar longitude (J2000, degrees) at a UTC time, e.g. a Solution's ``t_begin_utc``."""
    from ams_actors.kernels.trajectory.epoch import epoch_context
    from ams_actors.kernels.trajectory.orbit import equatorial_to_ecliptic

    return solar_longitude_deg(equatorial_to_ecliptic(epoch_context(when_utc).earth_pos_m))
