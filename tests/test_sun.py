"""The daytime rule's Sun altitude against astropy (which uses a full ephemeris)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from astropy import units as u
from astropy.coordinates import AltAz, EarthLocation, get_sun
from astropy.time import Time
from astropy.utils import iers

from ams_actors.kernels.sun import is_daytime, sun_altitude_deg

iers.conf.auto_download = False


def test_sun_altitude_matches_astropy_within_a_tenth_of_a_degree() -> None:
    loc = EarthLocation.from_geodetic(0.92 * u.deg, 51.87 * u.deg, 21 * u.m)
    times = [datetime(2026, 7, 12, 0, tzinfo=UTC) + timedelta(hours=h * 3.7) for h in range(40)]
    ours = np.array([sun_altitude_deg(51.87, 0.92, t) for t in times])
    t = Time(times)
    ref = get_sun(t).transform_to(AltAz(obstime=t, location=loc, pressure=0)).alt.deg
    assert np.max(np.abs(ours - ref)) < 0.1


def test_daytime_rule() -> None:
    assert is_daytime(51.87, 0.92, datetime(2026, 7, 12, 12, 0, tzinfo=UTC))
    assert not is_daytime(51.87, 0.92, datetime(2026, 7, 12, 23, 30, tzinfo=UTC))
    # civil twilight: at 21:00 UTC in July the Sun is just below the horizon in England (above -6°)
    assert is_daytime(51.87, 0.92, datetime(2026, 7, 12, 20, 45, tzinfo=UTC))
