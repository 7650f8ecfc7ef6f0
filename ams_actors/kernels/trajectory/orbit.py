"""Heliocentric osculating orbit from a heliocentric state vector (ecliptic and equinox J2000)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ams_actors.kernels.trajectory.epoch import AU_M

Float = NDArray[np.float64]

GM_SUN = 1.32712440018e20  # m^3/s^2
#: Obliquity of the ecliptic at J2000 (IAU 2006), rad.
OBLIQUITY_J2000 = np.radians(84381.406 / 3600.0)


def equatorial_to_ecliptic(vec: Float) -> Float:
    c, s = np.cos(OBLIQUITY_J2000), np.sin(OBLIQUITY_J2000)
    rot = np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])
    return rot @ vec


def elements(r_m: Float, v_m_s: Float) -> dict[str, float]:
    """a (au, negative when hyperbolic), e, i, ω (peri), Ω (node) in degrees, q (au)."""
    r = float(np.linalg.norm(r_m))
    v2 = float(v_m_s @ v_m_s)
    h = np.cross(r_m, v_m_s)
    hn = float(np.linalg.norm(h))
    e_vec = np.cross(v_m_s, h) / GM_SUN - r_m / r
    e = float(np.linalg.norm(e_vec))
    inv_a = 2.0 / r - v2 / GM_SUN
    a = 1.0 / inv_a if abs(inv_a) > 1e-30 else float("inf")
    q = hn * hn / GM_SUN / (1.0 + e)
    i = float(np.degrees(np.arccos(np.clip(h[2] / hn, -1.0, 1.0))))
    node_vec = np.array([-h[1], h[0], 0.0])
    nn = float(np.linalg.norm(node_vec))
    if nn < 1e-12 * hn:  # in the ecliptic: node undefined, measure from the x axis
        node = 0.0
        node_vec = np.array([1.0, 0.0, 0.0])
        nn = 1.0
    else:
        node = float(np.degrees(np.arctan2(node_vec[1], node_vec[0])) % 360.0)
    if e < 1e-12:
        peri = 0.0
    else:
        cos_w = float(np.clip(node_vec @ e_vec / (nn * e), -1.0, 1.0))
        peri = float(np.degrees(np.arccos(cos_w)))
        if e_vec[2] < 0:
            peri = 360.0 - peri
    return {"a_au": a / AU_M, "e": e, "i_deg": i, "peri_deg": peri, "node_deg": node, "q_au": q / AU_M}


def heliocentric_orbit(
    radiant_gcrs: Float, v_g: float, pos_gcrs: Float, earth_pos_m: Float, earth_vel_m_s: Float
) -> dict[str, float]:
    """Orbit of a meteoroid arriving from ``radiant_gcrs`` at ``v_g``, seen at geocentric ``pos_gcrs``."""
    v_helio = equatorial_to_ecliptic(-v_g * radiant_gcrs + earth_vel_m_s)
    r_helio = equatorial_to_ecliptic(earth_pos_m + pos_gcrs)
    return elements(r_helio, v_helio)
