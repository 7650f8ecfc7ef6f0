"""What one camera sees during one clip: the scene description the renderer draws.

Everything is in SD pixel coordinates (x right, y down, pixel centres at integers) and seconds from
the start of the clip, so one scene renders identically at SD and HD (the HD frame is the same field
of view, ``hd = (sd + 0.5) * scale - 0.5``). Plain frozen dataclasses: picklable, so scenes can be
rendered in a process pool.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

#: the default SD pixel scale: a 90° horizontal field over 640 pixels (used when no calibration).
DEFAULT_PIXEL_SCALE_DEG = 90.0 / 640.0

#: star positions for a time (s after clip start) → (N, 3) array of x, y (SD pixels), magnitude.
StarSource = Callable[[float], NDArray[np.float64]]


@dataclass(frozen=True, slots=True)
class Meteor:
    """A meteor: straight path (optionally decelerating), a rising then falling light curve.

    ``amp`` is the peak height in DN of the unsmeared PSF at the light-curve maximum; motion blur
    within the 1/fps exposure lowers the actual pixel peak for fast meteors (the truth records it).
    """

    t0: float
    duration: float
    x0: float
    y0: float
    vx: float  # px/s
    vy: float  # px/s
    amp: float
    sigma: float = 1.0
    peak_at: float = 0.6  # fraction of the duration where the light curve peaks
    decel: float = 0.0  # px/s² along the direction of motion (≥ 0 slows it down)
    # a bolide (issue 15's real clip): a flare (×(1 + flare_gain) at flare_at of the duration, Gaussian in time of
    # flare_width of the duration) and a bloom (a wide halo of bloom × amp, sigma bloom_sigma px) around the core;
    # the defaults leave every other meteor's render unchanged
    flare_gain: float = 0.0
    flare_at: float = 0.7
    flare_width: float = 0.06
    bloom: float = 0.0
    bloom_sigma: float = 4.0

    def position(self, t: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        dt = np.clip(t - self.t0, 0.0, self.duration)
        speed = math.hypot(self.vx, self.vy)
        ux, uy = (self.vx / speed, self.vy / speed) if speed > 0 else (0.0, 0.0)
        s = speed * dt - 0.5 * self.decel * dt * dt
        return self.x0 + ux * s, self.y0 + uy * s

    def brightness(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        """Relative brightness 0..1: a sine rise to the peak, a cosine fall to zero at the end."""
        u = (np.asarray(t, dtype=float) - self.t0) / self.duration
        p = self.peak_at
        rise = np.sin(0.5 * np.pi * np.clip(u / p, 0.0, 1.0)) ** 1.5
        fall = np.cos(0.5 * np.pi * np.clip((u - p) / (1.0 - p), 0.0, 1.0))
        out = np.where(u < p, rise, fall)
        if self.flare_gain:
            out = out * (1.0 + self.flare_gain * np.exp(-0.5 * ((u - self.flare_at) / self.flare_width) ** 2))
        return np.where((u >= 0.0) & (u <= 1.0), out, 0.0)


@dataclass(frozen=True, slots=True)
class Aircraft:
    """A plane: a steady navigation light plus a strobe that blinks, crossing slowly."""

    t0: float
    t1: float
    x0: float
    y0: float
    vx: float
    vy: float
    amp: float = 25.0  # steady light
    strobe_amp: float = 120.0
    blink_period: float = 1.1
    blink_frames: int = 2
    sigma: float = 1.1


@dataclass(frozen=True, slots=True)
class Satellite:
    """A satellite: slow, steady, faint."""

    t0: float
    t1: float
    x0: float
    y0: float
    vx: float
    vy: float
    amp: float = 30.0
    sigma: float = 1.0


@dataclass(frozen=True, slots=True)
class Flash:
    """A single-frame noise flash (cosmic ray, hot pixel burst, insect glint)."""

    fn: int
    x: float
    y: float
    amp: float = 60.0
    sigma: float = 0.7


@dataclass(frozen=True, slots=True)
class Insect:
    """An insect near the lens: a big, blurry, fast blob (out of focus), lit by the sky or a lamp."""

    t0: float
    t1: float
    x0: float
    y0: float
    vx: float
    vy: float
    amp: float = 40.0
    sigma: float = 8.0


@dataclass(frozen=True, slots=True)
class Cloud:
    """A moonlit cloud drifting across: a soft bright blob that also dims the stars behind it."""

    t0: float
    t1: float
    x0: float
    y0: float
    vx: float
    vy: float
    rx: float = 120.0
    ry: float = 70.0
    amp: float = 12.0
    extinction: float = 0.8  # fraction of starlight removed at the cloud's centre


@dataclass(frozen=True, slots=True)
class Scene:
    """One camera, one clip. ``stars`` is an (N, 3) array (x, y, mag), a callable of time giving one
    (e.g. catalog stars through a calibration, from ``ams_actors.sim.starfield``), or None for
    ``n_random_stars`` random stars."""

    width: int = 640
    height: int = 360
    fps: float = 25.0
    duration: float = 60.0
    sky: float = 22.0  # background DN at the image centre
    gradient: tuple[float, float] = (4.0, 10.0)  # DN change across x and down y (horizon glow)
    noise: float = 2.5  # per-pixel sensor noise sigma (DN) before compression
    stars: NDArray[np.float64] | StarSource | None = None
    n_random_stars: int = 150
    star_mag0: float = 1.0  # magnitude of a star with peak 255 DN
    star_sigma: float = 0.9
    meteors: tuple[Meteor, ...] = ()
    aircraft: tuple[Aircraft, ...] = ()
    satellites: tuple[Satellite, ...] = ()
    flashes: tuple[Flash, ...] = ()
    clouds: tuple[Cloud, ...] = ()
    seed: int = 0
    # harder skies (issue 15); every default leaves the render bit-identical to before these existed
    insects: tuple[Insect, ...] = ()
    moon_glow: float = 0.0  # DN added at ``moon_xy`` (SD px, may be outside the frame), falling off over ...
    moon_xy: tuple[float, float] = (0.0, 0.0)
    moon_radius: float = 250.0  # ... this many SD px (exponential)
    hot_pixels: int = 0  # fixed bright single pixels (positions and levels from the seed)
    hot_pixel_amp: tuple[float, float] = (20.0, 120.0)
    twinkle: float = 0.0  # per-star-group scintillation: relative brightness sigma per frame
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return int(round(self.duration * self.fps))


def random_stars(scene: Scene) -> NDArray[np.float64]:
    """The (N, 3) table (x, y, magnitude) of a scene's ``n_random_stars`` random stars, from its seed."""
    srng = np.random.default_rng(scene.seed + 7919)
    n = scene.n_random_stars
    # magnitudes: many faint, few bright (counts grow ~ ×3 per magnitude)
    mags = 6.5 - np.log(1 + srng.random(n) * (np.exp(1.1 * 5.5) - 1)) / 1.1
    return np.column_stack([srng.uniform(0, scene.width, n), srng.uniform(0, scene.height, n), mags])


def random_meteor(
    rng: np.random.Generator,
    *,
    t0: float,
    width: int = 640,
    height: int = 360,
    pixel_scale_deg: float = DEFAULT_PIXEL_SCALE_DEG,
    speed_deg_s: tuple[float, float] = (4.0, 35.0),
    duration_s: tuple[float, float] = (0.3, 2.5),
    amp: tuple[float, float] = (12.0, 160.0),
) -> Meteor:
    """A meteor with random direction, angular speed, duration and brightness, starting in frame.

    The path is shortened to stay inside the image (a real meteor leaving the field is measured only
    while inside, which the truth would record the same way; keeping it inside keeps the truth simple).
    """
    speed = rng.uniform(*speed_deg_s) / pixel_scale_deg
    dur = rng.uniform(*duration_s)
    ang = rng.uniform(0, 2 * np.pi)
    vx, vy = speed * np.cos(ang), speed * np.sin(ang)
    length = speed * dur
    margin = 12.0
    # keep the whole path inside: shrink the duration if the path is longer than the image allows
    max_len = 0.8 * min(abs((width - 2 * margin) / max(abs(np.cos(ang)), 1e-3)),
                        abs((height - 2 * margin) / max(abs(np.sin(ang)), 1e-3)))
    if length > max_len:
        dur = max_len / speed
        length = max_len
    dx, dy = vx * dur, vy * dur
    xlo, xhi = margin + max(0.0, -dx), width - margin - max(0.0, dx)
    ylo, yhi = margin + max(0.0, -dy), height - margin - max(0.0, dy)
    x0 = rng.uniform(xlo, max(xlo, xhi))
    y0 = rng.uniform(ylo, max(ylo, yhi))
    return Meteor(
        t0=t0, duration=float(dur), x0=float(x0), y0=float(y0), vx=float(vx), vy=float(vy),
        amp=float(np.exp(rng.uniform(np.log(amp[0]), np.log(amp[1])))),
        sigma=float(rng.uniform(0.8, 1.2)), peak_at=float(rng.uniform(0.4, 0.8)),
    )


def random_scene(
    seed: int,
    *,
    duration: float = 60.0,
    n_meteors: int = 1,
    n_aircraft: int = 0,
    n_satellites: int = 0,
    n_flashes: int = 0,
    cloud: bool = False,
    width: int = 640,
    height: int = 360,
    fps: float = 25.0,
    pixel_scale_deg: float = DEFAULT_PIXEL_SCALE_DEG,
    meteor_amp: tuple[float, float] = (12.0, 160.0),
    stars: NDArray[np.float64] | StarSource | None = None,
) -> Scene:
    """A plausible scene with the requested numbers of each kind of object (deterministic per seed).

    Meteors are spread over the clip without overlapping in time, so the truth matching is unambiguous.
    """
    rng = np.random.default_rng(seed)
    meteors: list[Meteor] = []
    if n_meteors:
        slot = (duration - 1.0) / n_meteors
        for i in range(n_meteors):
            m = random_meteor(rng, t0=0.0, width=width, height=height, pixel_scale_deg=pixel_scale_deg,
                              amp=meteor_amp, duration_s=(0.3, min(2.5, max(0.35, slot - 1.2))))
            t0 = 0.5 + i * slot + rng.uniform(0.0, max(0.0, slot - m.duration - 0.6))
            meteors.append(Meteor(**{**_asdict(m), "t0": float(t0)}))
    aircraft = []
    for _ in range(n_aircraft):
        sp = rng.uniform(0.4, 1.2) / pixel_scale_deg
        ang = rng.uniform(0, 2 * np.pi)
        t0 = rng.uniform(0.0, 0.15 * duration)
        t1 = t0 + rng.uniform(0.7, 0.85) * duration
        vx, vy = sp * np.cos(ang), sp * np.sin(ang)
        x0 = width / 2 - vx * (t1 - t0) / 2 + rng.uniform(-60, 60)
        y0 = height / 2 - vy * (t1 - t0) / 2 + rng.uniform(-40, 40)
        aircraft.append(Aircraft(t0=float(t0), t1=float(min(duration, t1)), x0=float(x0), y0=float(y0),
                                 vx=float(vx), vy=float(vy), blink_period=float(rng.uniform(0.9, 1.5))))
    satellites = []
    for _ in range(n_satellites):
        sp = rng.uniform(0.3, 1.0) / pixel_scale_deg
        ang = rng.uniform(0, 2 * np.pi)
        t0 = rng.uniform(0.0, 0.5 * duration)
        t1 = min(duration, t0 + rng.uniform(0.3, 0.6) * duration)
        vx, vy = sp * np.cos(ang), sp * np.sin(ang)
        x0 = rng.uniform(0.25, 0.75) * width - vx * (t1 - t0) / 2
        y0 = rng.uniform(0.25, 0.75) * height - vy * (t1 - t0) / 2
        satellites.append(Satellite(t0=float(t0), t1=float(t1), x0=float(x0), y0=float(y0), vx=float(vx),
                                    vy=float(vy), amp=float(rng.uniform(15, 50))))
    n_frames = int(round(duration * fps))
    flashes = tuple(
        Flash(fn=int(rng.integers(0, n_frames)), x=float(rng.uniform(5, width - 5)),
              y=float(rng.uniform(5, height - 5)), amp=float(rng.uniform(30, 150)))
        for _ in range(n_flashes)
    )
    clouds: tuple[Cloud, ...] = ()
    if cloud:
        vx = rng.choice([-1.0, 1.0]) * rng.uniform(6.0, 14.0)
        clouds = (Cloud(t0=0.0, t1=duration, x0=float(width / 2 - vx * duration / 2),
                        y0=float(rng.uniform(0.3, 0.7) * height), vx=float(vx), vy=float(rng.uniform(-2, 2))),)
    return Scene(width=width, height=height, fps=fps, duration=duration, stars=stars, meteors=tuple(meteors),
                 aircraft=tuple(aircraft), satellites=tuple(satellites), flashes=flashes, clouds=clouds,
                 seed=seed, sky=float(rng.uniform(15, 30)))


def _asdict(m: Meteor) -> dict[str, float]:
    return {k: getattr(m, k) for k in Meteor.__dataclass_fields__}
