"""Helpers for the web page tests (imported by name: pytest puts tests/ on sys.path)."""

from __future__ import annotations

from pathlib import Path

from ams_actors.config import StationConfig, parse_config
from ams_actors.store.objectstore import ObjectStore

BUCKET = "ams-web-test"


def web_config(root: Path, endpoint: str, cameras: tuple[str, ...] = ("010001", "010002"), extra: str = "",
               station_id: str = "AMS1") -> StationConfig:
    cams = "".join(f'[[cameras]]\nid = "{c}"\naz_deg = 90.0\nel_deg = 45.0\nfov_h_deg = 90.0\n' for c in cameras)
    return parse_config(f"""
[station]
id = "{station_id}"
lat = 51.5
lon = -0.1
alt_m = 20.0
data_root = "{root}"
{cams}
[store]
endpoint = "{endpoint}"
bucket = "{BUCKET}"
access_key_env = "AWS_ACCESS_KEY_ID"
secret_key_env = "AWS_SECRET_ACCESS_KEY"
[web]
port = 0
[runtime]
workers = 2
{extra}
""", source="test.toml")


async def make_bucket(endpoint: str) -> None:
    async with ObjectStore.open(endpoint, BUCKET) as store:
        await store.ensure_bucket()


def write_fits(folder: Path, camera: str = "010001") -> None:
    """Two star fits of a camera (Nov 1 and 2, 2026), 20 stars with small residuals each."""
    from datetime import UTC, datetime

    from protocols.calibration import CalibrationRecord, write_calibration

    model = {"site": {"lat": 51.5, "lon": -0.1}, "az_deg": 90.0, "el_deg": 45.0, "roll_deg": 0.0,
             "scale_px_per_deg": 7.0, "lens": {"kind": "equidistant", "width": 640, "height": 360}}
    stars = [{"x": 40.0 + 28 * i, "y": 30.0 + 15 * (i % 19), "dx": 0.3 * ((i % 5) - 2) / 2, "dy": 0.2 * ((i % 3) - 1)}
             for i in range(20)]
    for day, rms in ((1, 0.4), (2, 0.3)):
        write_calibration(folder, CalibrationRecord(camera, datetime(2026, 11, day, 22, tzinfo=UTC), model,
                                                    {"n_matched": 40, "rms_px": rms, "rms_arcmin": rms * 8.6},
                                                    "AMS1", stars=stars))
