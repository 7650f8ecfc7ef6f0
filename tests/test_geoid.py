"""The shipped geoid grid (EGM2008, 1°): the Earth's known extremes where they are, and a smooth
interpolation across the grid's seams."""

from __future__ import annotations

import numpy as np
import pytest

from ams_actors.data import load_geoid_grid
from ams_actors.kernels.geoid import geoid_height_m


def test_the_known_extremes_are_where_geodesy_puts_them() -> None:
    """The geoid's low (about −106 m, Indian Ocean south of Sri Lanka) and high (about +85 m, New
    Guinea): a grid read with a wrong origin, orientation or unit would put them elsewhere."""
    grid = load_geoid_grid()
    lats = 90.0 - np.arange(grid.n_m.shape[0]) * grid.step_deg
    lons = np.arange(grid.n_m.shape[1]) * grid.step_deg
    i, j = np.unravel_index(np.argmin(grid.n_m), grid.n_m.shape)
    assert grid.n_m[i, j] < -100.0 and 0.0 <= lats[i] <= 10.0 and 70.0 <= lons[j] <= 85.0
    i, j = np.unravel_index(np.argmax(grid.n_m), grid.n_m.shape)
    assert grid.n_m[i, j] > 80.0 and -10.0 <= lats[i] <= 0.0 and 131.0 <= lons[j] <= 151.0


def test_interpolation_hits_the_nodes_and_crosses_the_seams() -> None:
    grid = load_geoid_grid()
    assert geoid_height_m(51.0, -1.0, grid) == pytest.approx(grid.n_m[39, 359])
    assert geoid_height_m(51.0, 359.0, grid) == pytest.approx(grid.n_m[39, 359])
    for lat in (-60.5, 0.3, 51.7):
        east, west = geoid_height_m(lat, 179.999, grid), geoid_height_m(lat, -179.999, grid)
        zero_w, zero_e = geoid_height_m(lat, -0.001, grid), geoid_height_m(lat, 0.001, grid)
        assert east is not None and west is not None and zero_w is not None and zero_e is not None
        assert abs(east - west) < 0.05 and abs(zero_w - zero_e) < 0.05
    assert geoid_height_m(90.0, 10.0, grid) == pytest.approx(geoid_height_m(90.0, 200.0, grid), abs=0.05)
    assert geoid_height_m(-90.0, 0.0, grid) is not None
    assert geoid_height_m(float("nan"), 0.0, grid) is None
