"""The simulated world: stations with cameras, and meteors with true 3D trajectories (the truth).

Meteors follow design.md §8: begin 80–120 km, end 60–95 km, 11–72 km/s, straight lines with a
radiant from anywhere above 15°, spread over the night and over the network's sky so that many are
seen by two or more stations. Each is a body slowed by the air and ablating (sim/ablation.py; ``ams
sim``'s default) or, with ``physical=False``, half of them decelerate by the exponential lag.
Everything is drawn from one seeded generator: the same seed gives the same world, so a report can be
reproduced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from ams_actors.sim.ablation import ablating_meteor, random_meteoroid
from ams_actors.sim.trajectories import TrueMeteor

NIGHT_START = datetime(2026, 7, 12, 22, 0, tzinfo=UTC)  # the simulated night (all modes, benchmarks)


@dataclass(frozen=True, slots=True)
class SimCamera:
    id: str
    az_deg: float
    el_deg: float
    fov_h_deg: float = 90.0
    rotation_deg: float = 0.0


@dataclass(frozen=True, slots=True)
class SimStation:
    id: str
    lat: float
    lon: float
    alt_m: float
    cameras: tuple[SimCamera, ...]
    clock_skew_s: float = 0.0


@dataclass(frozen=True, slots=True)
class SimMeteor:
    key: str  # truth id, e.g. "M0007"
    meteor: TrueMeteor
    begin_alt_m: float
    end_alt_m: float


@dataclass(slots=True)
class World:
    start: datetime
    minutes: float
    stations: tuple[SimStation, ...]
    meteors: tuple[SimMeteor, ...]
    extras: dict[str, int] = field(default_factory=dict)


def station_positions(n: int, lat0: float, lon0: float, spacing_km: float) -> list[tuple[float, float]]:
    """Stations on a ring (plus the centre from 4 on), `spacing_km` apart: overlapping skies."""
    out: list[tuple[float, float]] = []
    ring = n if n < 4 else n - 1
    radius_km = spacing_km / (2 * math.sin(math.pi / ring)) if ring > 1 else 0.0
    if n >= 4:
        out.append((lat0, lon0))
    for i in range(ring):
        a = 2 * math.pi * i / ring
        out.append(_offset(lat0, lon0, radius_km * math.cos(a), radius_km * math.sin(a)))
    return out


def grid_positions(n: int, lat0: float, lon0: float, spacing_km: float) -> list[tuple[float, float]]:
    """A square grid for large networks (network mode with 20–100 stations)."""
    side = math.ceil(math.sqrt(n))
    out = []
    for k in range(n):
        i, j = divmod(k, side)
        out.append(_offset(lat0, lon0, (i - (side - 1) / 2) * spacing_km, (j - (side - 1) / 2) * spacing_km))
    return out


def _offset(lat0: float, lon0: float, north_km: float, east_km: float) -> tuple[float, float]:
    return lat0 + north_km / 111.2, lon0 + east_km / (111.2 * math.cos(math.radians(lat0)))


def make_stations(
    n: int, cameras: int, lat0: float, lon0: float, spacing_km: float, rng: np.random.Generator
) -> tuple[SimStation, ...]:
    positions = station_positions(n, lat0, lon0, spacing_km) if n <= 12 else grid_positions(n, lat0, lon0, spacing_km)
    stations = []
    for i, (lat, lon) in enumerate(positions):
        base = float(rng.uniform(0, 360))
        cams = tuple(
            SimCamera(
                id=f"{10001 + k:06d}",
                az_deg=round((base + k * 360.0 / cameras) % 360.0, 2),
                el_deg=round(float(rng.uniform(35, 50)), 2),
                fov_h_deg=round(float(rng.uniform(85, 100)), 2),
                rotation_deg=round(float(rng.uniform(-3, 3)), 2),
            )
            for k in range(cameras)
        )
        stations.append(SimStation(f"SIM{i + 1:02d}", round(lat, 5), round(lon, 5), 50.0 + 10 * i, cams))
    return tuple(stations)


def make_meteors(
    count: int, start: datetime, minutes: float, lat0: float, lon0: float, radius_km: float, rng: np.random.Generator,
    *, physical: bool = False,
) -> tuple[SimMeteor, ...]:
    """`count` meteors over the network, at random times between the 1st and the last minute.

    ``physical``: each meteor is a body (sim/ablation.py) slowed by the air and ablating until it is
    gone; its end height and duration follow from that instead of being drawn."""
    out = []
    for k in range(count):
        epoch = start + timedelta(seconds=float(rng.uniform(60.0, max(61.0, minutes * 60.0 - 60.0))))
        r = radius_km * math.sqrt(rng.uniform(0, 1))
        a = rng.uniform(0, 2 * math.pi)
        lat, lon = _offset(lat0, lon0, r * math.cos(a), r * math.sin(a))
        begin_alt = float(rng.uniform(80e3, 120e3))
        end_alt = float(rng.uniform(60e3, min(95e3, begin_alt - 8e3)))
        entry_el = float(rng.uniform(15, 75))
        speed = float(rng.uniform(11e3, 72e3))
        length = (begin_alt - end_alt) / math.sin(math.radians(entry_el))
        duration = length / speed
        if duration > 3.0:  # keep 0.2–3 s: shorten the visible path (it burns out sooner)
            duration = 3.0
        if duration < 0.25:
            duration = 0.25
            end_alt = begin_alt - speed * duration * math.sin(math.radians(entry_el))
        if physical:
            meteor = _ablating(lat, lon, begin_alt, float(rng.uniform(0, 360)), entry_el, speed, epoch, rng)
            duration = meteor.duration_s
        else:
            a1 = a2 = 0.0
            if rng.random() < 0.5:  # half of them decelerate (exponential lag), losing 5-20% of their speed
                a2 = float(rng.uniform(2.0, 6.0))
                a1 = TrueMeteor.decel_for_speed_loss(speed, duration, float(rng.uniform(0.05, 0.2)), a2)
            meteor = TrueMeteor.from_geodetic(
                lat, lon, begin_alt, float(rng.uniform(0, 360)), entry_el, speed, duration, epoch, a1, a2
            )
        _, _, end_h = meteor.geodetic(duration)
        out.append(SimMeteor(f"M{k:04d}", meteor, begin_alt, float(end_h)))
    out.sort(key=lambda m: m.meteor.epoch)
    return tuple(out)


def _ablating(lat: float, lon: float, alt_m: float, az: float, el: float, speed: float, epoch: datetime,
              rng: np.random.Generator) -> TrueMeteor:
    """A body that stays luminous 0.25–3 s (a lighter one is drawn again, as a camera would miss it)."""
    for _ in range(19):
        meteor, _track = ablating_meteor(lat, lon, alt_m, az, el, speed, random_meteoroid(rng), epoch, t_max_s=3.0)
        if meteor.duration_s >= 0.25:
            return meteor
    return ablating_meteor(lat, lon, alt_m, az, el, speed, random_meteoroid(rng), epoch, t_max_s=3.0)[0]
