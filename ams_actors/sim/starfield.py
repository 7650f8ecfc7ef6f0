"""The simulated night sky: where the catalog stars fall in a camera at a given time, and a noisy
one-minute max-pixel stack of them.

The video renderer calls :func:`star_pixels` per frame (or per minute: stars move < 0.25″ per frame) to
draw stars into clips of a camera with a known true calibration; the calibration tests feed
:func:`render_star_stack` to the star calibration and check that it recovers that truth. Both go
through the same physics as the real calibration (:mod:`ams_actors.kernels.astrometry.catalog`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import numpy as np
from numpy.typing import NDArray

from ams_actors.kernels.astrometry.camera import CameraModel
from ams_actors.kernels.astrometry.catalog import ProjectedStars, StarTable, project_stars
from ams_actors.kernels.astrometry.frames import TimeLike, as_time

__all__ = ["ProjectedStars", "render_star_stack", "star_peak_dn", "star_pixels", "star_source"]


def _catalog(catalog: StarTable | None) -> StarTable:
    if catalog is not None:
        return catalog
    from ams_actors.data import load_star_table

    return load_star_table()


def star_pixels(
    camera: CameraModel,
    t_utc: TimeLike,
    catalog: StarTable | None = None,
    mag_limit: float = 6.5,
    min_el_deg: float = 0.0,
) -> ProjectedStars:
    """Catalog stars visible in ``camera`` at ``t_utc``: ``.x``, ``.y`` (pixels), ``.vmag``, ``.az``/``.el``.

    Pixels follow the model's convention: x = column, y = row, the centre of pixel [i, j] is (x=j, y=i).
    """
    return project_stars(camera, _catalog(catalog), t_utc, mag_limit=mag_limit, min_el_deg=min_el_deg)


def star_source(
    camera: CameraModel,
    clip_start_utc: TimeLike,
    catalog: StarTable | None = None,
    mag_limit: float = 6.5,
) -> Callable[[float], NDArray[np.float64]]:
    """A ``Scene.stars`` callable for the video renderer: seconds into the clip → (N, 3) x, y, V mag."""
    cat = _catalog(catalog)
    t0 = as_time(clip_start_utc)
    frame = camera.frame(t0)

    def stars_at(t_s: float) -> NDArray[np.float64]:
        p = project_stars(camera, cat, t0 + timedelta(seconds=float(t_s)), mag_limit=mag_limit, frame=frame)
        return np.column_stack([p.x, p.y, p.vmag])

    return stars_at


def star_peak_dn(vmag: NDArray[np.float64], mag_at_255: float = 1.0) -> NDArray[np.float64]:
    """Peak brightness (DN above background) of a star: 255 at ``mag_at_255``, ×0.4 dex per magnitude."""
    return 255.0 * 10.0 ** (-0.4 * (np.asarray(vmag, dtype=float) - mag_at_255))


def render_star_stack(
    camera: CameraModel,
    t_start_utc: TimeLike,
    duration_s: float = 60.0,
    catalog: StarTable | None = None,
    rng: np.random.Generator | None = None,
    mag_limit: float = 6.0,
    mag_at_255: float = 1.0,
    psf_sigma_px: float = 0.9,
    background_dn: float = 18.0,
    noise_dn: float = 2.5,
    n_steps: int = 7,
) -> NDArray[np.uint8]:
    """A (height, width) uint8 max-pixel stack of one minute of sky (stars trail with the Earth)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    cat = _catalog(catalog)
    t0 = as_time(t_start_utc)
    h, w = camera.height, camera.width
    stack = np.zeros((h, w), dtype=np.float64)
    half = int(np.ceil(4 * psf_sigma_px))
    offs = np.arange(-half, half + 1)
    frame = camera.frame(t0 + timedelta(seconds=duration_s / 2))
    for k in range(n_steps):
        t = t0 + timedelta(seconds=duration_s * (k + 0.5) / n_steps)
        stars = project_stars(camera, cat, t, mag_limit=mag_limit, margin_px=half, frame=frame)
        amp = star_peak_dn(stars.vmag, mag_at_255)
        # pixel (row i, column j) has its centre at (x, y) = (j, i), as in RMS, OpenCV and numpy
        cols = np.rint(stars.x).astype(int)[:, None] + offs[None, :]  # (n, K)
        rows = np.rint(stars.y).astype(int)[:, None] + offs[None, :]
        gx = np.exp(-0.5 * ((cols - stars.x[:, None]) / psf_sigma_px) ** 2)
        gy = np.exp(-0.5 * ((rows - stars.y[:, None]) / psf_sigma_px) ** 2)
        val = amp[:, None, None] * gy[:, :, None] * gx[:, None, :]  # (n, K, K)
        rr = np.broadcast_to(rows[:, :, None], val.shape)
        cc = np.broadcast_to(cols[:, None, :], val.shape)
        ok = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
        flat = np.zeros(h * w, dtype=np.float64)
        np.add.at(flat, rr[ok] * w + cc[ok], val[ok])
        img = flat.reshape(h, w)
        np.maximum(stack, img, out=stack)
    # a max-pixel stack lifts the background to the maximum of the noise over the frames
    noisy = background_dn + stack + rng.normal(0.0, noise_dn, size=(h, w))
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
