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
