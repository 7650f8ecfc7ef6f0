"""Row-wise 3-vector helpers: np.cross/np.linalg.norm spend more time on axis handling than on
arithmetic at a few hundred rows, and the fits call them thousands of times per solve."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Float = NDArray[np.float64]


def cross(a: Float, b: Float) -> Float:
    """Row-wise a × b for (N, 3) arrays; either may also be a single (3,) vector."""
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)


def norm(a: Float) -> Float:
    """Row-wise Euclidean length of an (N, 3) array."""
    return np.sqrt(np.einsum("ij,ij->i", a, a))


def rowdot(a: Float, b: Float) -> Float:
    """Row-wise dot product of two (N, 3) arrays."""
    return np.einsum("ij,ij->i", a, b)
