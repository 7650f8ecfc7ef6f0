"""Trajectory solver against simulated truth: exact without noise, within tolerance with it, and
every kind of bad input turned into a failed Solution with a reason."""

from __future__ import annotations

import math
import warnings
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from typing import Any

import jsonschema
import numpy as np
import pytest

from ams_actors.kernels.geo import angle_between_deg
from ams_actors.kernels.trajectory import solve_observation_set, solve_observation_set_detailed
from ams_actors.kernels.trajectory.solver import SolveResult
from ams_actors.sim.trajectories import Site, TrueMeteor, observation_set_dict
from protocols.errors import InputError
from protocols.observations import SOLUTION_SCHEMA, ObservationSet, Solution, parse_observation_set

EPOCH = datetime(2026, 7, 12, 22, 15, 6, 355000, tzinfo=UTC)
SITES = [
    Site("AMS1", 51.0, 0.0, 20.0),
    Site("AMS2", 51.8, 1.5, 50.0),
    Site("AMS3", 52.2, -0.3, 80.0),
]


def meteor(decel: bool = False, epoch: datetime = EPOCH) -> TrueMeteor:
    v, dur = 30000.0, 1.5
    a2 = 4.0 / dur if decel else 0.0
    a1 = TrueMeteor.decel_for_speed_loss(v, dur, 0.25, a2) if decel else 0.0
    return TrueMeteor.from_geodetic(51.5, 0.5, 100e3, 60.0, 45.0, v, dur, epoch, a1, a2)


def event(m: TrueMeteor, noise: float = 0.0, seed: int = 1, sites: list[Site] | None = None,
          **kw: Any) -> ObservationSet:
    doc, _ = observation_set_dict("20260712_221506_355", m, sites or SITES, 25.0, noise,
                                  np.random.default_rng(seed), **kw)
    return parse_observation_set(doc)


def truth_in_solver_frame(m: TrueMeteor, obs: ObservationSet) -> tuple[np.ndarray, np.ndarray]:
    return m.line_in_frame(min(o.t_ref_utc for o in obs.observations))


def dist_from_line(point: np.ndarray, begin: np.ndarray, direction: np.ndarray) -> float:
    rel = point - begin
    return float(np.linalg.norm(rel - (rel @ direction) * direction))


def solved(obs: ObservationSet, **kw: Any) -> SolveResult:
    r = solve_observation_set_detailed(obs, **kw)
    assert r.solution.status == "solved", r.solution.reason
    assert r.fit is not None
    return r


def test_noiseless_constant_speed_is_exact() -> None:
    m = meteor()
    obs = event(m)
    r = solved(obs)
    fit = r.fit
    assert fit is not None
    begin, direction = truth_in_solver_frame(m, obs)
    assert angle_between_deg(fit.line.direction, direction) < 1e-4
    assert dist_from_line(fit.begin, begin, direction) < 0.5
    assert dist_from_line(fit.end, begin, direction) < 0.5
    assert fit.v_init == pytest.approx(30000.0, rel=1e-6)
    assert fit.v_avg == pytest.approx(30000.0, rel=1e-6)
    assert fit.timing.model == "const"
    assert max(r.solution.residuals_arcsec.values()) < 0.05
    # begin altitude: the first frame is within one frame (1.2 km of flight) of the 100 km start
    sol = r.solution
    assert sol.begin is not None and 99.0e3 < sol.begin.alt_m <= 100.0e3
    assert sol.convergence_angle_deg is not None and sol.convergence_angle_deg > 30


def test_noiseless_deceleration_and_clock_offsets_are_recovered() -> None:
    m = meteor(decel=True)
    obs = event(m, clock_offsets_s=[0.0, 0.12, -0.18])
    r = solved(obs)
    fit = r.fit
    assert fit is not None
    _, direction = truth_in_solver_frame(m, obs)
    assert angle_between_deg(fit.line.direction, direction) < 1e-3
    assert fit.timing.model == "exp"
    assert fit.timing.with_offsets
    off = r.solution.timing_offsets_s
    # offsets bring every clock onto the reference clock: relative offsets are what is observable
    assert off["AMS2"] - off["AMS1"] == pytest.approx(-0.12, abs=1e-3)
    assert off["AMS3"] - off["AMS1"] == pytest.approx(0.18, abs=1e-3)
    first_true = min(float(t[0]) for t in [np.asarray(o.times) for o in obs.observations])
    assert first_true >= 0
    assert fit.v_init == pytest.approx(float(m.speed(np.array([0.02]))[0]), rel=2e-3)


def test_noisy_event_within_tolerances() -> None:
    m = meteor(decel=True)
    sites = [*SITES, Site("AMS4", 50.9, 1.2, 10.0)]
    obs = event(m, noise=60.0, seed=7, sites=sites)
    r = solved(obs)
    fit = r.fit
    assert fit is not None
    begin, direction = truth_in_solver_frame(m, obs)
    assert angle_between_deg(fit.line.direction, direction) < 0.3
    assert dist_from_line(fit.begin, begin, direction) < 300.0
    assert abs(fit.v_init / 30000.0 - 1.0) < 0.02
    for rms in r.solution.residuals_arcsec.values():
        assert 40.0 < rms < 85.0  # measures the 60″ per-axis noise (cross-track component)
    # the geocentric radiant is near the apparent one (zenith attraction at 30 km/s is < 1°)
    sol = r.solution
    assert sol.radiant is not None and sol.radiant_apparent is not None and sol.v_g_m_s is not None
    assert sol.v_g_m_s < fit.v_init
    assert abs(sol.radiant.dec_deg - sol.radiant_apparent.dec_deg) < 2.0


def test_outliers_are_rejected_and_do_not_bias_the_line() -> None:
    m = meteor()
    obs = event(m, noise=30.0, seed=3, outlier_fraction=0.05, outlier_deg=(0.5, 1.0))
    r = solved(obs)
    fit = r.fit
    assert fit is not None
    assert r.solution.rejected_points is not None and r.solution.rejected_points >= 3
    _, direction = truth_in_solver_frame(m, obs)
    assert angle_between_deg(fit.line.direction, direction) < 0.2
    assert max(r.solution.residuals_arcsec.values()) < 60.0


def test_radiant_matches_astropy_transform() -> None:
    """The apparent radiant equals astropy's ITRS→GCRS rotation of the true apparent direction."""
    from astropy import units as u
    from astropy.coordinates import GCRS, ITRS, CartesianRepresentation
    from astropy.time import Time

    m = meteor()
    obs = event(m)
    r = solved(obs)
    epoch = min(o.t_ref_utc for o in obs.observations)
    begin, direction = truth_in_solver_frame(m, obs)
    v_rot = m.v_init_m_s * direction - np.cross([0.0, 0.0, 7.292115146706979e-5], begin)
    rad = -v_rot / np.linalg.norm(v_rot) * 1e7
    t = Time(epoch.replace(tzinfo=None), scale="utc")
    gcrs = ITRS(CartesianRepresentation(rad * u.m), obstime=t).transform_to(GCRS(obstime=t))
    sph = gcrs.represent_as("unitspherical")
    ra_app = r.solution.radiant_apparent
    assert ra_app is not None
    assert ra_app.ra_deg == pytest.approx(sph.lon.deg, abs=2e-4)
    assert ra_app.dec_deg == pytest.approx(sph.lat.deg, abs=2e-4)


def test_orbit_elements_of_known_states() -> None:
    from ams_actors.kernels.trajectory.epoch import AU_M
    from ams_actors.kernels.trajectory.orbit import GM_SUN, elements

    v_circ = math.sqrt(GM_SUN / AU_M)
    el = elements(np.array([AU_M, 0.0, 0.0]), np.array([0.0, v_circ, 0.0]))
    assert el["a_au"] == pytest.approx(1.0, rel=1e-9)
    assert el["e"] == pytest.approx(0.0, abs=1e-9)
    assert el["i_deg"] == pytest.approx(0.0, abs=1e-9)
    # perihelion at 1 au moving faster, tilted 30° about x: q = 1, node on the +x axis
    v = 1.2 * v_circ
    el = elements(np.array([AU_M, 0.0, 0.0]), np.array([0.0, v * math.cos(math.radians(30)),
                                                        v * math.sin(math.radians(30))]))
    assert el["q_au"] == pytest.approx(1.0, rel=1e-9)
    assert el["e"] == pytest.approx(1.2**2 - 1.0, rel=1e-9)
    assert el["i_deg"] == pytest.approx(30.0, abs=1e-9)
    assert el["node_deg"] == pytest.approx(0.0, abs=1e-9)
    assert el["peri_deg"] == pytest.approx(0.0, abs=1e-7)


def test_zenith_attraction() -> None:
    from ams_actors.kernels.trajectory.radiant import GM_EARTH, zenith_attraction

    pos = np.array([6471e3, 0.0, 0.0])
    v_esc2 = 2 * GM_EARTH / 6471e3
    # from the zenith: speed reduced, direction unchanged
    rad, v_g = zenith_attraction(np.array([-20e3, 0.0, 0.0]), pos)
    assert v_g == pytest.approx(math.sqrt(20e3**2 - v_esc2))
    assert angle_between_deg(rad, [1.0, 0.0, 0.0]) < 1e-9
    # from 45° zenith distance: the true radiant is further from the zenith
    v = np.array([-1.0, -1.0, 0.0]) / math.sqrt(2) * 15e3
    rad, v_g = zenith_attraction(v, pos)
    z = float(angle_between_deg(rad, [1.0, 0.0, 0.0]))
    assert 45.5 < z < 60.0
    # below escape speed there is no geocentric velocity
    assert math.isnan(zenith_attraction(np.array([-5e3, 0.0, 0.0]), pos)[1])


def test_monte_carlo_sigmas_with_an_explicit_pool() -> None:
    obs = event(meteor(), noise=60.0, seed=5)
    with ProcessPoolExecutor(max_workers=2) as pool:
        a = solve_observation_set(obs, mc_runs=12, executor=pool, seed=3)
        b = solve_observation_set(obs, mc_runs=12, executor=pool, seed=3)
    assert a.status == "solved" and a.sigma is not None
    assert a.sigma == b.sigma  # same seed, same answer, whatever the scheduling
    s_dir = a.sigma["radiant"]["dec_deg"]
    assert 1e-4 < s_dir < 1.0
    assert 1.0 < a.sigma["v_init_m_s"] < 1000.0
    assert a.solver.mc_runs == 12
    jsonschema.validate(a.to_json_dict(), SOLUTION_SCHEMA)


def test_solution_json_validates_against_schema() -> None:
    sol = solve_observation_set(event(meteor(decel=True), noise=30.0))
    doc = sol.to_json_dict()
    jsonschema.validate(doc, SOLUTION_SCHEMA)
    assert doc["status"] == "solved" and doc["stations"] == ["AMS1", "AMS2", "AMS3"]
    assert set(doc["orbit"]) == {"a_au", "e", "i_deg", "peri_deg", "node_deg", "q_au"}
    broken = dict(doc, begin=None)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SOLUTION_SCHEMA)
    failed = dict(doc, status="failed")
    with pytest.raises(jsonschema.ValidationError):  # failed needs a reason
        jsonschema.validate(failed, SOLUTION_SCHEMA)


def test_epoch_past_the_iers_table_warns_but_solves() -> None:
    from ams_actors.kernels.trajectory.epoch import IERSDegradedWarning

    late = datetime(2035, 3, 1, 2, 0, 0, tzinfo=UTC)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sol = solve_observation_set(event(meteor(epoch=late), noise=30.0))
    assert sol.status == "solved"
    assert any(issubclass(w.category, IERSDegradedWarning) for w in caught)


# ------------------------------------------------------------------------------------------------
# Bad input


def _doc(**changes: Any) -> dict[str, Any]:
    doc, _ = observation_set_dict("ev_1", meteor(), SITES, 25.0, 30.0, np.random.default_rng(2))
    doc.update(changes)
    return doc


def _fails(doc: dict[str, Any], words: str) -> Solution:
    sol = solve_observation_set(parse_observation_set(doc))
    assert sol.status == "failed"
    assert sol.reason is not None and words in sol.reason, sol.reason
    jsonschema.validate(sol.to_json_dict(), SOLUTION_SCHEMA)
    return sol


def test_one_station_fails() -> None:
    doc = _doc()
    _fails(dict(doc, observations=doc["observations"][:1]), "only one station")


def test_nan_fails() -> None:
    doc = _doc()
    doc["observations"][1]["elevations"][4] = math.nan
    _fails(doc, "NaN")
    doc = _doc()
    doc["observations"][0]["times"][2] = None  # null: what a NaN becomes in strict JSON
    _fails(doc, "NaN")


def test_non_increasing_times_fail() -> None:
    doc = _doc()
    t = doc["observations"][2]["times"]
    t[5] = t[4]
    _fails(doc, "not strictly increasing")


def test_stations_at_one_place_fail() -> None:
    doc = _doc()
    obs = doc["observations"][:2]
    obs[1] = dict(obs[1], lat=obs[0]["lat"], lon=obs[0]["lon"], alt_m=obs[0]["alt_m"])
    _fails(dict(doc, observations=obs), "one place")


def test_small_convergence_angle_fails() -> None:
    # the meteor flies due south along a meridian; both stations sit under it on that meridian, so
    # both see it in (nearly) the same plane
    m = TrueMeteor.from_geodetic(51.5, 0.5, 100e3, 0.0, 40.0, 30000.0, 1.0, EPOCH)
    sites = [Site("N", 51.6, 0.5, 10.0), Site("S", 51.2, 0.5, 10.0)]
    doc, _ = observation_set_dict("ev_2", m, sites, 25.0, 20.0, np.random.default_rng(4))
    sol = _fails(doc, "convergence angle")
    assert sol.convergence_angle_deg is not None and sol.convergence_angle_deg < 1.0


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("event_id"), "event_id"),
        (lambda d: d["observations"][0].pop("azimuths"), "observations[0].azimuths"),
        (lambda d: d["observations"][1].update(lat="51.0"), "observations[1].lat"),
        (lambda d: d["observations"][0].update(t_ref_utc="yesterday"), "observations[0].t_ref_utc"),
        (lambda d: d["observations"][0]["times"].pop(), "observations[0]"),
        (lambda d: d.update(event_id="a/b"), "event_id"),
    ],
)
def test_malformed_documents_raise_input_error(mutate: Any, field: str) -> None:
    doc = _doc()
    mutate(doc)
    with pytest.raises(InputError) as err:
        parse_observation_set(doc, "obs.json")
    assert err.value.field is not None and err.value.field.startswith(field)
    assert str(err.value).startswith("obs.json: ")


def test_a_member_that_saw_another_meteor_is_excluded() -> None:
    """The correlator's mistake, as on the real GMN night: one member is a different meteor."""
    m = meteor()
    other = TrueMeteor.from_geodetic(52.0, 0.9, 95e3, 200.0, 30.0, 45000.0, 1.2, EPOCH)
    rng = np.random.default_rng(8)
    sites = [*SITES, Site("AMS4", 50.9, 1.2, 10.0)]
    good, _ = observation_set_dict("ev_3", m, sites[:3], 25.0, 30.0, rng)
    wrong, _ = observation_set_dict("ev_3", other, sites[3:], 25.0, 30.0, rng)
    doc = dict(good, observations=good["observations"] + wrong["observations"])
    obs = parse_observation_set(doc)
    r = solved(obs)
    assert r.solution.excluded == ("AMS4",)
    assert r.solution.stations == ("AMS1", "AMS2", "AMS3")
    assert r.fit is not None
    _, direction = truth_in_solver_frame(m, obs)
    assert angle_between_deg(r.fit.line.direction, direction) < 0.2


def test_a_camera_with_two_points_is_left_out_not_fatal() -> None:
    doc = _doc()
    for key in ("times", "azimuths", "elevations"):
        doc["observations"][2][key] = doc["observations"][2][key][:2]
    sol = solve_observation_set(parse_observation_set(doc))
    assert sol.status == "solved" and sol.excluded == ("AMS3",)
    doc["observations"] = doc["observations"][1:]
    _fails(doc, "at least 3 needed")


def test_published_shower_orbits_from_their_radiants() -> None:
    """Geminids and Perseids (IAU MDC mean radiant and v_g) give their published mean orbits."""
    from ams_actors.kernels.trajectory.epoch import epoch_context
    from ams_actors.kernels.trajectory.orbit import heliocentric_orbit

    def unit(ra: float, dec: float) -> np.ndarray:
        a, d = math.radians(ra), math.radians(dec)
        return np.array([math.cos(d) * math.cos(a), math.cos(d) * math.sin(a), math.sin(d)])

    cases = [
        (datetime(2025, 12, 14, 6, tzinfo=UTC), 112.3, 32.5, 33.8e3,
         {"q_au": 0.14, "e": 0.89, "i_deg": 23.0, "peri_deg": 324.0, "node_deg": 262.1}),
        (datetime(2025, 8, 12, 22, tzinfo=UTC), 48.2, 58.1, 59.1e3,
         {"q_au": 0.95, "e": 0.95, "i_deg": 113.0, "peri_deg": 151.0, "node_deg": 140.0}),
    ]
    for when, ra, dec, v_g, published in cases:
        ctx = epoch_context(when)
        el = heliocentric_orbit(unit(ra, dec), v_g, np.zeros(3), ctx.earth_pos_m, ctx.earth_vel_m_s)
        assert el["q_au"] == pytest.approx(published["q_au"], abs=0.03)
        assert el["e"] == pytest.approx(published["e"], abs=0.03)
        for k in ("i_deg", "peri_deg"):
            assert el[k] == pytest.approx(published[k], abs=3.0)
        assert el["node_deg"] == pytest.approx(published["node_deg"], abs=0.5)


def test_short_tracks_do_not_get_deceleration_or_clock_offsets() -> None:
    """Four to eight points per station cannot support 4–6 timing parameters (real GMN meteors)."""
    from ams_actors.kernels.trajectory.timing import allowed_models

    assert allowed_models(8, 2) == (("const", False),)
    assert allowed_models(10, 2) == (("const", False), ("const", True))
    assert ("exp", True) in allowed_models(200, 3)
    m = TrueMeteor.from_geodetic(51.5, 0.5, 100e3, 60.0, 45.0, 60000.0, 0.2, EPOCH)
    r = solved(event(m, noise=60.0, seed=2, sites=SITES[:2]))
    assert r.solution.velocity_model == "const"
    assert all(abs(v) < 0.02 for v in r.solution.timing_offsets_s.values())
