"""The simulated operators' rough pointing: degrees off the truth as a compass and a level leave it,
drawn apart from the world (a seed's meteors and cameras do not change with it), and the measure of a
camera model's error that the video night reports."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ams_actors.kernels.astrometry import guess_camera
from ams_actors.kernels.astrometry.lens import Lens
from ams_actors.sim.selfcal import POINTING_ERROR_DEG, SCALE_ERROR, model_error, rough_stations
from ams_actors.sim.world import make_stations


def test_rough_pointing_is_off_by_what_an_operator_gets_wrong() -> None:
    truth = make_stations(3, 2, 51.5, 0.0, 70.0, np.random.default_rng(4))
    typed = rough_stations(truth, seed=4)
    assert typed == rough_stations(truth, seed=4)  # reproducible from the seed
    assert typed != rough_stations(truth, seed=5)
    for st, ts in zip(truth, typed, strict=True):
        assert (st.id, st.lat, st.lon) == (ts.id, ts.lat, ts.lon)
        for c, t in zip(st.cameras, ts.cameras, strict=True):
            d_az = (t.az_deg - c.az_deg + 180.0) % 360.0 - 180.0
            for d in (d_az, t.el_deg - c.el_deg, t.rotation_deg - c.rotation_deg):
                assert POINTING_ERROR_DEG[0] - 0.01 <= abs(d) <= POINTING_ERROR_DEG[1] + 0.01
            assert SCALE_ERROR[0] - 0.001 <= abs(t.fov_h_deg / c.fov_h_deg - 1.0) <= SCALE_ERROR[1] + 0.001


def test_model_error_measures_pointing_and_lens() -> None:
    true = guess_camera(51.5, 0.0, 50.0, 640, 360, 120.0, 40.0, 90.0, 1.0)
    true = replace(true, lens=Lens(width=640, height=360, kind="radial-odd", k=(-0.04,)))
    same = model_error(true, true)
    assert same["centre_deg"] < 1e-6 and same["sky_max_arcmin"] < 1e-3
    no_lens = model_error(guess_camera(51.5, 0.0, 50.0, 640, 360, 120.0, 40.0, 90.0, 1.0), true)
    assert no_lens["centre_deg"] < 1e-6 and no_lens["sky_max_arcmin"] > 10.0  # the lens alone, at the edges
    off = model_error(guess_camera(51.5, 0.0, 50.0, 640, 360, 122.0, 41.0, 94.0, 3.0), true)
    assert 1.0 < off["centre_deg"] < 3.0 and 1.5 < off["roll_deg"] < 2.5 and 3.0 < off["scale_pct"] < 6.0
