"""Video mode of the simulator: real H.264 minutes through each fake station's whole pipeline.

The sky is drawn through each camera's true model (mild lens distortion included); the station is
configured with a rough pointing and fits its calibration from the stars of its own first minute
stack (`sim/selfcal.py`), or, with ``true_calibration``, is handed the true model. Each true 3D
meteor is projected into every camera that sees it, frame by frame (Earth rotation included), and
drawn as a moving PSF along that exact pixel track; aircraft, satellites, flashes and a cloud are
added to some minutes. The minutes appear in the station's SD/ folder when they end on the virtual
clock, like a camera writing them.

Cost: a 60 s SD minute takes ~3.5 s to render on one core here (most of it x264), so a camera's empty
minutes reuse one rendered empty minute of that camera (its stars do not drift between minutes), and a
minute whose only content is meteors is that empty minute with the few GOPs the meteors touch rendered
anew and spliced in (same stars and encoder settings; ~0.3 s instead of 3.5). Those are the only
shortcuts: every minute, empty or not, is still decoded and scanned by the station. Minutes with
aircraft or satellites are rendered whole. All rendering is done in the process pool before the night
starts.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from ams_actors.kernels import geo
from ams_actors.runtime.files import atomic_move
from ams_actors.runtime.pool import run_cpu
from ams_actors.sim.network import SimNetwork
from ams_actors.sim.scene import Aircraft, Flash, Meteor, Satellite, Scene
from ams_actors.sim.selfcal import calibrate_from_first_stacks, calibration_figures
from ams_actors.sim.world import NIGHT_START
from protocols.pipeline_files import format_clip_name

FPS = 25.0
SUB = 8  # track samples per frame (the renderer interpolates between them)


@dataclass(frozen=True, slots=True)
class TrackMeteor(Meteor):
    """A meteor drawn along a precomputed pixel track (a true 3D path seen through a real camera)."""

    ts: tuple[float, ...] = ()
    xs: tuple[float, ...] = ()
    ys: tuple[float, ...] = ()

    def position(self, t: Any) -> tuple[Any, Any]:
        tt = np.asarray(t, dtype=float)
        return np.interp(tt, self.ts, self.xs), np.interp(tt, self.ts, self.ys)


@dataclass(slots=True)
class RenderedMeteor:
    """Where a true meteor was drawn in one camera-minute (SD pixels, frame numbers of the minute)."""

    key: str
    station: str
    camera: str
    clip: str
    fns: list[int]


@dataclass(slots=True)
class Minute:
    station: str
    camera: str
    start: datetime
    meteors: list[TrackMeteor] = field(default_factory=list)
    meteor_keys: list[str] = field(default_factory=list)
    aircraft: list[Aircraft] = field(default_factory=list)
    satellites: list[Satellite] = field(default_factory=list)
    flashes: list[Flash] = field(default_factory=list)

    @property
    def clip(self) -> str:
        return format_clip_name(self.start, self.camera)

    @property
    def busy(self) -> bool:
        return bool(self.meteors or self.aircraft or self.satellites or self.flashes)


GOP = 50  # the renderer's keyframe interval (x264 `g`): segments are spliced on these frames


def render_job(scene: Scene, path: str, template: str | None = None) -> dict[str, Any]:
    """Runs in a pool worker: one SD minute, encoded single-threaded (the pool is the parallelism).

    With a ``template`` (the camera's empty minute, same stars and encoder settings) and a scene
    that is only meteors, only the GOPs the meteors touch are rendered and spliced into a copy of the
    template; otherwise, or if the splice is refused, the whole minute is rendered."""
    from ams_actors.sim.render import render_clip, splice_clip

    span = meteor_gops(scene) if template is not None else None
    truth = None
    if span is not None and template is not None:
        seg = f"{path}.segment.mp4"
        try:
            truth = render_clip(scene, seg, preset="ultrafast", threads=1, frames=span)
            if not splice_clip(template, seg, span[0], path):
                truth = None
        finally:
            Path(seg).unlink(missing_ok=True)
    spliced = truth is not None
    if truth is None:
        truth = render_clip(scene, path, preset="ultrafast", threads=1)
    return {"meteors": [{"fns": m.fns, "x": m.x, "y": m.y, "snr": m.snr} for m in truth.meteors],
            "spliced": spliced}


def meteor_gops(scene: Scene) -> tuple[int, int] | None:
    """The whole GOPs (first frame, end frame) holding every meteor of a scene that has nothing but
    meteors; None when the scene has anything else that lasts (then it is rendered whole)."""
    if scene.aircraft or scene.satellites or scene.clouds or scene.flashes or not scene.meteors:
        return None
    f0 = min(int(math.floor(m.t0 * scene.fps)) - 1 for m in scene.meteors)
    f1 = max(int(math.ceil((m.t0 + m.duration) * scene.fps)) + 1 for m in scene.meteors)
    g0 = max(0, f0) // GOP * GOP
    g1 = min(scene.n_frames, -(-(f1 + 1) // GOP) * GOP)
    return (g0, g1) if g1 > g0 else None


class VideoFeeder:
    def __init__(self, net: SimNetwork) -> None:
        self.net = net
        self.rng = np.random.default_rng(net.opts.seed + 1000)
        self.cameras: dict[tuple[str, str], Any] = {}
        self.minutes: list[Minute] = []
        self.rendered: list[RenderedMeteor] = []
        self.cache = net.root / "_render"
        self.placed = 0
        self.render_wall_s = 0.0
        self.matched: dict[str, dict[str, tuple[str, int]]] = {}
        self.false_meteors = 0
        self.verified = 0
        self.templates: dict[tuple[str, str], Path] = {}
        self.spliced = 0  # busy minutes made of their camera's empty minute and a rendered segment
        self.calibration_log: list[str] = []  # what each station's calibration check said
        self.calibration_wall_s = 0.0  # real seconds the stations' star fits took (virtual time stood still)

    # -- the world in pixels ---------------------------------------------------------------------
    def build(self) -> None:
        from ams_actors.kernels.astrometry.camera import guess_camera
        from ams_actors.kernels.astrometry.lens import Lens

        n_min = int(self.net.opts.minutes)
        for st, station in zip(self.net.world.stations, self.net.stations, strict=True):
            for cam_cfg, cam in zip(station.config.cameras, st.cameras, strict=True):
                model = guess_camera(st.lat, st.lon, st.alt_m, cam_cfg.sd_width, cam_cfg.sd_height, cam.az_deg,
                                     cam.el_deg, cam.fov_h_deg, cam.rotation_deg)
                # a mild barrel distortion, as all-sky lenses have: the Verifier must undo it
                model = _with_lens(model, Lens(width=cam_cfg.sd_width, height=cam_cfg.sd_height, kind="radial-odd",
                                               k=(-0.04,)))
                self.cameras[(st.id, cam.id)] = model
                for m in range(n_min):
                    self.minutes.append(Minute(st.id, cam.id, NIGHT_START + timedelta(minutes=m)))
        by_key = {(mi.station, mi.camera, mi.start): mi for mi in self.minutes}
        for sm in self.net.world.meteors:
            for st in self.net.world.stations:
                for cam in st.cameras:
                    self._project(sm.key, sm.meteor, st, cam.id, by_key)
        self._add_distractors()

    def _project(self, key: str, meteor: Any, st: Any, cam_id: str, by_key: dict[Any, Minute]) -> None:
        from ams_actors.kernels.trajectory.frames import ecef_to_inertial, inertial_to_ecef

        model = self.cameras[(st.id, cam_id)]
        minute = meteor.epoch.replace(second=0, microsecond=0)
        t0_in_minute = (meteor.epoch - minute).total_seconds()
        tau = np.arange(0.0, meteor.duration_s + 1e-9, 1.0 / (FPS * SUB))
        station = geo.geodetic_to_ecef(st.lat, st.lon, st.alt_m)
        los_i = meteor.position(tau) - ecef_to_inertial(np.broadcast_to(station, (len(tau), 3)), tau)
        az, el = geo.ecef_dir_to_azel(inertial_to_ecef(los_i, tau), st.lat, st.lon)
        if np.max(el) < 5.0:
            return
        x, y = model.azel_to_pixel(az, el)
        w, h = model.width, model.height
        inside = (el > 3.0) & np.isfinite(x) & (x >= 3) & (x <= w - 4) & (y >= 3) & (y <= h - 4)
        if inside.sum() < 6 * SUB:  # fewer than ~6 frames in the field: not a detection
            return
        idx = np.flatnonzero(inside)
        lo, hi = idx[0], idx[-1] + 1  # the part of the flight inside the field (one contiguous stretch)
        t_abs = t0_in_minute + tau[lo:hi]
        if t_abs[-1] >= 60.0:  # crosses into the next minute: keep it simple, draw the part in this one
            keep = t_abs < 59.9
            if keep.sum() < 6 * SUB:
                return
            t_abs, xs, ys = t_abs[keep], x[lo:hi][keep], y[lo:hi][keep]
        else:
            xs, ys = x[lo:hi], y[lo:hi]
        rng_km = float(np.linalg.norm(los_i[(lo + hi) // 2])) / 1000.0
        amp = float(np.clip(90.0 * (150.0 / rng_km) ** 2, 25.0, 180.0))
        speeds = np.hypot(np.diff(xs), np.diff(ys)) / np.diff(t_abs)
        vmax = float(np.max(speeds)) if len(speeds) else 0.0
        tm = TrackMeteor(
            t0=float(t_abs[0]), duration=float(t_abs[-1] - t_abs[0]), x0=float(xs[0]), y0=float(ys[0]),
            vx=vmax, vy=0.0, amp=amp, ts=tuple(map(float, t_abs)), xs=tuple(map(float, xs)),
            ys=tuple(map(float, ys)),
        )
        mi = by_key.get((st.id, cam_id, minute))
        if mi is not None:
            mi.meteors.append(tm)
            mi.meteor_keys.append(key)

    def _add_distractors(self) -> None:
        """Things that must not be reported: aircraft and satellites in a few minutes; single-frame
        flashes are in every camera's template minute, so every empty minute has some."""
        rng = self.rng
        n = len(self.minutes)
        for k in rng.choice(n, size=max(1, n // 60), replace=False):
            mi = self.minutes[int(k)]
            ang = rng.uniform(0, 2 * math.pi)
            mi.aircraft.append(Aircraft(t0=0.0, t1=60.0, x0=float(rng.uniform(100, 540)),
                                        y0=float(rng.uniform(60, 300)), vx=float(4 * math.cos(ang)),
                                        vy=float(4 * math.sin(ang))))
        for k in rng.choice(n, size=max(1, n // 60), replace=False):
            mi = self.minutes[int(k)]
            mi.satellites.append(Satellite(t0=float(rng.uniform(0, 30)), t1=60.0, x0=float(rng.uniform(100, 540)),
                                           y0=float(rng.uniform(60, 300)), vx=float(rng.uniform(-3, 3)),
                                           vy=float(rng.uniform(-3, 3))))

    def template_flashes(self) -> list[Flash]:
        rng = self.rng
        return [Flash(fn=int(rng.integers(0, 1500)), x=float(rng.uniform(10, 630)), y=float(rng.uniform(10, 350)),
                      amp=float(rng.uniform(40, 120))) for _ in range(3)]

    def scene(self, mi: Minute, seed: int, star_time: datetime | None = None) -> Scene:
        from ams_actors.sim.starfield import star_pixels

        model = self.cameras[(mi.station, mi.camera)]
        stars = star_pixels(model, star_time or mi.start + timedelta(seconds=30))
        return Scene(duration=60.0, fps=FPS, seed=seed, stars=np.column_stack([stars.x, stars.y, stars.vmag]),
                     meteors=tuple(mi.meteors), aircraft=tuple(mi.aircraft), satellites=tuple(mi.satellites),
                     flashes=tuple(mi.flashes))

    # -- running ---------------------------------------------------------------------------------
    def write_calibrations(self) -> None:
        from datetime import UTC

        from protocols.calibration import CalibrationRecord, write_calibration

        for station in self.net.stations:
            for cam in station.config.cameras:
                model = self.cameras[(station.config.station_id, cam.id)]
                folder = station.config.data_root / "cal" / cam.id
                record = CalibrationRecord(
                    camera_id=cam.id, obs_utc=NIGHT_START, model=model.to_dict(),
                    fit={"rms_px": 0.0, "rms_arcmin": 0.0, "n_matched": 200, "source": "simulator truth"},
                    station_id=station.config.station_id, created_utc=NIGHT_START.astimezone(UTC),
                )
                write_calibration(folder, record)

    async def prerender(self) -> None:
        """Render every camera's empty minute first, then the busy minutes: those with only meteors
        in them as a few spliced GOPs of their camera's empty minute (same stars, so nothing jumps
        at the joins), the rest whole."""
        loop = asyncio.get_running_loop()
        t = loop.time()
        self.cache.mkdir(parents=True, exist_ok=True)
        pool = self.net.pool
        templates: dict[tuple[str, str], Path] = {}
        tjobs = []
        for i, (station, cam) in enumerate(self.cameras):
            mi = Minute(station, cam, NIGHT_START, flashes=self.template_flashes())
            path = self.cache / f"{station}_empty_{cam}.mp4"
            templates[(station, cam)] = path
            tjobs.append(run_cpu(pool, render_job, self.scene(mi, seed=20_000 + i), str(path)))
        await asyncio.gather(*tjobs)
        jobs = []
        for i, mi in enumerate(self.minutes):
            if not mi.busy:
                continue
            template = templates[(mi.station, mi.camera)]
            only_meteors = not (mi.aircraft or mi.satellites or mi.flashes)
            scene = self.scene(mi, seed=10_000 + i,
                               star_time=NIGHT_START + timedelta(seconds=30) if only_meteors else None)
            jobs.append((mi, run_cpu(pool, render_job, scene, str(self.cache / f"{mi.station}_{mi.clip}"),
                                     str(template) if only_meteors else None)))
        results = await asyncio.gather(*(j for _, j in jobs))
        for (mi, _), res in zip(jobs, results, strict=True):
            self.spliced += bool(res.get("spliced"))
            for key, drawn in zip(mi.meteor_keys, res["meteors"], strict=True):
                if drawn["fns"]:
                    self.rendered.append(RenderedMeteor(key, mi.station, mi.camera, mi.clip, drawn["fns"]))
        self.templates = templates
        self.render_wall_s = loop.time() - t

    async def run(self) -> None:
        """The injector of `SimNetwork.run`: build, render, place each minute as it ends, and return
        only when every station has worked through its minutes (so "all solved" is checked on the
        whole night). Virtual time stands still while the clips are rendered."""
        rate = self.net.clock.rate
        self.net.clock.set_rate(0.0)
        try:
            self.build()
            if self.net.opts.true_calibration:
                self.write_calibrations()
            await self.prerender()
        finally:
            self.net.clock.set_rate(rate)
        by_station = {s.config.station_id: s for s in self.net.stations}
        for m in range(int(self.net.opts.minutes)):
            end = NIGHT_START + timedelta(minutes=m + 1)
            wait = (end - self.net.clock.now()).total_seconds() + 1.0
            if wait > 0:
                await self.net.clock.sleep(wait)
            for mi in self.minutes:
                if mi.start != NIGHT_START + timedelta(minutes=m):
                    continue
                station = by_station[mi.station]
                src = self.cache / f"{mi.station}_{mi.clip}" if mi.busy else self.templates[(mi.station, mi.camera)]
                # a ~10 MB copy: on a thread, not on the loop all the simulated stations share
                await asyncio.to_thread(_place, src, station.paths.sd, mi.clip)
                self.placed += 1
            if m == 0 and not self.net.opts.true_calibration:  # the first minute has no meteors (world.py)
                self.calibration_log, self.calibration_wall_s = await calibrate_from_first_stacks(self.net, NIGHT_START)
            self.update_truth()
        while not self.backlog_done():
            await self.net.clock.sleep(10.0)
        self.update_truth()

    def backlog_done(self) -> bool:
        """Every placed minute scanned, classified and (if maybe-meteors) verified, on every station."""
        from ams_actors.store.day_folders import day_files_state, days_on_disk

        for station in self.net.stations:
            paths = station.paths
            if any(paths.sd.glob("*.mp4")):
                return False
            for day in days_on_disk(paths):
                for cf in day_files_state(paths, day):
                    if cf.result is None or (cf.result == "maybe-meteors" and cf.verdict is None):
                        return False
        return True

    # -- truth -------------------------------------------------------------------------------------
    def update_truth(self) -> None:
        """Match the stations' verified meteors to the rendered truth (clip + frame overlap)."""
        drawn: dict[tuple[str, str], list[RenderedMeteor]] = {}
        for r in self.rendered:
            drawn.setdefault((r.station, r.clip), []).append(r)
        best_view: dict[str, dict[str, tuple[str, int]]] = {}  # truth key -> station -> (meteor id, frames)
        self.false_meteors = 0
        self.verified = 0
        for station in self.net.stations:
            sid = station.config.station_id
            archive = station.paths.archive / "METEOR"
            for f in sorted(archive.rglob("*.json")) if archive.is_dir() else []:
                try:
                    doc = json.loads(f.read_text())
                except (OSError, ValueError):
                    continue
                self.verified += 1
                fns = {fr["fn"] for fr in doc.get("frames", [])}
                cands = drawn.get((sid, doc.get("sd_clip", "")), [])
                best = max(cands, key=lambda r: len(fns & set(r.fns)), default=None)
                if best is None or not fns & set(best.fns):
                    self.false_meteors += 1
                    continue
                seen = best_view.setdefault(best.key, {})
                if sid not in seen or len(fns) > seen[sid][1]:
                    seen[sid] = (str(doc["meteor_id"]), len(fns))
        self.matched = best_view
        self.net.truth.seen_by = {k: {s: v[0] for s, v in st.items()} for k, st in best_view.items()}

    def figures(self) -> dict[str, Any]:
        self.update_truth()
        multi = {r.key for r in self.rendered}
        rendered_by: dict[str, set[str]] = {}
        for r in self.rendered:
            rendered_by.setdefault(r.key, set()).add(r.station)
        detected = sum(1 for k in multi if k in self.matched)
        return {
            "camera_minutes": len(self.minutes),
            "minutes_rendered_individually": sum(1 for m in self.minutes if m.busy),
            "minutes_spliced_from_template": self.spliced,
            "render_wall_s": round(self.render_wall_s, 1),
            "meteor_views_rendered": len(self.rendered),
            "meteors_rendered_multi_station": sum(1 for s in rendered_by.values() if len(s) >= 2),
            "meteors_detected": detected,
            # which station missed which rendered meteor: the first place to look when an event is missing
            "meteor_views_missed": sorted({f"{r.key}@{r.station}" for r in self.rendered
                                           if r.station not in self.matched.get(r.key, {})}),
            "meteors_verified_total": self.verified,
            "false_meteors": self.false_meteors,
            "calibration_wall_s": round(self.calibration_wall_s, 1),
            **calibration_figures(self.net.stations, self.cameras),
        }


def _with_lens(model: Any, lens: Any) -> Any:
    from dataclasses import replace

    return replace(model, lens=lens)


def _place(src: Path, sd: Path, clip: str) -> None:
    """Copy a rendered minute into a station's SD/ so that it appears whole, like a finished minute."""
    tmp = sd / f".{clip}.part"
    shutil.copyfile(src, tmp)
    os.utime(tmp)
    atomic_move(tmp, sd / clip)
