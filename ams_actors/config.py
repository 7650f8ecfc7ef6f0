"""Station configuration: `station.toml` loaded with tomllib into frozen dataclasses.

Operators edit this file by hand on a mini-PC, so every mistake must come back as one line that names
the file, the key and the problem (``station.toml: cameras[2].id: expected six digits, got "01x"``)
and nothing may be guessed: unknown keys are errors, because a misspelt key silently ignored is a
camera that silently never gets calibrated. Credentials are never in the file: it names the
environment variables that hold them.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from protocols.errors import InputError

ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
CAMERA_ID_RE = re.compile(r"^[0-9]{6}$")
ROLES = ("station", "correlator", "publisher")


class FieldProblem(ValueError):
    """Raised by a section's own checks; the loader adds the file and the section path."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(problem)
        self.field_name = field_name
        self.problem = problem


def _check(pred: bool, field_name: str, problem: str) -> None:
    if not pred:
        raise FieldProblem(field_name, problem)


@dataclass(frozen=True, slots=True)
class StationSection:
    """Who and where the station is; `data_root` holds SD/, HD/, meteors/, state/ (design.md §4)."""

    id: str
    lat: float
    lon: float
    alt_m: float
    data_root: Path

    def __post_init__(self) -> None:
        _check(bool(ID_RE.match(self.id)), "id", f"expected 1-64 of A-Z a-z 0-9 _ . -, got \"{self.id}\"")
        _check(-90.0 <= self.lat <= 90.0, "lat", f"must be within -90..90, got {self.lat}")
        _check(-180.0 <= self.lon <= 360.0, "lon", f"must be within -180..360, got {self.lon}")
        _check(-500.0 <= self.alt_m <= 9000.0, "alt_m", f"must be within -500..9000 m, got {self.alt_m}")


@dataclass(frozen=True, slots=True)
class CameraSection:
    """One camera; az/el/fov/rotation are the approximate pointing used until a star calibration exists."""

    id: str
    sd_width: int = 640
    sd_height: int = 360
    hd_width: int = 1920
    hd_height: int = 1080
    fps: float = 25.0
    az_deg: float = 0.0
    el_deg: float = 45.0
    fov_h_deg: float = 90.0
    rotation_deg: float = 0.0
    calibration: str = ""
    mask: str = ""

    def __post_init__(self) -> None:
        _check(bool(CAMERA_ID_RE.match(self.id)), "id", f"expected six digits, got \"{self.id}\"")
        for name in ("sd_width", "sd_height", "hd_width", "hd_height"):
            value = getattr(self, name)
            _check(16 <= value <= 8192, name, f"must be within 16..8192 pixels, got {value}")
        _check(1.0 <= self.fps <= 120.0, "fps", f"must be within 1..120, got {self.fps}")
        _check(0.0 <= self.az_deg < 360.0, "az_deg", f"must be within 0..360, got {self.az_deg}")
        _check(-10.0 <= self.el_deg <= 90.0, "el_deg", f"must be within -10..90, got {self.el_deg}")
        _check(1.0 <= self.fov_h_deg <= 200.0, "fov_h_deg", f"must be within 1..200, got {self.fov_h_deg}")


@dataclass(frozen=True, slots=True)
class StoreSection:
    """The shared bucket. Keys come from the environment variables named here, never from the file."""

    endpoint: str = ""
    bucket: str = "ams-network"
    region: str = "us-east-1"
    access_key_env: str = "AMS_S3_ACCESS_KEY_ID"
    secret_key_env: str = "AMS_S3_SECRET_ACCESS_KEY"
    timeout_s: float = 20.0
    max_concurrency: int = 8
    # endpoint = "embedded": the station runs moto's S3 itself (store/embedded/local.py), for a trial
    embedded_port: int = 9401  # stations of one machine share the server through it
    embedded_dir: str = ""  # a folder holding the bucket between runs (absolute, or next to station.toml)

    def __post_init__(self) -> None:
        _check(
            self.endpoint in ("", "embedded") or self.endpoint.startswith(("http://", "https://")),
            "endpoint",
            f'expected an http:// or https:// URL, "embedded", or empty for AWS; got {self.endpoint!r}',
        )
        _check(1 <= self.embedded_port <= 65535, "embedded_port", f"must be within 1..65535, got {self.embedded_port}")
        _check(
            bool(re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", self.bucket)),
            "bucket",
            f"expected an S3 bucket name (3-63 of a-z 0-9 . -), got {self.bucket!r}",
        )
        _check(self.timeout_s > 0, "timeout_s", f"must be positive, got {self.timeout_s}")
        _check(1 <= self.max_concurrency <= 64, "max_concurrency", f"must be within 1..64, got {self.max_concurrency}")

    def credentials(self) -> tuple[str | None, str | None]:
        """(access key, secret) from the environment; None lets botocore's own chain decide."""
        return os.environ.get(self.access_key_env), os.environ.get(self.secret_key_env)


@dataclass(frozen=True, slots=True)
class NetworkSection:
    """Partners whose data we download, and which shared jobs this machine does (design.md §1)."""

    partners: tuple[str, ...] = ()
    roles: tuple[str, ...] = ("station",)
    solo: bool = False

    def __post_init__(self) -> None:
        for p in self.partners:
            _check(bool(ID_RE.match(p)), "partners", f"partner id {p!r} is not 1-64 of A-Z a-z 0-9 _ . -")
        for r in self.roles:
            _check(r in ROLES, "roles", f"unknown role {r!r}; expected one of {', '.join(ROLES)}")


@dataclass(frozen=True, slots=True)
class ScheduleSection:
    """How often the periodic actors look for work (seconds of the station clock)."""

    scan_interval_s: float = 20.0
    clip_settle_s: float = 75.0
    sync_interval_s: float = 300.0
    correlate_interval_s: float = 600.0
    index_interval_s: float = 300.0
    housekeeping_interval_s: float = 3600.0
    publish_interval_s: float = 300.0
    calibration_check_interval_s: float = 3600.0
    calibration_check_hour: float = 1.5  # local mean solar time (UTC + lon/15 h), hours after midnight
    disk_check_interval_s: float = 60.0  # free space on the data root (intake pauses below runtime.min_free_mb)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            _check(value > 0, f.name, f"must be positive, got {value}")
        _check(self.calibration_check_hour < 24.0, "calibration_check_hour",
               f"must be within 0..24, got {self.calibration_check_hour}")


@dataclass(frozen=True, slots=True)
class SyncSection:
    """Reconciliation with the bucket: at start and daily the last `reconcile_days` days are compared with
    the bucket by content hash and whatever is missing or different is uploaded (nothing is deleted)."""

    reconcile_days: int = 30

    def __post_init__(self) -> None:
        _check(1 <= self.reconcile_days <= 3660, "reconcile_days", f"must be 1..3660, got {self.reconcile_days}")


@dataclass(frozen=True, slots=True)
class ClaimsSection:
    """Event claim leases (design.md §6): heartbeat every lease/3; steal after lease + skew margin."""

    lease_s: float = 120.0
    skew_margin_s: float = 30.0
    renew_margin_s: float = 10.0

    def __post_init__(self) -> None:
        _check(10.0 <= self.lease_s <= 3600.0, "lease_s", f"must be within 10..3600, got {self.lease_s}")
        _check(self.skew_margin_s >= 0, "skew_margin_s", f"must be >= 0, got {self.skew_margin_s}")
        _check(
            0 <= self.renew_margin_s < self.lease_s / 2,
            "renew_margin_s",
            f"renew_margin_s must be within 0..lease_s/2, got {self.renew_margin_s}",
        )


@dataclass(frozen=True, slots=True)
class CalibrationSection:
    """When a new star fit may replace the calibration in use (`ams calibrate`, the nightly check)."""

    # a fit that moves the pointing further than this is refused (a knocked camera, a wrong match);
    # `ams calibrate --force` writes it anyway
    max_shift_deg: float = 1.0

    def __post_init__(self) -> None:
        _check(0 < self.max_shift_deg <= 180, "max_shift_deg", f"must be within 0..180, got {self.max_shift_deg}")


@dataclass(frozen=True, slots=True)
class SolverSection:
    """Trajectory solving on this station: Monte Carlo re-solves give the published uncertainties."""

    mc_runs: int = 20

    def __post_init__(self) -> None:
        _check(0 <= self.mc_runs <= 1000, "mc_runs", f"must be within 0..1000, got {self.mc_runs}")


@dataclass(frozen=True, slots=True)
class RuntimeSection:
    """Supervision limits: past `max_restarts` in `restart_window_s` the station exits non-zero."""

    workers: int = 0
    inbox_size: int = 64
    max_restarts: int = 5
    restart_window_s: float = 300.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    min_free_mb: float = 200.0

    def __post_init__(self) -> None:
        _check(self.min_free_mb >= 0, "min_free_mb", f"must be >= 0, got {self.min_free_mb}")
        _check(0 <= self.workers <= 64, "workers", f"must be within 0..64 (0 = one per core), got {self.workers}")
        _check(1 <= self.inbox_size <= 100_000, "inbox_size", f"must be within 1..100000, got {self.inbox_size}")
        _check(self.max_restarts >= 0, "max_restarts", f"must be >= 0, got {self.max_restarts}")
        _check(self.restart_window_s > 0, "restart_window_s", f"must be positive, got {self.restart_window_s}")
        _check(
            0 < self.backoff_initial_s <= self.backoff_max_s,
            "backoff_initial_s",
            f"need 0 < backoff_initial_s <= backoff_max_s, got {self.backoff_initial_s}, {self.backoff_max_s}",
        )

    def worker_count(self) -> int:
        return self.workers or (os.cpu_count() or 1)


@dataclass(frozen=True, slots=True)
class WebSection:
    """The station's own web page (served inside the station process) and its /metrics.

    Loopback by default: the page can review (move meteors to the trash) when AMS_WEB_TOKEN is set,
    and a station is often on a home network; bind 0.0.0.0 only behind a firewall you trust."""

    enabled: bool = True
    bind: str = "127.0.0.1"
    port: int = 8087
    trash_days: int = 30  # a rejected meteor stays restorable this long, then it is deleted
    # the share of wall time the page may spend handling requests (web/pacing.py): the cores are the
    # Scanner's; a client asking back to back is slowed, an operator clicking around never waits
    max_busy: float = 0.05

    def __post_init__(self) -> None:
        _check(bool(self.bind.strip()), "bind", "must name an address, e.g. 127.0.0.1")
        _check(0.005 <= self.max_busy <= 1.0, "max_busy", f"must be within 0.005..1 (a share of wall time), "
               f"got {self.max_busy}")
        _check(0 <= self.port <= 65535, "port", f"must be within 0..65535 (0: any free port), got {self.port}")
        _check(1 <= self.trash_days <= 3650, "trash_days", f"must be within 1..3650, got {self.trash_days}")


@dataclass(frozen=True, slots=True)
class StationConfig:
    station: StationSection
    cameras: tuple[CameraSection, ...]
    store: StoreSection = field(default_factory=StoreSection)
    network: NetworkSection = field(default_factory=NetworkSection)
    schedule: ScheduleSection = field(default_factory=ScheduleSection)
    sync: SyncSection = field(default_factory=SyncSection)
    claims: ClaimsSection = field(default_factory=ClaimsSection)
    calibration: CalibrationSection = field(default_factory=CalibrationSection)
    solver: SolverSection = field(default_factory=SolverSection)
    runtime: RuntimeSection = field(default_factory=RuntimeSection)
    web: WebSection = field(default_factory=WebSection)
    source: str = "station.toml"

    # Shortcuts used all over the station.
    @property
    def station_id(self) -> str:
        return self.station.id

    @property
    def data_root(self) -> Path:
        return self.station.data_root

    @property
    def state_dir(self) -> Path:
        return self.station.data_root / "state"

    def camera(self, camera_id: str) -> CameraSection:
        for cam in self.cameras:
            if cam.id == camera_id:
                return cam
        raise KeyError(camera_id)


# --- loading -------------------------------------------------------------------------------------------

def _type_name(tp: Any) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", Path: "a path"}
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def _convert(value: Any, tp: Any, where: str, source: str, base_dir: Path) -> Any:
    origin = typing.get_origin(tp)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise InputError(source, where, f"expected one of {', '.join(map(str, choices))}, got {value!r}")
        return value
    if origin in (tuple, list):
        (item_tp, *_rest) = typing.get_args(tp)
        if not isinstance(value, list):
            raise InputError(source, where, f"expected a list, got {value!r}")
        return tuple(_convert(v, item_tp, f"{where}[{i}]", source, base_dir) for i, v in enumerate(value))
    if origin in (types.UnionType, typing.Union):
        raise TypeError("unions are not used in the config")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise InputError(source, where, f"expected a table, got {value!r}")
        return _build(tp, value, where, source, base_dir)  # type: ignore[arg-type]
    if tp is bool:
        if not isinstance(value, bool):
            raise InputError(source, where, f"expected true or false, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(source, where, f"expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(source, where, f"expected an integer, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise InputError(source, where, f"expected a string, got {value!r}")
        return value
    if tp is Path:
        if not isinstance(value, str) or not value:
            raise InputError(source, where, f"expected a path, got {value!r}")
        p = Path(value).expanduser()
        return p if p.is_absolute() else (base_dir / p)
    raise TypeError(f"unsupported config type {tp!r}")


def _build(cls: type[Any], table: Mapping[str, Any], where: str, source: str, base_dir: Path) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "source"}
    prefix = f"{where}." if where else ""
    for key in table:
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise InputError(source, f"{prefix}{key}", f"unknown key (known keys: {known})")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name in table:
            kwargs[name] = _convert(table[name], hints[name], f"{prefix}{name}", source, base_dir)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise InputError(source, f"{prefix}{name}", "missing (required)")
    try:
        return cls(**kwargs)
    except FieldProblem as err:
        raise InputError(source, f"{prefix}{err.field_name}", err.problem) from None


def _post_checks(cfg: StationConfig) -> None:
    seen: dict[str, int] = {}
    for i, cam in enumerate(cfg.cameras):
        if cam.id in seen:
            problem = f"duplicate camera id {cam.id!r} (also cameras[{seen[cam.id]}])"
            raise InputError(cfg.source, f"cameras[{i}].id", problem)
        seen[cam.id] = i
    if cfg.station.id in cfg.network.partners:
        raise InputError(cfg.source, "network.partners", f"lists this station's own id {cfg.station.id!r}")


def _resolve_masks(cfg: StationConfig, base_dir: Path) -> StationConfig:
    """Each camera's mask as an absolute path, checked now: a mask that is missing, unreadable or of
    the wrong size would otherwise let the street light it hides make detections all night."""
    cameras = []
    for i, cam in enumerate(cfg.cameras):
        if cam.mask:
            p = Path(cam.mask).expanduser()
            p = p if p.is_absolute() else base_dir / p
            try:
                read_mask(p, cam.sd_width, cam.sd_height)
            except InputError as err:
                raise InputError(cfg.source, f"cameras[{i}].mask", f"{err.source}: {err.problem}") from None
            cam = dataclasses.replace(cam, mask=str(p))
        cameras.append(cam)
    return dataclasses.replace(cfg, cameras=tuple(cameras))


def read_mask(path: str | os.PathLike[str], width: int, height: int) -> Any:
    """A camera mask as a boolean array (True = ignore: white pixels, value > 127), ``height x width``.

    Raises InputError naming the file when it is missing, unreadable or of another size.
    """
    import cv2  # only for stations that have a mask

    p = Path(path)
    if not p.is_file():
        raise InputError(str(p), None, "no such file")
    image = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise InputError(str(p), None, "not a readable image (expected a PNG)")
    if image.shape != (height, width):
        size = f"{image.shape[1]}x{image.shape[0]}"
        raise InputError(str(p), None, f"is {size}, the camera's SD frames are {width}x{height}")
    return image > 127


@functools.lru_cache(maxsize=16)
def cached_mask(path: str, width: int, height: int) -> Any:
    """`read_mask` once per worker process (a pool worker scans every minute of its camera with it).

    The config check at start has read it already; an edited mask takes effect at the next start.
    """
    mask = read_mask(path, width, height)
    mask.flags.writeable = False
    return mask


def parse_config(text: str, source: str = "station.toml", base_dir: Path | None = None) -> StationConfig:
    """Parse TOML text; relative paths in it are relative to `base_dir` (the file's folder)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(source, None, f"not valid TOML: {err}") from None
    if "cameras" not in data:
        raise InputError(source, "cameras", "missing (at least one [[cameras]] table is required)")
    if isinstance(data.get("cameras"), list) and not data["cameras"]:
        raise InputError(source, "cameras", "empty (at least one [[cameras]] table is required)")
    cfg = _build(StationConfig, data, "", source, base_dir or Path.cwd())
    cfg = dataclasses.replace(cfg, source=source)
    _post_checks(cfg)
    cfg = _resolve_masks(cfg, base_dir or Path.cwd())
    if cfg.store.embedded_dir:  # relative to the file's folder, like every other path in it
        folder = (base_dir or Path.cwd()) / Path(cfg.store.embedded_dir).expanduser()
        cfg = dataclasses.replace(cfg, store=dataclasses.replace(cfg.store, embedded_dir=str(folder)))
    return typing.cast(StationConfig, cfg)


def load_config(path: str | os.PathLike[str]) -> StationConfig:
    """Load and validate a station.toml; every problem is an InputError naming file, key and problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(str(p), None, "no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(str(p), None, f"cannot read: {err}") from None
    return parse_config(text, source=str(p), base_dir=p.resolve().parent)

