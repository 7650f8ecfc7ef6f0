"""Camera model: exact round trips, Earth-orientation physics against astropy, offline IERS."""

from __future__ import annotations

import warnings
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from ams_actors.kernels.astrometry import AstrometryWarning, CameraModel, Lens, earth_frame, guess_camera
from ams_actors.kernels.astrometry.camera import orientation_angles, orientation_matrix
from ams_actors.kernels.astrometry.frames import (
    as_time,
    refraction_apparent_to_true_deg,
    refraction_true_to_apparent_deg,
)
from ams_actors.kernels.geo import angle_between_deg, azel_to_enu
from ams_actors.kernels.verify import Calibration

T0 = datetime(2026, 7, 12, 22, 15, 0, tzinfo=UTC)

RADIAL = Lens(
    width=640,
    height=360,
    kind="radial-odd",
    x0=12.5,
    y0=-4.0,
    aspect=0.003,
    asym_c=-0.009,
    asym_s=0.004,
    k=(0.074, -0.004, 0.0145),
)
POLY = Lens(
    width=704,
    height=576,
    kind="poly3+radial3",
    x_poly=(0.4, -0.002, 0.001, 1e-5, -2e-6, 3e-6, -4e-8, 1e-8, -2e-8, 1e-8, 1e-5, -5e-6, 2e-9),
    y_poly=(-0.3, 0.001, -0.003, -2e-6, 1e-5, -1e-6, 2e-8, -3e-8, 1e-8, -2e-8, 8e-6, 3e-6, 1e-9),
)


def _camera(lens: Lens, el: float = 38.0) -> CameraModel:
    return CameraModel(lat=51.88, lon=-1.31, alt_m=80.0, az=65.0, el=el, roll=4.2, scale=lens.width / 88.0, lens=lens)


def _frame_grid(cam: CameraModel, n: int = 41) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.meshgrid(np.linspace(-0.5, cam.width - 0.5, n), np.linspace(-0.5, cam.height - 0.5, n))
    return x.ravel(), y.ravel()


@pytest.mark.parametrize("lens", [RADIAL, POLY], ids=["radial7-odd+asym", "poly3+radial3"])
@pytest.mark.parametrize("el", [38.0, 90.0])
def test_pixel_azel_pixel_round_trip_over_whole_frame(lens: Lens, el: float) -> None:
    cam = _camera(lens, el)
    x, y = _frame_grid(cam)
    az, e = cam.pixel_to_azel(x, y)
    x2, y2 = cam.azel_to_pixel(az, e)
    err = np.hypot(x2 - x, y2 - y)
    assert np.all(np.isfinite(err))
    assert err.max() < 0.01


def test_pixel_radec_pixel_round_trip_with_per_point_times() -> None:
    cam = _camera(RADIAL)
    x, y = _frame_grid(cam, 25)
    times = as_time([T0 + timedelta(seconds=float(s)) for s in np.linspace(0, 600, x.size)])
    ra, dec = cam.pixel_to_radec(x, y, times)
    x2, y2 = cam.radec_to_pixel(ra, dec, times)
    assert np.hypot(x2 - x, y2 - y).max() < 0.01
    # the sky turns under a fixed camera: the same pixel 10 min later is ~2.5° further east in RA
    r0, _ = cam.pixel_to_radec(320.0, 180.0, T0)
    r1, _ = cam.pixel_to_radec(320.0, 180.0, T0 + timedelta(minutes=10))
    assert (float(r1) - float(r0)) % 360 == pytest.approx(2.5068, abs=0.01)


def test_orientation_angles_round_trip_and_zenith() -> None:
    for az, el, roll in [(10.0, 30.0, -7.0), (200.0, 89.999, 45.0), (0.0, 90.0, 12.0), (350.0, -5.0, 0.0)]:
        r = orientation_matrix(az, el, roll)
        assert np.allclose(r.T @ r, np.eye(3), atol=1e-12) and np.linalg.det(r) == pytest.approx(1.0)
        assert np.allclose(orientation_matrix(*orientation_angles(r)), r, atol=1e-9)


def test_guess_camera_points_where_told() -> None:
    cam = guess_camera(51.9, 0.9, 20.0, 640, 360, az=45.0, el=40.0, fov_h=90.0)
    az, el = cam.pixel_to_azel(320.0, 180.0)
    # refraction lifts the apparent centre; true elevation is ~1′ lower than the optical axis
    assert float(az) == pytest.approx(45.0, abs=1e-6) and float(el) == pytest.approx(40.0 - 0.0193, abs=2e-3)
    assert replace(cam, refraction=False).fov_deg()[0] == pytest.approx(90.0, abs=1e-6)


def test_refraction_inverse_is_exact() -> None:
    el = np.linspace(-0.4, 90, 500)
    back = refraction_apparent_to_true_deg(refraction_true_to_apparent_deg(el))
    assert np.abs(back - el).max() < 1e-9
    assert float(refraction_apparent_to_true_deg(0.0)) == pytest.approx(-0.575, abs=0.005)  # ~34′ at the horizon


def test_star_directions_agree_with_astropy_altaz() -> None:
    import astropy.units as u
    from astropy.coordinates import AltAz, EarthLocation, SkyCoord

    from ams_actors.data import load_star_table
    from ams_actors.kernels.astrometry.catalog import star_enu

    tab = load_star_table()
    tab = replace(
        tab.subset(np.arange(200)), pm_ra_deg_yr=np.zeros(200, np.float32), pm_dec_deg_yr=np.zeros(200, np.float32)
    )
    fr = earth_frame(51.88, 0.92, T0)
    ours = star_enu(tab, fr, T0)
    loc = EarthLocation.from_geodetic(0.92 * u.deg, 51.88 * u.deg, 0 * u.m)
    aa = SkyCoord(tab.ra_deg * u.deg, tab.dec_deg * u.deg).transform_to(AltAz(obstime=as_time(T0), location=loc))
    d_arcsec = angle_between_deg(ours, azel_to_enu(aa.az.deg, aa.alt.deg)) * 3600
    assert d_arcsec.max() < 1.0  # diurnal aberration and light bending are all we leave out


def test_date_beyond_iers_table_degrades_gracefully() -> None:
    cam = _camera(RADIAL)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ra, dec = cam.pixel_to_radec(np.array([100.0, 500.0]), np.array([50.0, 300.0]), "2039-01-01T00:00:00")
    assert np.all(np.isfinite(ra)) and np.all(np.isfinite(dec))
    assert any(issubclass(w.category, AstrometryWarning) for w in caught)


def test_model_dict_round_trip() -> None:
    cam = _camera(POLY)
    again = CameraModel.from_dict(cam.to_dict())
    x, y = _frame_grid(cam, 7)
    assert np.allclose(again.pixel_to_enu(x, y), cam.pixel_to_enu(x, y), atol=1e-12)


def test_camera_model_fits_the_verifiers_calibration_protocol() -> None:
    cam = _camera(RADIAL)
    assert isinstance(cam, Calibration)
    times = [T0 + timedelta(seconds=i / 25) for i in range(3)]
    az, _ = cam.pixel_to_azel(np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0]), times)
    ra, dec = cam.pixel_to_radec(np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0]), times)
    assert az.shape == ra.shape == (3,) and np.all(np.isfinite(dec))
    assert cam.model.startswith("ams-equidistant") and cam.pixel_scale_deg == pytest.approx(88.0 / 640)
