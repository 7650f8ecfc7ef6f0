"""`[store] endpoint = "embedded"`: try a station (or a few) on one machine without Wasabi.

The station starts the embedded S3 server (moto, the ``sim`` extra) on ``127.0.0.1:<embedded_port>``
inside its own process. Several stations of one machine share it through that fixed port: the first to
bind serves, the others find the port taken and use it as clients (their store stops when the serving
station stops — this is for trying things, not for production).

The bucket lives in memory; with ``embedded_dir`` set, the serving station loads that folder into the
bucket at start (one file per key, the key being its path below the folder) and writes the bucket
back there at stop, so a night kept by `ams sim --keep` (or a local trial) survives restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ams_actors.runtime.files import atomic_write_bytes
from ams_actors.store.embedded.server import EmbeddedS3
from ams_actors.store.outcomes import StoredObject
from protocols.s3_keys import local_path

log = logging.getLogger("ams.store.embedded")

EMBEDDED = "embedded"
LOCAL_KEY = "embedded"  # the credentials moto accepts (it checks none); set only where unset


def use_local_credentials(*env_names: str) -> None:
    """moto accepts any keys; a trial station should not need any in its environment."""
    for name in env_names:
        os.environ.setdefault(name, LOCAL_KEY)


async def dump_bucket(store: Any, folder: Path) -> int:
    """Every object of the bucket → ``folder/<key>`` (atomic files); returns how many."""
    n = 0
    for key in await store.list_keys(""):
        got = await store.get(key)
        if isinstance(got, StoredObject):
            await asyncio.to_thread(atomic_write_bytes, local_path(folder, key), got.body)
            n += 1
    return n


async def load_bucket(store: Any, folder: Path) -> int:
    """Every file below ``folder`` → the object named by its relative path; returns how many."""
    files = await asyncio.to_thread(lambda: sorted(p for p in folder.rglob("*") if p.is_file()))
    n = 0
    for path in files:
        if path.name.startswith("."):
            continue  # a temp file of an interrupted dump
        key = path.relative_to(folder).as_posix()
        await store.put(key, await asyncio.to_thread(path.read_bytes))
        n += 1
    return n


@contextlib.asynccontextmanager
async def embedded_endpoint(port: int, bucket: str, region: str, folder: str | None,
                            key_envs: tuple[str, str]) -> AsyncIterator[str]:
    """The endpoint URL of this machine's embedded store, serving it if no other station does.

    When this process serves, it creates the bucket and loads ``folder`` into it at start, and writes
    the bucket back to ``folder`` at stop. ``key_envs``: the variables the station reads its keys
    from (given a placeholder if unset: moto checks none).
    """
    from ams_actors.store.objectstore import Credentials, ObjectStore

    use_local_credentials(*key_envs)
    url = f"http://127.0.0.1:{port}"

    def open_store() -> contextlib.AbstractAsyncContextManager[Any]:
        return ObjectStore.open(url, bucket, region, credentials=Credentials.from_env(*key_envs))

    server = EmbeddedS3(port=port)
    try:
        await asyncio.to_thread(server.__enter__)
    except OSError as err:
        if err.errno != errno.EADDRINUSE:
            raise
        log.info("embedded store: %s is served by another station on this machine; using it", url)
        yield url
        return
    keep = None if folder is None else Path(folder)
    try:
        async with open_store() as store:
            await store.ensure_bucket()
            if keep is not None and not await store.list_keys(""):
                n = await load_bucket(store, keep)
                log.info("embedded store: loaded %d object(s) from %s", n, keep)
        log.info("embedded store serving %s (bucket %s)", url, bucket)
        yield url
    finally:
        try:
            if keep is not None:
                async with open_store() as store:
                    n = await dump_bucket(store, keep)
                log.info("embedded store: saved %d object(s) to %s", n, keep)
        finally:
            await asyncio.to_thread(server.__exit__, None, None, None)
