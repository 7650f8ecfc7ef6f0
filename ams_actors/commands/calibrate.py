"""`ams calibrate --camera ID [--stack FILE] [--plot]`: fit a camera against real stars in a stack.

Starts from the camera's newest valid calibration or, without one, from the approximate pointing in
station.toml; detects the stars in the stack, matches them to the bundled BSC5 table, fits pointing,
roll, scale and distortion, prints the residuals and writes a dated calibration file into the
camera's calibration folder — unless the fit is worse than the calibration in use (exit 1; ``--force``
writes it anyway). Without a station.toml, give the site and pointing as flags
(``--lat --lon --alt --az --el --fov [--rotation] --out DIR``).

Exit codes: 0 written (or ``--dry-run`` fit fine), 1 no fit / refused, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ams_actors.commands.common import add_config_option
from protocols.calibration import DEFAULT_MAX_SHIFT_DEG
from protocols.errors import InputError

_CLIP_TIME_RE = re.compile(r"(\d{4})_(\d{2})_(\d{2})_(\d{2})_(\d{2})_(\d{2})_(\d{3})")


def configure(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.add_argument("--camera", required=True, metavar="ID", help="camera id (six digits)")
    parser.add_argument("--stack", metavar="FILE", help="minute stack image (default: the newest in SD/proc2)")
    parser.add_argument("--time", metavar="UTC", help="mid-exposure UTC of the stack (default: from its name + 30 s)")
    parser.add_argument("--plot", nargs="?", const="", metavar="PNG", help="write a PNG of stars and residuals")
    parser.add_argument("--mag-limit", type=float, default=5.5, help="faintest catalog star used (default 5.5)")
    parser.add_argument("--force", action="store_true",
                        help="write the calibration even if refused (worse than, or moved from, the one in use)")
    parser.add_argument("--max-shift", type=float, metavar="DEG",
                        help="refuse a fit whose pointing moved more than this from the calibration in use "
                             f"(default: station.toml [calibration] max_shift_deg, else {DEFAULT_MAX_SHIFT_DEG:g})")
    parser.add_argument("--dry-run", action="store_true", help="fit and report, write nothing")
    parser.add_argument("--json", action="store_true", help="print only the result as one JSON document")
    parser.add_argument("--fresh", action="store_true", help="start from station.toml pointing, not the last fit")
    g = parser.add_argument_group("without station.toml")
    g.add_argument("--lat", type=float)
    g.add_argument("--lon", type=float)
    g.add_argument("--alt", type=float, default=0.0, help="metres above the WGS84 ellipsoid")
    g.add_argument("--az", type=float, help="approximate azimuth of the image centre (deg)")
    g.add_argument("--el", type=float, help="approximate elevation of the image centre (deg)")
    g.add_argument("--fov", type=float, help="approximate horizontal field of view (deg)")
    g.add_argument("--rotation", type=float, default=0.0, help="approximate image rotation (deg)")
    g.add_argument("--out", metavar="DIR", help="calibration folder (default: the camera's, from station.toml)")


def _stack_time(path: Path, explicit: str | None) -> datetime:
    if explicit:
        try:
            t = datetime.fromisoformat(explicit.replace("Z", "+00:00"))
        except ValueError:
            raise InputError("--time", None, f"not an ISO-8601 time: {explicit!r}") from None
        return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    m = _CLIP_TIME_RE.search(path.name)
    if m is None:
        raise InputError(str(path), None, "no YYYY_MM_DD_HH_MM_SS_mmm time in the name: give --time")
    y, mo, d, h, mi, s, ms = (int(v) for v in m.groups())
    return datetime(y, mo, d, h, mi, s, ms * 1000, tzinfo=UTC) + timedelta(seconds=30)


def _newest_stack(data_root: Path, camera_id: str) -> Path:
    stacks = sorted((data_root / "SD" / "proc2").glob(f"*/images/*_{camera_id}-stacked.png"))
    if not stacks:
        raise InputError(str(data_root / "SD" / "proc2"), None, f"no stacks of camera {camera_id}: give --stack")
    return stacks[-1]


def _site_and_guess(args: argparse.Namespace) -> tuple[dict[str, Any], Path | None, str]:
    """(site + pointing guess, calibration dir, station id) from flags or station.toml."""
    explicit = all(getattr(args, k) is not None for k in ("lat", "lon", "az", "el", "fov"))
    cfg_path = Path(args.config)
    if explicit and not cfg_path.exists():
        guess = {
            "lat": args.lat,
            "lon": args.lon,
            "alt_m": args.alt,
            "az": args.az,
            "el": args.el,
            "fov_h": args.fov,
            "rotation": args.rotation,
            "width": None,
            "height": None,
            "data_root": None,
            "mask": None,
            "max_shift_deg": DEFAULT_MAX_SHIFT_DEG,
        }
        return guess, Path(args.out) if args.out else None, ""
    from ams_actors.config import load_config

    cfg = load_config(cfg_path)
    try:
        cam = cfg.camera(args.camera)
    except KeyError:
        raise InputError(str(cfg_path), "cameras", f"no camera {args.camera!r}") from None
    from protocols.calibration import camera_calibration_dir

    st = cfg.station
    cal_dir = camera_calibration_dir(cam.calibration, cam.id, cfg_path.resolve().parent, cfg.data_root)
    guess = {
        "lat": st.lat if args.lat is None else args.lat,
        "lon": st.lon if args.lon is None else args.lon,
        "alt_m": st.alt_m,
        "az": cam.az_deg if args.az is None else args.az,
        "el": cam.el_deg if args.el is None else args.el,
        "fov_h": cam.fov_h_deg if args.fov is None else args.fov,
        "rotation": cam.rotation_deg,
        "width": cam.sd_width,
        "height": cam.sd_height,
        "data_root": cfg.data_root,
        "mask": (cfg_path.resolve().parent / cam.mask) if cam.mask else None,
        "max_shift_deg": cfg.calibration.max_shift_deg,
    }
    return guess, Path(args.out) if args.out else cal_dir, cfg.station_id


def write_plot(path: Path, image: Any, fit: Any, catalog_xy: tuple[Any, Any], title: str) -> None:
    """Stack with catalog stars (circles), matched detections (+) and residual vectors (×20, red)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    h, w = image.shape[:2]
    fig = plt.figure(figsize=(w / 60 + 1, h / 60 + 1), dpi=100)
    ax = fig.add_axes((0.0, 0.0, 1.0, 0.94))
    lo, hi = np.percentile(image, [1, 99.7])
    ax.imshow(image, cmap="gray", vmin=lo, vmax=max(hi, lo + 1), origin="upper", interpolation="nearest")
    cx, cy = catalog_xy
    ax.scatter(cx, cy, s=60, facecolors="none", edgecolors="#3fa7ff", linewidths=0.8, label="catalog (V ≤ limit)")
    ax.scatter(fit.det_x, fit.det_y, s=30, marker="+", c="#7CFC00", linewidths=0.8, label="matched star")
    ax.quiver(
        fit.det_x,
        fit.det_y,
        (fit.cat_x - fit.det_x) * 20,
        (fit.cat_y - fit.det_y) * 20,
        angles="xy",
        scale_units="xy",
        scale=1,
        color="red",
        width=0.0018,
        label="residual ×20",
    )
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.set_axis_off()
    ax.legend(loc="lower right", fontsize=7, framealpha=0.6)
    fig.suptitle(title, fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    import warnings

    import cv2
    import numpy as np

    from ams_actors.data import load_star_table
    from ams_actors.kernels.astrometry import AstrometryWarning, camera_from_record, guess_camera, project_stars
    from ams_actors.kernels.astrometry.stack import fit_stack, matched_stars
    from protocols.calibration import CalibrationRecord, newest_valid_calibration, write_calibration

    if args.plot is not None:
        from ams_actors.runtime.extras import require

        require("plots")  # before the fit, not after it
    guess_d, cal_dir, station_id = _site_and_guess(args)
    if args.stack:
        stack_path = Path(args.stack)
    elif guess_d["data_root"] is not None:
        stack_path = _newest_stack(Path(guess_d["data_root"]), args.camera)
    else:
        raise InputError("ams calibrate", "--stack", "required without a station.toml")
    image = cv2.imread(str(stack_path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise InputError(str(stack_path), None, "cannot read the stack image")
    t_mid = _stack_time(stack_path, args.time)
    mask = None
    if guess_d.get("mask") is not None:
        m = cv2.imread(str(guess_d["mask"]), cv2.IMREAD_GRAYSCALE)
        if m is None or m.shape != image.shape:
            raise InputError(str(guess_d["mask"]), "mask", f"unreadable or not {image.shape[1]}x{image.shape[0]}")
        mask = m > 127  # white = ignore (trees, street lights)
    h, w = image.shape
    current = newest_valid_calibration(cal_dir, args.camera) if cal_dir is not None else None
    if current is not None and not args.fresh:
        guess = camera_from_record(current)
        if (guess.width, guess.height) != (w, h):
            current_size = f"{guess.width}x{guess.height}"
            print(
                f"ams calibrate: calibration in use is for {current_size}, stack is {w}x{h}: starting fresh",
                file=sys.stderr,
            )
            guess = guess_camera(
                guess_d["lat"],
                guess_d["lon"],
                guess_d["alt_m"],
                w,
                h,
                guess_d["az"],
                guess_d["el"],
                guess_d["fov_h"],
                guess_d["rotation"],
            )
    else:
        guess = guess_camera(
            guess_d["lat"],
            guess_d["lon"],
            guess_d["alt_m"],
            w,
            h,
            guess_d["az"],
            guess_d["el"],
            guess_d["fov_h"],
            guess_d["rotation"],
        )

    table = load_star_table()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AstrometryWarning)
        max_shift = args.max_shift if args.max_shift is not None else guess_d["max_shift_deg"]
        fit, accept, reason = fit_stack(image, t_mid, guess, current, mag_limit=args.mag_limit, table=table,
                                        mask=mask, max_shift_deg=max_shift)
    if fit is None:
        print(f"ams calibrate: camera {args.camera}: no fit: {reason}", file=sys.stderr)
        return 1
    for wmsg in caught:
        print(f"ams calibrate: warning: {wmsg.message}", file=sys.stderr)

    cam = fit.camera
    quality = fit.quality()
    az_c, el_c = cam.pixel_to_azel(w / 2.0, h / 2.0)
    fov = cam.fov_deg()
    lines = [
        f"camera {args.camera}: stack {stack_path.name} at {t_mid:%Y-%m-%d %H:%M:%S} UTC",
        f"  stars         {fit.n_detected} detected, {fit.n_catalog} catalog (V ≤ {args.mag_limit}), "
        f"{fit.n_matched} matched",
        f"  residuals     RMS {fit.rms_px:.2f} px = {fit.rms_arcmin:.2f}′, median {quality['median_px']:.2f} px, "
        f"max {quality['max_px']:.2f} px",
        f"  centre        az {float(az_c):.3f}°  el {float(el_c):.3f}°  roll {cam.roll:.3f}°",
        f"  scale         {cam.scale:.4f} px/°, field {fov[0]:.2f}° × {fov[1]:.2f}°",
    ]
    written: Path | None = None
    if args.dry_run:
        lines.append(f"  (dry run: nothing written; {reason})")
    elif not accept and not args.force:
        print(
            f"ams calibrate: camera {args.camera}: fit refused: {reason} (use --force to write it anyway)",
            file=sys.stderr,
        )
    elif cal_dir is None:
        raise InputError("ams calibrate", "--out", "no calibration folder: give --out or a station.toml")
    else:
        record = CalibrationRecord(
            camera_id=args.camera,
            station_id=station_id,
            obs_utc=t_mid,
            model=cam.to_dict(),
            fit=quality,
            stack=stack_path.name,
            stars=matched_stars(fit, table),
        )
        written = write_calibration(cal_dir, record)
        lines.append(f"  written       {written}  ({reason})")
    if args.plot is not None:
        png = (
            Path(args.plot)
            if args.plot
            else (written.with_suffix(".png") if written else stack_path.with_name(stack_path.stem + "-calib.png"))
        )
        cat = project_stars(cam, table, t_mid, mag_limit=args.mag_limit)
        title = (
            f"{args.camera} {t_mid:%Y-%m-%d %H:%M:%S} UTC: {fit.n_matched} matched / {fit.n_detected} "
            f"detected / {fit.n_catalog} catalog; RMS {fit.rms_px:.2f} px = {fit.rms_arcmin:.2f}′"
        )
        write_plot(png, np.asarray(image), fit, (cat.x, cat.y), title)
        lines.append(f"  plot          {png}")
    if args.json:  # stdout holds the one JSON document only; refusals and warnings went to stderr
        doc = {
            "camera_id": args.camera,
            "stack": str(stack_path),
            "accepted": accept,
            "reason": reason,
            "written": str(written) if written else None,
            "centre": {"az": round(float(az_c), 4), "el": round(float(el_c), 4), "roll": round(float(cam.roll), 4)},
            **quality,
        }
        print(json.dumps(doc))
    else:
        print("\n".join(lines))
    return 0 if (written is not None or (args.dry_run and accept)) else 1
