"""Render a scene into real H.264 minute clips (SD and optionally HD) and return the ground truth.

Why real video: the scan/verify kernels must cope with what cameras deliver — compression that
smooths noise and smears faint moving points, keyframe pulses, deblocking — so tests and benchmarks
go through libx264 (PyAV's wheel) and back through the real decoder.

The truth for each meteor is, per frame, the light-weighted centre of the meteor's own light during
that frame's exposure (what an ideal centroid measures for a motion-blurred streak) in SD and HD
pixels, and the frame's peak SNR (the streak's peak pixel above sky divided by the sensor noise).
Frame ``n`` is exposed over ``[n/fps, (n+1)/fps)`` seconds after the clip start.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from numpy.typing import NDArray

from ams_actors.sim.scene import Meteor, Scene, random_stars

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]
HD_SIZE = (1920, 1080)
SD_BIT_RATE = 1_500_000  # the default SD stream (bit/s) at 640×360
_SUBSTEP_PX = 0.35  # motion-blur sampling step along a moving object's path (pixels)
_TWINKLE_GROUPS = 8  # stars scintillate in this many independent groups (one gain per group per frame)


@dataclass(slots=True)
class MeteorTruth:
    """Where meteor ``index`` of the scene really was: one entry per frame with any of its light."""

    index: int
    fns: list[int] = field(default_factory=list)
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    hd_x: list[float] = field(default_factory=list)
    hd_y: list[float] = field(default_factory=list)
    snr: list[float] = field(default_factory=list)
    speed_px_s: float = 0.0

    @property
    def peak_snr(self) -> float:
        return max(self.snr, default=0.0)

    def frames_above(self, snr: float) -> int:
        return sum(1 for s in self.snr if s >= snr)

    def detectable(self, snr: float = 5.0, n_frames: int = 6) -> bool:
        """The benchmark's recall population: peak SNR ≥ ``snr`` in at least ``n_frames`` frames."""
        return self.frames_above(snr) >= n_frames


@dataclass(slots=True)
class Truth:
    """Ground truth of one rendered clip."""

    width: int
    height: int
    fps: float
    n_frames: int
    hd_scale: float
    meteors: list[MeteorTruth]
    flash_fns: list[int]
    aircraft_frames: list[tuple[int, int]]
    satellite_frames: list[tuple[int, int]]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for m, mt in zip(d["meteors"], self.meteors, strict=True):
            m["peak_snr"] = mt.peak_snr
        return d


def _gauss_stamp(
    img: F32, xs: NDArray[np.float64], ys: NDArray[np.float64], amps: NDArray[np.float64], sigma: float,
) -> tuple[float, float]:
    """Add Gaussian PSFs (centres xs, ys; peak heights amps) to ``img`` in one bounding box.

    Returns the peak value and the sum of the added light (the peak is the SNR truth). Separable
    Gaussians: the whole smeared streak is one small matrix product.
    """
    h, w = img.shape
    r = int(math.ceil(3.5 * sigma))
    x0 = max(int(math.floor(xs.min())) - r, 0)
    x1 = min(int(math.ceil(xs.max())) + r + 1, w)
    y0 = max(int(math.floor(ys.min())) - r, 0)
    y1 = min(int(math.ceil(ys.max())) + r + 1, h)
    if x1 <= x0 or y1 <= y0:
        return 0.0, 0.0
    gx = np.arange(x0, x1, dtype=np.float64)
    gy = np.arange(y0, y1, dtype=np.float64)
    ex = np.exp(-0.5 * ((gx[None, :] - xs[:, None]) / sigma) ** 2)  # (K, nx)
    ey = np.exp(-0.5 * ((gy[None, :] - ys[:, None]) / sigma) ** 2)  # (K, ny)
    stamp = (ey * amps[:, None]).T @ ex  # (ny, nx)
    img[y0:y1, x0:x1] += stamp.astype(np.float32)
    return float(stamp.max()), float(stamp.sum())


class _Layer:
    """Render state of one resolution (SD or HD): static sky, star layer, noise bank, encoder."""

    def __init__(self, scene: Scene, scale: float, path: Path, *, preset: str, bit_rate: int | None,
                 crf: int | None, threads: int, rng: np.random.Generator) -> None:
        self.scene = scene
        self.scale = scale
        self.w = int(round(scene.width * scale))
        self.h = int(round(scene.height * scale))
        yy, xx = np.mgrid[0:self.h, 0:self.w].astype(np.float32)
        gx, gy = scene.gradient
        self.sky = (scene.sky + gx * (xx / self.w - 0.5) + gy * (yy / self.h - 0.5)).astype(np.float32)
        if scene.moon_glow > 0:
            mx, my = self.xy(*scene.moon_xy)
            r = np.hypot(xx - mx, yy - my) / (scene.moon_radius * scale)
            self.sky += (scene.moon_glow * np.exp(-r)).astype(np.float32)
        self.hot = _hot_pixels(scene, self)
        self.rng = rng
        pad = 48
        n_bank = 4
        self.pad = pad
        self.bank = [
            rng.normal(0.0, scene.noise, (self.h + pad, self.w + pad)).astype(np.float32) for _ in range(n_bank)
        ]
        self.star_layer: F32 | None = None
        self.star_groups: list[F32] = []
        self.star_time = -1e9
        self.container = av.open(str(path), "w")
        opts = {"preset": preset, "g": "50", "sc_threshold": "0", "threads": str(threads)}
        if crf is not None:
            opts["crf"] = str(crf)
        self.stream = self.container.add_stream("libx264", rate=int(round(scene.fps)), options=opts)
        self.stream.width = self.w
        self.stream.height = self.h
        self.stream.pix_fmt = "yuv420p"
        if bit_rate is not None and crf is None:
            self.stream.bit_rate = bit_rate
        self.yuv = np.full((self.h * 3 // 2, self.w), 128, np.uint8)

    def xy(self, x: NDArray[np.float64] | float, y: NDArray[np.float64] | float) -> tuple[Any, Any]:
        s = self.scale
        return (np.asarray(x) + 0.5) * s - 0.5, (np.asarray(y) + 0.5) * s - 0.5

    def stars(self, t: float) -> F32:
        """The star layer; re-rendered every second when the stars come from a callable (sky drift)."""
        sc = self.scene
        if self.star_layer is not None and (not callable(sc.stars) or t - self.star_time < 1.0):
            return self.star_layer
        self.star_layer = self._paint_stars(self._star_table(t))
        self.star_time = t
        if sc.twinkle > 0:
            st = self._star_table(t)
            self.star_groups = [self._paint_stars(st[g::_TWINKLE_GROUPS]) for g in range(_TWINKLE_GROUPS)]
        return self.star_layer

    def twinkling_stars(self, t: float, gains: NDArray[np.float32]) -> F32:
        """The star layer with each of the star groups scaled by its own gain (scintillation)."""
        self.stars(t)
        out = np.zeros((self.h, self.w), np.float32)
        for g, layer in zip(gains, self.star_groups, strict=True):
            out += layer * g
        return out

    def _star_table(self, t: float) -> NDArray[np.float64]:
        sc = self.scene
        if callable(sc.stars):
            st = np.asarray(sc.stars(t), dtype=np.float64).reshape(-1, 3)
        elif sc.stars is not None:
            st = np.asarray(sc.stars, dtype=np.float64).reshape(-1, 3)
        else:
            st = random_stars(sc)
        return st

    def _paint_stars(self, st: NDArray[np.float64]) -> F32:
        sc = self.scene
        layer = np.zeros((self.h, self.w), np.float32)
        sigma = sc.star_sigma * self.scale
        for x, y, mag in st:
            amp = 255.0 * 10 ** (-0.4 * (mag - sc.star_mag0))
            if amp < 1.0:
                continue
            hx, hy = self.xy(x, y)
            if -5 < hx < self.w + 5 and -5 < hy < self.h + 5:
                _gauss_stamp(layer, np.array([hx]), np.array([hy]), np.array([amp]), sigma)
        return layer

    def encode(self, img: F32) -> None:
        b = self.rng.integers(0, len(self.bank))
        ox, oy = self.rng.integers(0, self.pad, 2)
        img += self.bank[b][oy:oy + self.h, ox:ox + self.w]
        np.clip(img, 0, 255, out=img)
        self.yuv[: self.h] = img  # float → uint8 truncation (+0.5 added to sky below)
        frame = av.VideoFrame.from_ndarray(self.yuv, format="yuv420p")
        for p in self.stream.encode(frame):
            self.container.mux(p)

    def close(self) -> None:
        for p in self.stream.encode():
            self.container.mux(p)
        self.container.close()


def render_clip(
    scene: Scene,
    sd_path: str | Path,
    hd_path: str | Path | None = None,
    *,
    preset: str = "veryfast",
    hd_preset: str | None = None,
    sd_bit_rate: int | None = SD_BIT_RATE,
    hd_bit_rate: int | None = 6_000_000,
    crf: int | None = None,
    threads: int = 0,
    frames: tuple[int, int] | None = None,
) -> Truth:
    """Render ``scene`` to an SD clip (and an HD clip when ``hd_path`` is given); return the truth.

    ``frames`` = (first, end) renders only that part of the minute (a segment for `splice_clip`);
    the clip's own frames then start at 0 while the truth keeps the minute's frame numbers.

    ``sd_bit_rate``/``hd_bit_rate`` mimic the cameras' constant-bit-rate streams (≈1.5 and 6 Mbit/s);
    ``crf`` overrides them with constant quality; ``hd_preset`` (default ``preset``) lets tests encode
    the big HD frames with a faster x264 preset. ``threads`` is x264's thread count (0 = auto; use 1
    when rendering many clips in a process pool). Truth positions do not depend on the encoding.
    """
    rng = np.random.default_rng(scene.seed)
    hd_scale = HD_SIZE[0] / scene.width
    layers = [_Layer(scene, 1.0, Path(sd_path), preset=preset, bit_rate=sd_bit_rate, crf=crf, threads=threads,
                     rng=np.random.default_rng(scene.seed + 1))]
    if hd_path is not None:
        layers.append(_Layer(scene, hd_scale, Path(hd_path), preset=hd_preset or preset, bit_rate=hd_bit_rate, crf=crf,
                             threads=threads, rng=np.random.default_rng(scene.seed + 2)))
    fps = scene.fps
    n_frames = scene.n_frames
    truths = [MeteorTruth(index=i, speed_px_s=math.hypot(m.vx, m.vy)) for i, m in enumerate(scene.meteors)]
    flash_by_fn: dict[int, list[int]] = {}
    for i, f in enumerate(scene.flashes):
        flash_by_fn.setdefault(f.fn, []).append(i)
    twinkle = rng.normal(1.0, 0.015, 64).astype(np.float32)
    trng = np.random.default_rng(scene.seed + 6271)  # own stream: the default render stays bit-identical
    try:
        for fn in range(*(frames or (0, n_frames))):
            ta, tb = fn / fps, (fn + 1) / fps
            gains = (np.clip(trng.normal(1.0, scene.twinkle, _TWINKLE_GROUPS), 0.0, None).astype(np.float32)
                     if scene.twinkle > 0 else None)
            for li, L in enumerate(layers):
                if gains is None:
                    img = L.sky + L.stars(ta) * twinkle[fn % 64]
                else:
                    img = L.sky + L.twinkling_stars(ta, gains)
                img += 0.5
                for c in scene.clouds:
                    if c.t0 <= ta <= c.t1:
                        _cloud(img, L, c, ta)
                for m_i, m in enumerate(scene.meteors):
                    if tb < m.t0 or ta > m.t0 + m.duration:
                        continue
                    peak, x, y, b = stamp_meteor(img, m, ta, fps, L.scale, L.xy)
                    if b.sum() <= 0:
                        continue
                    if li == 0:
                        wsum = float(b.sum())
                        cx, cy = float((x * b).sum() / wsum), float((y * b).sum() / wsum)
                        if 0 <= cx <= scene.width - 1 and 0 <= cy <= scene.height - 1 and peak > 0:
                            mt = truths[m_i]
                            mt.fns.append(fn)
                            mt.x.append(cx)
                            mt.y.append(cy)
                            hcx, hcy = sd_to_hd(cx, cy, hd_scale)
                            mt.hd_x.append(hcx)
                            mt.hd_y.append(hcy)
                            mt.snr.append(peak / scene.noise)
                for a in scene.aircraft:
                    if a.t0 <= ta <= a.t1:
                        t = ta - a.t0
                        on = (int(round(t * fps)) % max(1, int(round(a.blink_period * fps)))) < a.blink_frames
                        amp = a.amp + (a.strobe_amp if on else 0.0)
                        _moving(img, L, a.x0 + a.vx * t, a.y0 + a.vy * t, a.vx, a.vy, amp, a.sigma, fps)
                for s in scene.satellites:
                    if s.t0 <= ta <= s.t1:
                        t = ta - s.t0
                        _moving(img, L, s.x0 + s.vx * t, s.y0 + s.vy * t, s.vx, s.vy, s.amp, s.sigma, fps)
                for ins in scene.insects:
                    if ins.t0 <= ta <= ins.t1:
                        t = ta - ins.t0
                        _moving(img, L, ins.x0 + ins.vx * t, ins.y0 + ins.vy * t, ins.vx, ins.vy, ins.amp,
                                ins.sigma, fps)
                if L.hot is not None:
                    img[L.hot[0], L.hot[1]] += L.hot[2]
                for f_i in flash_by_fn.get(fn, ()):
                    f = scene.flashes[f_i]
                    hx, hy = L.xy(f.x, f.y)
                    _gauss_stamp(img, np.array([hx]), np.array([hy]), np.array([f.amp]), f.sigma * L.scale)
                L.encode(img)
    finally:
        for L in layers:
            L.close()
    return Truth(
        width=scene.width, height=scene.height, fps=fps, n_frames=n_frames, hd_scale=hd_scale, meteors=truths,
        flash_fns=sorted(f.fn for f in scene.flashes),
        aircraft_frames=[(int(a.t0 * fps), int(a.t1 * fps)) for a in scene.aircraft],
        satellite_frames=[(int(s.t0 * fps), int(s.t1 * fps)) for s in scene.satellites],
    )


def splice_clip(template: str | Path, segment: str | Path, first_frame: int, out: str | Path) -> bool:
    """Write ``out``: ``template``'s packets, with the frames from ``first_frame`` on replaced by
    ``segment``'s (both from the same encoder settings; ``first_frame`` and the segment's end must
    fall on the template's keyframes, so every GOP decodes on its own). Returns False, writing
    nothing, when the two cannot be joined (different stream headers, or no keyframe there).

    Why: a simulated minute with only a short meteor in it is the camera's empty minute with a few
    seconds different; encoding those seconds instead of the whole minute is ~10× cheaper.
    """
    with av.open(str(template)) as tin, av.open(str(segment)) as sin:
        ts, ss = tin.streams.video[0], sin.streams.video[0]
        if bytes(ts.codec_context.extradata or b"") != bytes(ss.codec_context.extradata or b"") or \
                ts.time_base != ss.time_base or (ts.width, ts.height) != (ss.width, ss.height):
            return False
        rate = ts.average_rate or ts.guessed_rate
        if rate is None or ts.time_base is None:
            return False
        per_frame = int(round(1 / (rate * ts.time_base)))
        seg = [p for p in sin.demux(ss) if p.size]
        tpk = [p for p in tin.demux(ts) if p.size]
        if not seg or not seg[0].is_keyframe or any(p.pts is None or p.dts is None for p in seg + tpk):
            return False
        end_frame = first_frame + len(seg)
        numbered = [(int(round((p.pts or 0) / per_frame)), p) for p in tpk]  # (frame index, packet)
        idx = dict(numbered)
        starts_ok = first_frame in idx and idx[first_frame].is_keyframe
        ends_ok = end_frame >= len(tpk) or (end_frame in idx and idx[end_frame].is_keyframe)
        if not (starts_ok and ends_ok):
            return False
        tmp = Path(out).with_name(Path(out).name + ".splice.mp4")
        try:
            with av.open(str(tmp), "w") as cout:
                os_ = cout.add_stream_from_template(ts)
                shift = first_frame * per_frame
                for fi, p in numbered:
                    if fi == first_frame:
                        for q in seg:
                            q.pts = (q.pts or 0) + shift
                            q.dts = (q.dts or 0) + shift
                            q.stream = os_
                            cout.mux(q)
                    if first_frame <= fi < end_frame:
                        continue
                    p.stream = os_
                    cout.mux(p)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    tmp.replace(out)
    return True


def sd_to_hd(x: float, y: float, scale: float = 3.0) -> tuple[float, float]:
    """SD pixel → HD pixel for the same field of view (pixel centres at integers)."""
    return (x + 0.5) * scale - 0.5, (y + 0.5) * scale - 0.5


def stamp_meteor(img: F32, m: Meteor, ta: float, fps: float, scale: float = 1.0,
                 xy: Callable[[F64, F64], tuple[F64, F64]] | None = None) -> tuple[float, F64, F64, F64]:
    """Add meteor ``m``'s light of the frame exposed from ``ta`` (s) to ``img``: motion-blurred over the exposure,
    with its halo. Returns the stamp's peak (the truth's SNR numerator) and the sub-step positions (SD pixels) and
    brightnesses. Public so a diagnostic can build the exact light the renderer put in (sim.video_oracle)."""
    k = _n_sub(m.vx, m.vy, 1.0 / fps, scale)
    ts = ta + (np.arange(k) + 0.5) / k / fps
    b = m.brightness(ts)
    x, y = m.position(ts)
    if b.sum() <= 0:
        return 0.0, x, y, b
    hx, hy = xy(x, y) if xy is not None else (x, y)
    amps = m.amp * b / k
    peak, _ = _gauss_stamp(img, hx, hy, amps, m.sigma * scale)
    if m.bloom > 0:  # a bolide's halo (the truth's SNR is its core's peak plus the halo's)
        peak += _gauss_stamp(img, hx, hy, amps * m.bloom, m.bloom_sigma * scale)[0]
    return peak, x, y, b


def _n_sub(vx: float, vy: float, dt: float, scale: float) -> int:
    return max(1, int(math.ceil(math.hypot(vx, vy) * dt * scale / _SUBSTEP_PX)))


def _moving(img: F32, L: _Layer, x: float, y: float, vx: float, vy: float, amp: float, sigma: float,
            fps: float) -> None:
    k = _n_sub(vx, vy, 1.0 / fps, L.scale)
    ts = (np.arange(k) + 0.5) / k / fps
    hx, hy = L.xy(x + vx * ts, y + vy * ts)
    _gauss_stamp(img, hx, hy, np.full(k, amp / k), sigma * L.scale)


def _hot_pixels(scene: Scene, L: _Layer) -> tuple[NDArray[np.intp], NDArray[np.intp], F32] | None:
    """Fixed hot pixels (rows, cols, DN) of a layer, or None; positions from the scene's seed."""
    if scene.hot_pixels <= 0:
        return None
    hrng = np.random.default_rng(scene.seed + 4243)
    n = scene.hot_pixels
    rows = hrng.integers(0, L.h, n)
    cols = hrng.integers(0, L.w, n)
    amps = hrng.uniform(*scene.hot_pixel_amp, n).astype(np.float32)
    return rows, cols, amps


def _cloud(img: F32, L: _Layer, c: Any, t: float) -> None:
    """A soft elliptical glow (computed at 1/8 resolution, upsampled) that also dims the stars."""
    t = t - c.t0
    cx, cy = L.xy(c.x0 + c.vx * t, c.y0 + c.vy * t)
    f = 8
    sh, sw = L.h // f, L.w // f
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    r2 = ((xx * f - cx) / (c.rx * L.scale)) ** 2 + ((yy * f - cy) / (c.ry * L.scale)) ** 2
    small = np.exp(-0.5 * r2 * 2.0).astype(np.float32)
    mask = cv2.resize(small, (L.w, L.h), interpolation=cv2.INTER_LINEAR)
    stars = L.star_layer if L.star_layer is not None else 0.0
    img -= stars * (c.extinction * mask)
    img += c.amp * mask
