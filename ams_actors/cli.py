"""The `ams` command: one entry point for the daemon, its admin client, the old cron verbs and tools.

Each verb lives in ``ams_actors.commands.<module>`` with ``configure(parser)`` and ``run(args) -> int``;
modules are imported only when their verb runs, so ``ams --help`` stays fast on a mini-PC.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from protocols.errors import InputError

# verb -> (module under ams_actors.commands, one-line help)
VERBS: dict[str, tuple[str, str]] = {
    "run": ("run", "run the station daemon (all actors, admin socket) until SIGTERM"),
    "admin": ("admin", "talk to a running daemon over its admin socket"),
    "sim": ("sim", "run a simulated network night against an embedded S3 server and print its report"),
    "bs": ("stages", "scan & stack: scan finished SD minutes once, then exit (old cron verb)"),
    "rvd": ("stages", "values detect: classify scanned minutes once, then exit (old cron verb)"),
    "rvms": ("stages", "verify maybe-meteors once, then exit (old cron verb)"),
    "bmpi": ("stages", "make (or remake) the preview JPEGs of verified meteors, then exit (old cron verb)"),
    "sa": ("sa", "upload a day's preview JPEGs to the bucket (changed files only), then exit (old cron verb)"),
    "fix_days": ("stages", "redo minutes whose outputs are missing, then exit (old cron verb)"),
    "proc_index": ("stages", "write per-day processing stats, then exit (old cron verb)"),
    "be": ("be", "build events: fetch the events this station is in into its local EVENTS tree, then exit "
                 "(old cron verb)"),
    "solve": ("solve", "solve one event's 3D trajectory from an Observation set JSON file"),
    "shower": ("shower", "assign the rows of a GMN trajectory summary file to meteor showers"),
    "calibrate": ("calibrate", "calibrate a camera against real stars in its minute stack"),
    "correlate": ("correlate", "RMS FTPdetectinfo data to multi-station events, clocks and (--solve) a catalogue"),
    "run_detects": ("run_detects", "correlate all stations' daily indexes in the bucket (solving node)"),
    "archive": ("archive", "re-correlate and re-solve the archive in the bucket on Dask distributed "
                           "(`ams archive resolve`)"),
    "bucket": ("bucket", "bucket administration: the IAM policy of every station and role (`ams bucket policies`)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ams",
        description="ams-actors: one supervised asyncio process per all-sky meteor station.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True
    for verb, (module_name, help_text) in VERBS.items():
        p = sub.add_parser(verb, help=help_text, description=help_text)
        module = importlib.import_module(f"ams_actors.commands.{module_name}")
        configure = getattr(module, "configure_" + verb, None) or module.configure
        configure(p)
        p.set_defaults(_module=module_name)
    return parser


def _verb(argv: Sequence[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    if _verb(sys.argv[1:] if argv is None else argv) == "run":
        # before the parser imports every verb: a SIGTERM during start-up is a clean stop (runtime/signals.py)
        from ams_actors.runtime.signals import EARLY

        EARLY.install()
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    module = importlib.import_module(f"ams_actors.commands.{args._module}")
    try:
        return int(module.run(args))
    except InputError as err:
        print(f"ams {args.verb}: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (`ams correlate --json | head`): not an error of ours, and no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    raise SystemExit(main())
