"""A station clock seconds off (issue 13: Winchcombe's RMS record) is aligned before the fine fit,
not mistaken for a station that saw something else (kernels/trajectory/align.py)."""

from __future__ import annotations

import numpy as np
import pytest
from test_trajectory import event, meteor, truth_in_solver_frame

from ams_actors.kernels.geo import angle_between_deg
from ams_actors.kernels.trajectory import solve_observation_set_detailed
from ams_actors.kernels.trajectory.align import coarse_clock_offsets


@pytest.mark.parametrize("offset_s", [5.0, 10.0, -8.0])
def test_a_clock_seconds_off_is_found_and_the_station_kept(offset_s: float) -> None:
    """Before align.py: +5 s and +10 s dropped AMS2 as a bad member, −8 s gave v_init 194 m/s."""
    m = meteor()
    obs = event(m, clock_offsets_s=[0.0, offset_s, 0.0])
    r = solve_observation_set_detailed(obs)
    sol = r.solution
    assert sol.status == "solved", sol.reason
    assert not sol.excluded and set(sol.stations) == {"AMS1", "AMS2", "AMS3"}
    off = sol.timing_offsets_s
    assert off["AMS2"] - off["AMS1"] == pytest.approx(-offset_s, abs=0.01)
    assert sol.v_init_m_s == pytest.approx(30000.0, rel=1e-3)
    assert r.fit is not None
    _, direction = truth_in_solver_frame(m, obs)
    assert float(angle_between_deg(r.fit.line.direction, direction)) < 1e-3
    assert max(sol.residuals_arcsec.values()) < 1.0


def test_coarse_offsets_from_lengths_alone() -> None:
    """Three stations on one length-vs-time curve, two with their stamps shifted: both shifts found."""
    rng = np.random.default_rng(3)
    true_t = [np.sort(rng.uniform(a, b, 40)) for a, b in ((0.0, 2.0), (0.5, 2.5), (1.0, 1.8))]
    shift = np.array([0.0, 7.0, -4.0])
    t = np.concatenate([tt + shift[k] for k, tt in enumerate(true_t)])
    clock = np.concatenate([np.full(len(tt), k) for k, tt in enumerate(true_t)])
    lengths = 20e3 * np.concatenate(true_t) - 1.5e3 * np.concatenate(true_t) ** 2
    off = coarse_clock_offsets(t, clock, 3, lengths, ref=0)
    assert off == pytest.approx(-shift, abs=0.02)
