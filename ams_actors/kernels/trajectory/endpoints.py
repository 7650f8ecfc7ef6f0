"""The begin and end points' uncertainty: the line's share, plus one sight line's own.

The published begin (end) is where the first (last) observed sight line meets the fitted line, so
its error has two parts: the line's error at that place (the line's own noise and, through the joint
fit, the speed model's pull), and that one sight line's own noise, which slides the point along the
line by range × angular noise / sin(angle between sight line and trajectory) (fit.along_track_sigma).

Monte Carlo measures the first part well: where the observed sight line meets every run's line
(:func:`line_ends`). It measured the second badly: each run redrew the one point from the ~10
residuals of its camera, so the sigma's size hung on a handful of draws: on the solver bench's
tuning seeds begin heights were within 1/2 sigma 62 %/93 % of the time (each part alone about
right). So the sight line's share is added in closed form (:func:`point_sigmas`); only the line's
share comes from the runs. Its noise level is the camera's astrometric one, which the fit weighs its
points by (from the cross-track residuals), or the camera's along-track residual scale where that is
larger: on real cameras a moving meteor's centroid can be worse along its streak than across it, and
the residuals cannot tell that apart from timing scatter, so the sigma errs wide there.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from ams_actors.kernels.trajectory.fit import TrajectoryFit, along_track_sigma
from ams_actors.kernels.trajectory.planes import project_lengths
from ams_actors.kernels.trajectory.quantities import QUANTITIES, geodetic_at

Float = NDArray[np.float64]

_SLOTS = {"begin": ("begin.lat", "begin.lon", "begin.alt_m"), "end": ("end.lat", "end.lon", "end.alt_m")}


def _first_last(fit: TrajectoryFit) -> tuple[int, int]:
    idx = np.flatnonzero(fit.inlier)
    return int(idx[np.argmin(fit.tau[idx])]), int(idx[np.argmax(fit.tau[idx])])


def line_ends(run: TrajectoryFit, nominal: TrajectoryFit) -> TrajectoryFit:
    """``run`` with begin and end where the nominal's first and last *observed* sight lines meet the
    run's line: the line's share alone. Not the run's own (redrawn) sight lines, whose one-point
    noise is added in closed form instead, nor its speed model's point at those times, which would
    bring in the model's length error (the const and exp fits part most at the track's end: an end
    sigma 3× larger on a real 4-station event) that a sight line's meeting with the line does not have."""
    first, last = _first_last(nominal)
    tr = nominal.tracks
    along = project_lengths(run.line, tr.pos[[first, last]], tr.los[[first, last]])
    d = run.line.direction
    return replace(run, begin=run.line.point + along[0] * d, end=run.line.point + along[1] * d)


def point_sigmas(fit: TrajectoryFit, noise_cam: Float) -> Float:
    """Per QUANTITIES entry, the sigma that the first/last sight line's own noise (``noise_cam``: rad,
    per camera, along the track) gives begin/end (lat, lon in degrees, alt in m; 0 elsewhere)."""
    tr = fit.tracks
    sig_l = along_track_sigma(fit.line, tr.pos, tr.los, fit.lengths, noise_cam[tr.cam])
    out = np.zeros(len(QUANTITIES))
    first, last = _first_last(fit)
    for key, point, k, t in (("begin", fit.begin, first, fit.t_begin), ("end", fit.end, last, fit.t_end)):
        moved = np.subtract(geodetic_at(point + sig_l[k] * fit.line.direction, t), geodetic_at(point, t))
        moved[1] = (moved[1] + 180.0) % 360.0 - 180.0
        for name, value in zip(_SLOTS[key], np.abs(moved), strict=True):
            out[QUANTITIES.index(name)] = value
    return out
