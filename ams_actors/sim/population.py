"""The meteor population of the harder test sets, shaped by real GMN detections.

Fitted by scripts/sim/fit_meteor_population.py on the RMS FTPdetectinfo files of two GMN UK nights
(/work/shared/data/gmn-uk-2026-07-12 and gmn-uk-2023-02-18: 23 files, 394 meteors). Real cameras
see mostly slow, short meteors (median 10 °/s, 0.26 s); the benchmark needs the fast tail too, so a
share of meteors is drawn uniformly from a fast range on top of the fitted log-normal.
"""

from __future__ import annotations

import numpy as np

from ams_actors.sim.scene import DEFAULT_PIXEL_SCALE_DEG, Meteor

# log-normal (mu, sigma) of ln(angular speed in °/s): percentiles 5/50/95 = 3.8 / 10.0 / 25.2 °/s
GMN_SPEED_LN = (2.302, 0.587)
# log-normal (mu, sigma) of ln(duration in s): percentiles 5/50/95 = 0.12 / 0.26 / 0.84 s
GMN_DURATION_LN = (-1.248, 0.641)
# normal (mean, std) of the peak magnitude as RMS measured it (percentiles 5/50/95 = -0.2 / 1.25 / 2.5)
GMN_PEAK_MAG = (1.23, 0.83)


def sample_meteor(
    rng: np.random.Generator,
    *,
    t0: float,
    width: int = 640,
    height: int = 360,
    pixel_scale_deg: float = DEFAULT_PIXEL_SCALE_DEG,
    fast_share: float = 0.3,
    fast_deg_s: tuple[float, float] = (20.0, 70.0),
    amp_at_median_mag: float = 60.0,
    max_duration_s: float = 3.0,
    edge_share: float = 0.3,
) -> Meteor:
    """One meteor from the fitted population (plus a ``fast_share`` from ``fast_deg_s``).

    Brightness: the GMN peak-magnitude spread is kept and its median is put at ``amp_at_median_mag`` DN
    (our cameras are less sensitive than RMS's, so only the spread transfers). A share ``edge_share``
    of the meteors start or end outside the frame (the truth then records only frames in view).
    """
    fast = rng.random() < fast_share
    if fast:
        speed_deg = rng.uniform(*fast_deg_s)
    else:
        speed_deg = float(np.clip(rng.lognormal(*GMN_SPEED_LN), 1.5, 70.0))
    dur = float(np.clip(rng.lognormal(*GMN_DURATION_LN), 0.4 if fast else 0.12, max_duration_s))
    mag = rng.normal(*GMN_PEAK_MAG)
    amp = amp_at_median_mag * 10 ** (-0.4 * (mag - GMN_PEAK_MAG[0]))
    if fast:
        # assumption, not fitted: the fast tail is brighter (light ∝ a power of speed) and lasts ≥ 0.4 s, else
        # motion blur over the exposure would leave almost none of it in the benchmark's 5σ-in-6-frames population
        amp *= speed_deg / 20.0
    amp = float(np.clip(amp, 6.0, 600.0))
    speed = speed_deg / pixel_scale_deg
    ang = rng.uniform(0, 2 * np.pi)
    vx, vy = speed * np.cos(ang), speed * np.sin(ang)
    dx, dy = vx * dur, vy * dur
    if rng.random() < edge_share:
        # the path's midpoint lies within a few px of an edge: it enters or leaves the frame
        side = int(rng.integers(0, 4))
        mx = [rng.uniform(-5, 5), width - 1 + rng.uniform(-5, 5)][side % 2] if side < 2 else rng.uniform(0, width)
        my = rng.uniform(0, height) if side < 2 else [rng.uniform(-5, 5), height - 1 + rng.uniform(-5, 5)][side % 2]
        x0, y0 = mx - dx / 2, my - dy / 2
    else:
        m = 12.0
        x0 = rng.uniform(m + max(0.0, -dx), max(m + max(0.0, -dx), width - m - max(0.0, dx)))
        y0 = rng.uniform(m + max(0.0, -dy), max(m + max(0.0, -dy), height - m - max(0.0, dy)))
    return Meteor(t0=t0, duration=dur, x0=float(x0), y0=float(y0), vx=float(vx), vy=float(vy), amp=amp,
                  sigma=float(rng.uniform(0.8, 1.2)), peak_at=float(rng.uniform(0.4, 0.8)))
