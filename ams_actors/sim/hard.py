"""Harder test scenes (issue 15): one named condition per scene, each stressing one thing real skies do.

The detection benchmark renders these with fixed TUNE and HELD-OUT seed lists; a condition changes
only what it names, on top of the GMN-shaped meteor population (ams_actors.sim.population).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from ams_actors.sim.population import sample_meteor
from ams_actors.sim.resolution import at_resolution, bit_rate_at
from ams_actors.sim.scene import DEFAULT_PIXEL_SCALE_DEG, Aircraft, Insect, Meteor, Satellite, Scene

#: condition → (meteor options, scene options, render options); see hard_scene
CONDITIONS: dict[str, dict[str, Any]] = {
    "fast": {"meteor": {"fast_share": 0.7, "edge_share": 0.0}},
    "edges": {"meteor": {"fast_share": 0.3, "edge_share": 0.9}},
    "aircraft": {"meteor": {}, "aircraft": 2, "satellites": 2},
    "moon_noise": {"meteor": {}, "scene": {"moon_glow": 70.0, "noise": 6.0, "hot_pixels": 40, "twinkle": 0.12}},
    "low_bitrate": {"meteor": {}, "insects": 2, "render": {"crf": 36}},
    "slow_long": {"meteor": {"fast_share": 0.0, "max_duration_s": 4.0}, "slow": True},
    # the second real clip's kind of case: a saturated bolide (blooming, flaring, long) among ordinary meteors
    # (appended last: the conditions before it keep their seeds)
    "bolide": {"meteor": {"fast_share": 0.0, "edge_share": 0.0}, "bolide": 1},
    # issue 15 item 1: fast (40-70 °/s) faint meteors whose motion blur keeps every 2×2-binned pixel near or below
    # the scan's point threshold while the streak as a whole stands well above the noise; rendered with noise that
    # survives the encoder (crf 20), as the independent renderer had it
    "streak": {"meteor": {"fast_share": 1.0, "fast_deg_s": (40.0, 70.0), "edge_share": 0.0,
                          "amp_at_median_mag": 40.0}, "scene": {"noise": 4.0}, "render": {"crf": 20}},
}


def hard_scene(condition: str, seed: int, *, duration: float = 30.0, n_meteors: int = 4,
               pixel_scale_deg: float = DEFAULT_PIXEL_SCALE_DEG, scale: float = 1.0) -> tuple[Scene, dict[str, Any]]:
    """A scene of ``condition`` and the options to render it with (e.g. ``crf`` for low bitrate).

    ``scale`` = f renders the same sky (the same seed's objects, in angle) at f × 640×360 through the same lens
    (ams_actors.sim.resolution): its pixel scale is then ``pixel_scale_deg / f`` and its bit rate grows as f²."""
    scene, render = _sd_scene(condition, seed, duration, n_meteors, pixel_scale_deg)
    if scale != 1 and "crf" not in render:
        render["sd_bit_rate"] = bit_rate_at(scale)
    return at_resolution(scene, scale), render


def _sd_scene(condition: str, seed: int, duration: float, n_meteors: int,
              pixel_scale_deg: float) -> tuple[Scene, dict[str, Any]]:
    """The condition's scene at 640×360 (every random draw is made here, so each factor shares them)."""
    spec = CONDITIONS[condition]
    rng = np.random.default_rng(seed)
    w, h = 640, 360
    meteors: list[Meteor] = []
    slot = (duration - 1.0) / max(n_meteors, 1)
    for i in range(n_meteors):
        m = sample_meteor(rng, t0=0.0, pixel_scale_deg=pixel_scale_deg, **spec["meteor"])
        if spec.get("slow"):  # the real-clip kind of case: a slow meteor lasting seconds (3-8 °/s, 2.5-4 s;
            # slower would be a satellite by any rule)
            f = rng.uniform(3.0, 8.0) / pixel_scale_deg / float(np.hypot(m.vx, m.vy))
            m = replace(m, duration=float(rng.uniform(2.5, 4.0)), vx=m.vx * f, vy=m.vy * f)
        if i < spec.get("bolide", 0):
            m = _bolide(rng, w, h, pixel_scale_deg)
        dur = min(m.duration, slot - 0.6)
        t0 = 0.5 + i * slot + rng.uniform(0.0, max(0.0, slot - dur - 0.6))
        meteors.append(replace(m, t0=float(t0), duration=float(dur)))
    aircraft = []
    for _ in range(spec.get("aircraft", 0)):
        sp = rng.uniform(0.5, 5.0) / pixel_scale_deg
        ang = rng.uniform(0, 2 * np.pi)
        vx, vy = sp * np.cos(ang), sp * np.sin(ang)
        t0 = rng.uniform(0.0, 0.3 * duration)
        x0, y0 = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h  # may leave the frame within frames
        aircraft.append(Aircraft(t0=float(t0), t1=float(duration), x0=float(x0), y0=float(y0), vx=float(vx),
                                 vy=float(vy), amp=float(rng.uniform(15, 60)), strobe_amp=float(rng.uniform(80, 200)),
                                 blink_period=float(rng.uniform(0.8, 1.6)), blink_frames=int(rng.integers(1, 3))))
    if spec.get("aircraft", 0):
        aircraft.append(_leaving_aircraft(np.random.default_rng(seed + 7), w, h, pixel_scale_deg))
    satellites = []
    for _ in range(spec.get("satellites", 0)):
        sp = rng.uniform(0.5, 2.0) / pixel_scale_deg
        ang = rng.uniform(0, 2 * np.pi)
        satellites.append(Satellite(t0=float(rng.uniform(0, 0.5 * duration)), t1=float(duration),
                                    x0=float(rng.uniform(0.2, 0.8) * w), y0=float(rng.uniform(0.2, 0.8) * h),
                                    vx=float(sp * np.cos(ang)), vy=float(sp * np.sin(ang)),
                                    amp=float(rng.uniform(15, 50))))
    insects = []
    for _ in range(spec.get("insects", 0)):
        sp = rng.uniform(100, 400)
        ang = rng.uniform(0, 2 * np.pi)
        t0 = float(rng.uniform(0, duration - 2.0))
        insects.append(Insect(t0=t0, t1=t0 + float(rng.uniform(0.3, 1.5)), x0=float(rng.uniform(0.2, 0.8) * w),
                              y0=float(rng.uniform(0.2, 0.8) * h), vx=float(sp * np.cos(ang)),
                              vy=float(sp * np.sin(ang)), amp=float(rng.uniform(20, 80)),
                              sigma=float(rng.uniform(5, 12))))
    opts: dict[str, Any] = dict(spec.get("scene", {}))
    if "moon_glow" in opts:
        opts["moon_xy"] = (float(rng.uniform(-200, w + 200)), float(rng.uniform(-200, 0)))
    scene = Scene(width=w, height=h, duration=duration, meteors=tuple(meteors), aircraft=tuple(aircraft),
                  satellites=tuple(satellites), insects=tuple(insects), seed=seed, sky=float(rng.uniform(15, 30)),
                  **opts)
    return scene, dict(spec.get("render", {}))


def _leaving_aircraft(rng: np.random.Generator, w: int, h: int, pixel_scale_deg: float) -> Aircraft:
    """The issue's false meteor: a plane (steady light, 2.5-5 °/s) in view from the clip's start that
    leaves the frame between frames 12 and 19 with one strobe in view (frame 8-10, after the scan's first
    background). Its own random stream: the condition's other objects stay as they were."""
    fps = 25.0
    sp = rng.uniform(2.5, 5.0) / pixel_scale_deg
    exit_fn = rng.uniform(12.0, 19.0)
    side = int(rng.integers(0, 4))
    d = sp * exit_fn / fps  # px from the edge at t = 0
    if side < 2:
        x0, y0 = (d if side == 0 else w - 1 - d), rng.uniform(0.2, 0.8) * h
        vx, vy = (-sp if side == 0 else sp), 0.0
    else:
        x0, y0 = rng.uniform(0.2, 0.8) * w, (d if side == 2 else h - 1 - d)
        vx, vy = 0.0, (-sp if side == 2 else sp)
    ang = rng.uniform(-0.4, 0.4)  # not exactly along an axis
    c, s = np.cos(ang), np.sin(ang)
    vx, vy = vx * c - vy * s, vx * s + vy * c
    period = float(rng.uniform(1.2, 1.6))
    strobe_fn = int(rng.integers(8, 11))
    # the strobe is on where round(t·fps) is a multiple of the period in frames: put one at strobe_fn
    t0 = -(round(period * fps) - strobe_fn) / fps
    return Aircraft(t0=float(t0), t1=2.0, x0=float(x0 + vx * t0), y0=float(y0 + vy * t0), vx=float(vx), vy=float(vy),
                    amp=float(rng.uniform(25, 50)), strobe_amp=float(rng.uniform(100, 200)), blink_period=period,
                    blink_frames=1)


def _bolide(rng: np.random.Generator, w: int, h: int, pixel_scale_deg: float) -> Meteor:
    """A bolide: 12-35 °/s for 1.2-2.5 s, a core of 1500-5000 DN (saturated at 255 over several pixels) with a
    halo, flaring ×2-4 late in its flight. Its path's midpoint is placed so that as much of it as fits is in view."""
    speed = rng.uniform(12.0, 35.0) / pixel_scale_deg
    dur = float(rng.uniform(1.2, 2.5))
    ang = rng.uniform(0, 2 * np.pi)
    vx, vy = speed * np.cos(ang), speed * np.sin(ang)
    dx, dy = vx * dur, vy * dur
    m = 20.0
    mx = rng.uniform(min(w / 2, m + abs(dx) / 2), max(w / 2, w - m - abs(dx) / 2))
    my = rng.uniform(min(h / 2, m + abs(dy) / 2), max(h / 2, h - m - abs(dy) / 2))
    return Meteor(t0=0.0, duration=dur, x0=float(mx - dx / 2), y0=float(my - dy / 2), vx=float(vx), vy=float(vy),
                  amp=float(rng.uniform(1500.0, 5000.0)), sigma=float(rng.uniform(1.3, 2.0)),
                  peak_at=float(rng.uniform(0.4, 0.7)), flare_gain=float(rng.uniform(1.0, 3.0)),
                  flare_at=float(rng.uniform(0.5, 0.85)), bloom=float(rng.uniform(0.08, 0.2)),
                  bloom_sigma=float(rng.uniform(3.0, 6.0)))
