"""The solver's input (Observation set) and output (Solution), design.md §7.

Both cross machine boundaries (the claimant writes ``obs.json``; solutions live in the bucket), so
parsing is strict and every problem names its field. Plain Python only: the kernels turn these into
numpy arrays, and protocols must stay importable without numpy.

Two kinds of trouble are kept apart on purpose: a document that is not an Observation set at all
(not JSON, a missing field, a string where a number belongs) raises :class:`InputError` here; data
that is well-formed but unsolvable (one station, NaN, times going backwards, stations on top of each
other) is the solver's call and becomes a Solution with ``status: "failed"``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from protocols.errors import InputError

__all__ = [
    "ID_PATTERN",
    "SOLUTION_SCHEMA",
    "GeoPoint",
    "ObservationSet",
    "Orbit",
    "Quality",
    "Radiant",
    "Solution",
    "SolverInfo",
    "StationObservation",
    "format_utc",
    "parse_observation_set",
    "parse_observation_set_json",
    "parse_utc",
]


def parse_utc(text: str) -> datetime:
    """An aware UTC datetime from ISO-8601 (``Z`` or an offset; naive text is taken as UTC)."""
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def format_utc(dt: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ``: the form §7 shows for t_ref_utc."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class StationObservation:
    """One camera's track of the meteor: times (s after ``t_ref_utc``) and true az/el (deg)."""

    station_id: str
    camera_id: str
    lat: float
    lon: float
    alt_m: float
    t_ref_utc: datetime
    times: tuple[float, ...]
    azimuths: tuple[float, ...]
    elevations: tuple[float, ...]
    ra: tuple[float, ...] | None = None
    dec: tuple[float, ...] | None = None
    magnitudes: tuple[float, ...] | None = None
    #: the camera's plate scale (″/px) where known: what "residuals far above the pixel scale" means
    pixel_scale_arcsec: float | None = None

    def to_json_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "station_id": self.station_id,
            "camera_id": self.camera_id,
            "lat": self.lat,
            "lon": self.lon,
            "alt_m": self.alt_m,
            "t_ref_utc": format_utc(self.t_ref_utc),
            "times": list(self.times),
            "azimuths": list(self.azimuths),
            "elevations": list(self.elevations),
        }
        for name in ("ra", "dec", "magnitudes"):
            value = getattr(self, name)
            if value is not None:
                d[name] = list(value)
        if self.pixel_scale_arcsec is not None:
            d["pixel_scale_arcsec"] = self.pixel_scale_arcsec
        return d


@dataclass(frozen=True, slots=True)
class ObservationSet:
    event_id: str
    observations: tuple[StationObservation, ...]

    def to_json_dict(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "observations": [o.to_json_dict() for o in self.observations]}


#: Ids that are safe as S3 key parts and file names (design.md §5).
ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _number(source: str, where: str, value: object) -> float:
    # bool is an int in Python but never a coordinate.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(source, where, f"expected a number, got {type(value).__name__}")
    return float(value)


def _string(source: str, where: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InputError(source, where, "expected a non-empty string")
    return value


def _numbers(source: str, where: str, value: object) -> tuple[float, ...]:
    if not isinstance(value, list):
        raise InputError(source, where, f"expected a list of numbers, got {type(value).__name__}")
    out: list[float] = []
    for k, v in enumerate(value):
        if v is None:  # JSON has no NaN; writers that emit null for "no value" mean NaN
            out.append(math.nan)
        else:
            out.append(_number(source, f"{where}[{k}]", v))
    return tuple(out)


def _parse_observation(source: str, k: int, raw: object) -> StationObservation:
    where = f"observations[{k}]"
    if not isinstance(raw, dict):
        raise InputError(source, where, "expected an object")
    for name in ("station_id", "lat", "lon", "alt_m", "t_ref_utc", "times", "azimuths", "elevations"):
        if name not in raw:
            raise InputError(source, f"{where}.{name}", "missing")
    t_ref_text = _string(source, f"{where}.t_ref_utc", raw["t_ref_utc"])
    try:
        t_ref = parse_utc(t_ref_text)
    except ValueError:
        raise InputError(source, f"{where}.t_ref_utc", f"not an ISO-8601 time: {t_ref_text!r}") from None
    times = _numbers(source, f"{where}.times", raw["times"])
    az = _numbers(source, f"{where}.azimuths", raw["azimuths"])
    el = _numbers(source, f"{where}.elevations", raw["elevations"])
    if not (len(times) == len(az) == len(el)):
        raise InputError(
            source, where, f"times/azimuths/elevations lengths differ ({len(times)}/{len(az)}/{len(el)})"
        )
    optional: dict[str, tuple[float, ...] | None] = {}
    for name in ("ra", "dec", "magnitudes"):
        value = raw.get(name)
        if value is None:
            optional[name] = None
            continue
        seq = _numbers(source, f"{where}.{name}", value)
        if len(seq) != len(times):
            raise InputError(source, f"{where}.{name}", f"has {len(seq)} values for {len(times)} times")
        optional[name] = seq
    camera = raw.get("camera_id", "")
    scale = raw.get("pixel_scale_arcsec")
    if scale is not None:
        scale = _number(source, f"{where}.pixel_scale_arcsec", scale)
        if not (math.isfinite(scale) and scale > 0):
            raise InputError(source, f"{where}.pixel_scale_arcsec", f"must be a positive number, got {scale}")
    return StationObservation(
        station_id=_string(source, f"{where}.station_id", raw["station_id"]),
        camera_id=str(camera) if camera is not None else "",
        lat=_number(source, f"{where}.lat", raw["lat"]),
        lon=_number(source, f"{where}.lon", raw["lon"]),
        alt_m=_number(source, f"{where}.alt_m", raw["alt_m"]),
        t_ref_utc=t_ref,
        times=times,
        azimuths=az,
        elevations=el,
        ra=optional["ra"],
        dec=optional["dec"],
        magnitudes=optional["magnitudes"],
        pixel_scale_arcsec=scale,
    )


def parse_observation_set(doc: object, source: str = "observation set") -> ObservationSet:
    """Structural validation only; see the module docstring for what is left to the solver."""
    if not isinstance(doc, dict):
        raise InputError(source, None, "expected a JSON object with event_id and observations")
    if "event_id" not in doc:
        raise InputError(source, "event_id", "missing")
    event_id = _string(source, "event_id", doc["event_id"])
    if not ID_PATTERN.match(event_id):
        raise InputError(source, "event_id", f"{event_id!r} is not 1-64 of [A-Za-z0-9_.-]")
    if "observations" not in doc:
        raise InputError(source, "observations", "missing")
    raw_obs = doc["observations"]
    if not isinstance(raw_obs, list):
        raise InputError(source, "observations", "expected a list")
    return ObservationSet(event_id, tuple(_parse_observation(source, k, o) for k, o in enumerate(raw_obs)))


def parse_observation_set_json(text: str | bytes, source: str = "observation set") -> ObservationSet:
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as err:
        raise InputError(source, None, f"not JSON ({err})") from None
    return parse_observation_set(doc, source)


# --------------------------------------------------------------------------------------------------
# Solution


@dataclass(frozen=True, slots=True)
class GeoPoint:
    lat: float
    lon: float
    alt_m: float


@dataclass(frozen=True, slots=True)
class Radiant:
    ra_deg: float
    dec_deg: float


@dataclass(frozen=True, slots=True)
class Orbit:
    """Heliocentric osculating elements, ecliptic and equinox J2000; ``a_au`` < 0 for hyperbolic."""

    a_au: float
    e: float
    i_deg: float
    peri_deg: float
    node_deg: float
    q_au: float


@dataclass(frozen=True, slots=True)
class Quality:
    """Whether a solved trajectory is fit to publish; ``reasons`` say in words what is wrong with it."""

    ok: bool
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SolverInfo:
    name: str
    version: str
    method: str
    mc_runs: int
    runtime_s: float


def _finite_or_none(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return float(x)


def _obj(x: Any) -> Any:
    """Dataclasses and dicts to JSON-ready values; non-finite floats become null (JSON has no NaN)."""
    if x is None:
        return None
    if isinstance(x, float):
        return _finite_or_none(x)
    if isinstance(x, dict):
        return {k: _obj(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_obj(v) for v in x]
    if hasattr(x, "__dataclass_fields__"):
        return {k: _obj(getattr(x, k)) for k in x.__dataclass_fields__}
    return x


@dataclass(frozen=True, slots=True)
class Solution:
    """§7 Solution. Numbers are None when the solve failed (or, for ``sigma``, when no Monte Carlo ran).

    ``sigma`` mirrors the value keys (begin, end, v_init_m_s, v_avg_m_s, radiant, v_g_m_s, orbit).
    The extras after ``solver`` are not in §7 but are what an operator asks next: the radiant before
    the Earth-rotation and zenith-attraction corrections, each station's clock offset, the
    deceleration model the data chose, the first point's time, the number of rejected points and the
    observations (``station`` or ``station:camera``) left out because the event only solved without them.

    ``shower``: ``{"code", "iau_no"}`` of the meteor shower it belongs to (kernels/showers.py);
    ``{"code": "SPO", "iau_no": -1}`` for a sporadic; None when not assessed (a failed solve, no
    geocentric speed, or a solver run without shower tables).
    """

    event_id: str
    status: str  # "solved" | "failed"
    solver: SolverInfo
    reason: str | None = None
    stations: tuple[str, ...] = ()
    begin: GeoPoint | None = None
    end: GeoPoint | None = None
    v_init_m_s: float | None = None
    v_avg_m_s: float | None = None
    radiant: Radiant | None = None
    v_g_m_s: float | None = None
    orbit: Orbit | None = None
    sigma: dict[str, Any] | None = None
    residuals_arcsec: dict[str, float] = field(default_factory=dict)
    convergence_angle_deg: float | None = None
    radiant_apparent: Radiant | None = None
    timing_offsets_s: dict[str, float] = field(default_factory=dict)
    velocity_model: str | None = None
    t_begin_utc: str | None = None
    rejected_points: int | None = None
    excluded: tuple[str, ...] = ()
    shower: dict[str, Any] | None = None
    quality: Quality | None = None  # None: not judged (a failed solve)

    def to_json_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "event_id": self.event_id,
            "status": self.status,
            "stations": list(self.stations),
            "begin": _obj(self.begin),
            "end": _obj(self.end),
            "v_init_m_s": _obj(self.v_init_m_s),
            "v_avg_m_s": _obj(self.v_avg_m_s),
            "radiant": _obj(self.radiant),
            "v_g_m_s": _obj(self.v_g_m_s),
            "orbit": _obj(self.orbit),
            "sigma": _obj(self.sigma),
            "residuals_arcsec": _obj(self.residuals_arcsec),
            "convergence_angle_deg": _obj(self.convergence_angle_deg),
            "solver": _obj(self.solver),
            "radiant_apparent": _obj(self.radiant_apparent),
            "timing_offsets_s": _obj(self.timing_offsets_s),
            "velocity_model": self.velocity_model,
            "t_begin_utc": self.t_begin_utc,
            "rejected_points": self.rejected_points,
            "excluded": list(self.excluded),
            "shower": _obj(self.shower),
        }
        if self.quality is not None:
            d["quality"] = {"ok": self.quality.ok, "reasons": list(self.quality.reasons)}
        if self.reason is not None:
            d["reason"] = self.reason
        return d


# --------------------------------------------------------------------------------------------------
# JSON schema of a Solution (draft 2020-12), usable with ``jsonschema.validate``.

_NUM = {"type": "number"}
_NUM_OR_NULL = {"type": ["number", "null"]}


def _point(num: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["lat", "lon", "alt_m"],
        "properties": {"lat": num, "lon": num, "alt_m": num},
        "additionalProperties": False,
    }


def _radiant(num: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["ra_deg", "dec_deg"],
        "properties": {"ra_deg": num, "dec_deg": num},
        "additionalProperties": False,
    }


def _orbit(num: dict[str, Any]) -> dict[str, Any]:
    keys = ["a_au", "e", "i_deg", "peri_deg", "node_deg", "q_au"]
    return {
        "type": "object",
        "required": keys,
        "properties": {k: num for k in keys},
        "additionalProperties": False,
    }


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


SOLUTION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "ams-actors trajectory Solution (design.md §7)",
    "type": "object",
    "required": [
        "event_id", "status", "stations", "begin", "end", "v_init_m_s", "v_avg_m_s", "radiant",
        "v_g_m_s", "orbit", "sigma", "residuals_arcsec", "convergence_angle_deg", "solver",
    ],
    "properties": {
        "event_id": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
        "status": {"enum": ["solved", "failed"]},
        "reason": {"type": "string", "minLength": 1},
        "stations": {"type": "array", "items": {"type": "string"}},
        "begin": _nullable(_point(_NUM)),
        "end": _nullable(_point(_NUM)),
        "v_init_m_s": _NUM_OR_NULL,
        "v_avg_m_s": _NUM_OR_NULL,
        "radiant": _nullable(_radiant(_NUM)),
        "v_g_m_s": _NUM_OR_NULL,
        # v_g and the orbit numbers may be null in a solved event: a meteor slower than the escape
        # speed at its height (possible with a bad fit, or an artificial object) has no geocentric
        # velocity and no heliocentric orbit, yet its trajectory is still worth publishing.
        "orbit": _nullable(_orbit(_NUM_OR_NULL)),
        "sigma": _nullable({
            "type": "object",
            "properties": {
                "begin": _nullable(_point(_NUM_OR_NULL)),
                "end": _nullable(_point(_NUM_OR_NULL)),
                "v_init_m_s": _NUM_OR_NULL,
                "v_avg_m_s": _NUM_OR_NULL,
                "radiant": _nullable(_radiant(_NUM_OR_NULL)),
                "v_g_m_s": _NUM_OR_NULL,
                "orbit": _nullable(_orbit(_NUM_OR_NULL)),
            },
            "additionalProperties": False,
        }),
        "residuals_arcsec": {"type": "object", "additionalProperties": _NUM_OR_NULL},
        "convergence_angle_deg": _NUM_OR_NULL,
        "solver": {
            "type": "object",
            "required": ["name", "version", "method", "mc_runs", "runtime_s"],
            "properties": {
                "name": {"type": "string"},
                "version": {"type": "string"},
                "method": {"type": "string"},
                "mc_runs": {"type": "integer", "minimum": 0},
                "runtime_s": {"type": "number", "minimum": 0},
            },
        },
        "radiant_apparent": _nullable(_radiant(_NUM)),
        "timing_offsets_s": {"type": "object", "additionalProperties": _NUM_OR_NULL},
        "velocity_model": {"type": ["string", "null"]},
        "t_begin_utc": {"type": ["string", "null"]},
        "rejected_points": {"type": ["integer", "null"], "minimum": 0},
        "excluded": {"type": "array", "items": {"type": "string"}},
        "shower": {
            "anyOf": [
                {
                    "type": "object",
                    "required": ["code", "iau_no"],
                    "properties": {"code": {"type": "string", "minLength": 1}, "iau_no": {"type": "integer"}},
                    "additionalProperties": False,
                },
                {"type": "null"},
            ]
        },
        "quality": {
            "type": "object",
            "required": ["ok", "reasons"],
            "properties": {"ok": {"type": "boolean"}, "reasons": {"type": "array", "items": {"type": "string"}}},
        },
    },
    "allOf": [
        {
            "if": {"properties": {"status": {"const": "failed"}}},
            "then": {"required": ["reason"]},
        },
        {
            "if": {"properties": {"status": {"const": "solved"}}},
            "then": {
                "properties": {
                    "begin": _point(_NUM),
                    "end": _point(_NUM),
                    "v_init_m_s": _NUM,
                    "v_avg_m_s": _NUM,
                    "radiant": _radiant(_NUM),
                    "convergence_angle_deg": _NUM,
                    "stations": {"minItems": 2},
                }
            },
        },
    ],
}
