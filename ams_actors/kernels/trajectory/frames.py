"""The solver's working frame: Earth-fixed axes frozen at the event epoch t0.

A meteor flies a straight line in an inertial frame, not in the rotating Earth frame (the station
under it moves ~0.4 km/s), so every station position and line of sight taken at time t (s after t0)
is rotated by the Earth's rotation angle since t0. The result is a non-rotating geocentric frame whose
axes coincide with ITRS at t0; fitted velocities there are already corrected for the Earth's rotation.
Polar motion and precession over seconds are far below the measurement noise and are ignored here.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Float = NDArray[np.float64]

#: Earth's rotation rate relative to the stars (IERS conventions), rad/s.
OMEGA_EARTH = 7.292115146706979e-5


def rotation_z(angle_rad: Float) -> Float:
    """(..., 3, 3) rotation matrices about +z by ``angle_rad`` (counter-clockwise, right-handed)."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    zero, one = np.zeros_like(c), np.ones_like(c)
    return np.stack(
        [np.stack([c, -s, zero], -1), np.stack([s, c, zero], -1), np.stack([zero, zero, one], -1)], -2
    )


def ecef_to_inertial(vec: Float, t_s: Float) -> Float:
    """Earth-fixed vectors observed at times ``t_s`` (s after t0) into the t0-frozen inertial frame."""
    return np.einsum("nij,nj->ni", rotation_z(OMEGA_EARTH * np.asarray(t_s, float)), vec)


def inertial_to_ecef(vec: Float, t_s: Float) -> Float:
    """Inverse of :func:`ecef_to_inertial` (e.g. a meteor position at time t back to lat/lon/alt)."""
    return np.einsum("nij,nj->ni", rotation_z(-OMEGA_EARTH * np.asarray(t_s, float)), vec)


def earth_rotation_velocity(pos: Float) -> Float:
    """Velocity (m/s) of a point fixed to the Earth at ``pos``, in the t0-frozen frame."""
    return np.cross(np.array([0.0, 0.0, OMEGA_EARTH]), pos)
