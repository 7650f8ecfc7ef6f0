"""Radiant and geocentric velocity from the fitted line (Ceplecha 1987 corrections).

The line is fitted in the t0-frozen inertial frame, so its velocity already excludes the Earth's
rotation; the *apparent* radiant (what the rotating observer sees) adds the rotation back. The
geocentric radiant then removes the Earth's gravity: the speed far from the Earth follows from energy
(v_g² = v∞² − 2GM/r) and the bending of the path toward the zenith (zenith attraction) is undone by
increasing the zenith distance by Δz, tan(Δz/2) = (v∞ − v_g)/(v∞ + v_g) · tan(z/2).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ams_actors.kernels.trajectory.frames import earth_rotation_velocity

Float = NDArray[np.float64]

GM_EARTH = 3.986004418e14  # m^3/s^2


def radec_deg(vec_gcrs: Float) -> tuple[float, float]:
    """(RA in [0, 360), Dec) in degrees of a direction on GCRS (≈ J2000 equatorial) axes."""
    x, y, z = (float(c) for c in vec_gcrs / np.linalg.norm(vec_gcrs))
    return float(np.degrees(np.arctan2(y, x)) % 360.0), float(np.degrees(np.arcsin(np.clip(z, -1, 1))))


def apparent_velocity(v_inertial: Float, pos: Float) -> Float:
    """Velocity relative to the rotating Earth at ``pos`` (what a station sees)."""
    return v_inertial - earth_rotation_velocity(pos)


def zenith_attraction(v_inertial: Float, pos: Float) -> tuple[Float, float]:
    """(unit geocentric radiant on the frame's axes, v_g in m/s); v_g is NaN below escape speed."""
    v_inf = float(np.linalg.norm(v_inertial))
    radiant = -v_inertial / v_inf
    r = float(np.linalg.norm(pos))
    up = pos / r
    v2 = v_inf * v_inf - 2.0 * GM_EARTH / r
    if v2 <= 0.0:
        return radiant, float("nan")
    v_g = float(np.sqrt(v2))
    cos_z = float(np.clip(radiant @ up, -1.0, 1.0))
    z = float(np.arccos(cos_z))
    across = radiant - cos_z * up
    n_across = float(np.linalg.norm(across))
    if n_across < 1e-12:  # radiant at the zenith: no bending
        return radiant, v_g
    across /= n_across
    dz = 2.0 * np.arctan((v_inf - v_g) / (v_inf + v_g) * np.tan(z / 2.0))
    zc = z + dz
    return np.cos(zc) * up + np.sin(zc) * across, v_g
