"""Physical deceleration of simulated meteors (issue 13 item 8): the US76 table, the ablation
equations as integrated, and meteors that fly them."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from ams_actors.sim.ablation import (
    GAMMA_A,
    US76_DENSITY,
    US76_HEIGHT_KM,
    Meteoroid,
    ablating_meteor,
    air_density,
)
from ams_actors.sim.trajectories import observe
from ams_actors.sim.world import NIGHT_START, make_meteors

EPOCH = datetime(2026, 7, 12, 22, 30, tzinfo=UTC)
BODY = Meteoroid(mass_kg=1e-4, density_kg_m3=2000.0, sigma_s2_m2=0.02e-6)


def test_density_is_the_table_and_log_linear_between() -> None:
    assert np.allclose(air_density(US76_HEIGHT_KM * 1000.0), US76_DENSITY, rtol=1e-12)
    mid = 0.5 * (US76_HEIGHT_KM[:-1] + US76_HEIGHT_KM[1:]) * 1000.0
    assert np.allclose(air_density(mid), np.sqrt(US76_DENSITY[:-1] * US76_DENSITY[1:]), rtol=1e-12)
    h = np.linspace(0.0, 200e3, 400)
    assert np.all(np.diff(air_density(h)) < 0)


def test_track_obeys_the_drag_and_ablation_equations() -> None:
    meteor, tr = ablating_meteor(45.0, 10.0, 110e3, 90.0, 45.0, 30e3, BODY, EPOCH)
    assert 0.3 < tr.t[-1] < 3.0 and tr.mass[-1] < 0.01 * BODY.mass_kg  # burnt out, not cut off
    # the mass–speed integral of dm = σ m v dv
    expect = BODY.mass_kg * np.exp(BODY.sigma_s2_m2 * (tr.speed**2 - tr.speed[0] ** 2) / 2.0)
    assert np.allclose(tr.mass, expect, rtol=1e-4)
    # the drag law, by finite differences where the body is still heavy
    k = slice(10, len(tr.t) // 2)
    dv = np.gradient(tr.speed, tr.t)[k]
    drag = -GAMMA_A * air_density(tr.height_m[k]) * tr.speed[k] ** 2 / (
        tr.mass[k] ** (1 / 3) * BODY.density_kg_m3 ** (2 / 3))
    assert np.allclose(dv, drag, rtol=2e-3)
    # the meteor flies it: length' = speed, and the air's grip grows as it descends
    t = np.linspace(0.0, meteor.duration_s, 200)
    assert np.allclose(np.gradient(meteor.length(t), t)[1:-1], meteor.speed(t)[1:-1], rtol=1e-3)
    third = len(t) // 3
    loss = meteor.speed(t[:-1]) - meteor.speed(t[1:])
    assert loss[-third:].sum() > 10 * loss[:third].sum() > 0


def test_a_station_sees_the_ablating_meteor() -> None:
    meteor, tr = ablating_meteor(45.0, 10.0, 110e3, 90.0, 45.0, 30e3, BODY, EPOCH)
    track = observe(meteor, 45.0, 9.3, 100.0, 25.0, 0.0, np.random.default_rng(3))
    assert len(track) >= 0.9 * meteor.duration_s * 25.0
    assert meteor.geodetic(meteor.duration_s)[2] == pytest.approx(tr.height_m[-1], abs=50.0)


def test_world_of_physical_meteors() -> None:
    a = make_meteors(12, NIGHT_START, 30.0, 51.5, 0.0, 100.0, np.random.default_rng(5), physical=True)
    b = make_meteors(12, NIGHT_START, 30.0, 51.5, 0.0, 100.0, np.random.default_rng(5), physical=True)
    assert [m.end_alt_m for m in a] == [m.end_alt_m for m in b]  # one seed, one world
    for m in a:
        assert 0.25 <= m.meteor.duration_s <= 3.0 and m.end_alt_m < m.begin_alt_m
        assert m.meteor.profile is not None
