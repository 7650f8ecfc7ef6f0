"""Renderer: real H.264 clips whose pixels agree with the returned ground truth."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from ams_actors.kernels.video import clip_info, iter_y
from ams_actors.sim.render import render_clip
from ams_actors.sim.scene import Flash, Meteor, Scene, random_scene


def test_sd_clip_and_meteor_truth(tmp_path: Path) -> None:
    m = Meteor(t0=0.4, duration=1.0, x0=200.0, y0=100.0, vx=150.0, vy=60.0, amp=120.0)
    scene = Scene(duration=2.0, meteors=(m,), flashes=(Flash(fn=40, x=500.0, y=300.0, amp=150.0),), seed=3)
    p = tmp_path / "sd.mp4"
    truth = render_clip(scene, p)
    info = clip_info(p)
    assert (info.width, info.height, info.fps) == (640, 360, 25.0)
    frames = {fn: y.astype(np.float32) for fn, y in iter_y(p)}
    assert sorted(frames) == list(range(50))
    mt = truth.meteors[0]
    # the meteor lives from frame 10 (t0 = 0.4 s) to frame 35 (end at 1.4 s)
    assert mt.fns[0] == 10 and mt.fns[-1] in (34, 35)
    # positions follow the motion: frame n covers [n/25, (n+1)/25); centre at mid-exposure
    i = mt.fns.index(20)
    t_mid = 20.5 / 25 - 0.4
    assert abs(mt.x[i] - (200 + 150 * t_mid)) < 0.05 and abs(mt.y[i] - (100 + 60 * t_mid)) < 0.05
    assert mt.peak_snr > 15 and mt.detectable()
    # the decoded pixels are bright at the truth and not elsewhere
    bg = np.median(np.stack([frames[k] for k in range(0, 8)]), axis=0)
    for fn, x, y, snr in zip(mt.fns, mt.x, mt.y, mt.snr, strict=True):
        if snr < 20:
            continue
        d = frames[fn] - bg
        yy, xx = np.unravel_index(np.argmax(d), d.shape)
        assert abs(xx - x) <= 4 and abs(yy - y) <= 4, (fn, xx, yy, x, y)
    # the flash is there in its frame only
    assert frames[40][300, 500] - bg[300, 500] > 60
    assert abs(frames[41][300, 500] - bg[300, 500]) < 15
    assert truth.flash_fns == [40]


def test_hd_clip_same_field(tmp_path: Path) -> None:
    m = Meteor(t0=0.1, duration=0.6, x0=300.0, y0=150.0, vx=-100.0, vy=40.0, amp=150.0)
    scene = Scene(duration=1.0, meteors=(m,), seed=5, n_random_stars=30)
    truth = render_clip(scene, tmp_path / "sd.mp4", tmp_path / "hd.mp4", preset="ultrafast")
    info = clip_info(tmp_path / "hd.mp4")
    assert (info.width, info.height) == (1920, 1080)
    mt = truth.meteors[0]
    s = truth.hd_scale
    assert s == 3.0
    for x, y, hx, hy in zip(mt.x, mt.y, mt.hd_x, mt.hd_y, strict=True):
        assert abs(hx - ((x + 0.5) * s - 0.5)) < 1e-9 and abs(hy - ((y + 0.5) * s - 0.5)) < 1e-9
    fn_mid = mt.fns[len(mt.fns) // 2]
    i = mt.fns.index(fn_mid)
    hd = dict(iter_y(tmp_path / "hd.mp4", start=fn_mid, stop=fn_mid + 1))
    hd_frame = {k: v.astype(np.float32) for k, v in hd.items()}[fn_mid]
    hx, hy = round(mt.hd_x[i]), round(mt.hd_y[i])
    assert hd_frame[hy - 2:hy + 3, hx - 2:hx + 3].max() > np.median(hd_frame) + 40


def test_star_callable_and_random_scene(tmp_path: Path) -> None:
    calls: list[float] = []

    def stars(t: float) -> np.ndarray:
        calls.append(t)
        return np.array([[100.0 + t, 50.0, 1.5], [400.0, 200.0, 2.0]])

    scene = Scene(duration=2.2, stars=stars, seed=1)
    render_clip(scene, tmp_path / "s.mp4", preset="ultrafast")
    assert len(calls) == 3  # re-rendered once a second: t = 0, 1, 2
    frame = dict(iter_y(tmp_path / "s.mp4", start=0, stop=1))[0]
    assert frame[50, 100] > 150 and frame[200, 400] > 100
    sc = random_scene(7, duration=60, n_meteors=5, n_aircraft=1, n_satellites=2, n_flashes=4, cloud=True)
    starts = sorted(m.t0 for m in sc.meteors)
    assert len(starts) == 5 and all(b - a > 0 for a, b in itertools.pairwise(starts))
    for m in sc.meteors:
        x, y = m.position(np.array([m.t0, m.t0 + m.duration]))
        assert (0 <= x).all() and (x < 640).all() and (0 <= y).all() and (y < 360).all()


def test_spliced_minute_is_the_template_with_the_meteor_gops_replaced(tmp_path: Path) -> None:
    """The simulator's shortcut for a minute with only a meteor: the camera's empty minute with the
    GOPs the meteor touches rendered anew. The result must be one valid stream (every frame decodes,
    the header's frame count right), the template's pixels outside the segment, the meteor inside."""
    from ams_actors.sim.render import splice_clip
    from ams_actors.sim.video import GOP, meteor_gops

    empty = Scene(duration=8.0, seed=5)
    template = tmp_path / "empty.mp4"
    render_clip(empty, template, preset="ultrafast", threads=1)
    m = Meteor(t0=3.3, duration=0.8, x0=200.0, y0=120.0, vx=150.0, vy=60.0, amp=120.0)
    busy = Scene(duration=8.0, seed=6, meteors=(m,))
    span = meteor_gops(busy)
    assert span == (50, 150) and span[0] % GOP == 0
    seg = tmp_path / "seg.mp4"
    truth = render_clip(busy, seg, preset="ultrafast", threads=1, frames=span)
    out = tmp_path / "spliced.mp4"
    assert splice_clip(template, seg, span[0], out)
    assert clip_info(out).n_frames == 200
    frames = {fn: y for fn, y in iter_y(out)}
    assert sorted(frames) == list(range(200))
    tmpl = {fn: y for fn, y in iter_y(template)}
    assert all(np.array_equal(frames[k], tmpl[k]) for k in (0, 49, 150, 199))  # outside: the template's
    assert not np.array_equal(frames[100], tmpl[100])
    mt = truth.meteors[0]
    assert mt.fns[0] == 82 and 50 <= mt.fns[-1] < 150  # truth keeps the minute's frame numbers
    for fn, x, y, snr in zip(mt.fns, mt.x, mt.y, mt.snr, strict=True):
        if snr > 20:
            assert int(frames[fn][int(round(y)), int(round(x))]) - int(tmpl[fn][int(round(y)), int(round(x))]) > 20
    # a segment that does not start on a keyframe of the template is refused, nothing written
    assert not splice_clip(template, seg, 60, tmp_path / "bad.mp4")
    assert not (tmp_path / "bad.mp4").exists()
    # only-meteor scenes are spliced; anything else in the minute (here a flash) makes it render whole
    assert meteor_gops(Scene(duration=8.0, flashes=(Flash(fn=3, x=5.0, y=5.0, amp=50.0),), meteors=(m,))) is None
