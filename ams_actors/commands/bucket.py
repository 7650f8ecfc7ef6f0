"""`ams bucket policies`: the IAM policy document of every principal of the network (issue 17).

Why a command: the rules live in ``protocols/bucket_access.py`` next to the key layout; an operator
setting up users on Wasabi, AWS or MinIO pastes or uploads these documents instead of writing
wildcards by hand (a hand-written ``stations/*`` is how one station ends up able to overwrite all).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from protocols.bucket_access import principals, render, suffix_clashes, table_markdown
from protocols.errors import InputError
from protocols.s3_keys import InvalidId, validate_id


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bucket_verb", metavar="WHAT")
    sub.required = True
    p = sub.add_parser("policies", help="print (or write) one IAM policy document per principal",
                       description="One IAM policy per station, the correlator, the publisher, an archive run "
                                   "and a read-only user, derived from the bucket's key layout.")
    p.add_argument("--station", action="append", default=[], metavar="ID",
                   help="a station id (repeat for each; default: the config's station and its partners)")
    p.add_argument("--bucket", help="bucket name (default: the config's [store] bucket, else ams-network)")
    p.add_argument("--run", action="append", default=[], metavar="ID",
                   help="limit the archive principal to this run id (repeatable; default: any run)")
    p.add_argument("--json", action="store_true", help="one JSON document with every principal")
    p.add_argument("--out", type=Path, metavar="DIR", help="write <principal>.json files into DIR")
    p.add_argument("--table", action="store_true", help="print who may put/get/delete each key kind (markdown)")
    p.add_argument("-c", "--config", type=Path, metavar="FILE",
                   help="station.toml to take the station ids and bucket from (when --station is not given)")


def _stations_and_bucket(args: argparse.Namespace) -> tuple[list[str], str]:
    bucket = args.bucket
    stations = list(args.station)
    if not stations or bucket is None:
        config = args.config or (Path("station.toml") if not stations else None)
        if config is not None and (args.config is not None or config.exists()):
            from ams_actors.config import load_config

            cfg = load_config(config)
            stations = stations or [cfg.station_id, *cfg.network.partners]
            bucket = bucket or cfg.store.bucket
    if not stations:
        raise InputError("policies", "--station", "give at least one station id (or -c station.toml)")
    for s in stations:
        try:
            validate_id(s, "station id")
        except InvalidId as err:
            raise InputError("--station", None, str(err)) from None
    for r in args.run:
        try:
            validate_id(r, "archive run id")
        except InvalidId as err:
            raise InputError("--run", None, str(err)) from None
    return list(dict.fromkeys(stations)), bucket or "ams-network"


def run(args: argparse.Namespace) -> int:
    if args.table:
        print(table_markdown(), end="")
        return 0
    stations, bucket = _stations_and_bucket(args)
    for a, b in suffix_clashes(stations):
        print(f"ams bucket policies: warning: station ids {a!r} and {b!r}: IAM's pattern for {a}'s solutions "
              f"(e*-{a}.json) also matches {b}'s; rename one to keep solutions apart", file=sys.stderr)
    found = principals(bucket, stations, runs=args.run)
    if args.out is not None:
        from ams_actors.runtime.files import atomic_write_bytes

        for p in found:
            path = args.out / f"{p.name}.json"
            try:
                atomic_write_bytes(path, render(p.documents[0]).encode())
            except OSError as err:
                print(f"ams bucket policies: --out {args.out}: {err.strerror or err}", file=sys.stderr)
                return 2
            print(f"{path}  ({p.role})")
        return 0
    if args.json:
        doc = {"bucket": bucket, "principals": [{"name": p.name, "role": p.role, "policy": p.documents[0]}
                                                for p in found]}
        print(json.dumps(doc, indent=1))
        return 0
    for p in found:
        print(f"# {p.name} ({p.role})")
        print(render(p.documents[0]))
    return 0
