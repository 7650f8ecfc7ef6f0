"""`ams run -c station.toml`: the station daemon. One per data root; SIGTERM/SIGINT/SIGHUP stop it cleanly."""

from __future__ import annotations

import argparse
import sys

from ams_actors.commands.common import add_config_option


def configure(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.epilog = (
        "Exit codes: 0 after a clean stop (SIGTERM, SIGINT, SIGHUP or `ams admin shutdown`, also during "
        "start-up); 1 when an actor kept crashing past its restart limit; 2 for a bad configuration, an "
        "unusable data root, or when another ams holds the data root or the station id."
    )


def run(args: argparse.Namespace) -> int:
    from ams_actors.runtime.signals import EARLY

    EARLY.install()  # first: a stop signal from now on is recorded, never the default kill
    import asyncio
    import signal

    from ams_actors.commands.common import load, prepare_data_root
    from ams_actors.runtime.lock import AlreadyRunning, StationLock
    from ams_actors.runtime.loop import run_async
    from ams_actors.runtime.sdnotify import Notifier
    from ams_actors.station import Station

    config = load(args)
    prepare_data_root(config)
    lock = StationLock(config.data_root / "state" / "ams.lock")
    try:
        lock.acquire()
    except AlreadyRunning as err:
        print(f"ams run: {err}: a station is already running on {config.data_root}", file=sys.stderr)
        return 2

    async def main() -> int:
        station = Station(config, notifier=Notifier())

        def on_signal(sig: signal.Signals) -> None:
            station.request_stop(f"received {sig.name}")

        EARLY.attach(asyncio.get_running_loop(), on_signal)
        await station.start()
        return await station.wait()

    try:
        return run_async(main())
    finally:
        lock.release()
