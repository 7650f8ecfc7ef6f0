"""Earth-fixed look directions ↔ celestial J2000 directions, and atmospheric refraction.

astropy/ERFA supply the physics (UTC→UT1/TT, the IAU 2006/2000A celestial-to-intermediate matrix,
Earth rotation angle, polar motion, the Earth's barycentric velocity for stellar aberration). What
makes it fast is the split: everything except the Earth rotation angle changes by < 0.2″ per day, so
it is computed once per batch (per time span) as 3×3 matrices, and the per-point work is one
rotation about the pole by an angle linear in time — plain numpy on arrays.

Conventions: ENU = local east/north/up at the geodetic site (``kernels.geo``); "true" elevation is
refraction removed, "apparent" is what the lens sees. Celestial directions are GCRS-oriented (the
J2000/ICRS axes) and *geometric*: a meteor 100 km away shows no annual aberration, so meteor RA/Dec
are not aberrated; stars get their annual aberration added before they are compared with pixels.

Offline: IERS is never downloaded. Past the bundled table UT1−UTC and polar motion are taken as 0
with an ``AstrometryWarning`` (|UT1−UTC| < 0.9 s → < 14″ along the diurnal direction).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeAlias

import erfa
import numpy as np
from astropy.time import Time
from astropy.utils import iers
from numpy.typing import ArrayLike, NDArray

from ams_actors.kernels.geo import enu_basis

iers.conf.auto_download = False

Float = NDArray[np.float64]
TimeLike: TypeAlias = "Time | datetime | str | float | Sequence[datetime] | Sequence[str]"

SIDEREAL_RATE = 1.00273781191135448  # ERA turns per UT1 day
DAY_S = 86400.0
C_AU_PER_DAY = 173.1446326846693  # speed of light in au/day


def mat_apply(m: ArrayLike, v: ArrayLike) -> Float:
    """(..., 3) vectors ``v`` mapped by the 3×3 matrix ``m`` (i.e. ``m @ v`` per vector).

    Written out component by component: a (n, 3) @ (3, 3) matmul goes through BLAS, whose threads spin
    and crawl on a busy 2-core station — this is 3-10× faster there and never slower.
    """
    a = np.asarray(m, dtype=float)
    x = np.asarray(v, dtype=float)
    out = np.empty(np.broadcast_shapes(x.shape, (3,)), dtype=float)
    for i in range(3):
        out[..., i] = a[i, 0] * x[..., 0] + a[i, 1] * x[..., 1] + a[i, 2] * x[..., 2]
    return out


class AstrometryWarning(UserWarning):
    """Reduced accuracy (e.g. a date beyond the bundled IERS table), never a failure."""


def as_time(t: TimeLike) -> Time:
    """astropy Time (UTC) from a Time, datetime(s), ISO string(s) or a JD (float)."""
    if isinstance(t, Time):
        return t.utc
    if isinstance(t, datetime):
        if t.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware UTC datetime")
        return Time(t.astimezone(UTC).replace(tzinfo=None), scale="utc")
    if isinstance(t, float | int | np.floating):
        return Time(float(t), format="jd", scale="utc")
    if isinstance(t, str):
        return Time(t, scale="utc")
    items = list(t)
    if items and isinstance(items[0], datetime):
        return Time([x.astimezone(UTC).replace(tzinfo=None) for x in items], scale="utc")
    return Time(items, scale="utc")


def _ut1_utc_s(t: Time) -> float:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(np.asarray(t.get_delta_ut1_utc()).mean())
    except (ValueError, IndexError, iers.IERSRangeError):
        warnings.warn(
            f"UT1-UTC unknown for {t.iso} (beyond the bundled IERS table): using 0 s "
            "(error < 14 arcsec along the diurnal motion)",
            AstrometryWarning,
            stacklevel=3,
        )
        return 0.0


def _polar_motion_rad(t: Time) -> tuple[float, float]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            xp, yp = iers.earth_orientation_table.get().pm_xy(t)
        return float(xp.to_value("rad")), float(yp.to_value("rad"))
    except (ValueError, IndexError, iers.IERSRangeError):
        return 0.0, 0.0  # < 0.5″: not worth a second warning


@dataclass(frozen=True)
class EarthFrame:
    """Rotation from a site's ENU to GCRS at a reference time; valid for about a day either side.

    ``enu_to_cirs_tirs`` maps ENU into the terrestrial intermediate frame (TIRS); the Earth rotation
    angle then turns TIRS into CIRS (per point), and ``c2i.T`` takes CIRS to GCRS.
    """

    lat_deg: float
    lon_deg: float
    t_ref: Time
    enu_to_tirs: Float  # (3, 3): v_tirs = enu_to_tirs @ v_enu
    c2i: Float  # (3, 3): v_cirs = c2i @ v_gcrs
    era_ref: float  # rad at t_ref
    earth_velocity_c: Float  # (3,) barycentric Earth velocity / c (GCRS axes) at t_ref
    sun_dist_au: float

    def era(self, dt_s: ArrayLike) -> Float:
        """Earth rotation angle (rad) at ``t_ref + dt_s`` seconds (UTC ≈ UT1 rate; leap seconds aside)."""
        return self.era_ref + 2.0 * np.pi * SIDEREAL_RATE * np.asarray(dt_s, dtype=float) / DAY_S

    def enu_to_gcrs(self, enu: ArrayLike, dt_s: ArrayLike = 0.0) -> Float:
        """(..., 3) GCRS unit-ish vectors of ENU vectors seen at ``t_ref + dt_s``."""
        v = mat_apply(self.enu_to_tirs, enu)
        a = self.era(dt_s)
        c, s = np.cos(a), np.sin(a)
        # CIRS = R3(-ERA) TIRS
        x = c * v[..., 0] - s * v[..., 1]
        y = s * v[..., 0] + c * v[..., 1]
        v[..., 0] = x
        v[..., 1] = y
        return mat_apply(self.c2i.T, v)

    def gcrs_to_enu(self, gcrs: ArrayLike, dt_s: ArrayLike = 0.0) -> Float:
        """Inverse of :meth:`enu_to_gcrs`."""
        cirs = mat_apply(self.c2i, gcrs)
        a = self.era(dt_s)
        c, s = np.cos(a), np.sin(a)
        x = c * cirs[..., 0] + s * cirs[..., 1]
        y = -s * cirs[..., 0] + c * cirs[..., 1]
        cirs[..., 0] = x
        cirs[..., 1] = y
        return mat_apply(self.enu_to_tirs.T, cirs)

    def aberrate(self, p: ArrayLike) -> Float:
        """Apparent (annual-aberration) directions of (..., 3) unit star vectors, as the site sees them."""
        pn = np.asarray(p, dtype=float)
        v = self.earth_velocity_c
        bm1 = float(np.sqrt(1.0 - v @ v))
        out = erfa.ab(np.ascontiguousarray(pn), v, self.sun_dist_au, bm1)
        return np.asarray(out, dtype=float)


def earth_frame(lat_deg: float, lon_deg: float, t_ref: TimeLike) -> EarthFrame:
    """Matrices for one site and reference time (the expensive astropy/ERFA part: ~1 ms)."""
    t = as_time(t_ref)
    if not t.isscalar:
        t = Time(np.mean(t.jd1) + np.mean(t.jd2), format="jd", scale="utc")
    tt = t.tt
    dut1 = _ut1_utc_s(t)
    ut1_jd1, ut1_jd2 = t.jd1, t.jd2 + dut1 / DAY_S
    era = float(erfa.era00(ut1_jd1, ut1_jd2))
    c2i = np.asarray(erfa.c2i06a(tt.jd1, tt.jd2), dtype=float)
    xp, yp = _polar_motion_rad(t)
    sp = float(erfa.sp00(tt.jd1, tt.jd2))
    rpom = np.asarray(erfa.pom00(xp, yp, sp), dtype=float)  # v_itrs = rpom @ v_tirs
    basis = enu_basis(lat_deg, lon_deg)  # rows e, n, u in ITRS: v_itrs = v_enu @ basis
    enu_to_tirs = rpom.T @ basis.T
    pvh, pvb = erfa.epv00(tt.jd1, tt.jd2)
    vel = np.asarray(pvb["v"], dtype=float) / C_AU_PER_DAY
    sun = np.asarray(pvh["p"], dtype=float)
    return EarthFrame(
        lat_deg=float(lat_deg),
        lon_deg=float(lon_deg),
        t_ref=t,
        enu_to_tirs=enu_to_tirs,
        c2i=c2i,
        era_ref=era,
        earth_velocity_c=vel,
        sun_dist_au=float(np.linalg.norm(sun)),
    )


def seconds_since(t: TimeLike, t_ref: Time) -> Float:
    """Seconds of ``t`` after ``t_ref`` (array or scalar), UTC."""
    tt = as_time(t)
    return np.asarray((tt - t_ref).to_value("s"), dtype=float)


# --- refraction --------------------------------------------------------------------------------------
# Bennett (1982) / Explanatory Supplement form, the one RMS uses: ERFA's A·tan z + B·tan³ z model is only
# good above ~15°, and all-sky cameras image down to the horizon. Standard air (1010 hPa, 10 °C).


def refraction_apparent_to_true_deg(el_app_deg: ArrayLike) -> Float:
    """True elevation (deg) from apparent; the correction is frozen below −0.5° (as RMS does)."""
    h = np.asarray(el_app_deg, dtype=float)
    hc = np.maximum(h, -0.5)
    r = 1.0 / (60.0 * np.tan(np.radians(hc + 7.31 / (hc + 4.4))))
    return h - r


def refraction_true_to_apparent_deg(el_true_deg: ArrayLike) -> Float:
    """Exact numerical inverse of :func:`refraction_apparent_to_true_deg` (so round trips close)."""
    t = np.asarray(el_true_deg, dtype=float)
    hc = np.maximum(t, -0.5)
    a = t + 1.02 / (60.0 * np.tan(np.radians(hc + 10.3 / (hc + 5.11))))  # Sæmundsson, then polish
    for _ in range(4):
        f = refraction_apparent_to_true_deg(a) - t
        d = 1e-4
        fp = (refraction_apparent_to_true_deg(a + d) - refraction_apparent_to_true_deg(a - d)) / (2 * d)
        a = a - f / fp
    return a


def enu_refract(enu: ArrayLike, apparent_to_true: bool) -> Float:
    """Move (..., 3) unit ENU directions in elevation by the refraction, keeping the azimuth."""
    v = np.asarray(enu, dtype=float)
    horiz = np.hypot(v[..., 0], v[..., 1])
    el = np.degrees(np.arctan2(v[..., 2], horiz))
    el2 = refraction_apparent_to_true_deg(el) if apparent_to_true else refraction_true_to_apparent_deg(el)
    e2 = np.radians(el2)
    scale = np.where(horiz > 0, np.cos(e2) / np.where(horiz > 0, horiz, 1.0), 0.0)
    return np.stack([v[..., 0] * scale, v[..., 1] * scale, np.sin(e2)], axis=-1)


# --- small vector helpers -----------------------------------------------------------------------------


def radec_to_vec(ra_deg: ArrayLike, dec_deg: ArrayLike) -> Float:
    ra = np.radians(np.asarray(ra_deg, dtype=float))
    dec = np.radians(np.asarray(dec_deg, dtype=float))
    cd = np.cos(dec)
    return np.stack(np.broadcast_arrays(cd * np.cos(ra), cd * np.sin(ra), np.sin(dec)), axis=-1)


def vec_to_radec(v: ArrayLike) -> tuple[Float, Float]:
    a = np.asarray(v, dtype=float)
    ra = np.degrees(np.arctan2(a[..., 1], a[..., 0])) % 360.0
    dec = np.degrees(np.arctan2(a[..., 2], np.hypot(a[..., 0], a[..., 1])))
    return ra, dec
