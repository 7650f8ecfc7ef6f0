"""One scene at ``f`` times the pixels: the same sky through the same 90° lens on a finer sensor (issue 15,
"rules that behave the same at 640×360 and 1920×1080").

A scene drawn at 640×360 (its random draws unchanged) is carried to ``640·f × 360·f``, so a seed gives the same
meteors in angle at every factor and recall compares across resolutions. What scales, and why:

- positions by the pixel-centre map ``(x + 0.5)·f − 0.5`` (as the renderer's HD layer), speeds and decelerations
  by ``f``: the same angles, the same angular speeds;
- the PSF of point sources (meteors, planes, satellites, stars) by ``f ** PSF_GROWTH``, as
  tests/test_verify.py's two-resolution test does: the lens's blur is a fixed angle but the pixels' own sampling
  and the encoder's smoothing are not, so a finer sensor does not see a point ``f`` times wider;
- what has a fixed angular size by ``f``: an insect's defocused blob, a bolide's halo, the moon's glow, clouds;
- hot pixels are the sensor's, so their count grows with the pixels (``f²``); cosmic-ray flashes keep their size;
- peak heights (DN) and the per-pixel noise stay: the test's convention (a meteor's summed light then grows as the
  PSF's area); a fast meteor's per-frame peak falls a little at ``f > 1`` (its blur grows by ``f``, its PSF by
  less), which the truth's SNR records, so each factor's recall is over its own ≥ 5σ population.

The encoder's bit rate should grow with the pixel count (``bit_rate_at``); constant quality (crf) stays.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from ams_actors.sim.render import SD_BIT_RATE
from ams_actors.sim.scene import DEFAULT_PIXEL_SCALE_DEG, Scene, StarSource, random_stars

PSF_GROWTH = 0.7


def bit_rate_at(f: float, base: int = SD_BIT_RATE) -> int:
    """The constant bit rate giving ``f``× the pixels as many bits per pixel as ``base`` at 640×360."""
    return int(round(base * f * f))


def pixel_scale_at(f: float) -> float:
    """Degrees per pixel of the 90° lens at ``f``× the 640-px width."""
    return DEFAULT_PIXEL_SCALE_DEG / f


@dataclass(frozen=True, slots=True)
class _ScaledStars:
    """A star source (SD pixels) seen at ``f``× the pixels (a class, not a closure: scenes are pickled)."""

    source: StarSource
    f: float

    def __call__(self, t: float) -> NDArray[np.float64]:
        return _map_stars(np.asarray(self.source(t), dtype=np.float64).reshape(-1, 3), self.f)


def _map_stars(st: NDArray[np.float64], f: float) -> NDArray[np.float64]:
    out = st.copy()
    out[:, :2] = (st[:, :2] + 0.5) * f - 0.5
    return out


def at_resolution(scene: Scene, f: float) -> Scene:
    """``scene`` (drawn at its own pixels) at ``f``× the pixels in each direction; ``f == 1`` returns it unchanged."""
    if f == 1:
        return scene

    def p(v: float) -> float:
        return (v + 0.5) * f - 0.5

    g = f**PSF_GROWTH
    stars: NDArray[np.float64] | StarSource
    if callable(scene.stars):
        stars = _ScaledStars(scene.stars, f)
    else:
        table = random_stars(scene) if scene.stars is None else np.asarray(scene.stars, dtype=np.float64)
        stars = _map_stars(table.reshape(-1, 3), f)
    return replace(
        scene, width=int(round(scene.width * f)), height=int(round(scene.height * f)), stars=stars,
        star_sigma=scene.star_sigma * g,
        meteors=tuple(replace(m, x0=p(m.x0), y0=p(m.y0), vx=m.vx * f, vy=m.vy * f, decel=m.decel * f,
                              sigma=m.sigma * g, bloom_sigma=m.bloom_sigma * f) for m in scene.meteors),
        aircraft=tuple(replace(a, x0=p(a.x0), y0=p(a.y0), vx=a.vx * f, vy=a.vy * f, sigma=a.sigma * g)
                       for a in scene.aircraft),
        satellites=tuple(replace(s, x0=p(s.x0), y0=p(s.y0), vx=s.vx * f, vy=s.vy * f, sigma=s.sigma * g)
                         for s in scene.satellites),
        insects=tuple(replace(i, x0=p(i.x0), y0=p(i.y0), vx=i.vx * f, vy=i.vy * f, sigma=i.sigma * f)
                      for i in scene.insects),
        flashes=tuple(replace(fl, x=p(fl.x), y=p(fl.y)) for fl in scene.flashes),
        clouds=tuple(replace(c, x0=p(c.x0), y0=p(c.y0), vx=c.vx * f, vy=c.vy * f, rx=c.rx * f, ry=c.ry * f)
                     for c in scene.clouds),
        moon_xy=(p(scene.moon_xy[0]), p(scene.moon_xy[1])), moon_radius=scene.moon_radius * f,
        hot_pixels=int(round(scene.hot_pixels * f * f)),
    )
