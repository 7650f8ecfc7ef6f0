"""Verify kernel (the old ``rvms``): measure a maybe-meteor frame by frame and accept or reject it.

Plain functions for a process-pool worker (picklable arguments and results; no files written except
by :func:`write_trim`, which the actor calls with a temp path):

- :func:`verify_object` — decode the SD window (±1 s around the detection) exactly (deblocking on:
  measurement), subtract a per-pixel median background of the window's quiet frames, centroid the
  meteor in each frame (sub-pixel, intensity-weighted, in an aperture stretched along the motion so a
  motion-blurred streak is measured at its light centre), fit the path and motion, reject what is not a
  meteor with a reason, optionally measure the same frames in the HD clip, time-stamp each frame
  (minute start + fn/fps) and map pixels to the sky with the given calibration (a fitted camera, or
  before the first star fit the config's pointing: ``kernels.astrometry.guess_camera``).
- :func:`verify_clip` — all objects of one ``-maybe-meteors.json``: the per-clip verdict document
  (``-meteor.json`` / ``-nometeor.json``) plus the meteor records (design.md §7).
- :func:`trim_range` / :func:`write_trim` — the trim's frame range and its re-encoding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import av
import numpy as np
from numpy.typing import NDArray

from ams_actors.kernels.verify_judge import plane_or_satellite
from ams_actors.kernels.verify_measure import VerifyParams, measure, without_copies
from ams_actors.kernels.verify_motion import longest_run, motion_fit, on_motion, without_end_glow
from ams_actors.kernels.verify_pieces import VerifyOutcome, merge_pieces
from ams_actors.kernels.video import ClipUnreadable, clip_info, open_clip, stream_fps, y_plane
from protocols.pipeline_files import METEOR_FORMAT, VERIFY_FORMAT, iso_ms, parse_clip_name

F64 = NDArray[np.float64]


# ---------------------------------------------------------------------------------------------
# calibration interface
# ---------------------------------------------------------------------------------------------

@runtime_checkable
class Calibration(Protocol):
    """What the Verifier needs from a camera calibration (the astrometry module provides the real one).

    ``x``, ``y`` are SD pixels (arrays), ``t`` the UTC times of those points. Degrees throughout;
    az from north through east, el true; ra/dec J2000.
    """

    def pixel_to_azel(self, x: F64, y: F64, t: Sequence[datetime]) -> tuple[F64, F64]: ...


# ---------------------------------------------------------------------------------------------
# judging (the measuring itself: verify_measure.py)
# ---------------------------------------------------------------------------------------------

__all__ = ["Calibration", "VerifyOutcome", "VerifyParams", "trim_range", "verify_clip", "verify_object", "write_trim"]


def trim_range(fns: Sequence[int], n_frames: int, fps: float, pad_s: float = 1.0) -> tuple[int, int]:
    """The trim's frames ``[start, stop)``: the object's frames ± ``pad_s`` seconds, inside the clip."""
    pad = int(round(pad_s * fps))
    return max(0, min(fns) - pad), min(n_frames, max(fns) + pad + 1)


def write_trim(src: str | Path, dst: str | Path, start: int, stop: int, *, crf: int = 18) -> int:
    """Re-encode frames ``[start, stop)`` of ``src`` to ``dst`` (MP4/H.264, same fps, high quality).

    Writes exactly ``dst`` (the actor passes a temp path and renames). Returns the frames written.
    """
    fr_written = 0
    with open_clip(src) as (_, s_in):
        fps = stream_fps(s_in)
        w, h = s_in.codec_context.width, s_in.codec_context.height
    out = av.open(str(dst), "w", format="mp4")
    try:
        st = out.add_stream("libx264", rate=int(round(fps)),
                            options={"preset": "veryfast", "crf": str(crf), "g": "50", "sc_threshold": "0"})
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        yuv = np.full((h * 3 // 2, w), 128, np.uint8)
        with open_clip(src) as (c_in, s_in):
            tb = s_in.time_base or Fraction(1, 90000)
            t0 = s_in.start_time or 0
            if start > 0:
                c_in.seek(int(t0 + (start - 1) / fps / tb), backward=True, any_frame=False, stream=s_in)
            for n, frame in enumerate(c_in.decode(s_in)):
                fn = int(round(float((frame.pts - t0) * tb) * fps)) if frame.pts is not None else n
                if fn < start:
                    continue
                if fn >= stop:
                    break
                yuv[:h] = y_plane(frame)
                # keep the colour planes as they were (cameras are colour; keeps the trim faithful)
                arr = frame.to_ndarray(format="yuv420p")
                yuv[h:] = arr[h:]
                for p in st.encode(av.VideoFrame.from_ndarray(yuv, format="yuv420p")):
                    out.mux(p)
                fr_written += 1
        for p in st.encode():
            out.mux(p)
    finally:
        out.close()
    return fr_written


def verify_object(
    sd_path: str | Path,
    obj: dict[str, Any],
    *,
    station: str,
    clip_name: str | None = None,
    hd_path: str | Path | None = None,
    calibration: Any = None,
    pixel_scale_deg: float | None = None,
    params: VerifyParams | None = None,
) -> VerifyOutcome:
    """Measure and judge one object of a ``-maybe-meteors.json``.

    ``calibration``: anything with ``pixel_to_azel(x, y, t)`` (and optionally ``pixel_to_radec``),
    a bare callable ``(x, y, t) -> (az, el)``, or None (no sky coordinates). ``pixel_scale_deg``
    defaults to the calibration's; one of them must give it (the kernel does not guess a lens).
    """
    prm = params or VerifyParams()
    name = parse_clip_name(clip_name or Path(sd_path).name)
    info = clip_info(sd_path)
    fps = info.fps
    n_frames = info.n_frames or int(max(obj["fns"]) + 2 * fps)
    oid = int(obj["oid"])
    scale_deg = pixel_scale_deg or getattr(calibration, "pixel_scale_deg", None)
    if not scale_deg:
        raise ValueError("verify_object needs pixel_scale_deg or a calibration that has one")
    f = np.asarray(obj["fns"], float)
    xs, ys = np.asarray(obj["xs"], float), np.asarray(obj["ys"], float)
    # predicted positions from the detection's track, a little beyond both ends; a slow mover's a few seconds
    # beyond: whether it fades in and out (a meteor) or not (a plane, a satellite) is decided there
    px = np.polyfit(f, xs, 1) if len(f) >= 2 else np.zeros(2)
    py = np.polyfit(f, ys, 1) if len(f) >= 2 else np.zeros(2)
    step = float(math.hypot(px[0], py[0]))  # px a frame
    slow_s = prm.slow_extend_s if step * fps * scale_deg < prm.persistent_max_deg_s else 0.0
    start, stop = trim_range(obj["fns"], n_frames, fps, prm.pad_s + slow_s)
    report: dict[str, Any] = {"detect_frames": [int(f[0]), int(f[-1])], "window": [start, stop]}

    def reject(reason: str) -> VerifyOutcome:
        return VerifyOutcome(oid=oid, accepted=False, reason=reason, report=report, trim=(start, stop))

    if len(f) < 2:
        return reject("too few detections to predict a path")
    extend = prm.extend_frames + int(round(slow_s * fps))
    lo = max(start, int(f[0]) - extend)
    hi = min(stop - 1, int(f[-1]) + extend)
    pred = {fn: (float(np.polyval(px, fn)), float(np.polyval(py, fn))) for fn in range(lo, hi + 1)}
    pred = {k: v for k, v in pred.items() if -4 <= v[0] <= info.width + 3 and -4 <= v[1] <= info.height + 3}
    if not pred:
        return reject("predicted path outside the image")
    sp = step or 1.0
    direction = (float(px[0] / sp), float(py[0] / sp))
    quiet = set(range(start, stop)) - set(range(lo - 2, hi + 3))
    k = max(1.0, prm.ref_pixel_scale_deg / float(scale_deg))  # this clip's pixels per reference pixel
    report["px_per_ref_px"] = round(k, 3)
    m = measure(sd_path, start, stop, pred, width=info.width, height=info.height, scale=k, step_px=step,
                 direction=direction, quiet=quiet, prm=prm)
    report["measured_frames"] = len(m.fns)
    keep = without_copies(m, step, k, prm)
    report["copied_frames"] = len(m.fns) - len(keep)
    m.take(keep)
    if len(m.fns) < prm.min_frames:
        return reject(f"frames: measured in {len(m.fns)} frames < {prm.min_frames}")
    n_meas = len(m.fns)
    fa = np.asarray(m.fns, float)
    good, edge_off = on_motion(m, (info.width, info.height), k, prm, direction)
    m.take(good)
    m.take(longest_run(m.fns, 3))
    report["outlier_frames"] = n_meas - len(m.fns)
    n_lit = len(m.fns)
    m.take(without_end_glow(m, prm))
    report["end_glow_frames"] = n_lit - len(m.fns)
    if len(m.fns) < prm.min_frames:
        return reject(f"frames: {len(m.fns)} frames consistent with one motion < {prm.min_frames}")
    # judged on the frames the detector saw: beyond them the search finds the sky's noise (at a low bit
    # rate blocky, often above min_snr), and those finds say nothing about the object
    kept = set(m.fns)
    span = [fn for fn in fa.astype(int).tolist() if f[0] <= fn <= f[-1]]
    n_off = sum(1 for fn in span if fn not in kept and fn not in edge_off)
    report["span_off_frames"] = n_off
    if n_off > prm.max_erratic_frac * max(len(span), 1):
        return reject(f"erratic: {n_off} of {len(span)} frames of the detected span off the fitted motion")
    across = np.asarray(m.across, float)
    if np.isfinite(across).any():
        report["width_across_px"] = round(float(np.nanmedian(across)), 2)
        if report["width_across_px"] > prm.max_across_px * k:
            return reject(f"defocused: {report['width_across_px']:.1f} px wide across its motion > "
                          f"{prm.max_across_px * k:.1f} (an insect near the lens)")
    fa = np.asarray(m.fns, float)
    fit = motion_fit(fa, np.asarray(m.x), np.asarray(m.y))
    speed = fit["speed_px_frame"] * fps * scale_deg
    dur = (fa[-1] - fa[0] + 1) / fps
    report.update({
        "rms_px": round(fit["rms_px"], 3), "along_rms_px": round(fit["along_rms_px"], 3),
        "speed_px_frame": round(fit["speed_px_frame"], 3), "speed_deg_s": round(speed, 3),
        "duration_s": round(float(dur), 3), "backsteps": round(fit["backsteps"], 3),
        "peak_snr": max(m.snr), "pixel_scale_deg": scale_deg,
    })
    if fit["rms_px"] > prm.max_rms_px * k:
        return reject(f"not linear: {fit['rms_px']:.2f} px RMS from the fitted line > {prm.max_rms_px * k:.2f}")
    if fit["along_rms_px"] > max(prm.max_along_rms_px * k, 0.15 * fit["speed_px_frame"]):
        return reject(f"erratic motion: {fit['along_rms_px']:.2f} px RMS along the path")
    if fit["backsteps"] > prm.max_backsteps:
        return reject(f"not one direction: {fit['backsteps']:.0%} of steps backwards")
    speed_robust = fit["speed_px_frame_robust"] * fps * scale_deg
    report["speed_deg_s_robust"] = round(speed_robust, 3)
    if min(speed, speed_robust) < prm.min_speed_deg_s:
        return reject(f"too slow: {min(speed, speed_robust):.2f} deg/s < {prm.min_speed_deg_s}")
    if speed > prm.max_speed_deg_s:
        return reject(f"too fast: {speed:.1f} deg/s > {prm.max_speed_deg_s}")
    if dur > prm.max_duration_s:
        return reject(f"too long: {dur:.1f} s > {prm.max_duration_s}")
    why = plane_or_satellite(m, (speed, min(speed, speed_robust)), (lo, hi), (info.width, info.height), k, prm, report)
    if why:
        return reject(why)

    # HD: same frames, positions scaled from the SD measurement
    hd: dict[int, tuple[float, float]] = {}
    hd_clip = None
    if hd_path is not None and Path(hd_path).exists():
        try:
            hinfo = clip_info(hd_path)
            s = hinfo.width / info.width
            hpred = {fn: ((x + 0.5) * s - 0.5, (y + 0.5) * s - 0.5) for fn, x, y in zip(m.fns, m.x, m.y, strict=True)}
            hm = measure(hd_path, start, stop, hpred, width=hinfo.width, height=hinfo.height, scale=s,
                          step_px=step * s, direction=fit["direction"], quiet=quiet, prm=prm)
            hd = {fn: (x, y) for fn, x, y in zip(hm.fns, hm.x, hm.y, strict=True)}
            hd_clip = Path(hd_path).name
            report["hd_frames"] = len(hd)
        except ClipUnreadable as e:
            report["hd_error"] = e.reason

    times = [name.start_utc + timedelta(seconds=fn / fps) for fn in m.fns]
    sky: dict[str, F64] = {}
    cal_info: dict[str, Any] = {"file": None, "model": "none", "fit_quality": None}
    if calibration is not None:
        xa, ya = np.asarray(m.x), np.asarray(m.y)
        fn_azel = getattr(calibration, "pixel_to_azel", calibration)
        sky["az"], sky["el"] = fn_azel(xa, ya, times)
        radec = getattr(calibration, "pixel_to_radec", None)
        if radec is not None:
            try:
                sky["ra"], sky["dec"] = radec(xa, ya, times)
            except ValueError as e:
                report["radec_error"] = str(e)
        cal_info = {"file": getattr(calibration, "file", None), "model": getattr(calibration, "model", "custom"),
                    "fit_quality": getattr(calibration, "fit_quality", None)}

    frames = []
    for i, fn in enumerate(m.fns):
        fr: dict[str, Any] = {
            "fn": int(fn), "t_utc": iso_ms(times[i]), "x": round(m.x[i], 3), "y": round(m.y[i], 3),
            "w": m.w[i], "h": m.h[i], "intensity": round(m.intensity[i], 1), "snr": m.snr[i],
        }
        for key, arr in sky.items():
            fr[key] = round(float(arr[i]), 5)
        if fn in hd:
            fr["hd_x"], fr["hd_y"] = round(hd[fn][0], 3), round(hd[fn][1], 3)
        frames.append(fr)
    trim_name = f"{name.stem}-trim-{start:04d}"
    meteor = {
        "format": METEOR_FORMAT,
        "meteor_id": trim_name,
        "station": station,
        "camera": name.camera,
        "sd_clip": name.name,
        "hd_clip": hd_clip,
        "sd_trim": trim_name + ".mp4",
        "hd_trim": (trim_name + "-HD.mp4") if hd_clip else None,
        "calibration": cal_info,
        "frames": frames,
        "report": {**report, "oid": oid, "trim": [start, stop], "fps": fps},
    }
    return VerifyOutcome(oid=oid, accepted=True, reason=None, report=report, trim=(start, stop), meteor=meteor)


def verify_clip(
    sd_path: str | Path,
    detect_doc: dict[str, Any],
    *,
    station: str,
    hd_path: str | Path | None = None,
    calibration: Any = None,
    pixel_scale_deg: float | None = None,
    params: VerifyParams | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]], list[VerifyOutcome]]:
    """Verify every passed object of a ``-maybe-meteors.json`` document.

    Returns ``(verdict, meteors, outcomes)``: the ``-meteor.json``/``-nometeor.json`` document
    (VERIFY_SCHEMA; its ``result`` picks the suffix), the meteor records (METEOR_SCHEMA), and the
    per-object outcomes (with trim ranges, for the trims the actor writes). Accepted objects that are pieces
    of one meteor come out as one (``kernels.verify_pieces``).
    """
    clip = detect_doc["clip"]
    scale = pixel_scale_deg or detect_doc.get("pixel_scale_deg")

    def verify(obj: dict[str, Any]) -> VerifyOutcome:
        return verify_object(sd_path, obj, station=station, clip_name=clip, hd_path=hd_path,
                             calibration=calibration, pixel_scale_deg=scale, params=params)

    outcomes = [verify(obj) for obj in detect_doc["objects"] if obj.get("passed")]
    # one meteor can come out of the detector as several objects (a bolide's pieces along its bloom, a track
    # cut by a faint stretch): one meteor record, and each piece's outcome says where it went
    objects = {int(o["oid"]): o for o in detect_doc["objects"]}
    outcomes = merge_pieces(outcomes, objects, verify, params or VerifyParams())
    meteors = [o.meteor for o in outcomes if o.accepted and o.meteor is not None]
    seen: set[str] = set()
    for mm in meteors:  # two meteors with the same trim start: keep ids (and trim names) unique
        base, n_dup = mm["meteor_id"], 0
        while mm["meteor_id"] in seen:
            n_dup += 1
            mm["meteor_id"] = f"{base}_{chr(ord('a') + n_dup)}"
            mm["sd_trim"] = mm["meteor_id"] + ".mp4"
            if mm.get("hd_trim"):
                mm["hd_trim"] = mm["meteor_id"] + "-HD.mp4"
        seen.add(mm["meteor_id"])
    verdict = {
        "format": VERIFY_FORMAT, "clip": clip, "camera": detect_doc["camera"], "start_utc": detect_doc["start_utc"],
        "result": "meteor" if meteors else "nometeor",
        "meteors": [{"oid": o.oid, "meteor_id": o.meteor["meteor_id"], "first_fn": o.meteor["frames"][0]["fn"],
                     "last_fn": o.meteor["frames"][-1]["fn"]} for o in outcomes if o.accepted and o.meteor],
        "rejected": [{"oid": o.oid, "reason": o.reason or "", "report": o.report} for o in outcomes if not o.accepted],
    }
    return verdict, meteors, outcomes
