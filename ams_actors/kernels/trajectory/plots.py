"""Diagnostic figures of a fit: where it was, how well each station agrees, how it slowed down.

Figures are built on matplotlib's object API (no pyplot, no global backend state) and returned, not
saved: the caller decides where files go. matplotlib is imported here only, so the solver itself
never pays for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ams_actors.kernels.geo import ecef_to_geodetic
from ams_actors.kernels.trajectory.fit import ARCSEC, TrajectoryFit
from ams_actors.kernels.trajectory.frames import inertial_to_ecef

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _figure(title: str) -> tuple[Figure, Axes]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_title(title)
    return fig, ax


def ground_track_figure(fit: TrajectoryFit, title: str = "") -> Figure:
    fig, ax = _figure(title or "stations and ground track")
    tr = fit.tracks
    lengths = np.linspace(
        float(fit.lengths[fit.inlier].min()), float(fit.lengths[fit.inlier].max()), 50
    )
    # time at each length from the fitted lengths: only needed for the (tiny) Earth rotation
    times = np.interp(lengths, np.sort(fit.lengths[fit.inlier]), np.sort(fit.tau[fit.inlier])) + fit.timing.t_b
    pts = inertial_to_ecef(fit.line.point + lengths[:, None] * fit.line.direction, times)
    lat, lon, alt = ecef_to_geodetic(pts)
    ax.plot(lon, lat, "-", color="tab:red", lw=2, label="ground track")
    ax.plot(lon[0], lat[0], "o", color="tab:red")
    ax.annotate(f"{alt[0] / 1000:.1f} km", (lon[0], lat[0]), fontsize=8)
    ax.annotate(f"{alt[-1] / 1000:.1f} km", (lon[-1], lat[-1]), fontsize=8)
    for c, name in enumerate(tr.cam_names):
        ax.plot(tr.cam_geo[c, 1], tr.cam_geo[c, 0], "^", color="tab:blue")
        ax.annotate(name, (tr.cam_geo[c, 1], tr.cam_geo[c, 0]), fontsize=8, xytext=(3, 3),
                    textcoords="offset points")
    ax.set_xlabel("longitude (deg E)")
    ax.set_ylabel("latitude (deg N)")
    ax.set_aspect(1.0 / max(np.cos(np.radians(float(np.mean(lat)))), 0.1))
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def residuals_figure(fit: TrajectoryFit, title: str = "") -> Figure:
    fig, ax = _figure(title or "cross-track residuals")
    tr = fit.tracks
    for c, name in enumerate(tr.cam_names):
        sel = tr.cam == c
        good = sel & fit.inlier
        bad = sel & ~fit.inlier
        line = ax.plot(fit.tau[good], fit.cross_track[good] / ARCSEC, ".", label=name)[0]
        if bad.any():
            ax.plot(fit.tau[bad], fit.cross_track[bad] / ARCSEC, "x", color=line.get_color())
    ax.axhline(0.0, color="k", lw=0.5)
    ax.set_xlabel("time (s, on the reference station clock)")
    ax.set_ylabel("residual (arcsec); x = rejected")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def length_lag_figure(fit: TrajectoryFit, title: str = "") -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 7), dpi=100)
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.add_subplot(2, 1, 1), fig.add_subplot(2, 1, 2, sharex=None)
    ax1.set_title(title or f"length and lag (model: {fit.timing.model})")
    tr = fit.tracks
    tm = fit.timing
    first_len = tm.length(np.array([fit.tau.min()]))[0]
    tt = np.linspace(float(fit.tau[fit.inlier].min()), float(fit.tau[fit.inlier].max()), 200)
    for c, name in enumerate(tr.cam_names):
        sel = (tr.cam == c) & fit.inlier
        lag = fit.lengths[sel] - (tm.l0 + tm.v * fit.tau[sel])
        ax1.plot(fit.tau[sel], (fit.lengths[sel] - first_len) / 1000.0, ".", label=name)
        ax2.plot(fit.tau[sel], lag, ".", label=name)
    ax1.plot(tt, (tm.length(tt) - first_len) / 1000.0, "k-", lw=0.8, label="model")
    ax2.plot(tt, tm.length(tt) - (tm.l0 + tm.v * tt), "k-", lw=0.8, label="model")
    ax1.set_ylabel("length (km)")
    ax2.set_ylabel("lag behind v_init (m)")
    ax2.set_xlabel("time (s, on the reference station clock)")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    return fig


def all_figures(fit: TrajectoryFit, event_id: str) -> dict[str, Figure]:
    """File stem → figure, for ``ams solve --plot``."""
    return {
        f"{event_id}_map": ground_track_figure(fit, f"{event_id}: stations and ground track"),
        f"{event_id}_residuals": residuals_figure(fit, f"{event_id}: cross-track residuals"),
        f"{event_id}_length_lag": length_lag_figure(fit, f"{event_id}: length and lag ({fit.timing.model})"),
    }
