"""From the members of an event to the solver's input: meteor archive JSON + station site → obs.json.

The claimant writes `obs.json` once per epoch, so every station that later re-solves or audits the
event sees exactly what was solved. Pure conversion: validation of each meteor document against its
schema happens before (a bad partner file is skipped with a log line by the caller).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from protocols.errors import InputError
from protocols.observations import ObservationSet, StationObservation, parse_utc


@dataclass(frozen=True, slots=True)
class Site:
    lat: float
    lon: float
    alt_m: float


def observation_from_meteor(doc: Mapping[str, Any], site: Site, source: str = "meteor") -> StationObservation:
    """One station's track: frames with az/el, times relative to the first of them."""
    frames = [f for f in doc.get("frames", []) if "az" in f and "el" in f]
    if len(frames) < 2:
        raise InputError(source, "frames", f"{len(frames)} frame(s) with az/el; need at least 2")
    times_utc: list[datetime] = [parse_utc(str(f["t_utc"])) for f in frames]
    t_ref = times_utc[0]
    has_radec = all("ra" in f and "dec" in f for f in frames)
    has_mag = all("mag" in f for f in frames)
    return StationObservation(
        station_id=str(doc["station"]),
        camera_id=str(doc["camera"]),
        lat=site.lat,
        lon=site.lon,
        alt_m=site.alt_m,
        t_ref_utc=t_ref,
        times=tuple((t - t_ref).total_seconds() for t in times_utc),
        azimuths=tuple(float(f["az"]) for f in frames),
        elevations=tuple(float(f["el"]) for f in frames),
        ra=tuple(float(f["ra"]) for f in frames) if has_radec else None,
        dec=tuple(float(f["dec"]) for f in frames) if has_radec else None,
        magnitudes=tuple(float(f["mag"]) for f in frames) if has_mag else None,
        pixel_scale_arcsec=_pixel_scale_arcsec(doc),
    )


def _pixel_scale_arcsec(doc: Mapping[str, Any]) -> float | None:
    """The camera's plate scale the Verifier measured with (its report), so the solver judges this
    camera's residuals in its own pixels; None when absent or implausible (a partner's file)."""
    report = doc.get("report")
    scale = report.get("pixel_scale_deg") if isinstance(report, Mapping) else None
    if isinstance(scale, int | float) and not isinstance(scale, bool) and 1e-4 < float(scale) < 10.0:
        return round(float(scale) * 3600.0, 3)
    return None


def build_observation_set(event_id: str, members: Sequence[tuple[Mapping[str, Any], Site]]) -> ObservationSet:
    """The Observation set of design.md §7 for an event: one entry per member meteor, station order."""
    obs = [observation_from_meteor(doc, site, f"{event_id}/{doc.get('meteor_id', '?')}") for doc, site in members]
    obs.sort(key=lambda o: (o.station_id, o.camera_id))
    return ObservationSet(event_id=event_id, observations=tuple(obs))
