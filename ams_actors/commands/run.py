"""`ams run -c station.toml`: the station daemon. One per data root; SIGTERM/SIGINT stop it cleanly."""

from __future__ import annotations

import argparse
import sys

from ams_actors.commands.common import add_config_option


def configure(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.epilog = (
        "Exit codes: 0 after a clean stop (SIGTERM, SIGINT or `ams admin shutdown`); 1 when an actor kept "
        "crashing past its restart limit; 2 for a bad configuration or when another ams holds the data root."
    )


def run(args: argparse.Namespace) -> int:
    import asyncio
    import logging
    import signal

    from ams_actors.commands.common import load
    from ams_actors.runtime.lock import AlreadyRunning, StationLock
    from ams_actors.runtime.loop import run_async
    from ams_actors.station import Station

    config = load(args)
    logging.getLogger().setLevel(config.runtime.log_level)
    lock = StationLock(config.data_root / "state" / "ams.lock")
    try:
        lock.acquire()
    except AlreadyRunning as err:
        print(f"ams run: {err}: a station is already running on {config.data_root}", file=sys.stderr)
        return 2

    async def main() -> int:
        station = Station(config)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, station.request_stop)
        await station.start()
        return await station.wait()

    try:
        return run_async(main())
    finally:
        lock.release()
