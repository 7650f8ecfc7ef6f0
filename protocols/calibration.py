"""Our camera calibration file: JSON, one file per fit, dated, with the fit quality inside.

Calibrations are kept, never overwritten: ``<calibration dir>/calib_<camera>_<YYYYMMDD_HHMMSS>.json``
named by the UTC time of the stack that was fitted. The Verifier uses the newest *valid* one
(:func:`newest_valid_calibration`), so a bad night's fit can be inspected or deleted without losing
the previous one, and ``ams calibrate`` refuses to add a fit that is worse than the one in use
(:func:`compare_fits`).

The ``model`` object is the camera model's own dictionary (``CameraModel.to_dict()`` in
``ams_actors.kernels.astrometry``); protocols only checks its shape, so it imports no kernels.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema

from protocols.errors import InputError

__all__ = [
    "FORMAT",
    "MAX_VALID_RMS_PX",
    "MIN_VALID_MATCHED",
    "CalibrationRecord",
    "calibration_filename",
    "camera_calibration_dir",
    "compare_fits",
    "newest_valid_calibration",
    "read_calibration",
    "write_calibration",
]

FORMAT = "ams-calibration"
VERSION = 1
MIN_VALID_MATCHED = 15
MAX_VALID_RMS_PX = 1.5
DEFAULT_MAX_SHIFT_DEG = 1.0  # station.toml [calibration] max_shift_deg
_NAME_RE = re.compile(r"^calib_(?P<cam>[A-Za-z0-9_.-]+)_(?P<ts>\d{8}_\d{6})\.json$")

_NUM = {"type": "number"}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["format", "version", "camera_id", "obs_utc", "created_utc", "model", "fit", "valid"],
    "properties": {
        "format": {"const": FORMAT},
        "version": {"const": VERSION},
        "station_id": {"type": "string"},
        "camera_id": {"type": "string", "pattern": r"^[A-Za-z0-9_.-]{1,64}$"},
        "obs_utc": {"type": "string"},
        "created_utc": {"type": "string"},
        "stack": {"type": "string"},
        "valid": {"type": "boolean"},
        "model": {
            "type": "object",
            "required": ["site", "az_deg", "el_deg", "roll_deg", "scale_px_per_deg", "lens"],
            "properties": {
                "site": {"type": "object", "required": ["lat", "lon"]},
                "az_deg": _NUM,
                "el_deg": _NUM,
                "roll_deg": _NUM,
                "scale_px_per_deg": {"type": "number", "exclusiveMinimum": 0},
                "lens": {"type": "object", "required": ["kind", "width", "height"]},
            },
        },
        "fit": {
            "type": "object",
            "required": ["n_matched", "rms_px", "rms_arcmin"],
            "properties": {
                "n_matched": {"type": "integer", "minimum": 0},
                "rms_px": _NUM,
                "rms_arcmin": _NUM,
            },
        },
        "stars": {"type": "array"},
    },
}


@dataclass(frozen=True)
class CalibrationRecord:
    """One calibration file's content (``model`` is the camera model dictionary)."""

    camera_id: str
    obs_utc: datetime
    model: dict[str, Any]
    fit: dict[str, Any]
    station_id: str = ""
    stack: str = ""
    created_utc: datetime = field(default_factory=lambda: datetime.now(UTC))
    valid: bool = True
    stars: list[dict[str, Any]] = field(default_factory=list)
    path: Path | None = None

    @property
    def rms_px(self) -> float:
        return float(self.fit["rms_px"])

    @property
    def rms_arcmin(self) -> float:
        return float(self.fit["rms_arcmin"])

    @property
    def n_matched(self) -> int:
        return int(self.fit["n_matched"])

    def usable(self) -> bool:
        """Marked valid and good enough to measure meteors with."""
        return self.valid and self.n_matched >= MIN_VALID_MATCHED and 0.0 <= self.rms_px <= MAX_VALID_RMS_PX

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "station_id": self.station_id,
            "camera_id": self.camera_id,
            "obs_utc": _iso(self.obs_utc),
            "created_utc": _iso(self.created_utc),
            "stack": self.stack,
            "valid": self.valid,
            "model": self.model,
            "fit": self.fit,
            "stars": self.stars,
        }


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parse_time(s: str, source: str, field_name: str) -> datetime:
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(source, field_name, f"not an ISO-8601 time: {s!r}") from None
    if t.tzinfo is None:
        raise InputError(source, field_name, "time without a timezone (write UTC with 'Z')")
    return t.astimezone(UTC)


def camera_calibration_dir(calibration: str, camera_id: str, config_dir: Path, data_root: Path) -> Path:
    """Where a camera's calibration files live, from its ``calibration`` key in station.toml.

    Relative paths are relative to the station.toml folder (the rule the example config states for all
    paths); an empty key means ``<data root>/cal/<camera id>``.
    """
    if not calibration:
        return Path(data_root) / "cal" / camera_id
    p = Path(calibration).expanduser()
    return p if p.is_absolute() else Path(config_dir) / p


def calibration_filename(camera_id: str, obs_utc: datetime) -> str:
    return f"calib_{camera_id}_{obs_utc.astimezone(UTC):%Y%m%d_%H%M%S}.json"


def parse_calibration(data: Any, source: str) -> CalibrationRecord:
    try:
        jsonschema.validate(data, SCHEMA)
    except jsonschema.ValidationError as err:
        where = "/".join(str(p) for p in err.absolute_path) or None
        raise InputError(source, where, err.message) from None
    return CalibrationRecord(
        camera_id=data["camera_id"],
        station_id=data.get("station_id", ""),
        obs_utc=_parse_time(data["obs_utc"], source, "obs_utc"),
        created_utc=_parse_time(data["created_utc"], source, "created_utc"),
        stack=data.get("stack", ""),
        valid=data["valid"],
        model=data["model"],
        fit=data["fit"],
        stars=data.get("stars", []),
        path=Path(source) if source else None,
    )


def read_calibration(path: Path) -> CalibrationRecord:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(str(path), None, f"cannot read calibration: {err}") from None
    return parse_calibration(data, str(path))


def write_calibration(directory: Path, record: CalibrationRecord) -> Path:
    """Write atomically (temp file, fsync, rename) under its dated name; returns the path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / calibration_filename(record.camera_id, record.obs_utc)
    text = json.dumps(record.to_json_dict(), indent=1, allow_nan=False)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".calib-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def newest_valid_calibration(directory: Path, camera_id: str) -> CalibrationRecord | None:
    """The newest (by stack time) usable calibration of a camera in ``directory``, or None.

    Unreadable, invalid or too poor files are skipped (they stay on disk for an operator to look at).
    """
    directory = Path(directory)
    if not directory.is_dir():
        return None
    best: CalibrationRecord | None = None
    for p in directory.iterdir():
        m = _NAME_RE.match(p.name)
        if m is None or m["cam"] != camera_id:
            continue
        try:
            rec = read_calibration(p)
        except InputError:
            continue
        if rec.camera_id != camera_id or not rec.usable():
            continue
        if best is None or rec.obs_utc > best.obs_utc:
            best = rec
    return best


def compare_fits(
    new_fit: dict[str, Any],
    current: CalibrationRecord | None,
    rms_tolerance: float = 1.25,
    *,
    shift_deg: float | None = None,
    max_shift_deg: float = DEFAULT_MAX_SHIFT_DEG,
) -> tuple[bool, str]:
    """(accept, reason): a new fit is refused when it is clearly worse than the calibration in use.

    Worse = RMS (arcmin) more than ``rms_tolerance``× the current one (+0.05′ for noise), or fewer
    than 60 % of its matched stars (clouds, dew, a moved camera: re-check before replacing), or its
    pointing ``shift_deg`` away from the current one by more than ``max_shift_deg`` (a camera that
    moved that much was knocked, or the stars were matched wrongly: a person should look first).
    """
    n, rms = int(new_fit["n_matched"]), float(new_fit["rms_arcmin"])
    if n < MIN_VALID_MATCHED or float(new_fit["rms_px"]) > MAX_VALID_RMS_PX:
        return False, f"fit too poor to use: {n} stars, {new_fit['rms_px']:.2f} px RMS"
    if current is None:
        return True, "no calibration in use"
    if rms > current.rms_arcmin * rms_tolerance + 0.05:
        return False, (
            f"RMS {rms:.2f}′ is worse than the calibration in use ({current.rms_arcmin:.2f}′, "
            f"{current.path.name if current.path else current.obs_utc.isoformat()})"
        )
    if n < 0.6 * current.n_matched:
        return False, f"only {n} stars matched vs {current.n_matched} in the calibration in use"
    if shift_deg is not None and shift_deg > max_shift_deg:
        return False, (
            f"the fit moves the pointing by {shift_deg:.2f}° from the calibration in use "
            f"(limit {max_shift_deg:g}°; was the camera moved?)"
        )
    return True, f"RMS {rms:.2f}′ vs {current.rms_arcmin:.2f}′ in use"
