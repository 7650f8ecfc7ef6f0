"""Issue 13 item 6: a Solution says when it is poor, rule by rule, and a camera far off its own pixel
scale is dropped whatever the other cameras do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ams_actors.kernels.trajectory import solve_observation_set
from ams_actors.kernels.trajectory.quality import assess
from ams_actors.sim.trajectories import Site, TrueMeteor, observation_set_dict
from protocols.observations import parse_observation_set
from tests.test_trajectory import EPOCH, SITES, meteor

GOOD: dict[str, Any] = {
    "convergence_deg": 40.0,
    "residuals_arcsec": {"A": 30.0, "B": 45.0},
    "pixel_scales_arcsec": {"A": 150.0, "B": None},
    "begin_alt_m": 98_000.0,
    "end_alt_m": 80_000.0,
    "v_init_m_s": 30_000.0,
    "eccentricity": 0.6,
    "sigma": None,
}


def reasons(**changes: Any) -> tuple[str, ...]:
    q = assess(**{**GOOD, **changes})
    assert q.ok == (not q.reasons)
    return q.reasons


def test_a_good_solution_is_ok() -> None:
    assert reasons() == ()


def test_degenerate_geometry() -> None:
    (r,) = reasons(convergence_deg=1.2)
    assert "convergence angle 1.2° < 3°" in r


def test_residuals_against_the_pixel_scale() -> None:
    (r,) = reasons(residuals_arcsec={"A": 488.0, "B": 45.0})
    assert r.startswith("A residuals 488″ = 3.3 px") and "assumed" not in r
    # a coarse camera (600″/px) may have 488″ residuals; an unknown scale is taken as 150″/px
    assert reasons(residuals_arcsec={"A": 30.0, "B": 488.0}, pixel_scales_arcsec={"A": 150.0, "B": 600.0}) == ()
    (r,) = reasons(residuals_arcsec={"A": 30.0, "B": 488.0})
    assert "B residuals 488″" in r and "assumed 150″/px" in r


def test_heights_and_speeds_outside_physical_ranges() -> None:
    assert "begin height 230.0 km outside 40-180 km" in reasons(begin_alt_m=230_000.0)
    assert "end height 5.0 km outside 10-150 km" in reasons(end_alt_m=5_000.0)
    assert any("begins lower" in r for r in reasons(begin_alt_m=70_000.0, end_alt_m=85_000.0))
    assert reasons(v_init_m_s=8_000.0) == ("initial speed 8.0 km/s outside 10-75 km/s",)
    assert reasons(v_init_m_s=90_000.0) == ("initial speed 90.0 km/s outside 10-75 km/s",)


def test_hyperbolic_orbits_need_a_small_sigma() -> None:
    assert "without an uncertainty" in reasons(eccentricity=1.3)[0]
    assert "large uncertainty (e = 1.30 ± 0.40)" in reasons(eccentricity=1.3, sigma={"orbit": {"e": 0.4}})[0]
    assert reasons(eccentricity=1.3, sigma={"orbit": {"e": 0.05}}) == ()  # 6 sigma from bound: believed


def _with_bad_camera(bad_noise: float, scale_arcsec: float | None = 150.0) -> Any:
    """Three good cameras (150″ noise) and a fourth with ``bad_noise``: the others are mediocre too,
    so the relative rule (5x the others' median) never fires. Every camera's plate scale is
    ``scale_arcsec`` (None: not given, as in a GFE or UFO record)."""
    m = meteor()
    rng = np.random.default_rng(5)
    sites = [*SITES, Site("AMS4", 50.9, 1.2, 10.0)]
    good, _ = observation_set_dict("ev_q", m, sites[:3], 25.0, 150.0, rng)
    bad, _ = observation_set_dict("ev_q", m, sites[3:], 25.0, bad_noise, rng)
    observations = good["observations"] + bad["observations"]
    if scale_arcsec is not None:
        observations = [dict(o, pixel_scale_arcsec=scale_arcsec) for o in observations]
    return parse_observation_set(dict(good, observations=observations))


def test_a_camera_far_above_its_pixel_scale_is_dropped_absolutely() -> None:
    sol = solve_observation_set(_with_bad_camera(700.0))
    assert sol.status == "solved"
    assert sol.excluded == ("AMS4",), sol.residuals_arcsec
    assert sol.quality is not None and sol.quality.ok, sol.quality


def test_a_camera_of_unknown_plate_scale_is_not_dropped_by_an_assumed_one() -> None:
    """A wide-field camera's 700″ may be under a pixel: without its scale the absolute rule cannot
    know, so only the relative rule may drop it (it does not here); the quality flag still says so."""
    sol = solve_observation_set(_with_bad_camera(700.0, scale_arcsec=None))
    assert sol.status == "solved" and sol.excluded == (), sol.residuals_arcsec
    assert sol.quality is not None and any("AMS4 residuals" in r and "assumed" in r for r in sol.quality.reasons)


def test_solutions_carry_their_quality() -> None:
    doc, _ = observation_set_dict("ev_q2", meteor(), SITES[:2], 25.0, 20.0, np.random.default_rng(1))
    sol = solve_observation_set(parse_observation_set(doc))
    assert sol.quality is not None and sol.quality.ok and sol.to_json_dict()["quality"] == {"ok": True, "reasons": []}
    # a two-station event cannot drop its bad camera: it is flagged instead
    doc, _ = observation_set_dict("ev_q3", meteor(), SITES[:2], 25.0, 600.0, np.random.default_rng(1))
    sol = solve_observation_set(parse_observation_set(doc))
    assert sol.status == "solved" and sol.quality is not None and not sol.quality.ok
    assert any("residuals" in r for r in sol.quality.reasons), sol.quality


def test_a_slow_grazing_object_is_flagged() -> None:
    m = TrueMeteor.from_geodetic(51.5, 0.5, 100e3, 60.0, 45.0, 7_000.0, 2.0, EPOCH)
    doc, _ = observation_set_dict("ev_q4", m, SITES, 25.0, 10.0, np.random.default_rng(2))
    sol = solve_observation_set(parse_observation_set(doc))
    assert sol.quality is not None and any("initial speed 7.0 km/s" in r for r in sol.quality.reasons), sol.quality


GMN_2023 = Path(__file__).resolve().parents[2] / "shared" / "data" / "gmn-uk-2023-02-18"
if not GMN_2023.exists():  # CI clones main with shared/ beside the clone
    GMN_2023 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gmn-uk-2023-02-18"


@pytest.fixture(scope="module")
def night_2023() -> Any:
    """The 2023-02-18 night's events as `ams correlate` makes them (clocks measured and applied)."""
    from ams_actors.commands.correlate import correlate_events, measure_clocks, observation_sets, read_detections
    from ams_actors.commands.rms_input import load_stations

    if not GMN_2023.exists():
        pytest.skip("GMN 2023-02-18 data not available")
    stations = load_stations(GMN_2023)
    det = read_detections(GMN_2023, stations)
    clocks = {s: c.error_s for s, c in measure_clocks(det, stations, 30.0).items()}
    events = correlate_events(det, stations, 5.0, clocks)
    return {o.event_id: o for o in observation_sets(events, det, stations, clocks)}


def _event(night: Any, prefix: str) -> Any:
    (obs,) = [o for eid, o in night.items() if eid.startswith(prefix)]
    return obs


def test_a_real_camera_at_two_pixels_is_dropped_from_an_eight_station_event(night_2023: Any) -> None:
    """2023-02-18 21:46:19, 8 stations: UK000S's residuals were 479″ = 2.1 px (229″/px) and it was kept,
    the others being ~50-150″; now it is left out and the solve is good."""
    obs = _event(night_2023, "20230218_2146")
    assert len(obs.observations) == 8
    sol = solve_observation_set(obs)
    assert sol.status == "solved" and sol.excluded == ("UK000S",), sol.residuals_arcsec
    assert sol.quality is not None and sol.quality.ok, sol.quality


def test_a_joint_fit_whose_speed_runs_away_is_not_kept(night_2023: Any) -> None:
    """2023-02-19 02:22:25, 3 stations, 14 points in 0.2 s: the joint refinement drove the exponential
    model's deceleration to zero and v_init to 3.6e19 km/s; the staged fit is kept instead."""
    sol = solve_observation_set(_event(night_2023, "20230219_0222"))
    assert sol.status == "solved" and sol.v_init_m_s is not None
    assert 30_000 < sol.v_init_m_s < 100_000, sol.v_init_m_s
    # the verdict follows the physical speed rule: the staged fit's exponential v_init was 84 km/s
    # (flagged); averaged over the speed models by evidence (issue 13 item 5) it is ~67 km/s with a
    # bound retrograde orbit, a fast meteor like many: not flagged
    assert sol.quality is not None
    too_fast = sol.v_init_m_s > 75_000
    assert sol.quality.ok is not too_fast, (sol.v_init_m_s, sol.quality)
    assert too_fast == any("initial speed" in r for r in sol.quality.reasons)


def test_our_meteor_json_carries_its_camera_plate_scale_into_the_observation_set() -> None:
    """The Verifier's report names the pixel scale it measured with; the solver then judges our own
    cameras' residuals in their own pixels instead of an assumed RMS-like 150″/px."""
    from protocols.observation_build import Site as BuildSite
    from protocols.observation_build import observation_from_meteor

    frames = [{"t_utc": f"2026-07-12T22:15:06.{i * 40:03d}Z", "az": 75.0 + 0.1 * i, "el": 20.0 - 0.1 * i}
              for i in range(6)]
    doc = {"station": "AMS1", "camera": "010001", "frames": frames, "report": {"pixel_scale_deg": 0.14}}
    site = BuildSite(51.87, 0.92, 21.0)
    assert observation_from_meteor(doc, site).pixel_scale_arcsec == pytest.approx(504.0)
    for bad in (None, "0.14", -1.0, float("nan"), True):
        assert observation_from_meteor(dict(doc, report={"pixel_scale_deg": bad}), site).pixel_scale_arcsec is None
    assert observation_from_meteor({k: v for k, v in doc.items() if k != "report"}, site).pixel_scale_arcsec is None
