"""The grading's geometry rule: a meteor flying in the plane through its stations is not an expected event."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from ams_actors.kernels import geo
from ams_actors.kernels.correlate import CorrelationParams
from ams_actors.sim.grading import best_convergence_deg
from ams_actors.sim.trajectories import TrueMeteor
from ams_actors.sim.world import SimMeteor

EPOCH = datetime(2026, 8, 12, 22, 0, tzinfo=UTC)
LAT, LON = 51.0, -1.0
HALF_BASE_M = 25_000.0
DLON = math.degrees(HALF_BASE_M / (6_371_000.0 * math.cos(math.radians(LAT))))
STATIONS = [geo.geodetic_to_ecef(LAT, LON - DLON, 0.0), geo.geodetic_to_ecef(LAT, LON + DLON, 0.0)]


def meteor_over_midpoint(heading_from_az: float) -> SimMeteor:
    m = TrueMeteor.from_geodetic(LAT, LON, 100_000.0, heading_from_az, 0.0, 40_000.0, 1.0, EPOCH)
    return SimMeteor("M0001", m, 100_000.0, 100_000.0)


def test_a_meteor_along_the_baseline_cannot_be_placed() -> None:
    """Flying east above the midpoint of an east-west pair, the meteor lies in the plane through both
    stations: the two planes coincide (up to the Earth's curvature), below the correlator's minimum."""
    conv = best_convergence_deg(meteor_over_midpoint(270.0), STATIONS)
    assert conv < 0.1
    assert conv < CorrelationParams().min_convergence_deg


def test_a_meteor_across_the_baseline_converges_at_the_angle_it_subtends() -> None:
    """Flying north above the midpoint, each plane holds its station and the line 100 km up: the planes
    meet at the angle the 50-km baseline subtends from the line, 2·atan(25/100) = 28.07°."""
    conv = best_convergence_deg(meteor_over_midpoint(180.0), STATIONS)
    assert abs(conv - math.degrees(2 * math.atan(HALF_BASE_M / 100_000.0))) < 0.5
    # a third station on the baseline adds nothing for the along-baseline meteor
    third = geo.geodetic_to_ecef(LAT, LON + 2 * DLON, 0.0)
    assert best_convergence_deg(meteor_over_midpoint(270.0), [*STATIONS, third]) < 0.3  # curvature: 75 km out
