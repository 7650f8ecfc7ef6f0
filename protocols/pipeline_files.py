"""File formats of the station pipeline (scan → detect → verify) and their JSON schemas.

These files are the product operators and tools read (design.md §4, §7), so their shape is fixed
here, in one place, and every writer and reader checks against the schemas below (plain dicts for the
``jsonschema`` package). The kernels build the documents; the actors write them atomically.

Files, per SD minute clip ``<clip>`` (``YYYY_MM_DD_HH_MM_SS_000_<camera>.mp4``):

- ``<clip>-vals.json``        (VALS_SCHEMA): per-frame scan values.
- ``<clip>-detect.json``      (DETECT_SCHEMA, classification ``detect``): scanned, nothing meteor-like;
  every object found is listed with the rules it failed.
- ``<clip>-maybe-meteors.json`` (same schema, ``maybe-meteors``): at least one object passed every
  rule; the Verifier takes it from here.
- ``<clip>-toomany.json``     (same schema, ``toomany``): too many bright runs/objects to be meteors
  (clouds lit by the moon, lightning, headlights, a shaking camera); not verified further.
- ``<clip>-meteor.json`` / ``<clip>-nometeor.json`` (VERIFY_SCHEMA): the Verifier's per-clip verdict.
- the meteor archive JSON (METEOR_SCHEMA, design.md §7), one per verified meteor.

Clip names are parsed by :func:`parse_clip_name`, which raises ``InputError`` for anything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any

from protocols.errors import InputError

VALS_FORMAT = "ams-vals/1"
DETECT_FORMAT = "ams-detect/1"
VERIFY_FORMAT = "ams-verify/1"
METEOR_FORMAT = "ams-meteor/1"

CLASSIFICATIONS = ("detect", "maybe-meteors", "toomany")
#: file suffix for each detector classification
DETECT_SUFFIX = {"detect": "-detect.json", "maybe-meteors": "-maybe-meteors.json", "toomany": "-toomany.json"}
VERIFY_SUFFIX = {"meteor": "-meteor.json", "nometeor": "-nometeor.json"}
VALS_SUFFIX = "-vals.json"

# ---------------------------------------------------------------------------------------------
# clip names
# ---------------------------------------------------------------------------------------------

CLIP_RE = re.compile(
    r"^(?P<y>\d{4})_(?P<mo>\d{2})_(?P<d>\d{2})_(?P<h>\d{2})_(?P<mi>\d{2})_(?P<s>\d{2})_(?P<ms>\d{3})_"
    r"(?P<cam>\d{6})\.mp4$"
)
ID_RE = r"^[A-Za-z0-9_.-]{1,64}$"


@dataclass(frozen=True, slots=True)
class ClipName:
    """A parsed minute-clip name: the UTC start of the clip and the six-digit camera id."""

    name: str
    start_utc: datetime
    camera: str

    @property
    def stem(self) -> str:
        return self.name[: -len(".mp4")]

    @property
    def day(self) -> str:
        """``YYYY_MM_DD`` (the proc2/meteors day folder, by the clip's UTC start)."""
        return self.start_utc.strftime("%Y_%m_%d")


def parse_clip_name(name: str | PurePath) -> ClipName:
    """Parse ``YYYY_MM_DD_HH_MM_SS_mmm_<camera>.mp4`` (a bare name or a path).

    Raises InputError for any other name or an impossible date, so a stray file in SD/ is reported
    once and never half-processed.
    """
    base = PurePath(name).name
    m = CLIP_RE.match(base)
    if not m:
        raise InputError(base, "name", "not a clip name YYYY_MM_DD_HH_MM_SS_mmm_<6-digit camera>.mp4")
    try:
        start = datetime(
            int(m["y"]), int(m["mo"]), int(m["d"]), int(m["h"]), int(m["mi"]), int(m["s"]),
            int(m["ms"]) * 1000, tzinfo=UTC,
        )
    except ValueError as e:
        raise InputError(base, "name", f"impossible date/time: {e}") from None
    return ClipName(name=base, start_utc=start, camera=m["cam"])


def format_clip_name(start_utc: datetime, camera: str) -> str:
    """The clip name for a minute start (UTC; milliseconds kept) and a six-digit camera id."""
    if not re.fullmatch(r"\d{6}", camera):
        raise InputError("clip name", "camera", f"camera id must be six digits, got {camera!r}")
    t = start_utc.astimezone(UTC)
    return t.strftime("%Y_%m_%d_%H_%M_%S_") + f"{t.microsecond // 1000:03d}_{camera}.mp4"


def iso_ms(t: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a Z (the ``t_utc`` of meteor frames)."""
    t = t.astimezone(UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


# ---------------------------------------------------------------------------------------------
# schemas
# ---------------------------------------------------------------------------------------------

_num = {"type": "number"}
_int = {"type": "integer"}
_nnint = {"type": "integer", "minimum": 0}
_str = {"type": "string"}
_clip = {"type": "string", "pattern": r"^\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}_\d{3}_\d{6}\.mp4$"}
_cam = {"type": "string", "pattern": r"^\d{6}$"}
_utc = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$"}


def _arr(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


VALS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "per-frame scan values of one SD minute clip",
    "type": "object",
    "required": [
        "format", "clip", "camera", "start_utc", "width", "height", "fps", "n_frames", "bin",
        "grid", "noise", "thresh", "max_val", "max_x", "max_y", "sum_above", "cnt_above",
        "cells_fn", "cells", "peaks", "scan",
    ],
    "properties": {
        "format": {"const": VALS_FORMAT},
        "clip": _clip,
        "camera": _cam,
        "start_utc": _utc,
        "width": {"type": "integer", "minimum": 16},
        "height": {"type": "integer", "minimum": 16},
        "fps": {"type": "number", "exclusiveMinimum": 0},
        "n_frames": _nnint,
        # difference image is computed on bin×bin averaged pixels; positions are in full SD pixels
        "bin": {"type": "integer", "minimum": 1, "maximum": 8},
        "grid": {
            "type": "object", "required": ["rows", "cols"],
            "properties": {"rows": {"type": "integer", "minimum": 1}, "cols": {"type": "integer", "minimum": 1}},
        },
        # robust noise figures of the difference image (DN of the binned image)
        "noise": {
            "type": "object", "required": ["max_median", "max_mad", "diff_sigma"],
            "properties": {"max_median": _num, "max_mad": _num, "diff_sigma": _num},
        },
        "thresh": _num,  # the minute's median threshold
        "frame_thresh": _arr(_nnint),  # per frame (the noise after compression varies; 0 = warm-up)
        "max_val": _arr(_nnint),
        "max_x": _arr(_num),
        "max_y": _arr(_num),
        "sum_above": _arr(_nnint),
        "cnt_above": _arr(_nnint),
        # frames whose peak reached their threshold, and for each the per-cell maxima at/above it as
        # [cell index (row-major over grid rows×cols), max value] (cells below threshold are noise)
        "cells_fn": _arr(_nnint),
        "cells": _arr(_arr({"type": "array", "prefixItems": [_nnint, _nnint], "minItems": 2, "maxItems": 2})),
        # for the same frames: each hot cell's peak [x, y, value] (full SD pixels), brightest first
        "peaks": _arr(_arr({"type": "array", "prefixItems": [_num, _num, _num], "minItems": 3, "maxItems": 3})),
        "scan": {
            "type": "object", "required": ["version", "skip_loop_filter", "elapsed_s"],
            "properties": {"version": _str, "skip_loop_filter": {"type": "boolean"}, "elapsed_s": _num},
        },
    },
}

_OBJECT = {
    "type": "object",
    "required": ["oid", "fns", "xs", "ys", "vals", "passed", "failed", "checks"],
    "properties": {
        "oid": _nnint,
        "fns": _arr(_nnint),
        "xs": _arr(_num),
        "ys": _arr(_num),
        "vals": _arr(_num),
        "passed": {"type": "boolean"},
        # names of the rules it failed, each with a human explanation ("speed: 0.4 deg/s < 1.5")
        "failed": _arr(_str),
        "checks": {"type": "object", "additionalProperties": {"type": ["number", "string", "boolean", "null"]}},
    },
}

DETECT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "values-detect result of one SD minute clip (-detect / -maybe-meteors / -toomany)",
    "type": "object",
    "required": ["format", "clip", "camera", "start_utc", "classification", "reason", "fps", "thresh",
                 "pixel_scale_deg", "n_runs", "objects"],
    "properties": {
        "format": {"const": DETECT_FORMAT},
        "clip": _clip,
        "camera": _cam,
        "start_utc": _utc,
        "classification": {"enum": list(CLASSIFICATIONS)},
        "reason": _str,
        "fps": {"type": "number", "exclusiveMinimum": 0},
        "thresh": _num,
        "pixel_scale_deg": {"type": "number", "exclusiveMinimum": 0},
        "n_runs": _nnint,
        "objects": _arr(_OBJECT),
    },
}

_preview_name = {"type": "string", "pattern": r"^[A-Za-z0-9_.-]{1,64}-(preview|frame)\.jpg$"}

METEOR_FRAME = {
    "type": "object",
    "required": ["fn", "t_utc", "x", "y", "w", "h", "intensity"],
    "properties": {
        "fn": _nnint, "t_utc": _utc, "x": _num, "y": _num, "w": _num, "h": _num, "intensity": _num,
        "snr": _num,
        "az": _num, "el": _num, "ra": _num, "dec": _num, "hd_x": _num, "hd_y": _num,
    },
}

METEOR_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "one verified meteor (design.md §7; archive JSON)",
    "type": "object",
    "required": ["format", "meteor_id", "station", "camera", "sd_clip", "sd_trim", "calibration", "frames",
                 "report"],
    "properties": {
        "format": {"const": METEOR_FORMAT},
        "meteor_id": {"type": "string", "pattern": ID_RE},
        "station": {"type": "string", "pattern": ID_RE},
        "camera": _cam,
        "sd_clip": _clip,
        "hd_clip": {"type": ["string", "null"]},
        "sd_trim": _str,
        "hd_trim": {"type": ["string", "null"]},
        "calibration": {
            "type": "object", "required": ["file", "model"],
            "properties": {"file": {"type": ["string", "null"]}, "model": _str,
                           "fit_quality": {"type": ["number", "object", "null"]}},
        },
        "frames": {"type": "array", "minItems": 2, "items": METEOR_FRAME},
        "report": {"type": "object"},
        "previews": {  # optional: meteors verified before previews existed lack it (`ams bmpi` adds it)
            "type": "object", "required": ["crop", "frame"],
            "properties": {"crop": _preview_name, "frame": _preview_name},
        },
    },
}


def preview_names(meteor_id: str) -> dict[str, str]:
    """The meteor's two preview JPEGs (file names in its day folder, next to the trim): the JSON's
    ``previews`` and the names under ``stations/<ST>/previews/YYYY/MM/DD/`` in the bucket."""
    return {"crop": f"{meteor_id}-preview.jpg", "frame": f"{meteor_id}-frame.jpg"}


VERIFY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Verifier verdict for one SD minute clip (-meteor / -nometeor)",
    "type": "object",
    "required": ["format", "clip", "camera", "start_utc", "result", "meteors", "rejected"],
    "properties": {
        "format": {"const": VERIFY_FORMAT},
        "clip": _clip,
        "camera": _cam,
        "start_utc": _utc,
        "result": {"enum": ["meteor", "nometeor"]},
        "meteors": _arr({
            "type": "object", "required": ["oid", "meteor_id", "first_fn", "last_fn"],
            "properties": {"oid": _nnint, "meteor_id": {"type": "string", "pattern": ID_RE},
                           "first_fn": _nnint, "last_fn": _nnint},
        }),
        "rejected": _arr({
            "type": "object", "required": ["oid", "reason"],
            "properties": {"oid": _nnint, "reason": _str, "report": {"type": "object"}},
        }),
    },
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "vals": VALS_SCHEMA,
    "detect": DETECT_SCHEMA,
    "verify": VERIFY_SCHEMA,
    "meteor": METEOR_SCHEMA,
}


def validate(kind: str, doc: Any, source: str = "") -> None:
    """Validate ``doc`` against the schema ``kind`` (vals | detect | verify | meteor).

    Raises InputError naming the first offending field, so a bad file is logged in one line.
    """
    import jsonschema

    schema = SCHEMAS.get(kind)
    if schema is None:
        raise InputError(source or kind, None, f"unknown pipeline file kind {kind!r}")
    validator = jsonschema.Draft202012Validator(schema)
    err = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if err is not None:
        field = "/".join(str(p) for p in err.absolute_path) or None
        raise InputError(source or kind, field, err.message[:300])
