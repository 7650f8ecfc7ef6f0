"""Everything the radiant and orbit need from astronomy at the event epoch, computed once.

This is the only module of the solver that touches astropy (slow to import, and its IERS tables
could trigger downloads). It turns a UTC epoch into plain numbers — the GCRS→ITRS rotation and the
Earth's heliocentric state — so Monte Carlo workers never import astropy.

Offline by design: IERS auto-download is off and UT1−UTC / polar motion come from the IERS table
bundled with astropy-iers-data. Past the end of that table the last value is used with a warning:
|UT1−UTC| < 0.9 s keeps the radiant's right ascension within ~0.004° and the orbit unaffected.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

Float = NDArray[np.float64]

AU_M = 1.495978707e11
DAY_S = 86400.0


@dataclass(frozen=True, slots=True)
class EpochContext:
    """``c2t`` rotates GCRS (≈ J2000/ICRS axes) vectors into ITRS at the epoch.

    ``earth_pos_m``/``earth_vel_m_s``: the Earth's heliocentric state on ICRS axes (astropy's
    ``builtin`` ephemeris, i.e. ERFA epv00). ``iers_note`` says how well UT1 was known.
    """

    c2t: Float
    earth_pos_m: Float
    earth_vel_m_s: Float
    iers_note: str


class IERSDegradedWarning(UserWarning):
    """The epoch lies outside the bundled IERS table; Earth orientation is extrapolated."""


def warm_up() -> None:
    """Import astropy and load the IERS table now, so the first solve's runtime is the solve's own."""
    from astropy.coordinates import get_body_barycentric_posvel  # noqa: F401
    from astropy.time import Time  # noqa: F401
    from astropy.utils import iers

    iers.conf.auto_download = False
    iers.IERS_Auto.open()


@functools.lru_cache(maxsize=64)
def epoch_context(epoch_utc: datetime) -> EpochContext:
    import erfa
    from astropy import units as u
    from astropy.coordinates import get_body_barycentric_posvel
    from astropy.time import Time
    from astropy.utils import iers

    iers.conf.auto_download = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", erfa.ErfaWarning)  # "dubious year" for dates past leap-second table
        t = Time(epoch_utc.replace(tzinfo=None), scale="utc")
        table = iers.IERS_Auto.open()
        dut1, status = table.ut1_utc(t, return_status=True)
        xp, yp, _ = table.pm_xy(t, return_status=True)
        note = "IERS table"
        if int(status) < 0:
            note = "outside the bundled IERS table: UT1-UTC and polar motion extrapolated (RA within ~0.004 deg)"
            warnings.warn(f"epoch {epoch_utc.isoformat()} is {note}", IERSDegradedWarning, stacklevel=2)
        elif int(status) == iers.FROM_IERS_A_PREDICTION:
            note = "IERS-A prediction"
        t.delta_ut1_utc = dut1
        tt, ut1 = t.tt, t.ut1
        c2t = erfa.c2t06a(
            tt.jd1, tt.jd2, ut1.jd1, ut1.jd2, xp.to_value(u.rad), yp.to_value(u.rad)
        )
        earth_p, earth_v = get_body_barycentric_posvel("earth", t, ephemeris="builtin")
        sun_p, sun_v = get_body_barycentric_posvel("sun", t, ephemeris="builtin")
    pos = (earth_p - sun_p).xyz.to_value(u.au) * AU_M
    vel = (earth_v - sun_v).xyz.to_value(u.au / u.day) * AU_M / DAY_S
    return EpochContext(np.asarray(c2t, float), np.asarray(pos, float), np.asarray(vel, float), note)
