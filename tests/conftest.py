"""Shared fixtures: real S3 endpoints on 127.0.0.1 — moto's threaded server (port 0), and ministack,
a second, independent implementation (its own S3 code on hypercorn), as a subprocess.

moto's in-process ``mock_aws`` does not work with aiobotocore, so every store test talks HTTP to a
real server, reset between tests. ``any_s3`` runs a test once on each implementation, so the claim
protocol does not come to rest on one emulator's quirks.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files that hold a `slow` test go first. The two xdist workers take whole files in collection order
    (addopts: --dist loadfile --no-loadscope-reorder), so the long end-to-end files start early and the
    many short files even out the end, instead of one long file starting last and running alone."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)  # stable: each file keeps its own order


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's server on 127.0.0.1:0 (werkzeug, threaded), with writes made atomic as on real S3.

    See ams_actors/store/embedded/server.py: moto alone checks a conditional PUT and then writes without a
    lock, so racing creates can both win under load.
    """
    from ams_actors.store.embedded.server import EmbeddedS3

    with EmbeddedS3() as s3:
        yield s3.url


@pytest.fixture()
def s3_endpoint(moto_server: str) -> Iterator[str]:
    """A clean S3 endpoint for one test."""
    req = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    urllib.request.urlopen(req, timeout=10).close()
    yield moto_server


# ministack pins botocore==1.43.106 while aiobotocore needs a newer one, so it cannot share our
# environment: it runs from its own venv (.ci/run makes .cache/ministack), like any foreign store.
MINISTACK_VENV = Path(__file__).resolve().parents[1] / ".cache" / "ministack"


def _ministack_python() -> str | None:
    """The interpreter that has ministack: $AMS_MINISTACK_PYTHON, the project's venv, or ours."""
    for cand in (os.environ.get("AMS_MINISTACK_PYTHON"), str(MINISTACK_VENV / "bin" / "python")):
        if cand and Path(cand).exists():
            return cand
    probe = subprocess.run([sys.executable, "-c", "import ministack"], capture_output=True)
    return sys.executable if probe.returncode == 0 else None


def _free_port() -> int:
    """hypercorn cannot report a port-0 bind back to us, so take a free port from the kernel."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def ministack_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """ministack on 127.0.0.1 (a free port), in memory, as a subprocess; stopped after the session."""
    python = _ministack_python()
    if python is None:
        reason = f"ministack is not installed (python -m venv {MINISTACK_VENV} && its pip install ministack)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    port = _free_port()
    workdir = tmp_path_factory.mktemp("ministack")
    env = {**os.environ, "GATEWAY_PORT": str(port), "S3_PERSIST": "0", "PERSIST_STATE": "0",
           "TMPDIR": str(workdir), "LOG_LEVEL": "WARNING"}
    log = (workdir / "ministack.log").open("wb")
    proc = subprocess.Popen(
        [python, "-m", "hypercorn", "ministack.app:app", "--bind", f"127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/_ministack/health", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"ministack did not start: see {workdir / 'ministack.log'}") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def reset_ministack(url: str) -> None:
    req = urllib.request.Request(f"{url}/_ministack/reset", method="POST")
    urllib.request.urlopen(req, timeout=30).close()


@pytest.fixture(params=["moto", "ministack"])
def any_s3(request: pytest.FixtureRequest) -> Iterator[str]:
    """A clean endpoint of each S3 implementation in turn (moto embedded, then ministack)."""
    if request.param == "moto":
        yield request.getfixturevalue("s3_endpoint")
        return
    url = request.getfixturevalue("ministack_server")
    reset_ministack(url)
    yield url
