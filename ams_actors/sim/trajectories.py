"""True meteor trajectories and what stations see of them: the ground truth for solver tests,
the solver benchmark and the network simulator.

A meteor flies a straight line in the inertial frame whose axes are the Earth-fixed (ITRS) axes at
the meteor's epoch (see kernels/trajectory/frames.py); stations rotate with the Earth under it. Speed
is constant, follows the exponential-lag (Jacchia) deceleration
``L(t) = v_init·t − a1·(exp(a2·t) − 1 − a2·t)``, whose speed at t = 0 is v_init, or a tabulated
flight from the ablation equations (sim/ablation.py: a speed profile that is not the solver's model). Gravity, light
travel time and refraction are not modelled (sub-frame or sub-noise for 25 fps, ≥ 30″ cameras).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ams_actors.kernels.geo import (
    azel_to_ecef_dir,
    ecef_dir_to_azel,
    ecef_to_geodetic,
    geodetic_to_ecef,
)
from ams_actors.kernels.trajectory.frames import ecef_to_inertial, inertial_to_ecef
from protocols.observations import format_utc

Float = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class TrueMeteor:
    """``begin``: inertial position (m) at t = 0; ``direction``: unit vector of motion."""

    begin: Float
    direction: Float
    v_init_m_s: float
    duration_s: float
    epoch: datetime
    decel_a1_m: float = 0.0
    decel_a2_per_s: float = 0.0
    # a tabulated flight (sim/ablation.py): time (s), length along the path (m), speed (m/s)
    profile: tuple[Float, Float, Float] | None = None

    def with_profile(self, t_s: Float, length_m: Float, speed_m_s: Float) -> TrueMeteor:
        """This meteor flying a tabulated length and speed instead of the exponential lag."""
        return TrueMeteor(self.begin, self.direction, float(speed_m_s[0]), self.duration_s, self.epoch,
                          profile=(np.asarray(t_s, float), np.asarray(length_m, float),
                                   np.asarray(speed_m_s, float)))

    @classmethod
    def from_geodetic(
        cls,
        lat: float,
        lon: float,
        alt_m: float,
        radiant_az_deg: float,
        radiant_el_deg: float,
        v_init_m_s: float,
        duration_s: float,
        epoch: datetime,
        decel_a1_m: float = 0.0,
        decel_a2_per_s: float = 0.0,
    ) -> TrueMeteor:
        """Begin point by lat/lon/alt; it comes *from* (radiant_az, radiant_el) as seen at the begin point."""
        begin = geodetic_to_ecef(lat, lon, alt_m)
        direction = -azel_to_ecef_dir(radiant_az_deg, radiant_el_deg, lat, lon)
        return cls(begin, direction / np.linalg.norm(direction), v_init_m_s, duration_s, epoch,
                   decel_a1_m, decel_a2_per_s)

    @staticmethod
    def decel_for_speed_loss(v_init_m_s: float, duration_s: float, loss_fraction: float,
                             a2_per_s: float) -> float:
        """a1 that makes the speed drop by ``loss_fraction`` of v_init over the duration."""
        return loss_fraction * v_init_m_s / (a2_per_s * math.expm1(a2_per_s * duration_s))

    def length(self, t_s: Float) -> Float:
        t = np.asarray(t_s, float)
        if self.profile is not None:
            return np.asarray(np.interp(t, self.profile[0], self.profile[1]), dtype=np.float64)
        out = self.v_init_m_s * t
        if self.decel_a1_m > 0.0:
            out = out - self.decel_a1_m * (np.expm1(self.decel_a2_per_s * t) - self.decel_a2_per_s * t)
        return out

    def speed(self, t_s: Float) -> Float:
        t = np.asarray(t_s, float)
        if self.profile is not None:
            return np.asarray(np.interp(t, self.profile[0], self.profile[2]), dtype=np.float64)
        v = np.full_like(t, self.v_init_m_s)
        if self.decel_a1_m > 0.0:
            v = v - self.decel_a1_m * self.decel_a2_per_s * np.expm1(self.decel_a2_per_s * t)
        return v

    def position(self, t_s: Float) -> Float:
        """(N, 3) inertial positions."""
        return self.begin + self.length(t_s)[..., None] * self.direction

    def geodetic(self, t_s: float) -> tuple[float, float, float]:
        ecef = inertial_to_ecef(self.position(np.array([t_s])), np.array([t_s]))[0]
        lat, lon, alt = ecef_to_geodetic(ecef)
        return float(lat), float(lon), float(alt)

    def line_in_frame(self, epoch: datetime) -> tuple[Float, Float]:
        """(begin, direction) on the axes of the Earth-fixed frame at ``epoch`` — the solver's frame
        when ``epoch`` is the observation set's earliest t_ref_utc."""
        dt = np.array([(epoch - self.epoch).total_seconds()])
        begin = inertial_to_ecef(self.begin[None, :], dt)[0]
        direction = inertial_to_ecef(self.direction[None, :], dt)[0]
        return begin, direction

    def distance_from_line_m(self, points: Float) -> Float:
        """Perpendicular distance of inertial points (this meteor's frame) from the true line."""
        rel = np.atleast_2d(points) - self.begin
        return np.linalg.norm(rel - (rel @ self.direction)[:, None] * self.direction, axis=1)


@dataclass(frozen=True, slots=True)
class SimTrack:
    """One station's view: times on the station clock relative to ``t_ref_utc``; true az/el (deg)."""

    t_ref_utc: datetime
    times: Float
    azimuths: Float
    elevations: Float
    true_t: Float  # s after the meteor epoch (true time) of each point
    outlier: NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.times)


def _perturb(dirs: Float, angle_rad: Float, rng: np.random.Generator, gaussian: bool) -> Float:
    helper = np.where(np.abs(dirs[:, :1]) < 0.9, np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]]))
    e1 = np.cross(dirs, helper)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(dirs, e1)
    if gaussian:
        k = rng.standard_normal((len(dirs), 2)) * angle_rad[:, None]
    else:  # exactly angle_rad, random position angle
        pa = rng.uniform(0.0, 2.0 * np.pi, len(dirs))
        k = np.stack([np.cos(pa), np.sin(pa)], axis=1) * angle_rad[:, None]
    out = dirs + k[:, :1] * e1 + k[:, 1:] * e2
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def observe(
    meteor: TrueMeteor,
    lat: float,
    lon: float,
    alt_m: float,
    fps: float,
    noise_arcsec: float,
    rng: np.random.Generator,
    clock_offset_s: float = 0.0,
    *,
    min_elevation_deg: float = 0.0,
    window_s: tuple[float, float] | None = None,
    outlier_fraction: float = 0.0,
    outlier_deg: tuple[float, float] = (0.3, 1.0),
) -> SimTrack:
    """Frames at ``fps`` (random phase) while the meteor is above ``min_elevation_deg``.

    ``clock_offset_s``: the station clock reads true time + offset. ``window_s``: only this part of
    the flight (true seconds) is recorded, e.g. a camera whose field of view cuts the meteor.
    ``noise_arcsec``: Gaussian, per axis. ``outlier_fraction`` of the points are moved by an angle
    drawn uniformly from ``outlier_deg`` in a random direction. May return an empty track.
    """
    t0 = rng.uniform(0.0, 1.0 / fps)
    t = np.arange(t0, meteor.duration_s, 1.0 / fps)
    if window_s is not None:
        t = t[(t >= window_s[0]) & (t <= window_s[1])]
    station = geodetic_to_ecef(lat, lon, alt_m)
    station_i = ecef_to_inertial(np.broadcast_to(station, (len(t), 3)), t)
    los_i = meteor.position(t) - station_i
    los_e = inertial_to_ecef(los_i, t)
    los_e /= np.linalg.norm(los_e, axis=1, keepdims=True)
    if noise_arcsec > 0 and len(t):
        los_e = _perturb(los_e, np.full(len(t), np.radians(noise_arcsec / 3600.0)), rng, gaussian=True)
    outlier = np.zeros(len(t), dtype=bool)
    if outlier_fraction > 0 and len(t):
        outlier = rng.random(len(t)) < outlier_fraction
        if outlier.any():
            ang = np.radians(rng.uniform(outlier_deg[0], outlier_deg[1], int(outlier.sum())))
            los_e[outlier] = _perturb(los_e[outlier], ang, rng, gaussian=False)
    az, el = ecef_dir_to_azel(los_e, lat, lon)
    visible = el >= min_elevation_deg
    t, az, el, outlier = t[visible], az[visible], el[visible], outlier[visible]
    clock = t + clock_offset_s
    first = float(clock[0]) if len(clock) else 0.0
    # t_ref on a whole microsecond, as a station would write it.
    t_ref = meteor.epoch + timedelta(microseconds=round(first * 1e6))
    rel = clock - (t_ref - meteor.epoch).total_seconds()
    return SimTrack(t_ref, rel, az, el, t, outlier)


@dataclass(frozen=True, slots=True)
class Site:
    station_id: str
    lat: float
    lon: float
    alt_m: float
    camera_id: str = "010001"


def observation_set_dict(
    event_id: str,
    meteor: TrueMeteor,
    sites: list[Site],
    fps: float,
    noise_arcsec: float,
    rng: np.random.Generator,
    clock_offsets_s: list[float] | None = None,
    **observe_kwargs: Any,
) -> tuple[dict[str, Any], list[SimTrack]]:
    """A §7 Observation set document of ``meteor`` seen from ``sites`` (sites seeing < 3 points are
    left out), with the tracks behind it in the same order."""
    entries, tracks = [], []
    for k, site in enumerate(sites):
        offset = clock_offsets_s[k] if clock_offsets_s is not None else 0.0
        track = observe(meteor, site.lat, site.lon, site.alt_m, fps, noise_arcsec, rng, offset, **observe_kwargs)
        if len(track) < 3:
            continue
        entries.append(observation_dict(site.station_id, site.lat, site.lon, site.alt_m, track, site.camera_id))
        tracks.append(track)
    return {"event_id": event_id, "observations": entries}, tracks


def observation_dict(
    station_id: str, lat: float, lon: float, alt_m: float, track: SimTrack, camera_id: str = "010001"
) -> dict[str, Any]:
    """One §7 Observation set entry for a simulated track."""
    return {
        "station_id": station_id,
        "camera_id": camera_id,
        "lat": lat,
        "lon": lon,
        "alt_m": alt_m,
        "t_ref_utc": format_utc(track.t_ref_utc),
        "times": [round(float(x), 6) for x in track.times],
        "azimuths": [float(x) for x in track.azimuths],
        "elevations": [float(x) for x in track.elevations],
    }
