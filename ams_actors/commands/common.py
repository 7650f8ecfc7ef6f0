"""Pieces the station verbs share: the -c option, loading the config, the lock message."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ams_actors.config import StationConfig, load_config

DEFAULT_CONFIG = "station.toml"


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
    return load_config(Path(args.config))
