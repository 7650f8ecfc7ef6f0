"""RMS platepar → :class:`CameraModel`, by re-deriving RMS's own conventions.

RMS (CroatianMeteorNetwork/RMS, ``Astrometry/CyFunctions.pyx``) maps pixel → RA/Dec with the same lens
forms we use, an azimuthal-equidistant projection, and a pointing given as (RA_d, Dec_d, pos_angle_ref)
at the platepar's JD that it carries to the observation time with its own simple astronomy: mean
sidereal time (Meeus), IAU 1976 precession with a crude nutation, and Bennett/Sæmundsson refraction.
Those pieces are rotations of the sphere, so at one observation time RMS's whole "pixel → apparent
local direction" chain is *our* lens followed by one fixed 3×3 rotation. We evaluate RMS's chain on a
grid once, solve for that rotation (Kabsch), and from then on the model is ours: Earth-fixed,
astropy-timed, exactly invertible. RMS's own simplifications therefore only enter the pointing, at
the arc-second level, and the camera stays the one RMS calibrated.

Written from the published RMS formulas; no RMS code is copied.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ams_actors.kernels.astrometry.camera import CameraModel, focal_to_cam
from ams_actors.kernels.astrometry.frames import TimeLike, as_time
from ams_actors.kernels.astrometry.lens import Lens
from protocols.platepar import Platepar

Float = NDArray[np.float64]
J2000 = 2451545.0


def lens_from_platepar(pp: Platepar) -> Lens:
    """Our :class:`Lens` holding exactly the platepar's forward distortion."""
    w, h = pp.X_res, pp.Y_res
    if pp.distortion_type.startswith("poly3+radial"):
        return Lens(width=w, height=h, kind=pp.distortion_type, x_poly=pp.x_poly_fwd, y_poly=pp.y_poly_fwd)
    c = list(pp.x_poly_fwd)
    i = 0
    if pp.force_distortion_centre:
        x0n, y0n = 0.5 / (w / 2.0), 0.5 / (h / 2.0)
    else:
        x0n, y0n = c[0], c[1]
        i = 2
    # offsets are stored normalised to the half-size and wrapped into the image
    x0 = -w / 2.0 + (x0n * w / 2.0 + w / 2.0) % w
    y0 = -h / 2.0 + (y0n * h / 2.0 + h / 2.0) % h
    aspect = 0.0
    if not pp.equal_aspect:
        aspect = c[i]
        i += 1
    asym_c = asym_s = 0.0
    if pp.asymmetry_corr:
        a1 = c[i]
        a2 = (c[i + 1] * 2.0 * np.pi) % (2.0 * np.pi)
        asym_c, asym_s = a1 * np.cos(a2), a1 * np.sin(a2)
        i += 2
    n_k = {
        "radial3-all": 2,
        "radial4-all": 3,
        "radial5-all": 4,
        "radial3-odd": 1,
        "radial5-odd": 2,
        "radial7-odd": 3,
        "radial9-odd": 4,
    }[pp.distortion_type]
    k = tuple(c[i : i + n_k])
    if pp.distortion_type.endswith("-odd"):
        kind = "radial-odd"
    else:
        # "all" powers start at q² in RMS (r + k1 r² + ...): h = 1 + k1 q + k2 q² + ...
        kind = "radial-all"
    return Lens(width=w, height=h, kind=kind, x0=x0, y0=y0, aspect=aspect, asym_c=asym_c, asym_s=asym_s, k=k)


# --- RMS's astronomy (Meeus), vectorized over points, one time -----------------------------------------


def _gst_deg(jd: float) -> float:
    t = (jd - J2000) / 36525.0
    return (280.46061837 + 360.98564736629 * (jd - J2000) + 0.000387933 * t * t - t**3 / 38710000.0) % 360.0


def _precession_angles(jd_from: float, jd_to: float) -> tuple[float, float, float]:
    big_t = (jd_from - J2000) / 36525.0
    t = (jd_to - jd_from) / 36525.0
    base = 2306.2181 + 1.39656 * big_t - 0.000139 * big_t**2
    zeta = base * t + (0.30188 - 0.000344 * big_t) * t**2 + 0.017998 * t**3
    z = base * t + (1.09468 + 0.000066 * big_t) * t**2 + 0.018203 * t**3
    theta = (2004.3109 - 0.85330 * big_t - 0.000217 * big_t**2) * t - (0.42665 + 0.000217 * big_t) * t**2
    theta -= 0.041833 * t**3
    return np.radians(zeta / 3600.0), np.radians(theta / 3600.0), np.radians(z / 3600.0)


def _precession_matrix(jd_from: float, jd_to: float) -> Float:
    """Rotation taking mean-equator vectors of ``jd_from`` to those of ``jd_to`` (IAU 1976, Meeus 21)."""
    zeta, theta, z = _precession_angles(jd_from, jd_to)
    cz, sz, ct, st, cZ, sZ = np.cos(zeta), np.sin(zeta), np.cos(theta), np.sin(theta), np.cos(z), np.sin(z)
    return np.array(
        [
            [cz * ct * cZ - sz * sZ, -sz * ct * cZ - cz * sZ, -st * cZ],
            [cz * ct * sZ + sz * cZ, -sz * ct * sZ + cz * cZ, -st * sZ],
            [cz * st, -sz * st, ct],
        ]
    )


def _vec(ra: ArrayLike, dec: ArrayLike) -> Float:
    ra_a, dec_a = np.asarray(ra, float), np.asarray(dec, float)
    return np.stack([np.cos(dec_a) * np.cos(ra_a), np.cos(dec_a) * np.sin(ra_a), np.sin(dec_a)], axis=-1)


def _radec(v: Float) -> tuple[Float, Float]:
    return np.arctan2(v[..., 1], v[..., 0]) % (2 * np.pi), np.arctan2(v[..., 2], np.hypot(v[..., 0], v[..., 1]))


def _eq_to_enu(v_date: Float, jd: float, lat: float, lon: float) -> Float:
    """Mean-of-date equatorial vectors → local ENU using RMS's mean sidereal time."""
    lst = np.radians(_gst_deg(jd) + lon)
    ra, dec = _radec(v_date)
    ha = lst - ra
    la = np.radians(lat)
    e = -np.cos(dec) * np.sin(ha)
    n = np.sin(dec) * np.cos(la) - np.cos(dec) * np.cos(ha) * np.sin(la)
    u = np.sin(dec) * np.sin(la) + np.cos(dec) * np.cos(ha) * np.cos(la)
    return np.stack([e, n, u], axis=-1)


def _enu_to_eq(enu: Float, jd: float, lat: float, lon: float) -> Float:
    lst = np.radians(_gst_deg(jd) + lon)
    la = np.radians(lat)
    e, n, u = enu[..., 0], enu[..., 1], enu[..., 2]
    # inverse of _eq_to_enu: rotate about east by (90° - lat), then hour angle → RA
    z = n * np.cos(la) + u * np.sin(la)  # sin dec
    hx = u * np.cos(la) - n * np.sin(la)  # cos dec cos ha
    hy = -e  # cos dec sin ha
    ha = np.arctan2(hy, hx)
    dec = np.arctan2(z, np.hypot(hx, hy))
    return _vec(lst - ha, dec)


def _refract_true_to_apparent_rms(el: Float) -> Float:
    h = np.maximum(np.degrees(el), -0.5)
    return el + np.radians(1.02 / (60.0 * np.tan(np.radians(h + 10.3 / (h + 5.11)))))


def _nutation_rms(jd_from: float) -> tuple[float, float]:
    t = (jd_from - J2000) / 36525.0
    om = np.radians(125.04452 - 1934.136261 * t)
    sun = np.radians(280.4665 + 36000.7698 * t)
    moon = np.radians(218.3165 + 481267.8813 * t)
    dpsi = -17.2 * np.sin(om) - 1.32 * np.sin(2 * sun) - 0.23 * np.sin(2 * moon) + 0.21 * np.sin(2 * om)
    deps = 9.2 * np.cos(om) + 0.57 * np.cos(2 * sun) + 0.1 * np.cos(2 * moon) - 0.09 * np.cos(2 * om)
    return float(np.radians(dpsi / 3600.0)), float(np.radians(deps / 3600.0))


def _pointing_at(pp: Platepar, jd: float) -> tuple[float, float, float]:
    """RMS's FOV centre (RA, Dec rad, "J2000") and position angle (rad) at ``jd``."""
    ra_now = np.radians((pp.RA_d + _gst_deg(jd) - pp.Ho) % 360.0)
    dec = np.radians(pp.dec_d)
    v = _vec(ra_now, dec)
    if pp.refraction:
        p_fwd = _precession_matrix(J2000, jd)
        enu = _eq_to_enu(p_fwd @ v, jd, pp.lat, pp.lon)
        el = np.arctan2(enu[2], np.hypot(enu[0], enu[1]))
        el2 = _refract_true_to_apparent_rms(el)
        hz = np.hypot(enu[0], enu[1])
        enu = np.array([enu[0] / hz * np.cos(el2), enu[1] / hz * np.cos(el2), np.sin(el2)])
        v = _precession_matrix(jd, J2000) @ _enu_to_eq(enu, jd, pp.lat, pp.lon)
    # RMS then precesses this centre (and its position angle) from the epoch of date to J2000 again
    ra0, _ = _radec(v)
    p = _precession_matrix(jd, J2000)
    moved = p @ v
    dpsi, deps = _nutation_rms(jd)
    eps_m = np.array([[1, 0, 0], [0, np.cos(deps), np.sin(deps)], [0, -np.sin(deps), np.cos(deps)]])
    psi_m = np.array([[np.cos(dpsi), -np.sin(dpsi), 0], [np.sin(dpsi), np.cos(dpsi), 0], [0, 0, 1]])
    moved = psi_m @ (eps_m @ moved)
    normal = np.cross(v, moved)
    normal_moved = p @ normal
    v_n = v / np.linalg.norm(v)
    m_n = moved / np.linalg.norm(moved)
    normal /= np.linalg.norm(normal)
    normal_moved /= np.linalg.norm(normal_moved)
    ra1, dec1 = _radec(m_n)
    par0 = np.array([-np.sin(ra0), np.cos(ra0), 0.0])
    par1 = np.array([-np.sin(ra1), np.cos(ra1), 0.0])
    par0 = par0 - (par0 @ v_n) * v_n
    par1 = par1 - (par1 @ m_n) * m_n
    par0 /= np.linalg.norm(par0)
    par1 /= np.linalg.norm(par1)
    a0 = np.arctan2(np.cross(normal, par0) @ v_n, normal @ par0)
    a1 = np.arctan2(np.cross(normal_moved, par1) @ m_n, normal_moved @ par1)
    pa = np.radians(pp.pos_angle_ref) + (a1 - a0)
    pa = np.fmod(pa + np.pi, 2 * np.pi) - np.pi
    return float(ra1), float(dec1), float(pa)


def rms_focal_to_apparent_enu(pp: Platepar, u_px: ArrayLike, v_px: ArrayLike, jd: float) -> Float:
    """RMS's apparent local direction (ENU) of focal-plane points (ideal px) at one ``jd``."""
    ra_c, dec_c, pa = _pointing_at(pp, jd)
    xd = np.asarray(u_px, float) / pp.F_scale
    yd = np.asarray(v_px, float) / pp.F_scale
    radius = np.radians(np.hypot(xd, yd))
    theta = (np.pi / 2 - pa + np.arctan2(yd, xd)) % (2 * np.pi)
    sin_d = np.sin(dec_c) * np.cos(radius) + np.cos(dec_c) * np.sin(radius) * np.cos(theta)
    dec = np.arctan2(sin_d, np.sqrt(1 - sin_d**2))
    s = np.sin(theta) * np.sin(radius) / np.cos(dec)
    c = (np.cos(radius) - np.sin(dec) * np.sin(dec_c)) / (np.cos(dec) * np.cos(dec_c))
    ra = (ra_c - np.arctan2(s, c)) % (2 * np.pi)
    v_date = _vec(ra, dec) @ _precession_matrix(J2000, jd).T
    return _eq_to_enu(v_date, jd, pp.lat, pp.lon)


def camera_from_platepar(pp: Platepar, t: TimeLike | None = None) -> CameraModel:
    """Our camera model of an RMS platepar, with its orientation taken at UTC ``t``.

    RMS's pointing drifts by a few arc-seconds per month against the Earth (its approximations), so
    ``t`` should be near the observations; default: the time of the stars the platepar was fitted
    to (``star_list``), else its JD.
    """
    if t is None:
        jd = pp.star_list_jd if pp.star_list_jd is not None else pp.JD
    else:
        tt = as_time(t)
        jd = float(np.mean(tt.jd1) + np.mean(tt.jd2))
    jd -= pp.UT_corr / 24.0
    lens = lens_from_platepar(pp)
    # grid over the focal plane, well inside the equidistant disk
    g = np.linspace(-1.0, 1.0, 7)
    gu, gv = np.meshgrid(g * pp.X_res / 2, g * pp.Y_res / 2)
    u, v = gu.ravel(), gv.ravel()
    cam = focal_to_cam(u, v, pp.F_scale)
    enu = rms_focal_to_apparent_enu(pp, u, v, jd)
    # Kabsch: R minimising |R cam - enu|
    h = cam.T @ enu
    uu, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ uu.T))
    rot = vt.T @ np.diag([1.0, 1.0, d]) @ uu.T
    model = CameraModel(
        lat=pp.lat,
        lon=pp.lon,
        alt_m=pp.elev,
        az=0.0,
        el=0.0,
        roll=0.0,
        scale=pp.F_scale,
        lens=lens,
        refraction=pp.refraction,
    )
    return model.with_rotation(rot)


def kabsch_residual_deg(pp: Platepar, model: CameraModel, jd: float) -> float:
    """Largest angle between RMS's chain and the fitted rotation on the grid (a self-check, ~1e-12°)."""
    g = np.linspace(-1.0, 1.0, 5)
    gu, gv = np.meshgrid(g * pp.X_res / 2, g * pp.Y_res / 2)
    u, v = gu.ravel(), gv.ravel()
    enu_rms = rms_focal_to_apparent_enu(pp, u, v, jd)
    enu_ours = focal_to_cam(u, v, pp.F_scale) @ model.rotation.T
    cosang = np.clip(np.sum(enu_rms * enu_ours, axis=-1), -1, 1)
    return float(np.degrees(np.arccos(cosang)).max())
