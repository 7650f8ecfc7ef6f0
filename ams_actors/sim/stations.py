"""The fake stations' configs: each simulated station is configured through the same station.toml
text and parser as a real one (so a config the simulator writes is one a station would accept), and
the claims they take are logged for the grading.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ams_actors.config import StationConfig, parse_config
from ams_actors.sim.world import SimStation

BUCKET = "ams-sim"


def station_config(
    st: SimStation, root: Path, endpoint: str, partners: list[str], roles: list[str], lease_s: float,
    mc_runs: int = 10, timeout_s: float = 10.0, schedule: tuple[float, float, float] = (60.0, 120.0, 120.0),
    key_env: tuple[str, str] = ("AMS_S3_ACCESS_KEY_ID", "AMS_S3_SECRET_ACCESS_KEY"),
) -> StationConfig:
    """One fake station's config; `schedule` is (sync, correlate, index) interval in virtual seconds;
    `key_env` names the environment variables its S3 key pair is read from."""
    text = station_toml(st, root, endpoint, partners, roles, lease_s, mc_runs, timeout_s, schedule, key_env=key_env)
    return parse_config(text, source=f"sim:{st.id}.toml")


def station_toml(
    st: SimStation, root: Path, endpoint: str, partners: list[str], roles: list[str], lease_s: float,
    mc_runs: int = 10, timeout_s: float = 10.0, schedule: tuple[float, float, float] = (60.0, 120.0, 120.0),
    store_extra: str = "", key_env: tuple[str, str] = ("AMS_S3_ACCESS_KEY_ID", "AMS_S3_SECRET_ACCESS_KEY"),
) -> str:
    """The station.toml text of one fake station (``store_extra``: more lines for its [store])."""
    sync_s, correlate_s, index_s = schedule
    cams = "\n".join(
        f'[[cameras]]\nid = "{cam.id}"\naz_deg = {cam.az_deg}\nel_deg = {cam.el_deg}\n'
        f"fov_h_deg = {cam.fov_h_deg}\nrotation_deg = {cam.rotation_deg}\n"
        for cam in st.cameras
    )
    text = f"""
[station]
id = "{st.id}"
lat = {st.lat}
lon = {st.lon}
alt_m = {st.alt_m}
data_root = "{root / st.id}"
{cams}
[store]
endpoint = "{endpoint}"
bucket = "{BUCKET}"
timeout_s = {timeout_s}
access_key_env = "{key_env[0]}"
secret_key_env = "{key_env[1]}"
{store_extra}
[network]
partners = [{", ".join(f'"{p}"' for p in partners)}]
roles = [{", ".join(f'"{r}"' for r in roles)}]
[schedule]
scan_interval_s = 20.0
clip_settle_s = 30.0
sync_interval_s = {sync_s}
correlate_interval_s = {correlate_s}
index_interval_s = {index_s}
[claims]
lease_s = {lease_s}
skew_margin_s = {lease_s / 4}
renew_margin_s = {lease_s / 10}
[solver]
mc_runs = {mc_runs}
[runtime]
workers = 2
max_restarts = 20
"""
    return text


@dataclass(frozen=True, slots=True)
class ClaimTaken:
    """One EventClaimed seen on its way to a Solver: station `station` (process `token`) believes it
    holds `epoch` of `event_id` from virtual time `at_s` on. Two of these with one (event, epoch) and
    different tokens would be a double claim."""

    station: str
    token: str
    event_id: str
    epoch: int
    at_s: float
