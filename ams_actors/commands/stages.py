"""The old cron verbs (`ams bs | rvd | rvms | bmpi | fix_days | proc_index`) as one-shot runs.

They run the same actors as the daemon — only those the task needs (station.ONE_SHOT_ACTORS) — until
that task's pending work and what it handed downstream is done, then exit, so an operator migrating
from cron can keep their crontab for a while. They refuse to run next to the
daemon (two processes would race on the same clips) and say what to use instead.
"""

from __future__ import annotations

import argparse

from ams_actors.commands.common import add_config_option


def configure(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.add_argument("--day", metavar="YYYY_MM_DD", help="limit the task to one day (where it applies)")


def configure_proc_index(parser: argparse.ArgumentParser) -> None:
    configure(parser)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the ledger from the files alone first")


def run(args: argparse.Namespace) -> int:

    from ams_actors.commands.common import load, one_shot_lock
    from ams_actors.runtime.loop import run_async
    from ams_actors.station import ONE_SHOT_ACTORS, Station

    config = load(args)
    verb = args.verb
    lock = one_shot_lock(config, verb, f"ams admin run {verb}")
    if lock is None:
        return 2

    async def main() -> int:
        station = Station(config, admin_socket=False, only=ONE_SHOT_ACTORS[verb])
        await station.start()
        rebuild = getattr(args, "rebuild", False)
        try:
            if rebuild:
                from ams_actors.store.day_folders import rebuild_ledger_from_files

                n_clips, n_meteors = rebuild_ledger_from_files(
                    station.ctx.paths, station.ctx.ledger, station.clock.now().isoformat())
                print(f"ledger rebuilt from the files: {n_clips} clips, {n_meteors} meteors")
            results = await station.run_task(verb, None if rebuild else args.day)
            await station.settle()  # what the task handed downstream is done before we stop
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


configure_bs = configure_rvd = configure_rvms = configure_bmpi = configure_fix_days = configure
