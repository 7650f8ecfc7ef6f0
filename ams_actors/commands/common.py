"""Pieces the station verbs share: the -c option, loading the config, the lock message, the bucket."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ams_actors.config import StationConfig, load_config

if TYPE_CHECKING:
    from ams_actors.runtime.lock import StationLock

DEFAULT_CONFIG = "station.toml"
T = TypeVar("T")


def add_config_option(parser: argparse.ArgumentParser, inherit: bool = False) -> None:
    """``inherit``: on a sub-command, leave the value to its parent unless given here (-c after the
    sub-command works as well as before it)."""
    parser.add_argument(
        "-c",
        "--config",
        default=argparse.SUPPRESS if inherit else os.environ.get("AMS_CONFIG", DEFAULT_CONFIG),
        metavar="FILE",
        help="station configuration (default: $AMS_CONFIG or ./station.toml)",
    )


def load(args: argparse.Namespace) -> StationConfig:
    """The config, and its ``[runtime] log_level`` applied — unless ``ams -v`` asked for DEBUG."""
    import logging

    config = load_config(Path(args.config))
    if not getattr(args, "verbose", False):
        logging.getLogger().setLevel(config.runtime.log_level)
    return config


def prepare_data_root(config: StationConfig) -> None:
    """Create the data root's folders and prove it takes writes, before the lock is taken (InputError, exit 2)."""
    from ams_actors.store.local_paths import StationPaths

    StationPaths(config.data_root, config.station_id).ensure()


def one_shot_lock(config: StationConfig, verb: str, instead: str) -> StationLock | None:
    """The data root's lock for a one-shot verb; None, after saying what to use instead, when the
    daemon holds it (two processes would race on the same files)."""
    from ams_actors.runtime.lock import AlreadyRunning, StationLock

    prepare_data_root(config)
    lock = StationLock(config.data_root / "state" / "ams.lock")
    try:
        lock.acquire()
    except AlreadyRunning as err:
        print(f"ams {verb}: the station daemon is running (pid {err.pid or 'unknown'}); use `{instead}` instead",
              file=sys.stderr)
        return None
    return lock


@contextlib.asynccontextmanager
async def open_bucket(config: StationConfig) -> AsyncIterator[Any]:
    """The bucket of station.toml's [store], credentials from the environment variables it names
    (``endpoint = "embedded"``: this machine's embedded store, as the daemon would use it)."""
    from ams_actors.station import embedded_store
    from ams_actors.store.objectstore import Credentials, ObjectStore, Timeouts

    cfg = config.store
    async with contextlib.AsyncExitStack() as stack:
        endpoint = cfg.endpoint or None
        if endpoint == "embedded":
            endpoint = await stack.enter_async_context(embedded_store(config))
        yield await stack.enter_async_context(ObjectStore.open(
            endpoint,
            cfg.bucket,
            cfg.region,
            credentials=Credentials.from_env(cfg.access_key_env, cfg.secret_key_env),
            timeouts=Timeouts(read=cfg.timeout_s, attempt=cfg.timeout_s * 1.5),
            max_pool_connections=cfg.max_concurrency * 2,
        ))


def bucket_one_shot(
    args: argparse.Namespace, verb: str, work: Callable[[StationConfig, list[str]], Coroutine[Any, Any, T]]
) -> tuple[StationConfig, list[str], T] | int:
    """A one-shot verb that talks to the bucket (`ams be`, `ams sa`): its ``--day`` list (default
    yesterday and today, UTC), the data root's lock, one run of ``work``. An int is the exit code to
    return: 2 the daemon is running, 1 the bucket failed (said in one line)."""
    from datetime import UTC, datetime

    from ams_actors.runtime.loop import run_async
    from ams_actors.store.events_tree import recent_days
    from ams_actors.store.outcomes import StoreError
    from protocols.errors import InputError
    from protocols.s3_keys import InvalidKey, day_str, parse_day

    config = load(args)
    try:
        days = [day_str(parse_day(d)) for d in args.day] if args.day else recent_days(datetime.now(UTC).date())
    except InvalidKey as err:
        raise InputError("--day", None, str(err)) from None
    lock = one_shot_lock(config, verb, "ams admin run sync --day D")
    if lock is None:
        return 2
    try:
        return config, days, run_async(work(config, days))
    except (StoreError, OSError) as err:
        print(f"ams {verb}: {err}", file=sys.stderr)
        return 1
    finally:
        lock.release()


async def sync_each_day(
    config: StationConfig, days: list[str], step: Callable[[Any, str, Any], Awaitable[None]]
) -> Any:
    """Open the bucket and run one ``SyncEngine`` step (``step(engine, day, report)``) for each day:
    the one-shot sync verbs (`ams be`, `ams sa`) differ only in that step."""
    from ams_actors.netsync.sync import SyncEngine, SyncReport
    from ams_actors.store.local_paths import StationPaths

    report = SyncReport(days=tuple(days))
    paths = StationPaths(config.data_root, config.station_id)
    async with open_bucket(config) as store:
        engine = SyncEngine(paths, store, concurrency=config.store.max_concurrency)
        for day in days:
            await step(engine, day, report)
    return report
