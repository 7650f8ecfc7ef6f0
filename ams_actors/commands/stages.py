"""The old cron verbs (`ams bs | rvd | rvms | fix_days | proc_index`) as one-shot runs.

They run the same actors as the daemon until that task's pending work is done, then exit — so an
operator migrating from cron can keep their crontab for a while. They refuse to run next to the
daemon (two processes would race on the same clips) and say what to use instead.
"""

from __future__ import annotations

import argparse
import sys

from ams_actors.commands.common import add_config_option


def configure(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.add_argument("--day", metavar="YYYY_MM_DD", help="limit the task to one day (where it applies)")
    parser.add_argument("--rebuild", action="store_true", help="proc_index: rebuild the ledger from the files alone")


def run(args: argparse.Namespace) -> int:

    from ams_actors.commands.common import load, prepare_data_root
    from ams_actors.runtime.lock import AlreadyRunning, StationLock
    from ams_actors.runtime.loop import run_async
    from ams_actors.station import Station

    config = load(args)
    verb = args.verb
    prepare_data_root(config)
    lock = StationLock(config.data_root / "state" / "ams.lock")
    try:
        lock.acquire()
    except AlreadyRunning as err:
        print(
            f"ams {verb}: the station daemon is running (pid {err.pid or 'unknown'}); "
            f"use `ams admin run {verb}` instead",
            file=sys.stderr,
        )
        return 2

    async def main() -> int:
        station = Station(config, admin_socket=False)
        await station.start()
        try:
            if verb == "proc_index" and args.rebuild:
                from ams_actors.actors.housekeeper import rebuild_ledger_from_files

                n_clips, n_meteors = rebuild_ledger_from_files(station.ctx, station.clock.now().isoformat())
                print(f"ledger rebuilt from the files: {n_clips} clips, {n_meteors} meteors")
            results = await station.run_task(verb, None if args.rebuild else args.day)
        finally:
            await station.stop()
        failed = 0
        for r in results:
            print(f"{r.actor}: {verb}: {r.done} done, {r.failed} failed{' — ' + r.detail if r.detail else ''}")
            failed += r.failed
        return 1 if failed else 0

    try:
        return run_async(main())
    finally:
        lock.release()


configure_bs = configure_rvd = configure_rvms = configure_fix_days = configure_proc_index = configure
