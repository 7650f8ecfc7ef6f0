"""Shared fixtures: a real S3 endpoint (moto's threaded server on 127.0.0.1, port 0).

moto's in-process ``mock_aws`` does not work with aiobotocore, so every store test talks HTTP to a
real server, reset between tests.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

SHARED = Path(__file__).resolve().parents[2] / "shared"
if not SHARED.exists():  # CI clones main with shared/ beside the clone
    SHARED = Path(__file__).resolve().parents[1].parent / "shared"
GMN_UK = SHARED / "data" / "gmn-uk-2026-07-12"
BSC5 = SHARED / "data" / "star-catalogs" / "BSC5"


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's server on 127.0.0.1:0 (werkzeug, threaded), with writes made atomic as on real S3.

    See ams_actors/sim/embedded_s3.py: moto alone checks a conditional PUT and then writes without a
    lock, so racing creates can both win under load.
    """
    from ams_actors.sim.embedded_s3 import EmbeddedS3

    with EmbeddedS3() as s3:
        yield s3.url


@pytest.fixture()
def s3_endpoint(moto_server: str) -> Iterator[str]:
    """A clean S3 endpoint for one test."""
    req = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    urllib.request.urlopen(req, timeout=10).close()
    yield moto_server
