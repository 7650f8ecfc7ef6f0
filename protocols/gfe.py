"""The Global Fireball Exchange (GFE) ECSV standard: one camera's track of one fireball per file.

Written by UKFAll's converters for AllSky7, FRIPON, UFOAnalyzer, DFN and RMS alike (the Winchcombe
fall records in ``../shared/data/winchcombe-2021-02-28``). An ECSV file is a YAML header behind
``# `` (column ``datatype`` list and a ``meta`` ordered map of one-key entries) and then CSV. The
header this standard writes is flat, so it is read line by line here (no YAML or astropy needed).

Columns used: ``datetime`` (ISO-8601 UTC per point), ``azimuth`` (north through east) and
``altitude`` (degrees; true, not refracted: in all five Winchcombe records they agree with the J2000
``ra``/``dec`` transformed without refraction to < 0.5′), ``ra``/``dec`` (J2000) when present, and the
brightness column named by the meta ``mag_label`` when it is ``mag``. Meta used: ``obs_latitude``,
``obs_longitude`` (east positive), ``obs_elevation`` (metres, taken as height above the ellipsoid: the
standard does not say which datum, and the 50-odd metres of geoid height in these files are far below
the solve's scatter), and ``camera_id`` (then ``telescope``, ``location``) as the station id
(``telescope``, when it differs, as the camera id). A point whose time repeats the one before is
dropped (the same instant measured twice).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime

from protocols.errors import InputError, finite_number
from protocols.observations import ObservationSet, StationObservation, parse_utc

__all__ = ["GfeRecord", "event_id_for", "observation_set_from_gfe", "parse_gfe", "write_gfe"]

_META_LINE = re.compile(r"^- \{([A-Za-z_][A-Za-z0-9_]*): (.*)\}\s*$")
_COLUMN_LINE = re.compile(r"^- \{name: ([^,}]+)")
_REQUIRED_META = ("obs_latitude", "obs_longitude", "obs_elevation")
_REQUIRED_COLUMNS = ("datetime", "azimuth", "altitude")


class GfeRecord:
    """A parsed GFE file: its meta (strings and numbers) and the observation it holds."""

    __slots__ = ("meta", "observation")

    def __init__(self, meta: dict[str, object], observation: StationObservation) -> None:
        self.meta = meta
        self.observation = observation


def _scalar(text: str) -> object:
    s = text.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        return s[1:-1].replace("''", "'") if s[0] == "'" else s[1:-1]
    try:
        return float(s)
    except ValueError:
        return s


def _header(lines: list[str], source: str) -> tuple[list[str], dict[str, object], int]:
    """Column names declared in the header, the meta map, and the index of the first data line."""
    if not lines or not lines[0].startswith("# %ECSV"):
        raise InputError(source, "header", "not an ECSV file (first line is not '# %ECSV ...')")
    columns: list[str] = []
    meta: dict[str, object] = {}
    section = ""
    k = 1
    while k < len(lines) and lines[k].startswith("#"):
        body = lines[k][1:].strip()
        if body.endswith(":") or re.match(r"^[a-z_]+:", body):
            section = body.split(":", 1)[0]
        elif section == "datatype" and (m := _COLUMN_LINE.match(body)):
            columns.append(m.group(1).strip())
        elif section == "meta" and (m := _META_LINE.match(body)):
            meta[m.group(1)] = _scalar(m.group(2))
        k += 1
    return columns, meta, k


def _meta_number(meta: Mapping[str, object], key: str, source: str) -> float:
    if key not in meta:
        raise InputError(source, f"meta.{key}", "missing")
    value = meta[key]
    if not isinstance(value, float) or not math.isfinite(value):
        raise InputError(source, f"meta.{key}", f"expected a number, got {value!r}")
    return value


def _cell(row: list[str], col: dict[str, int], name: str, source: str, line: int) -> float:
    return finite_number(source, f"line {line} {name}", row[col[name]])


def _station_id(meta: Mapping[str, object], source: str) -> str:
    for key in ("camera_id", "telescope", "location"):
        value = meta.get(key)
        if isinstance(value, str) and value.strip():
            sid = re.sub(r"[^A-Za-z0-9_.-]", "_", value.strip())[:64]
            return sid
    raise InputError(source, "meta.camera_id", "missing (nor telescope or location to name the station)")


def parse_gfe(text: str, source: str = "GFE file") -> GfeRecord:
    """One GFE ECSV document → its meta and a :class:`StationObservation` (times after the first point)."""
    lines = text.splitlines()
    declared, meta, start = _header(lines, source)
    for key in _REQUIRED_META:
        _meta_number(meta, key, source)
    reader = csv.reader(lines[start:])
    try:
        names = [c.strip() for c in next(reader)]
    except StopIteration:
        raise InputError(source, "columns", "no column line after the header") from None
    if declared and names != declared:
        raise InputError(source, "columns", f"the column line {names} differs from the header's {declared}")
    col = {n: k for k, n in enumerate(names)}
    for name in _REQUIRED_COLUMNS:
        if name not in col:
            raise InputError(source, f"columns.{name}", "missing")
    has_radec = "ra" in col and "dec" in col
    mag_label = meta.get("mag_label")
    mag_col = "mag" if mag_label == "mag" and "mag" in col else None
    times: list[datetime] = []
    az: list[float] = []
    el: list[float] = []
    ra: list[float] = []
    dec: list[float] = []
    mag: list[float] = []
    for n, row in enumerate(reader, start=start + 2):
        if not row or not "".join(row).strip():
            continue
        if len(row) != len(names):
            raise InputError(source, f"line {n}", f"{len(row)} values for {len(names)} columns")
        text_t = row[col["datetime"]].strip()
        try:
            t = parse_utc(text_t)
        except ValueError:
            raise InputError(source, f"line {n} datetime", f"not an ISO-8601 time: {text_t!r}") from None
        if times and t <= times[-1]:
            if t == times[-1]:
                continue  # a repeated time: the same instant measured twice
            raise InputError(source, f"line {n} datetime", f"{text_t} is earlier than the line before")
        a, e = _cell(row, col, "azimuth", source, n), _cell(row, col, "altitude", source, n)
        if not -90.0 <= e <= 90.0:
            raise InputError(source, f"line {n} altitude", f"{e:g} is outside -90..90 deg")
        times.append(t)
        az.append(a % 360.0)
        el.append(e)
        if has_radec:
            ra.append(_cell(row, col, "ra", source, n))
            dec.append(_cell(row, col, "dec", source, n))
        if mag_col:
            mag.append(_cell(row, col, mag_col, source, n))
    if len(times) < 2:
        raise InputError(source, "data", f"{len(times)} data line(s); a track needs at least 2")
    t0 = times[0]
    station_id = _station_id(meta, source)
    telescope = meta.get("telescope")
    camera_id = telescope.strip() if isinstance(telescope, str) and telescope.strip() != station_id else ""
    obs = StationObservation(
        station_id=station_id,
        camera_id=camera_id,
        lat=_meta_number(meta, "obs_latitude", source),
        lon=_meta_number(meta, "obs_longitude", source),
        alt_m=_meta_number(meta, "obs_elevation", source),
        t_ref_utc=t0,
        times=tuple((t - t0).total_seconds() for t in times),
        azimuths=tuple(az),
        elevations=tuple(el),
        ra=tuple(ra) if has_radec else None,
        dec=tuple(dec) if has_radec else None,
        magnitudes=tuple(mag) if mag_col else None,
    )
    return GfeRecord(meta, obs)


def _yaml_scalar(value: object) -> str:
    if isinstance(value, float | int) and not isinstance(value, bool):
        return repr(float(value))
    s = str(value)
    if isinstance(_scalar(s), float) and s.strip():  # a string that reads as a number stays a string
        return "'" + s + "'"
    if s == "" or re.search(r"[:{}\[\],#&*!|>'\"%@`]", s) or s != s.strip():
        return "'" + s.replace("'", "''") + "'"
    return s


def write_gfe(obs: StationObservation, meta: Mapping[str, object] | None = None) -> str:
    """One observation as a GFE ECSV document; ``meta`` adds or overrides header entries.

    Times are written with microseconds and numbers with ``repr``, so :func:`parse_gfe` gives the
    same observation back. Without ra/dec those columns are left out; without magnitudes the
    brightness column is the standard's ``no_mag_data`` of zeros.
    """
    from protocols.observations import format_utc

    mag_label = "mag" if obs.magnitudes is not None else "no_mag_data"
    header_meta: dict[str, object] = {
        "obs_latitude": obs.lat,
        "obs_longitude": obs.lon,
        "obs_elevation": obs.alt_m,
        "origin": "ams-actors",
        "location": obs.station_id,
        "telescope": obs.camera_id,
        "camera_id": obs.station_id,
        "isodate_start_obs": format_utc(obs.t_ref_utc)[:-1],
        "mag_label": mag_label,
        "no_frags": 1.0,
    }
    header_meta.update(meta or {})
    radec = obs.ra is not None and obs.dec is not None
    columns = ["datetime", *(["ra", "dec"] if radec else []), "azimuth", "altitude", mag_label, "x_image", "y_image"]
    out = io.StringIO()
    out.write("# %ECSV 0.9\n# ---\n# datatype:\n")
    out.write("# - {name: datetime, datatype: string}\n")
    for name in columns[1:]:
        unit = ", unit: deg" if name in ("ra", "dec", "azimuth", "altitude") else ""
        out.write(f"# - {{name: {name}{unit}, datatype: float64}}\n")
    out.write("# delimiter: ','\n# meta: !!omap\n")
    for key, value in header_meta.items():
        out.write(f"# - {{{key}: {_yaml_scalar(value)}}}\n")
    out.write("# schema: astropy-2.0\n")
    out.write(",".join(columns) + "\n")
    from datetime import timedelta

    for k, t in enumerate(obs.times):
        when = format_utc(obs.t_ref_utc + timedelta(seconds=t))[:-1]
        mag = obs.magnitudes[k] if obs.magnitudes is not None else 0.0
        values = [obs.ra[k], obs.dec[k]] if obs.ra is not None and obs.dec is not None else []
        values += [obs.azimuths[k], obs.elevations[k], mag, 0.0, 0.0]
        out.write(when + "," + ",".join(repr(float(v)) for v in values) + "\n")
    return out.getvalue()


def event_id_for(observations: Iterable[StationObservation]) -> str:
    """``YYYYMMDD_HHMMSS_mmm`` of the earliest point: the id an event read from foreign files gets."""
    t0 = min(o.t_ref_utc for o in observations)
    return t0.strftime("%Y%m%d_%H%M%S_") + f"{t0.microsecond // 1000:03d}"  # always an ID_PATTERN id


def observation_set_from_gfe(texts: Iterable[tuple[str, str]]) -> ObservationSet:
    """Several GFE files (``(source, text)`` pairs), one per camera, as one event's Observation set."""
    obs = tuple(parse_gfe(text, source).observation for source, text in texts)
    if not obs:
        raise InputError("--gfe", None, "no files given")
    return ObservationSet(event_id_for(obs), obs)
