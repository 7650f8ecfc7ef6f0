"""The station daily meteor index: one small record per verified meteor, enough to correlate.

Why a separate file and not the meteor JSONs themselves: the correlator reads every station's day,
so it needs one compact, bounded file per station and day (``stations/<STATION>/index/YYYY/
YYYY_MM_DD.json.gz`` in the bucket, ``meteor_archive/<STATION>/DETECTS/MI/YYYY/YYYY_MM_DD-meteor_index
.json.gz`` on the station) that says where each meteor was, when, and how far to trust it. The
index carries the station's own position (and clock quality) so a correlator needs nothing else.

Everything here is pure: dicts and bytes in, frozen dataclasses out. Anything that comes from a
partner is validated (JSON schema, ids matching ``^[A-Za-z0-9_.-]{1,64}$``, size limits, array
lengths, time order) and rejected with an :class:`~protocols.errors.InputError` naming the field.

File format (``format: "ams-meteor-index"``, ``version: 1``)::

    {"format": "ams-meteor-index", "version": 1, "station_id": "AMS1", "day": "2026_07_12",
     "site": {"lat": 51.87, "lon": 0.92, "alt_m": 21.0, "clock_sigma_s": 0.05},
     "meteors": [
       {"meteor_id": "...", "station_id": "AMS1", "camera_id": "010001",
        "start_utc": "2026-07-12T22:15:06.355Z", "duration_s": 1.24,
        "begin": {"az": 75.48, "el": 20.9, "ra": 301.2, "dec": 12.4},
        "end":   {"az": 79.10, "el": 15.2, "ra": null, "dec": null},
        "samples": {"t": [0.0, ...], "az": [...], "el": [...], "ra": [...] | null, "dec": [...] | null},
        "peak_mag": -1.2, "peak_intensity": 3021.0,
        "calib": {"res_arcsec": 95.0, "stars": 41, "file": "..."}}]}

``samples.t`` are seconds after ``start_utc`` (the first is 0, the last is ``duration_s``); az from
north through east, el true (refraction removed), RA/Dec J2000, all degrees. ``day`` is the station's
capture day (the one in the archive path), which is not always the UTC date of every meteor.
"""

from __future__ import annotations

import gzip
import itertools
import json
import math
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from protocols.errors import InputError

__all__ = [
    "ENTRY_SCHEMA",
    "ID_PATTERN",
    "INDEX_FORMAT",
    "INDEX_SCHEMA",
    "MAX_COMPRESSED_BYTES",
    "MAX_DECOMPRESSED_BYTES",
    "MAX_METEORS",
    "MAX_SAMPLES",
    "Calibration",
    "MeteorIndex",
    "MeteorIndexEntry",
    "SiteInfo",
    "SkyPoint",
    "decode_index",
    "encode_index",
    "entry_from_meteor_json",
    "entry_from_track",
    "entry_to_doc",
    "format_utc_ms",
    "index_to_doc",
    "parse_entry",
    "parse_index",
    "parse_utc_ms",
    "sample_indices",
]

INDEX_FORMAT = "ams-meteor-index"
INDEX_VERSION = 1
ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
_ID_RE = re.compile(ID_PATTERN)
# A full night of a busy 7-camera station is a few hundred meteors; 20 000 leaves room for a
# fireball-rich night but stops a broken or hostile partner file from eating the correlator's memory.
MAX_METEORS = 20_000
MAX_SAMPLES = 64
MAX_DURATION_S = 60.0
MAX_COMPRESSED_BYTES = 16 * 1024 * 1024
MAX_DECOMPRESSED_BYTES = 128 * 1024 * 1024
DEFAULT_SAMPLES = 16

_UTC_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})Z$")
_UTC_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
_DAY_PATTERN = r"^\d{4}_\d{2}_\d{2}$"

# ---------------------------------------------------------------- schema

_num = {"type": "number"}
_opt_num = {"type": ["number", "null"]}
_id = {"type": "string", "pattern": ID_PATTERN}
_sky_point = {
    "type": "object",
    "required": ["az", "el"],
    "additionalProperties": False,
    "properties": {
        "az": {"type": "number", "minimum": 0, "maximum": 360},
        "el": {"type": "number", "minimum": -90, "maximum": 90},
        "ra": {"type": ["number", "null"], "minimum": 0, "maximum": 360},
        "dec": {"type": ["number", "null"], "minimum": -90, "maximum": 90},
    },
}


def _num_array(lo: float | None = None, hi: float | None = None, nullable: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "number"}
    if lo is not None:
        item["minimum"] = lo
    if hi is not None:
        item["maximum"] = hi
    arr: dict[str, Any] = {"type": "array", "minItems": 1, "maxItems": MAX_SAMPLES, "items": item}
    if nullable:
        arr = {"oneOf": [{"type": "null"}, arr]}
    return arr


ENTRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["meteor_id", "station_id", "camera_id", "start_utc", "duration_s", "begin", "end", "samples"],
    "additionalProperties": False,
    "properties": {
        "meteor_id": _id,
        "station_id": _id,
        "camera_id": _id,
        "start_utc": {"type": "string", "pattern": _UTC_PATTERN},
        "duration_s": {"type": "number", "minimum": 0, "maximum": MAX_DURATION_S},
        "begin": _sky_point,
        "end": _sky_point,
        "samples": {
            "type": "object",
            "required": ["t", "az", "el"],
            "additionalProperties": False,
            "properties": {
                "t": _num_array(0.0, MAX_DURATION_S),
                "az": _num_array(0.0, 360.0),
                "el": _num_array(-90.0, 90.0),
                "ra": _num_array(0.0, 360.0, nullable=True),
                "dec": _num_array(-90.0, 90.0, nullable=True),
            },
        },
        "peak_mag": _opt_num,
        "peak_intensity": _opt_num,
        "calib": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "properties": {
                "res_arcsec": {"type": ["number", "null"], "minimum": 0},
                "stars": {"type": ["integer", "null"], "minimum": 0},
                "file": {"type": ["string", "null"], "maxLength": 256},
            },
        },
    },
}

INDEX_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "AMS station daily meteor index",
    "type": "object",
    "required": ["format", "version", "station_id", "day", "site", "meteors"],
    "additionalProperties": False,
    "properties": {
        "format": {"const": INDEX_FORMAT},
        "version": {"const": INDEX_VERSION},
        "station_id": _id,
        "day": {"type": "string", "pattern": _DAY_PATTERN},
        "site": {
            "type": "object",
            "required": ["lat", "lon", "alt_m"],
            "additionalProperties": False,
            "properties": {
                "lat": {"type": "number", "minimum": -90, "maximum": 90},
                "lon": {"type": "number", "minimum": -180, "maximum": 360},
                "alt_m": {"type": "number", "minimum": -500, "maximum": 9000},
                "clock_sigma_s": {"type": "number", "minimum": 0, "maximum": 60},
            },
        },
        "meteors": {"type": "array", "maxItems": MAX_METEORS, "items": ENTRY_SCHEMA},
    },
}

# ---------------------------------------------------------------- dataclasses


@dataclass(frozen=True, slots=True)
class SkyPoint:
    """One look direction: az/el (deg, true) and optionally RA/Dec J2000 (deg)."""

    az: float
    el: float
    ra: float | None = None
    dec: float | None = None


@dataclass(frozen=True, slots=True)
class Calibration:
    """How well the camera was calibrated when the meteor was measured (None: unknown)."""

    res_arcsec: float | None = None
    stars: int | None = None
    file: str | None = None


@dataclass(frozen=True, slots=True)
class SiteInfo:
    """Where the station is (WGS84, alt above the ellipsoid) and how good its clock is (1-sigma, s)."""

    lat: float
    lon: float
    alt_m: float
    clock_sigma_s: float = 0.0


@dataclass(frozen=True, slots=True)
class MeteorIndexEntry:
    """One meteor of a station's day, as the correlator sees it."""

    meteor_id: str
    station_id: str
    camera_id: str
    start_utc: datetime  # tz-aware UTC, whole milliseconds
    duration_s: float
    begin: SkyPoint
    end: SkyPoint
    t: tuple[float, ...]  # sample times, s after start_utc
    az: tuple[float, ...]
    el: tuple[float, ...]
    ra: tuple[float, ...] | None = None
    dec: tuple[float, ...] | None = None
    peak_mag: float | None = None
    peak_intensity: float | None = None
    calib: Calibration = field(default_factory=Calibration)

    @property
    def start_s(self) -> float:
        """UTC start as Unix seconds (the correlator kernel works on floats)."""
        return self.start_utc.timestamp()


@dataclass(frozen=True, slots=True)
class MeteorIndex:
    """A station's daily meteor index file."""

    station_id: str
    day: str  # YYYY_MM_DD
    site: SiteInfo
    meteors: tuple[MeteorIndexEntry, ...]


# ---------------------------------------------------------------- time helpers


def format_utc_ms(t: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ``, rounded to the millisecond (the index's time resolution)."""
    if t.tzinfo is None:
        raise ValueError("naive datetime: index times must be tz-aware UTC")
    t = t.astimezone(UTC)
    us = t.microsecond
    t = t.replace(microsecond=0) + timedelta(milliseconds=round(us / 1000.0))
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def parse_utc_ms(text: str, source: str = "<utc>", field_name: str = "start_utc") -> datetime:
    """Inverse of :func:`format_utc_ms`; InputError for anything else."""
    m = _UTC_RE.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise InputError(source, field_name, f"not a UTC time like 2026-07-12T22:15:06.355Z: {text!r:.60}")
    y, mo, d, h, mi, s, ms = (int(g) for g in m.groups())
    try:
        return datetime(y, mo, d, h, mi, s, ms * 1000, tzinfo=UTC)
    except ValueError as err:
        raise InputError(source, field_name, f"invalid date/time {text!r}: {err}") from None


# ---------------------------------------------------------------- validation / parsing

_validator_cache: dict[int, Any] = {}


def _validator(schema: dict[str, Any]) -> Any:
    key = id(schema)
    v = _validator_cache.get(key)
    if v is None:
        import jsonschema

        cls = jsonschema.validators.validator_for(INDEX_SCHEMA)
        v = cls(schema)
        _validator_cache[key] = v
    return v


def _message(err: Any) -> str:
    """jsonschema's message without a huge repr of the offending value in front."""
    inst = err.instance
    v = err.validator
    if v in ("maxItems", "minItems") and isinstance(inst, list):
        return f"has {len(inst)} items ({v} {err.validator_value})"
    if v == "pattern":
        return f"{inst!r:.80} does not match {err.validator_value}"
    if v == "type":
        return f"{inst!r:.80} is not of type {err.validator_value}"
    msg = str(err.message)
    return msg if len(msg) <= 200 else msg[:200] + "…"


def _validate(doc: object, schema: dict[str, Any], source: str) -> None:
    import jsonschema

    err = jsonschema.exceptions.best_match(_validator(schema).iter_errors(doc))
    if err is not None:
        path = "/".join(str(p) for p in err.absolute_path) or None
        raise InputError(source, path, _message(err))


# The envelope is checked with jsonschema; the entries (up to MAX_METEORS of them) with the hand-written
# equivalent of ENTRY_SCHEMA below, because jsonschema takes ~1.6 ms an entry: 80 s for a 100-station
# day. tests/test_meteor_index.py checks that both reject the same malformed entries.
_ENVELOPE_SCHEMA: dict[str, Any] = {
    **INDEX_SCHEMA,
    "properties": {
        **INDEX_SCHEMA["properties"],
        "meteors": {"type": "array", "maxItems": MAX_METEORS, "items": {"type": "object"}},
    },
}
_ENTRY_KEYS = frozenset(ENTRY_SCHEMA["properties"])
_ENTRY_REQUIRED = tuple(ENTRY_SCHEMA["required"])
_SKY_KEYS = frozenset(("az", "el", "ra", "dec"))
_SAMPLE_KEYS = frozenset(("t", "az", "el", "ra", "dec"))
_CALIB_KEYS = frozenset(("res_arcsec", "stars", "file"))
_UTC_FULL_RE = re.compile(_UTC_PATTERN)
_RANGES = {
    "t": (0.0, MAX_DURATION_S),
    "az": (0.0, 360.0),
    "el": (-90.0, 90.0),
    "ra": (0.0, 360.0),
    "dec": (-90.0, 90.0),
}


def _is_num(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _check_obj(d: object, keys: frozenset[str], required: Sequence[str], source: str, where: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise InputError(source, where or None, f"{d!r:.60} is not of type 'object'")
    for k in required:
        if k not in d:
            raise InputError(source, where or None, f"{k!r} is a required property")
    extra = sorted(set(d) - keys)
    if extra:
        raise InputError(source, where or None, f"Additional properties are not allowed ({extra[0]!r:.40})")
    return d


def _check_num(v: object, lo: float | None, hi: float | None, source: str, where: str, nullable: bool) -> None:
    if v is None and nullable:
        return
    if not _is_num(v):
        raise InputError(source, where, f"{v!r:.60} is not of type 'number'")
    assert isinstance(v, int | float)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise InputError(source, where, f"{v} is outside [{lo}, {hi}]")


def _check_entry(d: object, source: str, where: str) -> None:
    """Exactly the constraints of ENTRY_SCHEMA, fast. ``where`` prefixes field paths ('' or 'meteors/3/')."""
    e = _check_obj(d, _ENTRY_KEYS, _ENTRY_REQUIRED, source, where.rstrip("/"))
    for k in ("meteor_id", "station_id", "camera_id"):
        v = e[k]
        if not isinstance(v, str) or _ID_RE.fullmatch(v) is None:
            raise InputError(source, where + k, f"{v!r:.80} does not match {ID_PATTERN}")
    if not isinstance(e["start_utc"], str) or _UTC_FULL_RE.fullmatch(e["start_utc"]) is None:
        raise InputError(source, where + "start_utc", f"{e['start_utc']!r:.60} does not match {_UTC_PATTERN}")
    _check_num(e["duration_s"], 0.0, MAX_DURATION_S, source, where + "duration_s", False)
    for k in ("begin", "end"):
        p = _check_obj(e[k], _SKY_KEYS, ("az", "el"), source, where + k)
        for c in ("az", "el"):
            _check_num(p[c], *_RANGES[c], source, f"{where}{k}/{c}", False)
        for c in ("ra", "dec"):
            if c in p:
                _check_num(p[c], *_RANGES[c], source, f"{where}{k}/{c}", True)
    smp = _check_obj(e["samples"], _SAMPLE_KEYS, ("t", "az", "el"), source, where + "samples")
    for k in ("t", "az", "el", "ra", "dec"):
        if k not in smp:
            continue
        arr = smp[k]
        path = f"{where}samples/{k}"
        if arr is None and k in ("ra", "dec"):
            continue
        if not isinstance(arr, list):
            raise InputError(source, path, f"{arr!r:.60} is not of type 'array'")
        if not 1 <= len(arr) <= MAX_SAMPLES:
            raise InputError(source, path, f"has {len(arr)} items (1 to {MAX_SAMPLES} allowed)")
        lo, hi = _RANGES[k]
        for i, v in enumerate(arr):
            if not _is_num(v) or not lo <= v <= hi:
                _check_num(v, lo, hi, source, f"{path}/{i}", False)
    for k in ("peak_mag", "peak_intensity"):
        if k in e:
            _check_num(e[k], None, None, source, where + k, True)
    cal = e.get("calib")
    if cal is not None:
        cd = _check_obj(cal, _CALIB_KEYS, (), source, where + "calib")
        if "res_arcsec" in cd:
            _check_num(cd["res_arcsec"], 0.0, None, source, where + "calib/res_arcsec", True)
        st = cd.get("stars")
        if st is not None and (not isinstance(st, int) or isinstance(st, bool) or st < 0):
            raise InputError(source, where + "calib/stars", f"{st!r:.40} is not a non-negative integer")
        f = cd.get("file")
        if f is not None and (not isinstance(f, str) or len(f) > 256):
            raise InputError(source, where + "calib/file", "must be a string of at most 256 characters")


def _finite(x: float, source: str, where: str) -> float:
    v = float(x)
    if not math.isfinite(v):
        raise InputError(source, where, "not a finite number")
    return v


def _opt_tuple(v: Sequence[float] | None) -> tuple[float, ...] | None:
    return None if v is None else tuple(float(a) for a in v)


def _sky(d: Mapping[str, Any]) -> SkyPoint:
    return SkyPoint(float(d["az"]), float(d["el"]), _opt_float(d.get("ra")), _opt_float(d.get("dec")))


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)


def _entry_from_valid_doc(d: Mapping[str, Any], source: str) -> MeteorIndexEntry:
    """Semantic checks the schema cannot express, then the dataclass."""
    smp = d["samples"]
    n = len(smp["t"])
    for key in ("az", "el", "ra", "dec"):
        arr = smp.get(key)
        if arr is not None and len(arr) != n:
            raise InputError(source, f"samples/{key}", f"has {len(arr)} values, samples/t has {n}")
    t = tuple(float(x) for x in smp["t"])
    if any(b < a for a, b in itertools.pairwise(t)):
        raise InputError(source, "samples/t", "sample times must not decrease")
    dur = float(d["duration_s"])
    if t[-1] > dur + 0.0015:
        raise InputError(source, "samples/t", f"last sample at {t[-1]:.3f} s is after duration_s {dur:.3f}")
    cal = d.get("calib") or {}
    return MeteorIndexEntry(
        meteor_id=d["meteor_id"],
        station_id=d["station_id"],
        camera_id=d["camera_id"],
        start_utc=parse_utc_ms(d["start_utc"], source),
        duration_s=dur,
        begin=_sky(d["begin"]),
        end=_sky(d["end"]),
        t=t,
        az=tuple(float(x) for x in smp["az"]),
        el=tuple(float(x) for x in smp["el"]),
        ra=_opt_tuple(smp.get("ra")),
        dec=_opt_tuple(smp.get("dec")),
        peak_mag=_opt_float(d.get("peak_mag")),
        peak_intensity=_opt_float(d.get("peak_intensity")),
        calib=Calibration(
            res_arcsec=_opt_float(cal.get("res_arcsec")),
            stars=cal.get("stars"),
            file=cal.get("file"),
        ),
    )


def parse_entry(doc: object, source: str = "<meteor index entry>") -> MeteorIndexEntry:
    """One index entry from its JSON dict, validated; InputError (source, field, problem) if bad."""
    _check_entry(doc, source, "")
    assert isinstance(doc, Mapping)
    return _entry_from_valid_doc(doc, source)


def parse_index(doc: object, source: str = "<meteor index>") -> MeteorIndex:
    """A whole daily index from its JSON dict, validated; InputError naming the first bad field.

    Every entry must name the file's station, and meteor ids must be unique within the file (the
    pair (station, meteor id) is how events refer to observations).
    """
    if isinstance(doc, dict) and isinstance(doc.get("meteors"), list) and len(doc["meteors"]) > MAX_METEORS:
        raise InputError(source, "meteors", f"has {len(doc['meteors'])} items (maxItems {MAX_METEORS})")
    _validate(doc, _ENVELOPE_SCHEMA, source)
    assert isinstance(doc, Mapping)
    station = doc["station_id"]
    site_d = doc["site"]
    site = SiteInfo(
        lat=float(site_d["lat"]),
        lon=float(site_d["lon"]),
        alt_m=float(site_d["alt_m"]),
        clock_sigma_s=float(site_d.get("clock_sigma_s", 0.0)),
    )
    entries = []
    seen: set[str] = set()
    if _ID_RE.fullmatch(station) is None:  # jsonschema's Python regex lets "$" match before a final newline
        raise InputError(source, "station_id", f"{station!r:.80} does not match {ID_PATTERN}")
    for k, m in enumerate(doc["meteors"]):
        _check_entry(m, source, f"meteors/{k}/")
        if m["station_id"] != station:
            raise InputError(source, f"meteors/{k}/station_id", f"{m['station_id']!r} in the index of {station!r}")
        if m["meteor_id"] in seen:
            raise InputError(source, f"meteors/{k}/meteor_id", f"duplicate meteor id {m['meteor_id']!r}")
        seen.add(m["meteor_id"])
        entries.append(_entry_from_valid_doc(m, f"{source}: meteors/{k}"))
    return MeteorIndex(station_id=station, day=doc["day"], site=site, meteors=tuple(entries))


# ---------------------------------------------------------------- serialisation


def _sky_doc(p: SkyPoint) -> dict[str, Any]:
    return {"az": p.az, "el": p.el, "ra": p.ra, "dec": p.dec}


def entry_to_doc(e: MeteorIndexEntry) -> dict[str, Any]:
    """The JSON dict of one entry (inverse of :func:`parse_entry`)."""
    return {
        "meteor_id": e.meteor_id,
        "station_id": e.station_id,
        "camera_id": e.camera_id,
        "start_utc": format_utc_ms(e.start_utc),
        "duration_s": e.duration_s,
        "begin": _sky_doc(e.begin),
        "end": _sky_doc(e.end),
        "samples": {
            "t": list(e.t),
            "az": list(e.az),
            "el": list(e.el),
            "ra": None if e.ra is None else list(e.ra),
            "dec": None if e.dec is None else list(e.dec),
        },
        "peak_mag": e.peak_mag,
        "peak_intensity": e.peak_intensity,
        "calib": {"res_arcsec": e.calib.res_arcsec, "stars": e.calib.stars, "file": e.calib.file},
    }


def index_to_doc(index: MeteorIndex) -> dict[str, Any]:
    """The JSON dict of a daily index; meteors in (start, camera, id) order so equal content is equal bytes."""
    meteors = sorted(index.meteors, key=lambda e: (e.start_utc, e.camera_id, e.meteor_id))
    return {
        "format": INDEX_FORMAT,
        "version": INDEX_VERSION,
        "station_id": index.station_id,
        "day": index.day,
        "site": {
            "lat": index.site.lat,
            "lon": index.site.lon,
            "alt_m": index.site.alt_m,
            "clock_sigma_s": index.site.clock_sigma_s,
        },
        "meteors": [entry_to_doc(e) for e in meteors],
    }


def encode_index(index: MeteorIndex) -> bytes:
    """Deterministic gzip bytes (sorted keys, mtime 0): the Syncer compares content hashes, so the same
    index must always give the same bytes."""
    raw = json.dumps(index_to_doc(index), sort_keys=True, separators=(",", ":")).encode()
    return gzip.compress(raw, compresslevel=6, mtime=0)


def read_bounded_json(
    data: bytes,
    source: str,
    max_compressed: int = MAX_COMPRESSED_BYTES,
    max_decompressed: int = MAX_DECOMPRESSED_BYTES,
) -> Any:
    """Gzip (or plain) JSON bytes from anywhere, bounded before and after decompression (gzip bombs)."""
    if len(data) > max_compressed:
        raise InputError(source, None, f"{len(data)} bytes, more than the limit of {max_compressed}")
    if data[:2] == b"\x1f\x8b":
        d = zlib.decompressobj(wbits=31)
        try:
            raw = d.decompress(data, max_decompressed + 1)
        except zlib.error as err:
            raise InputError(source, None, f"bad gzip data: {err}") from None
        if len(raw) > max_decompressed or d.unconsumed_tail:
            raise InputError(source, None, f"decompresses to more than {max_decompressed} bytes")
    else:
        raw = data
        if len(raw) > max_decompressed:
            raise InputError(source, None, f"more than {max_decompressed} bytes")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(source, None, f"not JSON: {err}") from None


def decode_index(
    data: bytes,
    source: str = "<meteor index>",
    max_compressed: int = MAX_COMPRESSED_BYTES,
    max_decompressed: int = MAX_DECOMPRESSED_BYTES,
) -> MeteorIndex:
    """Parse a daily index from gzip (or plain) JSON bytes from anywhere, bounded."""
    return parse_index(read_bounded_json(data, source, max_compressed, max_decompressed), source)


# ---------------------------------------------------------------- builders


def sample_indices(n: int, k: int = DEFAULT_SAMPLES) -> list[int]:
    """At most k indices spread evenly over range(n), always including the first and the last."""
    if n <= 0:
        return []
    if n <= k:
        return list(range(n))
    if k < 2:
        return [0]
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def _check_id(value: str, source: str, field_name: str) -> str:
    if not isinstance(value, str) or _ID_RE.fullmatch(value) is None:
        raise InputError(source, field_name, f"{value!r:.80} does not match {ID_PATTERN}")
    return value


def entry_from_track(
    *,
    meteor_id: str,
    station_id: str,
    camera_id: str,
    times_utc: Sequence[datetime],
    az: Sequence[float],
    el: Sequence[float],
    ra: Sequence[float] | None = None,
    dec: Sequence[float] | None = None,
    mag: Sequence[float | None] | None = None,
    intensity: Sequence[float | None] | None = None,
    calib: Calibration | None = None,
    max_samples: int = DEFAULT_SAMPLES,
    source: str = "<track>",
) -> MeteorIndexEntry:
    """An index entry from a per-frame track (any source: our meteor JSON, RMS FTPdetectinfo, the sim).

    Frames are sorted by time; the start is the first frame's time rounded to the millisecond and the
    sample times are re-based on that rounded start so they stay consistent with it.
    """
    _check_id(meteor_id, source, "meteor_id")
    _check_id(station_id, source, "station_id")
    _check_id(camera_id, source, "camera_id")
    n = len(times_utc)
    if n == 0:
        raise InputError(source, "frames", "a meteor needs at least one frame with a time and az/el")
    for name, arr in (("az", az), ("el", el), ("ra", ra), ("dec", dec), ("mag", mag), ("intensity", intensity)):
        if arr is not None and len(arr) != n:
            raise InputError(source, name, f"has {len(arr)} values for {n} frames")
    order = sorted(range(n), key=lambda i: times_utc[i])
    start = parse_utc_ms(format_utc_ms(times_utc[order[0]]), source)
    rel = [max(0.0, round((times_utc[i] - start).total_seconds(), 6)) for i in order]
    duration = rel[-1]
    if duration > MAX_DURATION_S:
        raise InputError(source, "frames", f"meteor lasts {duration:.1f} s, more than {MAX_DURATION_S:.0f} s")
    pick = [order[j] for j in sample_indices(n, max_samples)]
    rel_pick = [rel[j] for j in sample_indices(n, max_samples)]

    def col(arr: Sequence[float] | None, lo: float, hi: float, name: str) -> tuple[float, ...] | None:
        if arr is None:
            return None
        out = []
        for i in pick:
            v = _finite(arr[i], source, name)
            if not lo <= v <= hi:
                raise InputError(source, name, f"value {v} outside [{lo}, {hi}]")
            out.append(v)
        return tuple(out)

    az_s = col([a % 360.0 for a in az], 0.0, 360.0, "az")
    el_s = col(el, -90.0, 90.0, "el")
    ra_s = col(None if ra is None else [a % 360.0 for a in ra], 0.0, 360.0, "ra")
    dec_s = col(dec, -90.0, 90.0, "dec")
    assert az_s is not None and el_s is not None

    def point(j: int) -> SkyPoint:
        return SkyPoint(az_s[j], el_s[j], None if ra_s is None else ra_s[j], None if dec_s is None else dec_s[j])

    mags = [float(m) for m in (mag or []) if m is not None and math.isfinite(float(m))]
    ints = [float(v) for v in (intensity or []) if v is not None and math.isfinite(float(v))]
    return MeteorIndexEntry(
        meteor_id=meteor_id,
        station_id=station_id,
        camera_id=camera_id,
        start_utc=start,
        duration_s=duration,
        begin=point(0),
        end=point(len(pick) - 1),
        t=tuple(rel_pick),
        az=az_s,
        el=el_s,
        ra=ra_s,
        dec=dec_s,
        peak_mag=min(mags) if mags else None,
        peak_intensity=max(ints) if ints else None,
        calib=calib or Calibration(),
    )


def entry_from_meteor_json(
    meteor: Mapping[str, Any], source: str = "<meteor json>", max_samples: int = DEFAULT_SAMPLES
) -> MeteorIndexEntry:
    """An index entry from the meteor archive JSON of design.md §7.

    Only frames that carry ``az`` and ``el`` (calibrated) count; ``calibration`` may give its fit
    quality as ``res_arcsec`` (or ``res_px`` with ``px_scale_arcsec``) and ``stars``/``total_stars``.
    """
    if not isinstance(meteor, Mapping):
        raise InputError(source, None, "meteor JSON must be an object")
    for key in ("meteor_id", "station", "camera", "frames"):
        if key not in meteor:
            raise InputError(source, key, "missing")
    frames = meteor["frames"]
    if not isinstance(frames, list):
        raise InputError(source, "frames", "must be a list")
    times: list[datetime] = []
    az: list[float] = []
    el: list[float] = []
    ra: list[float] = []
    dec: list[float] = []
    intensity: list[float | None] = []
    mag: list[float | None] = []
    has_radec = True
    for k, fr in enumerate(frames):
        if not isinstance(fr, Mapping):
            raise InputError(source, f"frames/{k}", "must be an object")
        if fr.get("az") is None or fr.get("el") is None:
            continue
        t_text = fr.get("t_utc")
        if not isinstance(t_text, str):
            raise InputError(source, f"frames/{k}/t_utc", "missing")
        times.append(_parse_iso(t_text, source, f"frames/{k}/t_utc"))
        az.append(_finite(fr["az"], source, f"frames/{k}/az"))
        el.append(_finite(fr["el"], source, f"frames/{k}/el"))
        if fr.get("ra") is None or fr.get("dec") is None:
            has_radec = False
        else:
            ra.append(_finite(fr["ra"], source, f"frames/{k}/ra"))
            dec.append(_finite(fr["dec"], source, f"frames/{k}/dec"))
        intensity.append(_opt_float(fr.get("intensity")))
        mag.append(_opt_float(fr.get("mag")))
    if not times:
        raise InputError(source, "frames", "no calibrated frame (with az/el)")
    cal_d = meteor.get("calibration") or {}
    cal = Calibration()
    if isinstance(cal_d, Mapping):
        res = cal_d.get("res_arcsec")
        if res is None and cal_d.get("res_px") is not None and cal_d.get("px_scale_arcsec") is not None:
            res = float(cal_d["res_px"]) * float(cal_d["px_scale_arcsec"])
        stars = cal_d.get("stars", cal_d.get("total_stars"))
        file = cal_d.get("file")
        cal = Calibration(
            res_arcsec=None if res is None else float(res),
            stars=None if stars is None else int(stars),
            file=None if file is None else str(file)[:256],
        )
    return entry_from_track(
        meteor_id=str(meteor["meteor_id"]),
        station_id=str(meteor["station"]),
        camera_id=str(meteor["camera"]),
        times_utc=times,
        az=az,
        el=el,
        ra=ra if has_radec else None,
        dec=dec if has_radec else None,
        mag=mag,
        intensity=intensity,
        calib=cal,
        max_samples=max_samples,
        source=source,
    )


def _parse_iso(text: str, source: str, field_name: str) -> datetime:
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(source, field_name, f"not an ISO-8601 time: {text!r:.60}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC)
