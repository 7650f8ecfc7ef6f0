"""`ams calibrate`: placeholder until its issue lands."""

from __future__ import annotations

import argparse
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    print("ams calibrate: not implemented yet", file=sys.stderr)
    return 1
