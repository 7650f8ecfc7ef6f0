"""Astrometry benchmark (issue 4): agreement with RMS, conversion speed, calibration accuracy.

    python scripts/bench/astrometry.py [--points N] [--data DIR]

1. RMS comparison: each GMN UK station's first meteor (FTPdetectinfo Col/Row) converted with our model
   of ``platepar_meteor1.json``; angle to RMS's own RA/Dec and Azim/Elev, median and max per station.
2. Speed: pixel → az/el and pixel → RA/Dec (one time, and a time per point), RA/Dec → pixel, against
   a baseline in the same run: astropy ``SkyCoord(AltAz).transform_to(ICRS)`` on the same array.
3. Round trip pixel → sky → pixel over a 101×101 grid covering the whole frame.
4. Calibration from rendered stacks (guess 3° and 5 % off): pointing error, residual RMS, run time.

The last line is ``BENCH {json}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from ams_actors.data import load_star_table  # noqa: E402
from ams_actors.kernels.astrometry import (  # noqa: E402
    CameraModel,
    Lens,
    calibrate_stars,
    camera_from_platepar,
    detect_stars,
)
from ams_actors.kernels.astrometry.frames import as_time, radec_to_vec  # noqa: E402
from ams_actors.kernels.geo import angle_between_deg, azel_to_enu, enu_to_azel  # noqa: E402
from ams_actors.sim.reference_cameras import UK002F, UK009M  # noqa: E402
from ams_actors.sim.starfield import render_star_stack  # noqa: E402
from protocols.ftpdetectinfo import find_ftpdetectinfo, read_ftpdetectinfo  # noqa: E402
from protocols.platepar import read_platepar  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "gmn-uk-2026-07-12"


def rms_comparison(data: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for st_dir in sorted(p for p in data.iterdir() if (p / "platepar_meteor1.json").exists()):
        pp = read_platepar(st_dir / "platepar_meteor1.json")
        meteors, _ = read_ftpdetectinfo(find_ftpdetectinfo(st_dir)[0])
        m = next(mm for mm in meteors if mm.ff_name == pp.ff_name)
        times = as_time(list(m.times_utc))
        cam = camera_from_platepar(pp, times[0])
        x = np.array([f.col for f in m.frames])
        y = np.array([f.row for f in m.frames])
        ra, dec = cam.pixel_to_radec(x, y, times)
        az, el = cam.pixel_to_azel(x, y)
        d_rd = angle_between_deg(
            radec_to_vec(ra, dec), radec_to_vec([f.ra_deg for f in m.frames], [f.dec_deg for f in m.frames])
        )
        d_ae = angle_between_deg(
            azel_to_enu(az, el), azel_to_enu([f.azim_deg for f in m.frames], [f.elev_deg for f in m.frames])
        )
        out[st_dir.name] = {
            "distortion": pp.distortion_type,
            "frames": len(x),
            "radec_median_deg": round(float(np.median(d_rd)), 6),
            "radec_max_deg": round(float(d_rd.max()), 6),
            "azel_median_deg": round(float(np.median(d_ae)), 6),
            "azel_max_deg": round(float(d_ae.max()), 6),
        }
    return out


def _rate(fn: Any, n: int, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return n / best


def speed(n: int) -> dict[str, Any]:
    from astropy import units as u
    from astropy.coordinates import ICRS, AltAz, EarthLocation, SkyCoord

    cam = UK002F
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 639, n)
    y = rng.uniform(0, 359, n)
    t0 = datetime(2026, 7, 12, 22, 15, tzinfo=UTC)
    fr = cam.frame(t0)
    t_scalar = as_time(t0)
    t_points = t_scalar + np.linspace(0, 60, n) * u.s
    res: dict[str, Any] = {"points": n}
    res["pixel_to_azel_pts_s"] = round(_rate(lambda: cam.pixel_to_azel(x, y), n))
    res["pixel_to_radec_pts_s"] = round(_rate(lambda: cam.pixel_to_radec(x, y, t_scalar, frame=fr), n))
    res["pixel_to_radec_per_point_time_pts_s"] = round(_rate(lambda: cam.pixel_to_radec(x, y, t_points, frame=fr), n))
    ra, dec = cam.pixel_to_radec(x, y, t_scalar, frame=fr)
    res["radec_to_pixel_pts_s"] = round(_rate(lambda: cam.radec_to_pixel(ra, dec, t_scalar, frame=fr), n, 2))
    # baseline: astropy's own AltAz -> ICRS for the same directions (the "per point array" way)
    az, el = cam.pixel_to_azel(x, y)
    loc = EarthLocation.from_geodetic(cam.lon * u.deg, cam.lat * u.deg, cam.alt_m * u.m)
    frame = AltAz(obstime=t_scalar, location=loc)

    def astropy_way() -> None:
        SkyCoord(az * u.deg, el * u.deg, frame=frame).transform_to(ICRS())

    nb = n
    res["baseline_astropy_altaz_to_icrs_pts_s"] = round(_rate(astropy_way, nb, 2))
    res["speedup_vs_astropy"] = round(res["pixel_to_radec_pts_s"] / res["baseline_astropy_altaz_to_icrs_pts_s"], 1)
    # agreement with that baseline (astropy adds stellar aberration, which meteors do not have)
    sc = SkyCoord(az * u.deg, el * u.deg, frame=frame).transform_to(ICRS())
    d = angle_between_deg(radec_to_vec(ra, dec), radec_to_vec(sc.ra.deg, sc.dec.deg)) * 3600
    res["vs_astropy_median_arcsec"] = round(float(np.median(d)), 2)
    # round trip over the whole frame
    gx, gy = np.meshgrid(np.linspace(-0.5, 639.5, 101), np.linspace(-0.5, 359.5, 101))
    az2, el2 = cam.pixel_to_azel(gx, gy)
    bx, by = cam.azel_to_pixel(az2, el2)
    res["round_trip_azel_max_px"] = float(f"{np.nanmax(np.hypot(bx - gx, by - gy)):.2e}")
    ra2, dec2 = cam.pixel_to_radec(gx, gy, t_scalar, frame=fr)
    bx, by = cam.radec_to_pixel(ra2, dec2, t_scalar, frame=fr)
    res["round_trip_radec_max_px"] = float(f"{np.nanmax(np.hypot(bx - gx, by - gy)):.2e}")
    return res


def calibration() -> dict[str, Any]:
    table = load_star_table()
    cases = {
        "uk002f_lens_640x360": (
            UK002F,
            datetime(2026, 7, 12, 22, 15, tzinfo=UTC),
            135.0,
            1.05,
        ),
        "uk009m_lens_640x360": (
            UK009M,
            datetime(2026, 1, 15, 3, 0, tzinfo=UTC),
            300.0,
            0.95,
        ),
        "rms_like_704x576_zenith": (
            CameraModel(
                lat=45.0,
                lon=15.0,
                alt_m=200.0,
                az=10.0,
                el=88.0,
                roll=0.0,
                scale=704 / 100.0,
                lens=Lens(width=704, height=576, kind="radial-odd", x0=5.0, y0=-3.0, k=(0.05, 0.01)),
            ),
            datetime(2026, 3, 1, 23, 0, tzinfo=UTC),
            45.0,
            1.05,
        ),
    }
    out: dict[str, Any] = {}
    for name, (true, t0, direction, sf) in cases.items():
        c = true.center_enu()
        up = np.array([0.0, 0.0, 1.0]) - c[2] * c
        if np.linalg.norm(up) < 1e-6:
            up = np.array([0.0, 1.0, 0.0])
        up /= np.linalg.norm(up)
        right = np.cross(c, up)
        a, o = np.radians(direction), np.radians(3.0)
        b = np.cos(o) * c + np.sin(o) * (np.cos(a) * up + np.sin(a) * right)
        gaz, gel = enu_to_azel(b)
        guess = replace(
            true,
            az=float(gaz),
            el=float(gel),
            roll=true.roll + 1.0,
            scale=true.scale * sf,
            lens=Lens(width=true.width, height=true.height, kind="radial-odd"),
        )
        img = render_star_stack(true, t0, catalog=table, rng=np.random.default_rng(11))
        tt = time.perf_counter()
        det = detect_stars(img)
        fit = calibrate_stars(det, guess, table, t0 + timedelta(seconds=30))
        dt = time.perf_counter() - tt
        gx, gy = np.meshgrid(np.linspace(0, true.width - 1, 33), np.linspace(0, true.height - 1, 17))
        frame_err = angle_between_deg(fit.camera.pixel_to_enu(gx, gy), true.pixel_to_enu(gx, gy)) * true.scale
        out[name] = {
            "guess_off_deg": round(float(angle_between_deg(guess.center_enu(), c)), 3),
            "guess_scale_off": round(sf - 1.0, 3),
            "pointing_error_deg": round(float(angle_between_deg(fit.camera.center_enu(), c)), 5),
            "rms_px": round(fit.rms_px, 3),
            "rms_arcmin": round(fit.rms_arcmin, 3),
            "matched": fit.n_matched,
            "detected": fit.n_detected,
            "frame_max_err_px": round(float(frame_err.max()), 3),
            "seconds": round(dt, 2),
        }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=200_000)
    ap.add_argument("--data", type=Path, default=SHARED)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    bench: dict[str, Any] = {"bench": "astrometry"}
    t = time.perf_counter()
    if args.data.exists():
        bench["rms"] = rms_comparison(args.data)
        for st, r in bench["rms"].items():
            print(
                f"RMS {st} ({r['distortion']}, {r['frames']} frames): "
                f"RA/Dec median {r['radec_median_deg'] * 3600:.1f}″ max {r['radec_max_deg'] * 3600:.1f}″; "
                f"Az/El median {r['azel_median_deg'] * 3600:.2f}″ max {r['azel_max_deg'] * 3600:.2f}″"
            )
        bench["rms_worst_median_deg"] = max(
            max(r["radec_median_deg"], r["azel_median_deg"]) for r in bench["rms"].values()
        )
    bench["speed"] = speed(args.points)
    s = bench["speed"]
    print(
        f"speed ({s['points']} points): pixel→az/el {s['pixel_to_azel_pts_s']:,}/s, pixel→RA/Dec "
        f"{s['pixel_to_radec_pts_s']:,}/s ({s['pixel_to_radec_per_point_time_pts_s']:,}/s with per-point times), "
        f"RA/Dec→pixel {s['radec_to_pixel_pts_s']:,}/s; astropy AltAz→ICRS baseline "
        f"{s['baseline_astropy_altaz_to_icrs_pts_s']:,}/s (×{s['speedup_vs_astropy']})"
    )
    print(f"round trip max: az/el {s['round_trip_azel_max_px']} px, RA/Dec {s['round_trip_radec_max_px']} px")
    bench["calibration"] = calibration()
    for name, r in bench["calibration"].items():
        print(
            f"calibration {name}: pointing error {r['pointing_error_deg']}°, RMS {r['rms_px']} px "
            f"({r['rms_arcmin']}′), {r['matched']}/{r['detected']} matched, frame max {r['frame_max_err_px']} px, "
            f"{r['seconds']} s"
        )
    bench["wall_s"] = round(time.perf_counter() - t, 1)
    print("BENCH " + json.dumps(bench, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
