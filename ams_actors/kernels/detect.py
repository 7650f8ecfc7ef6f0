"""Values-detect kernel (the old ``rvd``): a clip's scan values → moving objects → rules → verdict.

Input is only the ``-vals.json`` document (no video), so this is cheap and can be re-run over a whole
night. Steps, and why:

1. Peaks: the per-cell peaks the scan recorded for frames above threshold (several per frame, so a
   meteor is seen even while a brighter plane or twinkling star holds the frame's global maximum);
   a saturated light's spill into the next cells is dropped and its clipped plateau's peaks are taken
   as one (``detect_bloom.py``: else a bolide links into tracks along a cell border or across its path).
2. Static sources out: positions that are hot in many frames around a peak's (twinkling bright stars,
   hot pixels, lights on the ground) are dropped before tracking so they cannot capture a track; a slow
   plane's path is hot only while it passes (``detect_static.py``).
3. Runs and tracking: frames with remaining peaks form runs; peaks are linked frame to frame into
   tracks with a constant-velocity prediction (gaps of up to ``max_gap`` frames are bridged: faint
   meteors flicker around the threshold under compression).
4. Rules per object — enough frames, not static, not parked (most points at one position, one or two
   outliers carrying the motion), one direction, near-linear, angular speed in a meteor's range (deg/s
   from the pixel scale), not long-lived — each recorded with its measured value
   so an operator sees why an object passed or failed.
5. Verdict: ``toomany`` when the minute is full of objects (cloud edges, lightning, a shaking mast),
   else ``maybe-meteors`` when any object passed, else ``detect``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ams_actors.kernels.detect_bloom import CellGrid, drop_spill, one_plateau
from ams_actors.kernels.detect_params import DetectParams
from ams_actors.kernels.detect_static import StaticSources
from ams_actors.kernels.detect_tracks import Track, extend_tracks, join_pieces
from ams_actors.kernels.track_pieces import Piece, on_one_line
from protocols.pipeline_files import DETECT_FORMAT

__all__ = ["DetectParams", "detect_vals"]


def _unmasked(
    frames: list[tuple[int, list[list[float]]]], mask: NDArray[np.bool_], width: int, height: int
) -> list[tuple[int, list[list[float]]]]:
    """The frames' peaks that are not on masked pixels (mask scaled to the clip's size)."""
    mh, mw = mask.shape
    sx, sy = mw / width, mh / height
    out: list[tuple[int, list[list[float]]]] = []
    for fn, pk in frames:
        kept = [p for p in pk
                if not mask[min(mh - 1, max(0, int((p[1] + 0.5) * sy))), min(mw - 1, max(0, int((p[0] + 0.5) * sx)))]]
        if kept:
            out.append((fn, kept))
    return out


def detect_vals(
    vals: dict[str, Any], *, pixel_scale_deg: float, params: DetectParams | None = None,
    max_peaks: int = 24, mask: NDArray[np.bool_] | None = None,
) -> dict[str, Any]:
    """Classify one clip from its vals. Returns the detect document (DETECT_SCHEMA); its
    ``classification`` picks the file suffix (protocols.pipeline_files.DETECT_SUFFIX).

    ``pixel_scale_deg``: degrees per SD pixel (from the calibration, or FOV / width).
    ``mask`` (True = ignore): peaks on masked pixels are dropped first, so vals scanned before the
    camera had its mask (or re-run by ``rvd``) obey it too.
    """
    prm = _in_clip_pixels(params or DetectParams(), pixel_scale_deg)
    fps = float(vals["fps"])
    thresh = float(vals["thresh"])
    n_frames = int(vals["n_frames"])
    frames: list[tuple[int, list[list[float]]]] = list(zip(vals["cells_fn"], vals.get("peaks", []), strict=False))
    if mask is not None:
        frames = _unmasked(frames, mask, int(vals["width"]), int(vals["height"]))
    # A frame is crowded when its capped peak list is full of peaks bright enough to be objects
    # (the same bar as the "faint" rule): a full list of noise at the threshold — compression noise
    # of a long clip, twinkling stars — is not lightning or a lit cloud, and must not hide a meteor.
    bright = _bright_enough(thresh, prm)
    crowded = sum(1 for _, pk in frames if len(pk) >= max_peaks and pk[-1][2] >= bright)

    # 1+2: drop a saturated light's spill into the next cells, merge split blobs within a frame, drop static sources
    grid = CellGrid.of_vals(vals)
    merged: list[tuple[int, list[tuple[float, float, float]]]] = []
    static = StaticSources(prm.static_hits, int(round(prm.static_window_s * fps)))
    for fn, pk in frames:
        keep: list[tuple[float, float, float]] = []
        own = drop_spill([(float(x), float(y), float(v)) for x, y, v in pk], grid, min_val=prm.spill_min_val,
                         reach_px=prm.spill_reach_px, below=prm.spill_below)
        own = one_plateau(own, min_val=prm.spill_min_val, reach_px=prm.plateau_px, within=prm.spill_below)
        for x, y, v in own:  # brightest first
            for a, b, _ in keep:
                if (x - a) ** 2 + (y - b) ** 2 <= prm.merge_px**2:
                    break
            else:
                keep.append((float(x), float(y), float(v)))
        merged.append((fn, keep))
        for x, y, _ in keep:
            static.add(fn, x, y)
    moving: list[tuple[int, list[tuple[float, float, float]]]] = []
    for fn, mpk in merged:
        keep_m = [p for p in mpk if not static.at(fn, p[0], p[1])]
        if keep_m:
            moving.append((fn, keep_m))

    # 3: runs of frames with (non-static) detections, and tracking
    n_runs = 0
    last = -10
    for fn, _ in moving:
        if fn - last > prm.max_gap + 1:
            n_runs += 1
        last = fn
    active: list[Track] = []
    done: list[Track] = []
    for fn, tpk in moving:
        still: list[Track] = []
        for t in active:
            (still if fn - t.fns[-1] <= prm.max_gap + 1 else done).append(t)
        active = still
        # nearest-prediction assignment, brightest peaks first; one peak per track per frame.
        # Vectorised over the active tracks: a minute of compression noise is ~10 peaks per frame
        # against ~40 short-lived tracks, and the pairwise loop in Python was most of the detector.
        n_old = len(active)
        if n_old:
            pred = np.array([t.predict(fn, prm) for t in active])
            pts = np.array([(x, y) for x, y, _ in tpk])
            dx, dy = pts[:, :1] - pred[None, :, 0], pts[:, 1:] - pred[None, :, 1]
            dist = np.hypot(dx, dy)
            # the gate is an ellipse along the track's motion (Track.predict)
            al = (dx * pred[None, :, 4] + dy * pred[None, :, 5]) / pred[None, :, 2]
            ac = (dy * pred[None, :, 4] - dx * pred[None, :, 5]) / pred[None, :, 3]
            dist[al**2 + ac**2 > 1.0] = np.inf
        for j, (x, y, v) in enumerate(tpk):
            best = int(np.argmin(dist[j])) if n_old else -1
            if best >= 0 and dist[j, best] < np.inf:
                active[best].add(fn, x, y, v)
                dist[:, best] = np.inf
            else:
                nt = Track()
                nt.add(fn, x, y, v)
                active.append(nt)  # a new track takes nothing more in its own frame
    done.extend(active)
    tracks = extend_tracks(join_pieces([t for t in done if t.fns], prm), moving, prm)
    tracks = sorted((t for t in tracks if len(t.fns) >= 2), key=lambda t: t.fns[0])

    # 4: rules
    objects: list[dict[str, Any]] = []
    need = bright
    # two-point links, and short faint ones, are everywhere in compression noise: counted, not listed
    # (they fail "frames" and "faint" whatever else they do, and would bury the file's real objects)
    n_two = sum(1 for t in tracks if len(t.fns) < 3)
    n_short_faint = sum(1 for t in tracks if 3 <= len(t.fns) < prm.min_frames and max(t.vs) < need)
    tracks = [t for t in tracks if len(t.fns) >= 3 and (len(t.fns) >= prm.min_frames or max(t.vs) >= need)]
    for oid, t in enumerate(tracks):
        t, checks, failed = _judged(t, fps, pixel_scale_deg, n_frames, prm)
        checks["peak_val"] = max(t.vs)
        if max(t.vs) < need:
            failed.append(f"faint: brightest {max(t.vs):.0f} < {need:.1f} (threshold {thresh:.0f})")
        objects.append({
            "oid": oid, "fns": t.fns, "xs": [round(v, 2) for v in t.xs], "ys": [round(v, 2) for v in t.ys],
            "vals": t.vs, "passed": not failed, "failed": failed, "checks": checks,
        })
    # things that really move coherently (noise chains fail linear/fill/frames and do not count)
    incoherent = {"frames", "static", "parked", "linear", "fill", "faint"}
    n_moving = _distinct_movers([o for o in objects if not (_names(o["failed"]) & incoherent)], prm)
    passed = [o for o in objects if o["passed"]]
    if n_moving > prm.max_objects or crowded > prm.crowded_frame_frac * max(n_frames, 1):
        cls = "toomany"
        reason = f"{n_moving} moving objects, {crowded} crowded frames (limits {prm.max_objects}, " \
                 f"{prm.crowded_frame_frac:.0%} of frames)"
    elif passed:
        cls = "maybe-meteors"
        reason = f"{len(passed)} of {len(objects)} objects passed every rule"
    else:
        cls = "detect"
        reason = f"none of {len(objects)} objects passed" if objects else "no moving objects"
    listed = objects
    if n_two:
        reason += f"; {n_two} two-point links not listed"
    if n_short_faint:
        reason += f"; {n_short_faint} faint links of < {prm.min_frames} detections not listed"
    return {
        "format": DETECT_FORMAT, "clip": vals["clip"], "camera": vals["camera"], "start_utc": vals["start_utc"],
        "classification": cls, "reason": reason, "fps": fps, "thresh": float(vals["thresh"]),
        "pixel_scale_deg": pixel_scale_deg, "n_runs": n_runs, "objects": listed,
    }


def _distinct_movers(objects: list[dict[str, Any]], prm: DetectParams) -> int:
    """How many things move: objects on one line at one speed count once. A faint satellite or plane
    flickering around the threshold for a minute falls into many pieces, and the pieces of two of them must
    not read as a sky full of objects (clouds, lightning), which would lose the minute's meteors with them.
    A slow light's short piece has a poor direction of its own (its scan peaks step by whole 2-px bins: one
    such piece read 321° where its satellite's others read 309-318°), so pieces that one motion explains
    (``_one_motion``) count once as well."""
    lines: list[tuple[float, float, float, list[Piece]]] = []  # direction (rad, mod pi), offset across it, speed
    for o in objects:
        th = math.radians(float(o["checks"]["direction_deg"])) % math.pi
        rho = -math.sin(th) * float(np.mean(o["xs"])) + math.cos(th) * float(np.mean(o["ys"]))
        sp = float(o["checks"]["speed_px_frame"])
        piece = Piece.of(o["fns"], o["xs"], o["ys"])
        for th2, rho2, sp2, pieces in lines:
            dth = abs(th - th2)
            if dth > math.pi / 2:  # the same line across 0/180°: its normal, and so its offset, flips sign
                dth, rho2 = math.pi - dth, -rho2
            if ((dth < math.radians(5.0) and abs(rho - rho2) < 2.0 * prm.extend_px
                 and abs(sp - sp2) <= prm.join_speed_ratio * max(sp, sp2))
                    or any(_one_motion(piece, q, prm) for q in pieces)):
                pieces.append(piece)
                break
        else:
            lines.append((th, rho, sp, [piece]))
    return len(lines)


def _one_motion(a: Piece, b: Piece, prm: DetectParams) -> bool:
    """Whether one motion fitted through both pieces passes every point of both (``track_pieces.on_one_line``,
    whatever the frames between) with each piece's own velocity: within ``extend_px`` over the piece's duration
    (a satellite's 40-frame piece: 0.06 px/frame, its direction to ~9° at 0.4 px/frame). Without the second
    test, two short pieces of unrelated movers at one speed, far apart in time, are joined by a motion across both
    (a line through two clusters passes both, whatever its slope)."""
    if not on_one_line(a, b, 2.0 * prm.extend_px, 0.0, prm.join_speed_ratio):
        return False
    u = Piece(np.concatenate([a.fns, b.fns]), np.concatenate([a.xs, b.xs]), np.concatenate([a.ys, b.ys]))
    ux, _, uy, _ = u.motion()
    for q in (a, b):
        qx, _, qy, _ = q.motion()
        if math.hypot(ux - qx, uy - qy) * float(q.fns[-1] - q.fns[0]) > prm.extend_px:
            return False
    return True


def _in_clip_pixels(prm: DetectParams, pixel_scale_deg: float) -> DetectParams:
    """``prm`` with its pixel lengths in this clip's pixels (see ``ref_pixel_scale_deg``)."""
    k = max(1.0, prm.ref_pixel_scale_deg / pixel_scale_deg)
    if k == 1.0:
        return prm
    return replace(prm, min_disp_px=prm.min_disp_px * k, max_rms_px=prm.max_rms_px * k,
                   first_gate_px=prm.first_gate_px * k, link_gate_px=prm.link_gate_px * k, merge_px=prm.merge_px * k,
                   extend_px=prm.extend_px * k, parked_px=prm.parked_px * k, spill_reach_px=prm.spill_reach_px * k,
                   plateau_px=prm.plateau_px * k)


def _bright_enough(thresh: float, prm: DetectParams) -> float:
    """The "faint" rule's bar. Peaks are whole DN: 1.3 × a threshold of 7 is 9.1, which only 10 would pass
    (1.43×), so the ratio's bar is rounded to the nearest whole DN."""
    return max(thresh + prm.min_peak_over, math.floor(prm.min_peak_ratio * thresh + 0.5))


def _judged(t: Track, fps: float, scale: float, n_frames: int,
            prm: DetectParams) -> tuple[Track, dict[str, Any], list[str]]:
    """The track and its rules' verdict; a track that fails only "linear" is judged again without its first or its
    last point, and kept so if that passes. The link takes whatever light is in the gate before a track's first
    true point or after its last: a meteor entering at the frame's edge took the edge light 4 frames before it
    (the scan's second peak in that cell) and failed "linear: 2.33" for one point. The Verifier measures the
    meteor from the video again, ends included."""
    checks, failed = _rules(t, fps, scale, n_frames, prm)
    if _names(failed) != {"linear"} or len(t.fns) <= prm.min_frames:
        return t, checks, failed
    best: tuple[Track, dict[str, Any], list[str]] | None = None
    for keep in (slice(1, None), slice(None, -1)):
        cut = Track(t.fns[keep], t.xs[keep], t.ys[keep], t.vs[keep])
        c, f = _rules(cut, fps, scale, n_frames, prm)
        if not f and (best is None or c["rms_px"] < best[1]["rms_px"]):
            best = (cut, c, f)
    return best if best is not None else (t, checks, failed)


def _names(failed: list[str]) -> set[str]:
    return {f.split(":", 1)[0] for f in failed}


def _parked(f: NDArray[np.float64], x: NDArray[np.float64], y: NDArray[np.float64], slope: float,
            prm: DetectParams) -> str | None:
    """Why the object is a parked light whose motion one or two outlying detections carry, or None.

    At 1920×1080 the scene's brightest (saturated) star crossed the scan's threshold in 4 frames after a keyframe,
    always at one peak; a noise peak 79 px away 4 frames before joined it, and 1 + 4 identical points fit a line
    exactly, so every other rule passed. The parked points are those within ``parked_px`` (an angle: scaled with the
    pixels) of the median position; they must be all but ``parked_outliers`` of them, at least ``parked_min``, and
    move less than ``parked_ratio`` × what the fitted speed says over their own frames. A slow meteor's points near
    its median move at its speed, and an encoder's copied frame repeats one point, not most of them: of ~88,000
    synthetic slow-meteor pieces (1.5-8 °/s, 5-100 frames, up to half the frames missed, peaks on the 2-px bins, a
    copied frame in 30 %; F = 1, 2, 3) not already "static", 1 is parked (64 with ≥ 3 points and half the speed)."""
    n = len(f)
    dist = np.hypot(x - np.median(x), y - np.median(y))
    inl = dist <= prm.parked_px
    n_in = int(inl.sum())
    if n_in == n or n_in < max(prm.parked_min, n - prm.parked_outliers):
        return None
    px, py = x[inl], y[inl]
    spread = float(np.hypot(px[:, None] - px, py[:, None] - py).max())
    expected = slope * float(f[inl].max() - f[inl].min())
    if spread >= prm.parked_ratio * expected:
        return None
    return (f"parked: {n_in} of {n} detections within {spread:.1f} px of each other (the fitted speed says "
            f"{expected:.1f} px over their frames); {n - n_in} outlying detection(s) carry the motion")


def _rules(t: Track, fps: float, scale: float, n_frames: int,
           prm: DetectParams) -> tuple[dict[str, Any], list[str]]:
    f = np.asarray(t.fns, float)
    x = np.asarray(t.xs, float)
    y = np.asarray(t.ys, float)
    n = len(f)
    span = int(f[-1] - f[0]) + 1
    checks: dict[str, Any] = {"n_frames": n, "span_frames": span, "duration_s": round(span / fps, 3)}
    failed: list[str] = []
    if n < prm.min_frames:
        failed.append(f"frames: {n} detections < {prm.min_frames}")
    fill = n / span
    checks["fill"] = round(fill, 3)
    if fill < prm.min_fill:
        failed.append(f"fill: {fill:.2f} of the span has detections < {prm.min_fill}")
    if span / fps > prm.max_duration_s:
        failed.append(f"long: lasts {span / fps:.1f} s > {prm.max_duration_s} s"
                      + (" (whole minute)" if span > 0.8 * n_frames else ""))
    # line fit by PCA: direction, perpendicular RMS
    cx, cy = x.mean(), y.mean()
    m = np.column_stack([x - cx, y - cy])
    if n >= 2 and np.any(m):
        _, _, vt = np.linalg.svd(m, full_matrices=False)
        u = vt[0]
    else:
        u = np.array([1.0, 0.0])
    along = m @ u
    perp = m @ np.array([-u[1], u[0]])
    rms = float(np.sqrt(np.mean(perp**2))) if n >= 3 else 0.0
    if n >= 2:
        slope = float(np.polyfit(f, along, 1)[0])  # px/frame along the line
    else:
        slope = 0.0
    if slope < 0:
        along, slope = -along, -slope
    disp = float(along.max() - along.min()) if n else 0.0
    speed = slope * fps * scale
    steps = np.diff(along)
    back = float(np.mean(steps < -1.0)) if len(steps) else 0.0
    checks.update({"disp_px": round(disp, 2), "rms_px": round(rms, 3), "speed_px_frame": round(slope, 3),
                   "speed_deg_s": round(speed, 3), "backsteps": round(back, 3),
                   "direction_deg": round(float(np.degrees(np.arctan2(u[1], u[0]))) % 360.0, 1)})
    if disp < prm.min_disp_px:
        failed.append(f"static: moved {disp:.1f} px < {prm.min_disp_px}")
    why = _parked(f, x, y, slope, prm)
    if why:
        failed.append(why)
    if n >= 3 and rms > prm.max_rms_px:
        failed.append(f"linear: {rms:.2f} px RMS from a line > {prm.max_rms_px}")
    if back > prm.max_backsteps:
        failed.append(f"direction: {back:.0%} of steps backwards > {prm.max_backsteps:.0%}")
    if speed < prm.min_speed_deg_s:
        failed.append(f"slow: {speed:.2f} deg/s < {prm.min_speed_deg_s}")
    if speed > prm.max_speed_deg_s:
        failed.append(f"fast: {speed:.1f} deg/s > {prm.max_speed_deg_s}")
    return checks, failed
