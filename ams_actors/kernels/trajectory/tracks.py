"""Observation set → flat numpy arrays in the solver frame, with the checks that make a set unsolvable.

All stations' points go into one set of (N,) / (N, 3) arrays with integer labels, so every later step
is one vectorized expression instead of a loop over stations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

from ams_actors.kernels.geo import azel_to_ecef_dir, geodetic_to_ecef
from ams_actors.kernels.trajectory.frames import ecef_to_inertial
from protocols.observations import ObservationSet

Float = NDArray[np.float64]
Int = NDArray[np.int64]

#: Observations closer than this are one viewpoint (two cameras of one station see no parallax).
SAME_PLACE_M = 50.0
MIN_POINTS = 3


class SolveFailed(Exception):
    """The data cannot give a trajectory; ``str(err)`` is the Solution's ``reason``.

    ``convergence_deg`` is set when the geometry was measured before the failure."""

    def __init__(self, reason: str, convergence_deg: float | None = None) -> None:
        super().__init__(reason)
        self.convergence_deg = convergence_deg


@dataclass(frozen=True, slots=True)
class Tracks:
    """Every observed point of an event.

    ``t`` is seconds after ``epoch`` on each station's own clock; ``cam`` labels the observation
    (one camera track: its own noise level) and ``clock`` the station (cameras of a station share a
    clock, so they share a timing offset). ``pos``/``los`` are the station position and unit line of
    sight in the t0-frozen inertial frame, built with ``t`` corrected by ``clock_offsets``.
    """

    epoch: datetime
    t: Float
    cam: Int
    clock: Int
    pos: Float
    los: Float
    cam_names: tuple[str, ...]
    clock_names: tuple[str, ...]
    cam_ecef: Float  # (C, 3) Earth-fixed station position of each observation
    cam_geo: Float  # (C, 3) lat, lon, alt_m
    los_ecef: Float  # (N, 3) unit line of sight, Earth-fixed
    clock_offsets: Float  # (K,) seconds added to each clock's times

    @property
    def n_cams(self) -> int:
        return len(self.cam_names)

    @property
    def n_clocks(self) -> int:
        return len(self.clock_names)

    def with_clock_offsets(self, offsets: Float) -> Tracks:
        """The same data re-rotated into the inertial frame with corrected times.

        A 0.2 s clock error turns a station 90 m too far in the inertial frame; after the timing fit
        has measured the offsets, this removes that bias from the geometry.
        """
        t_true = self.t + offsets[self.clock]
        pos = ecef_to_inertial(self.cam_ecef[self.cam], t_true)
        los = ecef_to_inertial(self.los_ecef, t_true)
        return Tracks(
            self.epoch, self.t, self.cam, self.clock, pos, los, self.cam_names, self.clock_names,
            self.cam_ecef, self.cam_geo, self.los_ecef, np.asarray(offsets, float),
        )

    def select(self, keep: NDArray[np.bool_]) -> Tracks:
        """Only the points in ``keep`` (labels and station tables unchanged)."""
        return Tracks(
            self.epoch, self.t[keep], self.cam[keep], self.clock[keep], self.pos[keep], self.los[keep],
            self.cam_names, self.clock_names, self.cam_ecef, self.cam_geo, self.los_ecef[keep],
            self.clock_offsets,
        )


def build_tracks(obs_set: ObservationSet) -> Tracks:
    """Validate and convert; raises :class:`SolveFailed` with a reason a person can act on."""
    observations = obs_set.observations
    if len(observations) == 0:
        raise SolveFailed("no observations")
    epoch = min(o.t_ref_utc for o in observations)
    names = [o.station_id for o in observations]
    cam_names = tuple(
        f"{o.station_id}:{o.camera_id}" if names.count(o.station_id) > 1 else o.station_id for o in observations
    )
    if len(set(cam_names)) != len(cam_names):
        raise SolveFailed("the same station and camera appear twice")
    clock_names = tuple(dict.fromkeys(names))

    ts, azs, els, cams, clocks = [], [], [], [], []
    geo = np.empty((len(observations), 3))
    for k, o in enumerate(observations):
        label = f"observations[{k}] ({cam_names[k]})"
        t = np.asarray(o.times, float)
        az = np.asarray(o.azimuths, float)
        el = np.asarray(o.elevations, float)
        for what, arr in (("times", t), ("azimuths", az), ("elevations", el)):
            if not np.all(np.isfinite(arr)):
                raise SolveFailed(f"{label}: {what} contain NaN or infinite values")
        if not all(np.isfinite([o.lat, o.lon, o.alt_m])):
            raise SolveFailed(f"{label}: station coordinates are not finite")
        if not -90.0 <= o.lat <= 90.0:
            raise SolveFailed(f"{label}: station lat {o.lat:g} is out of range (-90..90 deg)")
        if not -20000.0 < o.alt_m < 100000.0:
            raise SolveFailed(f"{label}: station alt_m {o.alt_m:g} is out of range (-20000..100000 m)")
        if np.any(np.abs(el) > 90.0):
            raise SolveFailed(f"{label}: elevations outside [-90, 90] deg")
        if len(t) < MIN_POINTS:
            raise SolveFailed(f"{label}: {len(t)} points, at least {MIN_POINTS} needed")
        if np.any(np.diff(t) <= 0.0):
            raise SolveFailed(f"{label}: times are not strictly increasing")
        shift = (o.t_ref_utc - epoch).total_seconds()
        ts.append(t + shift)
        azs.append(az)
        els.append(el)
        cams.append(np.full(len(t), k))
        clocks.append(np.full(len(t), clock_names.index(o.station_id)))
        geo[k] = (o.lat, o.lon, o.alt_m)

    cam_ecef = geodetic_to_ecef(geo[:, 0], geo[:, 1], geo[:, 2])
    if len(observations) < 2:
        raise SolveFailed(f"only one station ({cam_names[0]}): at least two are needed")
    sep = np.linalg.norm(cam_ecef[:, None, :] - cam_ecef[None, :, :], axis=-1)
    if np.all(sep < SAME_PLACE_M):
        raise SolveFailed("all stations are at one place: no baseline to triangulate from")

    cam = np.concatenate(cams)
    los_ecef = np.concatenate(
        [azel_to_ecef_dir(a, e, g[0], g[1]) for a, e, g in zip(azs, els, geo, strict=True)]
    )
    base = Tracks(
        epoch=epoch, t=np.concatenate(ts), cam=cam, clock=np.concatenate(clocks),
        pos=np.empty((0, 3)), los=np.empty((0, 3)), cam_names=cam_names, clock_names=clock_names,
        cam_ecef=cam_ecef, cam_geo=geo, los_ecef=los_ecef, clock_offsets=np.zeros(len(clock_names)),
    )
    return base.with_clock_offsets(np.zeros(len(clock_names)))
