"""UFOAnalyzer's A.XML (``ufoanalyzer_record``): one camera clip's measured objects.

The root's attributes give the clip's start (``y mo d h m s``, UTC when ``tz`` is 0), the site
(``lat``, ``lng`` east positive, ``alt`` metres), the frame rate ``fps`` and ``interlaced``; each
``ua2_object`` holds one object's path as ``ua2_fdata2`` elements: ``fno`` (the frame number in the
clip — in *fields* for an interlaced camera, two per frame), ``az``/``ev`` (degrees; true, not
refracted: in the Tackley file they agree with ``ra``/``dec`` (J2000) without refraction to < 0.6′),
``ra``/``dec`` and ``mag``. A point's time is the clip start plus ``fno`` / (``fps`` × 2 if interlaced): the same
rule UKMON's converters use. Checked on the Tackley clip against an independent RMS manual reduction
of the same video (``../shared/data/ufo-tackley-2020-05-14``): matched by position along the track,
the two agree in time to 0.01 s (median; −0.17…+0.04 s end to end, from their 10 % different
plate scales), where fno / fps would be 1.1–2.5 s off.

A file may hold several objects (a meteor and a plane, or one meteor split in two): the one with the
most points is the meteor unless ``obj`` picks another. A repeated ``fno`` is dropped (one instant
measured twice). The station id is ``lid`` and the camera id ``sid``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from protocols.errors import InputError, finite_number
from protocols.observations import StationObservation

__all__ = ["parse_ufo_xml"]


def _attr(el: ET.Element, name: str, source: str, where: str) -> str:
    value = el.get(name)
    if value is None or not value.strip():
        raise InputError(source, f"{where}@{name}", "missing")
    return value.strip()


def _num(el: ET.Element, name: str, source: str, where: str) -> float:
    return finite_number(source, f"{where}@{name}", _attr(el, name, source, where))


def _clip_start(root: ET.Element, source: str) -> datetime:
    where = "ufoanalyzer_record"
    y, mo, d, h, mi = (int(_num(root, k, source, where)) for k in ("y", "mo", "d", "h", "m"))
    s = _num(root, "s", source, where)
    tz = float(root.get("tz", "0") or 0)
    try:
        base = datetime(y, mo, d, h, mi, tzinfo=UTC)
    except ValueError as err:
        raise InputError(source, f"{where}@y/mo/d/h/m", f"not a date and time ({err})") from None
    # microsecond rounding: "42.400002" is 42.4 written in single precision
    return base + timedelta(seconds=round(s, 3)) - timedelta(hours=tz)


def parse_ufo_xml(text: str | bytes, source: str = "A.XML", obj: int | None = None) -> StationObservation:
    """The track of one object (default: the one with the most points) as a :class:`StationObservation`."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise InputError(source, None, f"not XML ({err})") from None
    if root.tag != "ufoanalyzer_record":
        raise InputError(source, root.tag, "expected a <ufoanalyzer_record> (UFOAnalyzer A.XML)")
    where = "ufoanalyzer_record"
    fps = _num(root, "fps", source, where)
    if fps <= 0:
        raise InputError(source, f"{where}@fps", f"must be > 0, got {fps:g}")
    rate = fps * (2.0 if root.get("interlaced", "0").strip() == "1" else 1.0)
    start = _clip_start(root, source)
    lat = _num(root, "lat", source, where)
    lon = _num(root, "lng", source, where)
    alt = _num(root, "alt", source, where)
    objects = root.findall("ua2_objects/ua2_object")
    if not objects:
        raise InputError(source, "ua2_objects", "no ua2_object")
    if obj is None:
        k = max(range(len(objects)), key=lambda i: len(objects[i].findall("ua2_objpath/ua2_fdata2")))
    elif 0 <= obj < len(objects):
        k = obj
    else:
        raise InputError(source, "ua2_objects", f"object {obj} asked for, the file has {len(objects)}")
    fnos: list[float] = []
    az: list[float] = []
    ev: list[float] = []
    ra: list[float] = []
    dec: list[float] = []
    mag: list[float] = []
    for n, fd in enumerate(objects[k].findall("ua2_objpath/ua2_fdata2")):
        w = f"ua2_object[{k}].ua2_fdata2[{n}]"
        fno = _num(fd, "fno", source, w)
        if fnos and fno <= fnos[-1]:
            if fno == fnos[-1]:
                continue
            raise InputError(source, f"{w}@fno", f"{fno:g} does not follow {fnos[-1]:g}")
        e = _num(fd, "ev", source, w)
        if not -90.0 <= e <= 90.0:
            raise InputError(source, f"{w}@ev", f"{e:g} is outside -90..90 deg")
        fnos.append(fno)
        az.append(_num(fd, "az", source, w) % 360.0)
        ev.append(e)
        ra.append(_num(fd, "ra", source, w))
        dec.append(_num(fd, "dec", source, w))
        mag.append(_num(fd, "mag", source, w))
    if len(fnos) < 2:
        raise InputError(source, f"ua2_object[{k}]", f"{len(fnos)} point(s); a track needs at least 2")
    return StationObservation(
        station_id=_attr(root, "lid", source, where),
        camera_id=root.get("sid", "").strip(),
        lat=lat,
        lon=lon,
        alt_m=alt,
        t_ref_utc=start + timedelta(seconds=fnos[0] / rate),
        times=tuple((f - fnos[0]) / rate for f in fnos),
        azimuths=tuple(az),
        elevations=tuple(ev),
        ra=tuple(ra),
        dec=tuple(dec),
        magnitudes=tuple(mag),
    )
