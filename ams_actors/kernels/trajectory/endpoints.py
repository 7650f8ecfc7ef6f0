"""The begin and end points' uncertainty: the line's and speed model's share, plus one sight line's own.

The published begin (end) is where the first (last) observed sight line meets the fitted line, so
its error has two parts: the line's (and, through the joint fit, the speed model's) error at that
place, and that one sight line's own noise, which slides the point along the line by
range × angular noise / sin(angle between sight line and trajectory) (fit.along_track_sigma).

Monte Carlo measures the first part well: every run's line and model at the first point's time.
It measured the second badly: each run redrew the one point from the ~10 residuals of its camera, so
the sigma's size hung on a handful of draws, and it drew the along-track residuals, which carry the
timing's scatter (jitter, the speed model's misfit) while the point's place does not depend on its
time at all. On the solver bench's tuning seeds (2–6, 389 events) begin heights were within 1/2
sigma 62 %/93 % of the time although each part alone was about right. So the runs give the line's
share (:func:`model_ends`) and the sight line's share is added in closed form
(:func:`point_sigmas`), from the camera's astrometric noise level that the fit itself weighs that
point by.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from ams_actors.kernels.trajectory.fit import TrajectoryFit, along_track_sigma
from ams_actors.kernels.trajectory.quantities import QUANTITIES, geodetic_at

Float = NDArray[np.float64]

_SLOTS = {"begin": ("begin.lat", "begin.lon", "begin.alt_m"), "end": ("end.lat", "end.lon", "end.alt_m")}


def _first_last(fit: TrajectoryFit) -> tuple[int, int]:
    idx = np.flatnonzero(fit.inlier)
    return int(idx[np.argmin(fit.tau[idx])]), int(idx[np.argmax(fit.tau[idx])])


def model_ends(fit: TrajectoryFit) -> TrajectoryFit:
    """``fit`` with begin and end moved to where its line and speed model put the first and last
    points (at their times), instead of where those points' own sight lines meet the line."""
    first, last = _first_last(fit)
    along = fit.timing.length(fit.tau[[first, last]])
    d = fit.line.direction
    return replace(fit, begin=fit.line.point + along[0] * d, end=fit.line.point + along[1] * d)


def point_sigmas(fit: TrajectoryFit) -> Float:
    """Per QUANTITIES entry, the sigma that the first/last sight line's own noise gives begin/end
    (lat, lon in degrees, alt in m; 0 for every other quantity)."""
    tr = fit.tracks
    sig_l = along_track_sigma(fit.line, tr.pos, tr.los, fit.lengths, fit.sigma_cam[tr.cam])
    out = np.zeros(len(QUANTITIES))
    first, last = _first_last(fit)
    for key, point, k, t in (("begin", fit.begin, first, fit.t_begin), ("end", fit.end, last, fit.t_end)):
        moved = np.subtract(geodetic_at(point + sig_l[k] * fit.line.direction, t), geodetic_at(point, t))
        moved[1] = (moved[1] + 180.0) % 360.0 - 180.0
        for name, value in zip(_SLOTS[key], np.abs(moved), strict=True):
            out[QUANTITIES.index(name)] = value
    return out
