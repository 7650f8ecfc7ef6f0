"""`ams sim --keep DIR`: leave the night behind as stations an operator can start again with `ams run`.

For every fake station, its data root stays at ``DIR/<STATION>/`` with a ``station.toml`` next to its
files; the bucket as the night left it is written to ``DIR/bucket/`` (one file per key), and every
kept config points at an embedded store (``endpoint = "embedded"``) that loads that folder at start.
All kept stations share one embedded server through one port, chosen free now, so
``ams run -c DIR/<STATION>/station.toml`` for one or several of them sees the night's bucket.
"""

from __future__ import annotations

import socket
from pathlib import Path

from ams_actors.runtime.files import atomic_write_bytes
from ams_actors.sim.network import SimNetwork
from ams_actors.sim.stations import BUCKET, station_toml
from ams_actors.store.embedded.local import dump_bucket
from ams_actors.store.objectstore import Credentials, ObjectStore


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def keep_night(net: SimNetwork, folder: Path) -> list[Path]:
    """The bucket → ``folder/bucket/``; each station's ``station.toml``; returns the config paths."""
    creds = Credentials.from_env("AMS_S3_ACCESS_KEY_ID", "AMS_S3_SECRET_ACCESS_KEY")
    bucket_dir = folder / "bucket"
    async with ObjectStore.open(net.endpoint, BUCKET, credentials=creds) as store:
        await dump_bucket(store, bucket_dir)
    port = free_port()
    extra = f'embedded_port = {port}\nembedded_dir = "{bucket_dir}"'
    written = []
    for args in net.config_args:
        path = folder / args["st"].id / "station.toml"
        text = station_toml(endpoint="embedded", store_extra=extra, **args)
        atomic_write_bytes(path, text.encode())
        written.append(path)
    return written
