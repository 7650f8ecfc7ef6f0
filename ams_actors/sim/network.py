"""The simulated network: N real `Station` objects on one virtual clock against one embedded S3.

Every fake station is the production `Station` with its own data root, config and store client;
only the world around it is fake (the sky, the cameras, the clock). The harness builds the
stations, runs the virtual night, and gathers the status of every station for the report.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ams_actors.config import StationConfig, parse_config
from ams_actors.runtime.clock import VirtualClock
from ams_actors.runtime.pool import make_pool
from ams_actors.station import Station

NIGHT_START = datetime(2026, 7, 12, 22, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class SimOptions:
    stations: int = 3
    cameras: int = 2
    minutes: float = 30.0
    mode: str = "video"  # "video" | "network"
    rate: float = 60.0  # virtual seconds per real second
    seed: int = 1
    workdir: Path | None = None
    center_lat: float = 51.5
    center_lon: float = 0.0
    spacing_km: float = 60.0


@dataclass(slots=True)
class SimReport:
    stations: list[dict[str, Any]] = field(default_factory=list)
    virtual_s: float = 0.0
    wall_s: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)


def station_positions(n: int, lat0: float, lon0: float, spacing_km: float) -> list[tuple[float, float]]:
    """Stations on a ring (plus the centre from 4 on), `spacing_km` apart: overlapping skies."""
    out: list[tuple[float, float]] = []
    ring = n if n < 4 else n - 1
    radius_km = spacing_km / (2 * math.sin(math.pi / ring)) if ring > 1 else 0.0
    if n >= 4:
        out.append((lat0, lon0))
    for i in range(ring):
        a = 2 * math.pi * i / ring
        dlat = radius_km * math.cos(a) / 111.2
        dlon = radius_km * math.sin(a) / (111.2 * math.cos(math.radians(lat0)))
        out.append((lat0 + dlat, lon0 + dlon))
    return out


def station_config(
    station_id: str, lat: float, lon: float, root: Path, cameras: int, endpoint: str, partners: list[str],
    roles: list[str],
) -> StationConfig:
    cams = "\n".join(
        f'[[cameras]]\nid = "{10001 + i:06d}"\naz_deg = {(360.0 / cameras) * i + 45.0:.1f}\nel_deg = 45.0\n'
        f"fov_h_deg = 90.0\n"
        for i in range(cameras)
    )
    text = f"""
[station]
id = "{station_id}"
lat = {lat:.6f}
lon = {lon:.6f}
alt_m = 50.0
data_root = "{root}"
{cams}
[store]
endpoint = "{endpoint}"
bucket = "ams-sim"
timeout_s = 10.0
[network]
partners = [{", ".join(f'"{p}"' for p in partners)}]
roles = [{", ".join(f'"{r}"' for r in roles)}]
[runtime]
workers = 2
max_restarts = 10
"""
    return parse_config(text, source=f"sim:{station_id}.toml")


async def run_network(
    opts: SimOptions, endpoint: str, progress: Callable[[float], None] | None = None
) -> SimReport:
    """Run the stations for `opts.minutes` of virtual time and return their final status."""
    from ams_actors.store.objectstore import Credentials, ObjectStore

    loop = asyncio.get_running_loop()
    t_wall = loop.time()
    with tempfile.TemporaryDirectory(prefix="ams-sim-", dir=opts.workdir) as tmp:
        root = Path(tmp)
        creds = Credentials.from_env("AMS_S3_ACCESS_KEY_ID", "AMS_S3_SECRET_ACCESS_KEY")
        async with ObjectStore.open(endpoint, "ams-sim", credentials=creds) as admin_store:
            await admin_store.ensure_bucket()
        clock = VirtualClock(start=NIGHT_START, rate=opts.rate)
        ids = [f"SIM{i + 1:02d}" for i in range(opts.stations)]
        positions = station_positions(opts.stations, opts.center_lat, opts.center_lon, opts.spacing_km)
        pool = make_pool(2)
        stations = []
        for i, (sid, (lat, lon)) in enumerate(zip(ids, positions, strict=True)):
            roles = ["station", "correlator", "publisher"] if i == 0 else ["station"]
            cfg = station_config(sid, lat, lon, root / sid, opts.cameras, endpoint, [p for p in ids if p != sid], roles)
            stations.append(Station(cfg, clock=clock, executor=pool, admin_socket=False))
        try:
            await asyncio.gather(*(s.start() for s in stations))
            total = opts.minutes * 60.0
            t0 = clock.monotonic()
            while (elapsed := clock.monotonic() - t0) < total:
                if progress is not None:
                    progress(elapsed / total)
                await clock.sleep(min(30.0, total - elapsed))
            if progress is not None:
                progress(1.0)
            report = SimReport(
                stations=[s.status() for s in stations],
                virtual_s=clock.monotonic() - t0,
            )
        finally:
            await asyncio.gather(*(s.stop() for s in stations), return_exceptions=True)
            pool.shutdown(wait=True, cancel_futures=True)
    report.wall_s = loop.time() - t_wall
    return report
