"""`ams sim`: the whole system in one command — a simulated network night on an embedded S3 server."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stations", type=int, default=3, help="number of simulated stations (default 3)")
    parser.add_argument("--cameras", type=int, default=2, help="cameras per station (default 2)")
    parser.add_argument("--minutes", type=float, default=30.0, help="virtual minutes of night (default 30)")
    parser.add_argument("--mode", choices=("video", "network"), default="video",
                        help="video: render H.264 clips through each station's pipeline; network: inject detections")
    parser.add_argument("--meteors", type=int, help="meteors in the night (default: one per 2 virtual minutes)")
    parser.add_argument("--rate", type=float,
                        help="virtual seconds per real second (default: 20 in video mode, 60 in network mode)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the world")
    parser.add_argument("--workdir", type=Path, help="where the stations' data roots go (default: a temp folder)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="leave every station's data root and a station.toml in DIR/<STATION>/ (and the bucket "
                             "in DIR/bucket/): `ams run -c DIR/<STATION>/station.toml` starts it again")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON document")
    parser.add_argument("--deceleration", choices=("physical", "exponential"), default="physical",
                        help="how the meteors slow down: the single-body ablation equations through the US76 "
                             "atmosphere (default; a profile the solver does not model) or the exponential lag "
                             "the solver fits")
    parser.add_argument("--true-calibration", action="store_true",
                        help="video mode: hand each camera its true model (the old shortcut, for comparison) "
                             "instead of a rough pointing in station.toml and a star fit of its first minute")
    parser.add_argument("--restricted-keys", action="store_true",
                        help="give every station its own key with the least-privilege policy of "
                             "`ams bucket policies` (the embedded S3 then enforces IAM policies)")


def run(args: argparse.Namespace) -> int:
    import logging

    from ams_actors.commands.progress import progress_bar
    from ams_actors.runtime.loop import run_async
    from ams_actors.sim.network import SimOptions
    from ams_actors.sim.run import run_sim
    from ams_actors.store.embedded.server import EmbeddedS3

    if args.rate is None:
        args.rate = 20.0 if args.mode == "video" else 60.0
    if args.stations < 1 or args.cameras < 1 or args.minutes <= 0 or args.rate <= 0:
        print("ams sim: --stations, --cameras, --minutes and --rate must be positive", file=sys.stderr)
        return 2
    if args.true_calibration and args.mode != "video":
        print("ams sim: --true-calibration: only video mode has cameras to calibrate", file=sys.stderr)
        return 2
    for opt, folder in (("--workdir", args.workdir), ("--keep", args.keep)):
        if folder is None:
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            print(f"ams sim: {opt} {folder}: {err.strerror or err}", file=sys.stderr)
            return 2
    if not args.verbose:
        logging.getLogger().setLevel(logging.WARNING)
    opts = SimOptions(stations=args.stations, cameras=args.cameras, minutes=args.minutes, mode=args.mode,
                      meteors=args.meteors, rate=args.rate, seed=args.seed, workdir=args.workdir,
                      restricted_keys=args.restricted_keys, deceleration=args.deceleration,
                      true_calibration=args.true_calibration,
                      keep=None if args.keep is None else args.keep.resolve())
    progress = progress_bar() if sys.stderr.isatty() and not args.json else None
    with EmbeddedS3() as s3:
        report = run_async(run_sim(opts, s3.url, progress))
    if args.json:
        print(json.dumps({**report.figures, "virtual_s": report.virtual_s, "stations": report.stations}, indent=1))
        return 0
    from ams_actors.commands.admin import format_status

    print(f"ams sim: {opts.stations} stations x {opts.cameras} cameras, {report.virtual_s / 60:.0f} virtual minutes "
          f"in {report.wall_s:.1f} s wall ({opts.mode} mode)")
    for key, value in report.figures.items():
        if key == "calibration_cameras":  # one line per camera: the star fit and its errors against the truth
            for row in value:
                print(f"  {'calibration ' + row['camera']:30s} {row}")
            continue
        print(f"  {key:30s} {value}")
    if args.keep is not None:
        ids = [s["station"] for s in report.stations]
        print(f"kept in {args.keep.resolve()}: start a station again with "
              f"`ams run -c {args.keep.resolve()}/{ids[0]}/station.toml` ({', '.join(ids)})")
    for status in report.stations:
        print()
        print(format_status(status))
    return 0
