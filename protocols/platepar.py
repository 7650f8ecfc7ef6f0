"""RMS platepar files (JSON): the Global Meteor Network's camera calibration, read strictly.

We read them to use GMN stations' calibrations (and to check our camera model against RMS itself).
Only the fields the astrometry needs are kept; a missing or mistyped one is an InputError naming the
file and the field, because a silently defaulted distortion term moves every meteor on the sky.

Accepted shapes: a plain platepar object, or RMS's ``platepars_all_recalibrated.json`` mapping of
``FF file name → platepar`` (pick the entry with ``key``; a single-entry mapping needs no key).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from protocols.errors import InputError

__all__ = ["DISTORTION_TYPES", "Platepar", "parse_platepar", "read_platepar"]

DISTORTION_TYPES = (
    "poly3+radial",
    "poly3+radial3",
    "poly3+radial5",
    "radial3-all",
    "radial4-all",
    "radial5-all",
    "radial3-odd",
    "radial5-odd",
    "radial7-odd",
    "radial9-odd",
)


@dataclass(frozen=True, slots=True)
class Platepar:
    """The astrometric part of an RMS platepar (angles in degrees, ``F_scale`` in px/deg)."""

    station_code: str
    lat: float
    lon: float
    elev: float
    X_res: int
    Y_res: int
    JD: float
    Ho: float
    RA_d: float
    dec_d: float
    pos_angle_ref: float
    F_scale: float
    distortion_type: str
    x_poly_fwd: tuple[float, ...]
    y_poly_fwd: tuple[float, ...]
    x_poly_rev: tuple[float, ...]
    y_poly_rev: tuple[float, ...]
    refraction: bool
    equal_aspect: bool
    asymmetry_corr: bool
    force_distortion_centre: bool
    measurement_apparent_to_true_refraction: bool
    UT_corr: float
    source: str = ""
    ff_name: str = ""
    star_list_jd: float | None = None  # JD of the stars the fit used (the recalibration time), if listed


def _num(d: dict[str, Any], key: str, source: str, default: float | None = None) -> float:
    if key not in d:
        if default is not None:
            return default
        raise InputError(source, key, "missing")
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(float(v)):
        raise InputError(source, key, f"expected a finite number, got {v!r}")
    return float(v)


def _flag(d: dict[str, Any], key: str, source: str, default: bool) -> bool:
    v = d.get(key, default)
    if not isinstance(v, bool):
        raise InputError(source, key, f"expected true or false, got {v!r}")
    return v


def _poly(d: dict[str, Any], key: str, source: str) -> tuple[float, ...]:
    v = d.get(key)
    if not isinstance(v, list) or not v:
        raise InputError(source, key, "missing or not a list of numbers")
    out = []
    for i, x in enumerate(v):
        if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(float(x)):
            raise InputError(source, f"{key}[{i}]", f"expected a finite number, got {x!r}")
        out.append(float(x))
    return tuple(out)


def _min_poly_length(dist: str, equal_aspect: bool, asym: bool, force_centre: bool) -> int:
    if dist.startswith("poly3+radial"):
        return {"poly3+radial": 12, "poly3+radial3": 13, "poly3+radial5": 14}[dist]
    n_k = {
        "radial3-all": 2,
        "radial4-all": 3,
        "radial5-all": 4,
        "radial3-odd": 1,
        "radial5-odd": 2,
        "radial7-odd": 3,
        "radial9-odd": 4,
    }[dist]
    return (0 if force_centre else 2) + (0 if equal_aspect else 1) + (2 if asym else 0) + max(n_k, 2)


def parse_platepar(d: Any, source: str, ff_name: str = "") -> Platepar:
    """A :class:`Platepar` from one decoded platepar object."""
    if not isinstance(d, dict):
        raise InputError(source, None, "platepar is not a JSON object")
    dist = d.get("distortion_type", "poly3+radial")
    if dist not in DISTORTION_TYPES:
        raise InputError(source, "distortion_type", f"unknown {dist!r} (known: {', '.join(DISTORTION_TYPES)})")
    equal_aspect = _flag(d, "equal_aspect", source, False)
    asym = _flag(d, "asymmetry_corr", source, False)
    force_centre = _flag(d, "force_distortion_centre", source, False)
    polys = {k: _poly(d, k, source) for k in ("x_poly_fwd", "y_poly_fwd", "x_poly_rev", "y_poly_rev")}
    need = _min_poly_length(dist, equal_aspect, asym, force_centre)
    for k in ("x_poly_fwd", "x_poly_rev") if dist.startswith("radial") else tuple(polys):
        if len(polys[k]) < need:
            raise InputError(source, k, f"{dist} needs {need} terms here, got {len(polys[k])}")
    xr, yr = _num(d, "X_res", source), _num(d, "Y_res", source)
    if xr <= 0 or yr <= 0 or xr != int(xr) or yr != int(yr):
        raise InputError(source, "X_res/Y_res", f"expected positive integers, got {xr}, {yr}")
    f_scale = _num(d, "F_scale", source)
    if f_scale <= 0:
        raise InputError(source, "F_scale", f"must be > 0, got {f_scale}")
    lat = _num(d, "lat", source)
    if not -90 <= lat <= 90:
        raise InputError(source, "lat", f"must be within -90..90, got {lat}")
    stars = d.get("star_list")
    star_jd = None
    if isinstance(stars, list) and stars and isinstance(stars[0], list) and stars[0]:
        first = stars[0][0]
        if isinstance(first, int | float) and not isinstance(first, bool) and first > 2e6:
            star_jd = float(first)
    return Platepar(
        station_code=str(d.get("station_code", "")),
        lat=lat,
        lon=_num(d, "lon", source),
        elev=_num(d, "elev", source, 0.0),
        X_res=int(xr),
        Y_res=int(yr),
        JD=_num(d, "JD", source),
        Ho=_num(d, "Ho", source),
        RA_d=_num(d, "RA_d", source),
        dec_d=_num(d, "dec_d", source),
        pos_angle_ref=_num(d, "pos_angle_ref", source),
        F_scale=f_scale,
        distortion_type=dist,
        x_poly_fwd=polys["x_poly_fwd"],
        y_poly_fwd=polys["y_poly_fwd"],
        x_poly_rev=polys["x_poly_rev"],
        y_poly_rev=polys["y_poly_rev"],
        refraction=_flag(d, "refraction", source, True),
        equal_aspect=equal_aspect,
        asymmetry_corr=asym,
        force_distortion_centre=force_centre,
        measurement_apparent_to_true_refraction=_flag(d, "measurement_apparent_to_true_refraction", source, False),
        UT_corr=_num(d, "UT_corr", source, 0.0),
        source=source,
        ff_name=ff_name,
        star_list_jd=star_jd,
    )


def read_platepar(path: Path, key: str | None = None) -> Platepar:
    """Read a platepar file (plain, or a recalibrated mapping: ``key`` = FF file name)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(str(path), None, f"cannot read platepar: {err}") from None
    if isinstance(data, dict) and "F_scale" in data:
        return parse_platepar(data, str(path))
    if isinstance(data, dict) and data and all(isinstance(v, dict) for v in data.values()):
        if key is None:
            if len(data) != 1:
                raise InputError(str(path), None, f"{len(data)} platepars in the file: name the FF file (key)")
            key = next(iter(data))
        if key not in data:
            raise InputError(str(path), key, "no platepar for this FF file")
        return parse_platepar(data[key], f"{path}[{key}]", ff_name=key)
    raise InputError(str(path), None, "not a platepar (no F_scale) nor a mapping of platepars")
