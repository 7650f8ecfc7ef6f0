"""WGS84 kernels against reference values and round trips."""

import numpy as np
from astropy import units as u
from astropy.coordinates import EarthLocation

from ams_actors.kernels import geo


def test_geodetic_to_ecef_matches_astropy() -> None:
    lat, lon, h = np.array([51.87, -33.9, 89.9, 0.0]), np.array([0.92, 151.2, -10.0, 180.0]), np.array(
        [21.0, 100.0, 90000.0, 120000.0]
    )
    ours = geo.geodetic_to_ecef(lat, lon, h)
    loc = EarthLocation.from_geodetic(lon * u.deg, lat * u.deg, h * u.m, ellipsoid="WGS84")
    ref = np.stack([loc.x.to_value(u.m), loc.y.to_value(u.m), loc.z.to_value(u.m)], axis=-1)
    assert np.max(np.abs(ours - ref)) < 1e-6


def test_ecef_geodetic_round_trip_submillimetre() -> None:
    rng = np.random.default_rng(1)
    lat = rng.uniform(-89.5, 89.5, 1000)
    lon = rng.uniform(-180, 180, 1000)
    h = rng.uniform(-100, 200_000, 1000)
    la, lo, hh = geo.ecef_to_geodetic(geo.geodetic_to_ecef(lat, lon, h))
    assert np.max(np.abs(la - lat)) < 1e-9
    assert np.max(np.abs(((lo - lon + 180) % 360) - 180)) < 1e-9
    assert np.max(np.abs(hh - h)) < 1e-3


def test_azel_round_trip_and_zenith() -> None:
    d = geo.azel_to_ecef_dir(0.0, 90.0, 45.0, 10.0)
    up = geo.geodetic_to_ecef(45.0, 10.0, 1.0) - geo.geodetic_to_ecef(45.0, 10.0, 0.0)
    assert geo.angle_between_deg(d, up) < 1e-6  # limited by the 1 m difference of 6,400 km vectors
    az, el = geo.ecef_dir_to_azel(geo.azel_to_ecef_dir([10.0, 200.0], [5.0, 60.0], 51.0, 0.5), 51.0, 0.5)
    np.testing.assert_allclose(az, [10.0, 200.0], atol=1e-9)
    np.testing.assert_allclose(el, [5.0, 60.0], atol=1e-9)


def test_ground_distance_london_paris() -> None:
    # ~343.5 km between these two points on the sphere
    d = geo.ground_distance_m(51.5074, -0.1278, 48.8566, 2.3522)
    assert abs(d - 343_500) < 2_000
