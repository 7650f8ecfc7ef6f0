"""A fit reduced to the published numbers (begin/end, speeds, radiants, v_g, orbit) as one flat vector.

One flat vector because Monte Carlo needs exactly the same numbers from every run, cheaply pickled
back from worker processes; ``QUANTITIES`` names its entries and marks the angles that wrap at 360°.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ams_actors.kernels.geo import ecef_to_geodetic
from ams_actors.kernels.trajectory.epoch import EpochContext
from ams_actors.kernels.trajectory.fit import TrajectoryFit
from ams_actors.kernels.trajectory.frames import inertial_to_ecef
from ams_actors.kernels.trajectory.orbit import heliocentric_orbit
from ams_actors.kernels.trajectory.radiant import apparent_velocity, radec_deg, zenith_attraction

Float = NDArray[np.float64]

QUANTITIES: tuple[str, ...] = (
    "begin.lat", "begin.lon", "begin.alt_m", "end.lat", "end.lon", "end.alt_m",
    "v_init_m_s", "v_avg_m_s", "radiant.ra_deg", "radiant.dec_deg", "v_g_m_s",
    "orbit.a_au", "orbit.e", "orbit.i_deg", "orbit.peri_deg", "orbit.node_deg", "orbit.q_au",
    "radiant_apparent.ra_deg", "radiant_apparent.dec_deg",
)
WRAPPING = frozenset({"begin.lon", "end.lon", "radiant.ra_deg", "orbit.peri_deg", "orbit.node_deg",
                      "radiant_apparent.ra_deg"})
#: Set by one point's sight line (the first or last), not by a fit over all of them: see spread().
ONE_POINT = frozenset({"begin.lat", "begin.lon", "begin.alt_m", "end.lat", "end.lon", "end.alt_m"})


def geodetic_at(pos_inertial: Float, t_s: float) -> tuple[float, float, float]:
    """lat, lon, alt_m of an inertial-frame point at time t (s after the epoch)."""
    ecef = inertial_to_ecef(pos_inertial[None, :], np.array([t_s]))[0]
    lat, lon, alt = ecef_to_geodetic(ecef)
    return float(lat), float(lon), float(alt)


def quantities(fit: TrajectoryFit, ctx: EpochContext) -> Float:
    """The vector named by QUANTITIES (NaN where undefined, e.g. no orbit below escape speed)."""
    to_gcrs = ctx.c2t.T  # inertial frame axes == ITRS at the epoch
    v_vec = fit.v_init * fit.line.direction
    app = apparent_velocity(v_vec, fit.begin)
    ra_a, dec_a = radec_deg(-(to_gcrs @ app))
    rad_geo, v_g = zenith_attraction(v_vec, fit.begin)
    rad_gcrs = to_gcrs @ rad_geo
    ra, dec = radec_deg(rad_gcrs)
    if np.isfinite(v_g):
        orb = heliocentric_orbit(rad_gcrs, v_g, to_gcrs @ fit.begin, ctx.earth_pos_m, ctx.earth_vel_m_s)
        orbit = [orb[k] for k in ("a_au", "e", "i_deg", "peri_deg", "node_deg", "q_au")]
    else:
        orbit = [np.nan] * 6
    return np.array([
        *geodetic_at(fit.begin, fit.t_begin), *geodetic_at(fit.end, fit.t_end),
        fit.v_init, fit.v_avg, ra, dec, v_g, *orbit, ra_a, dec_a,
    ])


def spread(samples: Float, nominal: Float, point: Float | None = None) -> Float:
    """The Monte Carlo sigma of each quantity: the 68.27th percentile of the runs' distance from the
    nominal solution (angles unwrapped around it) — σ for Gaussian runs, and about the nominal, not
    the runs' own mean, so a bias of the re-solves counts too. A percentile, not an RMS, because a
    run drawn with a barely supported speed model can extrapolate wildly; it should widen the sigma
    by its share of the runs, not by its own size.

    Begin and end are the exception (ONE_POINT): each is where one point's sight line meets the line.
    The runs give only the line's share there (where the observed sight line meets each run's line,
    endpoints.line_ends), measured about the runs' median; ``point`` (endpoints.point_sigmas), the
    sight line's own share, is added in quadrature."""
    diff = samples - nominal[None, :]
    for k, name in enumerate(QUANTITIES):
        if name in WRAPPING:
            diff[:, k] = (diff[:, k] + 180.0) % 360.0 - 180.0
    out = np.full(len(QUANTITIES), np.nan)
    for k, name in enumerate(QUANTITIES):
        col = diff[:, k]
        col = col[np.isfinite(col)]
        if len(col) >= 2:
            if name in ONE_POINT:
                col = col - np.median(col)
            out[k] = float(np.percentile(np.abs(col), 68.27))
            if name in ONE_POINT and point is not None:
                out[k] = float(np.hypot(out[k], point[k]))
    return out
