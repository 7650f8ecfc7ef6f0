"""Pieces the station verbs share: the -c option, loading the config, the lock message."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ams_actors.config import StationConfig, load_config

DEFAULT_CONFIG = "station.toml"


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-c",
        "--config",
        default=os.environ.get("AMS_CONFIG", DEFAULT_CONFIG),
        metavar="FILE",
        help="station configuration (default: $AMS_CONFIG or ./station.toml)",
    )


def load(args: argparse.Namespace) -> StationConfig:
    return load_config(Path(args.config))


def prepare_data_root(config: StationConfig) -> None:
    """Create the data root's folders and prove it takes writes, before the lock is taken (InputError, exit 2)."""
    from ams_actors.store.local_paths import StationPaths

    StationPaths(config.data_root, config.station_id).ensure()
