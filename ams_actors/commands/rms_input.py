"""RMS (GMN) data below a directory: its detections and its stations, for `ams correlate --rms`.

Station coordinates come from a ``stations.json`` in DIR or below it, in either key style seen in
real data (``{STATION: {lat, lon, elev}}`` or ``{STATION: {lat_deg, lon_deg, elev_m}}``), else from
RMS platepar JSON files (``platepar*.json``: one platepar, or a dict of them keyed by FF name as in
``platepars_all_recalibrated.json``). Both give the elevation above mean sea level, as RMS configs
do; it is converted to the ellipsoid with the geoid height (kernels.geoid: EGM2008 on a 1° grid). The
platepars also give each camera's plate scale (``F_scale`` px/deg), which the solver's quality rules
compare residuals with.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from protocols.errors import InputError

if TYPE_CHECKING:
    from protocols.ftpdetectinfo import RmsMeteor
    from protocols.meteor_index import MeteorIndexEntry
    from protocols.observations import StationObservation

#: the two key styles of stations.json: (lat, lon, elevation)
KEY_STYLES = (("lat", "lon", "elev"), ("lat_deg", "lon_deg", "elev_m"))


@dataclass(frozen=True, slots=True)
class RmsStation:
    """A station's place: ``alt_m`` above the WGS84 ellipsoid, ``elev_msl_m`` as RMS gave it."""

    lat: float
    lon: float
    elev_msl_m: float
    alt_m: float
    geoid_m: float | None  # None: position not a number (alt_m is then the sea-level height)
    pixel_scale_arcsec: float | None
    source: str


def rms_meteor_id(m: RmsMeteor) -> str:
    """A stable meteor id for an RMS detection: FF name without prefix/extension plus the meteor number."""
    stem = m.ff_name
    for pre in ("FF_", "FF"):
        if stem.startswith(pre):
            stem = stem[len(pre) :]
            break
    stem = stem.rsplit(".", 1)[0]
    return f"{stem}_{m.meteor_no:04d}"[-64:]


def entry_from_rms(m: RmsMeteor, source: str) -> MeteorIndexEntry:
    """A meteor-index entry from one RMS detection (az/el as RMS wrote them, RA/Dec J2000)."""
    from protocols.meteor_index import entry_from_track

    fr = m.frames
    return entry_from_track(
        meteor_id=rms_meteor_id(m),
        station_id=m.station_id,
        camera_id=m.cam_code,
        times_utc=m.times_utc,
        az=[f.azim_deg for f in fr],
        el=[f.elev_deg for f in fr],
        ra=[f.ra_deg for f in fr],
        dec=[f.dec_deg for f in fr],
        mag=[f.mag for f in fr],
        intensity=[f.intensity for f in fr],
        source=source,
    )


def observation_from_rms(m: RmsMeteor, station: RmsStation, clock_error_s: float = 0.0) -> StationObservation:
    """One station's entry of an Observation set (design.md §7) from an RMS detection.

    ``clock_error_s``: how far the station's clock is ahead of the network's; its times are corrected
    by it, so the solver sees the meteor when it happened.
    """
    from datetime import timedelta

    from protocols.observations import StationObservation

    times = m.times_utc
    t_ref = times[0] - timedelta(seconds=clock_error_s)
    fr = m.frames
    return StationObservation(
        station_id=m.station_id,
        camera_id=m.cam_code,
        lat=station.lat,
        lon=station.lon,
        alt_m=station.alt_m,
        t_ref_utc=t_ref,
        times=tuple(round((t - times[0]).total_seconds(), 6) for t in times),
        azimuths=tuple(f.azim_deg for f in fr),
        elevations=tuple(f.elev_deg for f in fr),
        ra=tuple(f.ra_deg for f in fr),
        dec=tuple(f.dec_deg for f in fr),
        magnitudes=tuple(f.mag for f in fr),
        pixel_scale_arcsec=station.pixel_scale_arcsec,
    )


def _from_platepar(pp: Any) -> tuple[str, dict[str, float]] | None:
    if isinstance(pp, dict) and {"lat", "lon", "elev"} <= pp.keys() and isinstance(pp.get("station_code"), str):
        try:
            site = {k: float(pp[k]) for k in ("lat", "lon", "elev")}
            if isinstance(pp.get("F_scale"), int | float) and pp["F_scale"] > 0:
                site["scale"] = 3600.0 / float(pp["F_scale"])
        except (TypeError, ValueError):
            return None
        return pp["station_code"], site
    return None


def _from_stations_json(path: Path, sid: str, v: Any) -> dict[str, float]:
    if not isinstance(v, dict):
        raise InputError(str(path), sid, "must be an object with lat/lon/elev (or lat_deg/lon_deg/elev_m)")
    for lat_k, lon_k, elev_k in KEY_STYLES:
        if lat_k in v or lon_k in v:
            try:
                return {"lat": float(v[lat_k]), "lon": float(v[lon_k]), "elev": float(v.get(elev_k, 0.0))}
            except KeyError as err:
                raise InputError(str(path), f"{sid}.{err.args[0]}", "missing") from None
            except (TypeError, ValueError):
                raise InputError(str(path), sid, f"{lat_k}, {lon_k} and {elev_k} must be numbers") from None
    raise InputError(str(path), sid, "needs lat, lon, elev (or lat_deg, lon_deg, elev_m)")


def load_stations(root: Path) -> dict[str, RmsStation]:
    """Every station with coordinates below ``root`` (stations.json wins over platepars)."""
    from ams_actors.data import load_geoid_grid
    from ams_actors.kernels.geoid import geoid_height_m

    raw: dict[str, tuple[dict[str, float], str]] = {}
    scales: dict[str, float] = {}
    for path in sorted(root.rglob("platepar*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            print(f"ams correlate: {path}: skipped: {err}", file=sys.stderr)
            continue
        found = _from_platepar(doc)
        if found is None and isinstance(doc, dict):
            found = next((s for s in map(_from_platepar, doc.values()) if s), None)
        if found:
            raw.setdefault(found[0], (found[1], str(path)))
            if "scale" in found[1]:
                scales.setdefault(found[0], found[1]["scale"])
    for path in sorted(root.rglob("stations.json"), key=lambda p: (len(p.parts), str(p)), reverse=True):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise InputError(str(path), None, f"unreadable: {err}") from None
        if not isinstance(doc, dict):
            raise InputError(str(path), None, "must be an object {STATION: {lat, lon, elev}}")
        for sid, v in doc.items():
            raw[sid] = (_from_stations_json(path, sid, v), str(path))
    out: dict[str, RmsStation] = {}
    for sid, (v, source) in raw.items():
        n = geoid_height_m(v["lat"], v["lon"], load_geoid_grid())
        out[sid] = RmsStation(v["lat"], v["lon"], v["elev"], v["elev"] + (n or 0.0), n, scales.get(sid), source)
    return out
