"""The geometric and kinematic fit of one event: planes → robust LOS fit → timing → refinement.

Outliers are rejected twice, because a displaced point is displaced in two directions: across the
trajectory (the line-of-sight fit sees it) and along it (only the timing fit sees it). Clock offsets
found by the timing fit are fed back into the geometry (a station with a wrong clock is also rotated
to the wrong place in the inertial frame) and the line refitted once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ams_actors.kernels.trajectory.align import coarse_clock_offsets, needs_alignment
from ams_actors.kernels.trajectory.joint import fit_joint
from ams_actors.kernels.trajectory.los import cross_track, fit_line
from ams_actors.kernels.trajectory.planes import Line, PlanesResult, intersecting_planes, project_lengths
from ams_actors.kernels.trajectory.timing import TimingFit, allowed_models, bic_weights, fit_timing, timing_candidates
from ams_actors.kernels.trajectory.tracks import SolveFailed, Tracks
from ams_actors.kernels.trajectory.vinit import early_window, robust_v_init, v_first

Float = NDArray[np.float64]
Bool = NDArray[np.bool_]

ARCSEC = np.pi / 180.0 / 3600.0
#: Floor for a camera's noise level: nothing measures better, and it keeps weights finite.
SIGMA_FLOOR = 2.0 * ARCSEC
SIGMA_START = 60.0 * ARCSEC
#: Reject points further than this many robust sigmas from the fit.
REJECT_K = 4.0
#: Per camera: at most this fraction rejected, at least MIN_KEEP points kept.
MAX_REJECT = 0.25
MIN_KEEP = 4
#: Largest cross-track χ² increase the joint refinement may cost (4 extra constraints at most: a
#: 99.9 % χ²(4) bound is 18.5).
JOINT_MAX_CHI2_RISE = 20.0
#: Below this many points a camera's own noise estimate is not trusted alone.
FEW_POINTS = 10


@dataclass(frozen=True, slots=True)
class TrajectoryFit:
    """The nominal fit, in the t0-frozen inertial frame (see frames.py)."""

    tracks: Tracks  # with clock offsets applied to the geometry
    line: Line
    timing: TimingFit
    inlier: Bool  # (N,)
    sigma_cam: Float  # (C,) rad, each camera's cross-track noise
    cross_track: Float  # (N,) rad
    lengths: Float  # (N,) m along the line from ``line.point``
    tau: Float  # (N,) s since the first observed time, clocks corrected
    begin: Float  # inertial position of the first observed point projected on the line
    end: Float
    t_begin: float  # s after the epoch, corrected
    t_end: float
    v_init: float
    v_avg: float
    planes: PlanesResult
    #: the line's direction before the joint refinement, which does not depend on the speed model
    #: (systematics.py: how far the model pulled the line is part of the radiant's uncertainty)
    staged_direction: Float
    #: the early part of the track (fraction of its duration) v_init was taken from (vinit.py)
    vinit_window: float = 1.0

    def residual_rms_arcsec(self) -> Float:
        out = np.full(self.tracks.n_cams, np.nan)
        for c in range(self.tracks.n_cams):
            sel = self.inlier & (self.tracks.cam == c)
            if sel.any():
                out[c] = float(np.sqrt(np.mean(self.cross_track[sel] ** 2))) / ARCSEC
        return out


def robust_sigma(r: Float) -> float:
    """Scale of zero-mean residuals that a few gross outliers cannot inflate (MAD about zero)."""
    return float(1.4826 * np.median(np.abs(r))) if len(r) else float("nan")


def _cam_sigma(resid: Float, cam: NDArray[np.int64], n_cams: int, fallback: Float) -> Float:
    """Each camera's noise; a camera with few points borrows the pooled value as a lower bound,
    because a MAD of five residuals can be arbitrarily small and would reject good points."""
    out = fallback.copy()
    pooled = max(robust_sigma(resid), SIGMA_FLOOR)
    for c in range(n_cams):
        sel = cam == c
        n = int(sel.sum())
        if n >= 3:
            own = max(robust_sigma(resid[sel]), SIGMA_FLOOR)
            out[c] = own if n >= FEW_POINTS else max(own, pooled)
    return out


def _limit_rejection(score: Float, keep: Bool, cam: NDArray[np.int64], n_cams: int) -> Bool:
    """Points of ``keep`` with ``score`` > 1 are rejected (points already out stay out); but never
    more than MAX_REJECT of a camera's points in all, nor below MIN_KEEP points: beyond that the
    "outliers" are more likely a bad model than bad points."""
    out = keep & (score <= 1.0)
    for c in range(n_cams):
        sel = np.flatnonzero(cam == c)
        n = len(sel)
        allowed = min(int(MAX_REJECT * n), max(n - MIN_KEEP, 0)) - int((~keep[sel]).sum())
        new_bad = sel[keep[sel] & ~out[sel]]
        if len(new_bad) > max(allowed, 0):
            out[new_bad] = True
            if allowed > 0:
                out[new_bad[np.argsort(-score[new_bad])][:allowed]] = False
    return out


def along_track_sigma(line: Line, pos: Float, los: Float, lengths: Float, sigma: Float) -> Float:
    """Length uncertainty of each projected point: an angular error across the line of sight moves
    the point along the trajectory by range × angle / sin(angle between sight line and trajectory)."""
    ranges = np.linalg.norm(line.point + lengths[:, None] * line.direction - pos, axis=1)
    sin_g = np.sqrt(np.maximum(1.0 - (los @ line.direction) ** 2, 1e-6))
    return ranges * sigma / sin_g


def _los_pass(tracks: Tracks, start: Line, keep: Bool, sigma_cam: Float, robust: bool) -> tuple[Line, Float]:
    sel = tracks.select(keep)
    fit = fit_line(start, sel.pos, sel.los, sigma_cam[sel.cam], robust=robust)
    return fit.line, cross_track(fit.line, tracks.pos, tracks.los)


def _timing_pass(
    tracks: Tracks, line: Line, keep: Bool, sigma_cam: Float,
    models: tuple[tuple[str, bool], ...] | None, robust: bool = False,
) -> tuple[TimingFit, Float, Float]:
    lengths = project_lengths(line, tracks.pos, tracks.los)
    sig_l = along_track_sigma(line, tracks.pos, tracks.los, lengths, sigma_cam[tracks.cam])
    timing = fit_timing(
        tracks.t[keep], tracks.clock[keep], tracks.n_clocks, lengths[keep], sig_l[keep],
        models=models, robust=robust,
    )
    return timing, lengths, sig_l


#: A joint fit whose initial speed is more than this many times the staged fit's has diverged.
JOINT_MAX_SPEEDUP = 2.0


def _joint_pass(tracks: Tracks, line: Line, timing: TimingFit, keep: Bool, sigma: Float, ct: Float
                ) -> tuple[Line, TimingFit, Float, Float] | None:
    """The joint refinement, or None when it bends the line away from the sight lines.

    The joint fit trusts the timing model; when the model is wrong (a clock offset the data were too
    short to fit, a deceleration unlike the model) it buys timing agreement with cross-track misfit.
    A cross-track χ² rise beyond what a few extra constraints cost flags that, and the staged line
    (which does not depend on timing) is kept.
    """
    j_line, j_timing, _ = fit_joint(line, timing, tracks.t[keep], tracks.clock[keep], tracks.pos[keep],
                                    tracks.los[keep], sigma[tracks.cam[keep]])
    j_ct = cross_track(j_line, tracks.pos, tracks.los)
    w = 1.0 / sigma[tracks.cam[keep]]
    rise = float(np.sum((j_ct[keep] * w) ** 2) - np.sum((ct[keep] * w) ** 2))
    if not np.isfinite(rise) or rise > JOINT_MAX_CHI2_RISE:
        return None
    if not 0.0 < j_timing.v <= JOINT_MAX_SPEEDUP * abs(timing.v):
        return None  # the speed ran away (v traded against a vanishing deceleration: 3.6e19 km/s seen)
    return j_line, j_timing, project_lengths(j_line, tracks.pos, tracks.los), j_ct


def _cross_track_stage(tracks: Tracks, start: Line) -> tuple[Line, Float, Bool, Float]:
    """Robust line-of-sight fit, then iterated noise levels and rejection: line, cross-track, keep, sigma."""
    n = len(tracks.t)
    keep = np.ones(n, dtype=bool)
    sigma = np.full(tracks.n_cams, SIGMA_START)
    line, ct = _los_pass(tracks, start, keep, sigma, robust=True)
    for _ in range(3):
        sigma = _cam_sigma(ct[keep], tracks.cam[keep], tracks.n_cams, sigma)
        new_keep = _limit_rejection(
            np.abs(ct) / (REJECT_K * sigma[tracks.cam]), np.ones(n, dtype=bool), tracks.cam, tracks.n_cams
        )
        line, ct = _los_pass(tracks, line, new_keep, sigma, robust=False)
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    return line, ct, keep, sigma


#: Rounds of coarse clock alignment (each re-fits the line with the clocks found so far).
ALIGN_ROUNDS = 3


def _align_clocks(tracks: Tracks) -> tuple[Tracks, PlanesResult, Line, Float, Bool, Float]:
    """The cross-track stage, repeated with coarse clock offsets while any clock is seconds off."""
    planes = intersecting_planes(tracks)
    line, ct, keep, sigma = _cross_track_stage(tracks, planes.line)
    if tracks.n_clocks < 2:
        return tracks, planes, line, ct, keep, sigma
    ref = int(np.bincount(tracks.clock, minlength=tracks.n_clocks).argmax())
    for _ in range(ALIGN_ROUNDS):
        lengths = project_lengths(line, tracks.pos, tracks.los)
        coarse = coarse_clock_offsets(tracks.t, tracks.clock, tracks.n_clocks, lengths, ref)
        if not needs_alignment(coarse, tracks.clock_offsets):
            break
        tracks = tracks.with_clock_offsets(coarse)
        planes = intersecting_planes(tracks)
        line, ct, keep, sigma = _cross_track_stage(tracks, planes.line)
    return tracks, planes, line, ct, keep, sigma


def fit_trajectory(tracks: Tracks, *, joint: bool = True) -> TrajectoryFit:
    """Nominal solve with outlier rejection and model choice (raises SolveFailed).

    ``joint=False`` stops after the staged fit (line of sight, then timing): for comparison only.
    """
    # 1. Cross-track: robust fit, then iterate noise levels and rejection; clocks seconds off are
    #    aligned first (align.py), so their stations are not mistaken for outliers.
    tracks, planes, line, ct, keep, sigma = _align_clocks(tracks)

    # 2. Along-track: the most flexible model finds the outliers, then the data pick the model.
    flexible = allowed_models(int(keep.sum()), len(np.unique(tracks.clock[keep])))[-1:]
    for _ in range(3):
        timing, lengths, sig_l = _timing_pass(tracks, line, keep, sigma, flexible, robust=True)
        r_all = (lengths - timing.length(timing.tau(tracks.t, tracks.clock))) / sig_l
        scale = max(robust_sigma(r_all[keep]), 1.0)
        new_keep = _limit_rejection(np.abs(r_all) / (REJECT_K * scale), keep, tracks.cam, tracks.n_cams)
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    _check_coverage(tracks, keep)
    timing, lengths, sig_l = _timing_pass(tracks, line, keep, sigma, None)

    # 3. Clock offsets back into the geometry, refit line and timing once.
    if timing.with_offsets and np.max(np.abs(timing.offsets)) > 1e-3:
        tracks = tracks.with_clock_offsets(timing.offsets)
        line, ct = _los_pass(tracks, line, keep, sigma, robust=False)
        timing2, lengths, sig_l = _timing_pass(tracks, line, keep, sigma, ((timing.model, True),))
        # Timing still fits the raw clocks; the geometry already used the first offsets.
        timing = timing2
    else:
        _, ct = _los_pass(tracks, line, keep, sigma, robust=False)
    staged = line.direction
    if joint:
        refined = _joint_pass(tracks, line, timing, keep, sigma, ct)
        if refined is not None:
            line, timing, lengths, ct = refined
    return _assemble(tracks, line, timing, keep, sigma, ct, lengths, planes, staged)


def refit(nominal: TrajectoryFit, los: Float, *, joint: bool = True,
          model: tuple[str, bool] | None = None) -> TrajectoryFit:
    """Re-solve with perturbed lines of sight, keeping the nominal's inliers and noise; the timing
    model is ``model`` (default: the nominal's).

    The Monte Carlo step: each run must be a plain least-squares re-solve, not a new outlier hunt,
    so its spread measures the measurement noise (and the model choice it is given) only.
    """
    tr = nominal.tracks
    tracks = Tracks(
        tr.epoch, tr.t, tr.cam, tr.clock, tr.pos, los, tr.cam_names, tr.clock_names, tr.cam_ecef,
        tr.cam_geo, tr.los_ecef, tr.clock_offsets,
    )
    keep = nominal.inlier
    line, ct = _los_pass(tracks, nominal.line, keep, nominal.sigma_cam, robust=False)
    models = (model or (nominal.timing.model, nominal.timing.with_offsets),)
    timing, lengths, _ = _timing_pass(tracks, line, keep, nominal.sigma_cam, models)
    staged = line.direction
    if joint:
        refined = _joint_pass(tracks, line, timing, keep, nominal.sigma_cam, ct)
        if refined is not None:
            line, timing, lengths, ct = refined
    # The runs' data follow the nominal model's shape (the bootstrap is drawn around its prediction),
    # so cutting them to the window leaves them at the model's v: the window's v_init stands apart
    # from its model by the shape error, which every run keeps as the nominal's (its spread is the
    # truncation share in systematics.py).
    shift = 0.0
    if nominal.vinit_window < 1.0:
        shift = nominal.v_init - v_first(nominal.timing, tr.t[keep], tr.clock[keep])
    return _assemble(tracks, line, timing, keep, nominal.sigma_cam, ct, lengths, nominal.planes, staged,
                     average=False, window=nominal.vinit_window, v_shift=shift)


def model_weights(nominal: TrajectoryFit) -> tuple[tuple[tuple[str, bool], ...], Float]:
    """The timing models the nominal's data support and their BIC weights (for the Monte Carlo).

    The nominal keeps only the best model; when another is nearly as likely, the speed it gives is
    as much part of the uncertainty as the noise is. Flat-lag fits keep their weight here although
    v_init ignores them (vinit.py): where the data favour one, the speed is not known better than
    the difference between its extrapolation and the other models'.
    """
    tr, keep = nominal.tracks, nominal.inlier
    sig_l = along_track_sigma(nominal.line, tr.pos, tr.los, nominal.lengths, nominal.sigma_cam[tr.cam])
    fits = timing_candidates(tr.t[keep], tr.clock[keep], tr.n_clocks, nominal.lengths[keep], sig_l[keep])
    return tuple((f.model, f.with_offsets) for f in fits), bic_weights(fits)


def _check_coverage(tracks: Tracks, keep: Bool) -> None:
    cams_left = [c for c in range(tracks.n_cams) if (keep & (tracks.cam == c)).sum() >= 2]
    places = {tuple(np.round(tracks.cam_ecef[c] / 50.0)) for c in cams_left}
    if len(places) < 2:
        raise SolveFailed("after outlier rejection fewer than two stations keep enough points")


def _assemble(
    tracks: Tracks, line: Line, timing: TimingFit, keep: Bool, sigma: Float, ct: Float, lengths: Float,
    planes: PlanesResult, staged_direction: Float, *, average: bool = True, window: float | None = None,
    v_shift: float = 0.0,
) -> TrajectoryFit:
    tau = timing.tau(tracks.t, tracks.clock)
    idx = np.flatnonzero(keep)
    first = idx[np.argmin(tau[idx])]
    last = idx[np.argmax(tau[idx])]
    tau_b, tau_e = float(tau[first]), float(tau[last])
    sig_l = along_track_sigma(line, tracks.pos, tracks.los, lengths, sigma[tracks.cam])
    args = (tracks.t[keep], tracks.clock[keep], tracks.n_clocks, lengths[keep], sig_l[keep])
    if window is None:
        window = early_window(*args)
    v_init = robust_v_init(timing, *args, average=average, window=window) + v_shift
    v_avg = float((timing.length(np.array([tau_e])) - timing.length(np.array([tau_b])))[0] / (tau_e - tau_b))
    begin = line.point + lengths[first] * line.direction
    end = line.point + lengths[last] * line.direction
    if not (np.isfinite(v_init) and v_init > 0 and np.isfinite(v_avg) and v_avg > 0):
        raise SolveFailed(f"the timing fit gives no forward speed (v_init={v_init:.0f} m/s)")
    return TrajectoryFit(
        tracks, line, timing, keep, sigma, ct, lengths, tau, begin, end,
        tau_b + timing.t_b, tau_e + timing.t_b, v_init, v_avg, planes, staged_direction, window,
    )
