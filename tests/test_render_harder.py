"""Renderer options for the harder test sets (issue 15): new defaults change nothing; each option does
what it says in the decoded pixels."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ams_actors.kernels.video import iter_y
from ams_actors.sim.hard import hard_scene
from ams_actors.sim.population import sample_meteor
from ams_actors.sim.render import render_clip
from ams_actors.sim.scene import DEFAULT_PIXEL_SCALE_DEG, Insect, Meteor, Scene, random_scene, random_stars

# sha256 of the decoded Y planes of this scene, recorded with the renderer before the harder-sky options
# existed (commit 08faae7): the default render must stay bit-identical.
_DEFAULT_SHA = "b0f0231d9d977f9965cd9d6bf79f0eae9a6e943e59ea1a893dbba16ee4a29bd5"


def _frames(p: Path) -> dict[int, np.ndarray]:
    return {fn: y.astype(np.float32) for fn, y in iter_y(p)}


def test_default_render_unchanged(tmp_path: Path) -> None:
    sc = random_scene(7, duration=2.0, n_meteors=1, n_aircraft=1, n_satellites=1, n_flashes=2, cloud=True)
    p = tmp_path / "a.mp4"
    truth = render_clip(sc, p, threads=1, preset="ultrafast")
    h = hashlib.sha256()
    for _, y in iter_y(p):
        h.update(np.ascontiguousarray(y).tobytes())
    assert h.hexdigest() == _DEFAULT_SHA
    assert truth.meteors[0].fns[:3] == [13, 14, 15]


def _clean(**kw: object) -> Scene:
    return Scene(duration=1.0, noise=0.01, n_random_stars=0, gradient=(0.0, 0.0), sky=20.0, seed=5, **kw)  # type: ignore[arg-type]


def test_fast_meteor_light_is_spread_along_its_path_with_the_same_total(tmp_path: Path) -> None:
    # same light curve and amplitude; 5°/s vs 60°/s (≈ 17 px per 1/25 s exposure)
    slow = Meteor(t0=0.0, duration=1.0, x0=200.0, y0=180.0, vx=36.0, vy=0.0, amp=80.0, peak_at=0.5)
    fast = Meteor(t0=0.0, duration=1.0, x0=100.0, y0=180.0, vx=427.0, vy=0.0, amp=80.0, peak_at=0.5)
    sums, peaks, widths = [], [], []
    for m in (slow, fast):
        p = tmp_path / f"m{m.vx:.0f}.mp4"
        render_clip(_clean(meteors=(m,)), p, crf=0, threads=1)
        d = _frames(p)[12] - 20.0  # mid-exposure at 0.5 s: light curve near its peak
        d[d < 0.5] = 0.0
        sums.append(float(d.sum()))
        peaks.append(float(d.max()))
        cols = np.nonzero(d.max(axis=0) > 0.25 * d.max())[0]
        widths.append(int(cols.max() - cols.min() + 1))
    assert abs(sums[1] - sums[0]) / sums[0] < 0.08  # same total light
    assert peaks[1] < 0.45 * peaks[0]  # but a much lower peak pixel ...
    assert widths[1] >= widths[0] + 12  # ... spread along the ~17 px path


def test_moon_hot_pixels_insect_and_twinkle(tmp_path: Path) -> None:
    sc = _clean(moon_glow=60.0, moon_xy=(0.0, 0.0), moon_radius=200.0, hot_pixels=20, hot_pixel_amp=(80.0, 100.0),
                insects=(Insect(t0=0.0, t1=1.0, x0=320.0, y0=100.0, vx=200.0, vy=0.0, amp=40.0, sigma=8.0),))
    p = tmp_path / "h.mp4"
    render_clip(sc, p, crf=0, threads=1)
    fr = _frames(p)
    f0 = fr[0]
    assert f0[5, 5] > f0[350, 630] + 40  # moon glow: bright corner fading across the frame
    hot = np.stack([fr[k] for k in (0, 10, 20)]).min(axis=0) - np.stack([fr[k] for k in (0, 10, 20)]).mean()
    assert (hot > 50).sum() >= 15  # the same bright single pixels in every frame
    # the insect: a broad blob (> 10 px wide at half maximum) moving by 8 px per frame
    row = fr[5][100, 300:460] - fr[5][300, 300:460]
    assert (row > 0.5 * row.max()).sum() > 10 and row.max() > 20
    # twinkling: star fluxes vary frame to frame by the requested relative sigma
    st = np.array([[100.0, 250.0, 2.0], [500.0, 250.0, 2.0]])
    tw = tmp_path / "t.mp4"
    render_clip(_clean(stars=st, twinkle=0.2), tw, crf=0, threads=1)
    flux = [float(y[245:256, 95:106].sum() - 20.0 * 121) for y in _frames(tw).values()]
    assert np.std(flux) / np.mean(flux) > 0.08


def test_population_has_fast_and_edge_crossing_meteors(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    ms = [sample_meteor(rng, t0=0.0) for _ in range(400)]
    speeds = np.array([np.hypot(m.vx, m.vy) * 90.0 / 640.0 for m in ms])
    assert 8.0 < np.median(speeds) < 25.0 and speeds.max() > 60.0 and speeds.max() <= 70.0
    outside = [m for m in ms if not (0 <= m.x0 <= 639 and 0 <= m.y0 <= 359)
               or not (0 <= m.x0 + m.vx * m.duration <= 639 and 0 <= m.y0 + m.vy * m.duration <= 359)]
    assert len(outside) > 40
    # an edge-crossing meteor's truth holds only the frames whose centroid is in view
    m = Meteor(t0=0.0, duration=1.0, x0=600.0, y0=180.0, vx=100.0, vy=0.0, amp=80.0)
    truth = render_clip(Scene(duration=1.0, meteors=(m,), seed=2), tmp_path / "e.mp4", threads=1, preset="ultrafast")
    assert truth.meteors[0].fns and max(truth.meteors[0].x) <= 639 and len(truth.meteors[0].fns) < 15


def test_aircraft_condition_has_a_plane_leaving_with_one_strobe_in_view() -> None:
    """Issue 15's false meteor: in view from the clip's start, out of the frame within 20 frames, one strobe."""
    for seed in (1, 2, 3):
        sc, _ = hard_scene("aircraft", seed)
        a = sc.aircraft[-1]
        period = round(a.blink_period * sc.fps)
        t = np.arange(40) / sc.fps - a.t0
        x, y = a.x0 + a.vx * t, a.y0 + a.vy * t
        in_view = np.flatnonzero((x >= 0) & (x <= sc.width - 1) & (y >= 0) & (y <= sc.height - 1)).tolist()
        assert in_view[0] == 0 and 10 <= in_view[-1] < 20
        strobes = [fn for fn in in_view if round(fn + -a.t0 * sc.fps) % period < a.blink_frames]
        assert len(strobes) == 1 and strobes[0] >= 8  # after the scan's first background
        assert 2.5 <= np.hypot(a.vx, a.vy) * DEFAULT_PIXEL_SCALE_DEG <= 5.0


def test_bolide_saturates_blooms_and_flares(tmp_path: Path) -> None:
    # the real bolide clip's kind of case: a core far above 255 DN, a halo around it, a flare late in its flight
    m = Meteor(t0=0.0, duration=1.0, x0=200.0, y0=180.0, vx=100.0, vy=0.0, amp=3000.0, sigma=1.6, peak_at=0.4,
               flare_gain=2.0, flare_at=0.8, flare_width=0.05, bloom=0.1, bloom_sigma=5.0)
    p = tmp_path / "b.mp4"
    render_clip(_clean(meteors=(m,)), p, crf=0, threads=1)
    fr = _frames(p)
    row = fr[10][180, :] - 20.0
    assert (row >= 230).sum() >= 6  # saturated over several pixels
    sat = np.flatnonzero(row >= 230)
    # 6 px beyond the saturated run on both sides, still > 10 DN: the bloom (a 1.6 px core alone gives ~0.3 DN there)
    assert row[sat.min() - 6] > 10.0 and row[sat.max() + 6] > 10.0
    # the flare: at 0.8 s the same meteor without it has far less light in view (clipped at 255 as a camera does)
    p2 = tmp_path / "b2.mp4"
    render_clip(_clean(meteors=(replace(m, flare_gain=0.0),)), p2, crf=0, threads=1)
    fr2 = _frames(p2)
    flux, flux2 = (float(np.clip(f[20] - 20.0, 0, None).sum()) for f in (fr, fr2))
    assert flux > 1.4 * flux2
    assert np.array_equal(fr[5], fr2[5])  # and the flare changes nothing before it


def test_hard_scene_at_twice_the_pixels_is_the_same_sky_in_angle() -> None:
    """Issue 15 ("at any resolution"): a seed gives the same objects, in angle, at 640×360 and 1280×720, so the
    detection bench's recall compares across resolutions."""
    for cond in ("moon_noise", "aircraft", "low_bitrate"):
        sd, sd_opts = hard_scene(cond, 3)
        hd, hd_opts = hard_scene(cond, 3, scale=2)
        assert hard_scene(cond, 3, scale=1) == (sd, sd_opts)
        assert (hd.width, hd.height) == (1280, 720)
        assert hd_opts == ({"crf": 36} if cond == "low_bitrate" else {"sd_bit_rate": 6_000_000})
        pairs = [*zip(sd.meteors, hd.meteors, strict=True), *zip(sd.aircraft, hd.aircraft, strict=True),
                 *zip(sd.insects, hd.insects, strict=True)]
        assert len(pairs) >= 4
        for a, b in pairs:
            # the same pixel centres (x + 0.5 px at 640 wide is 2x + 1 px at 1280) and the same angular speed
            assert b.x0 + 0.5 == pytest.approx(2 * (a.x0 + 0.5)) and b.y0 + 0.5 == pytest.approx(2 * (a.y0 + 0.5))
            assert np.hypot(b.vx, b.vy) * DEFAULT_PIXEL_SCALE_DEG / 2 == pytest.approx(
                np.hypot(a.vx, a.vy) * DEFAULT_PIXEL_SCALE_DEG)
            assert a.sigma < b.sigma <= 2 * a.sigma
        assert isinstance(hd.stars, np.ndarray)
        assert np.allclose(hd.stars[:, :2] + 0.5, 2 * (random_stars(sd)[:, :2] + 0.5))
        assert hd.hot_pixels == 4 * sd.hot_pixels and hd.moon_radius == 2 * sd.moon_radius
