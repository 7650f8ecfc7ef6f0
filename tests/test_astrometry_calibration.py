"""Calibration from stars on rendered stacks: the simulator's star field through a known true camera,
with noise, fitted from a guess 3° and 5 % off (issue 4, "Measured")."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree

from ams_actors.data import load_star_table
from ams_actors.kernels.astrometry import CameraModel, Lens, calibrate_stars, detect_stars
from ams_actors.kernels.geo import angle_between_deg
from ams_actors.sim.reference_cameras import UK002F, UK009M
from ams_actors.sim.starfield import render_star_stack, star_pixels

CASES = {
    "uk002f-east": (
        UK002F,
        datetime(2026, 7, 12, 22, 15, 0, tzinfo=UTC),
        (135.0, 3.0, 1.05),  # guess: 3° off towards lower right, scale +5 %
    ),
    "uk009m-south-high": (
        UK009M,
        datetime(2026, 1, 15, 3, 0, 0, tzinfo=UTC),
        (300.0, 3.0, 0.95),
    ),
}


def _guess(true: CameraModel, direction_deg: float, offset_deg: float, scale_factor: float) -> CameraModel:
    """A distortion-free guess whose image centre looks ``offset_deg`` away from the true one (towards
    ``direction_deg``, 0 = up, 90 = right along the horizon), roll +1°, scale × ``scale_factor``."""
    from ams_actors.kernels.geo import enu_to_azel

    c = true.center_enu()
    up = np.array([0.0, 0.0, 1.0]) - c[2] * c
    up /= np.linalg.norm(up)
    right = np.cross(c, up)
    a, o = np.radians(direction_deg), np.radians(offset_deg)
    b = np.cos(o) * c + np.sin(o) * (np.cos(a) * up + np.sin(a) * right)
    az, el = enu_to_azel(b)
    return replace(
        true,
        az=float(az),
        el=float(el),
        roll=true.roll + 1.0,
        scale=true.scale * scale_factor,
        lens=Lens(width=true.width, height=true.height, kind="radial-odd"),
    )


@pytest.fixture(scope="module")
def table():  # type: ignore[no-untyped-def]
    return load_star_table()


@pytest.mark.parametrize("case", sorted(CASES))
def test_recovers_true_calibration_from_rendered_stack(case: str, table) -> None:  # type: ignore[no-untyped-def]
    true, t0, (direction, offset, sf) = CASES[case]
    image = render_star_stack(true, t0, catalog=table, rng=np.random.default_rng(7), n_steps=3)
    t_mid = t0 + timedelta(seconds=30)
    guess = _guess(true, direction, offset, sf)
    off = float(angle_between_deg(guess.center_enu(), true.center_enu()))
    assert 2.95 < off < 3.05  # the guess really is 3° off

    detected = detect_stars(image)
    fit = calibrate_stars(detected, guess, table, t_mid, mag_limit=5.5)

    pointing_err = float(angle_between_deg(fit.camera.center_enu(), true.center_enu()))
    assert pointing_err < 0.05
    assert fit.rms_px <= 0.5
    assert fit.n_matched >= 60
    # the whole frame, not just the centre: the fitted lens follows the true one to < 1.5 px anywhere
    x, y = np.meshgrid(np.linspace(0, true.width - 1, 17), np.linspace(0, true.height - 1, 9))
    err_px = angle_between_deg(fit.camera.pixel_to_enu(x, y), true.pixel_to_enu(x, y)) * true.scale
    assert err_px.max() < 1.5, err_px.max()


def test_detected_centroids_are_subpixel(table) -> None:  # type: ignore[no-untyped-def]
    true, t0, _ = CASES["uk002f-east"]
    image = render_star_stack(true, t0, catalog=table, rng=np.random.default_rng(3), n_steps=3)
    hot = [(40, 100), (200, 500), (300, 50)]  # (row, col) hot pixels: not stars
    for r, c in hot:
        image[r, c] = 250
    det = detect_stars(image)
    for r, c in hot:
        assert np.hypot(det.x - c, det.y - r).min() > 1.5
    truth = star_pixels(true, t0 + timedelta(seconds=30), catalog=table, mag_limit=5.5)
    d, _ = cKDTree(np.c_[truth.x, truth.y]).query(np.c_[det.x, det.y])
    assert len(det) > 80
    assert np.median(d) < 0.25 and np.mean(d < 1.0) > 0.95
    # brighter stars give more flux
    assert np.corrcoef(np.log(det.flux[:30]), np.arange(30))[0, 1] < 0


def test_garbage_image_fails_cleanly(table) -> None:  # type: ignore[no-untyped-def]
    from ams_actors.kernels.astrometry import CalibrationFailed

    true, t0, _ = CASES["uk002f-east"]
    noise = np.random.default_rng(0).normal(20, 3, (360, 640)).clip(0, 255).astype(np.uint8)
    with pytest.raises(CalibrationFailed):
        calibrate_stars(detect_stars(noise), true, table, t0)


def test_star_table_is_shipped_and_sane(table) -> None:  # type: ignore[no-untyped-def]
    assert 9000 < len(table) < 9110
    i = int(np.argmin(table.vmag))  # Sirius
    assert table.vmag[i] == pytest.approx(-1.46) and table.ra_deg[i] == pytest.approx(101.2871, abs=1e-3)
    from ams_actors import data

    assert (Path(data.__file__).parent / data.STAR_TABLE).stat().st_size < 300_000


def test_star_source_for_the_video_renderer(table) -> None:  # type: ignore[no-untyped-def]
    from ams_actors.sim.starfield import star_source

    true, t0, _ = CASES["uk002f-east"]
    src = star_source(true, t0, catalog=table, mag_limit=5.0)
    a, b = src(0.0), src(60.0)
    assert a.shape[1] == 3 and len(a) > 50 and np.all(a[:, 2] <= 5.0)
    # stars drift with the sky: ~15″/s → ~2 px per minute at 7.85 px/°
    d, _ = cKDTree(b[:, :2]).query(a[:, :2])
    assert 0.5 < np.median(d) < 3.0


def test_mask_hides_stars(table) -> None:  # type: ignore[no-untyped-def]
    true, t0, _ = CASES["uk002f-east"]
    image = render_star_stack(true, t0, catalog=table, rng=np.random.default_rng(4), n_steps=1)
    mask = np.zeros(image.shape, dtype=bool)
    mask[:, :320] = True
    det = detect_stars(image, mask=mask)
    assert len(det) > 30 and det.x.min() > 318
