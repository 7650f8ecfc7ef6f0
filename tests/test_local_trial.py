"""Trying it locally (issue 12 item 5): a night kept by `ams sim --keep` starts again with `ams run`
against an embedded store holding the night's bucket, shared by a second station through its port;
`ams -v` wins over the config's log level; without the `sim` extra the station says so in one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from daemon_helpers import station_toml, wait_for_socket


def _ams(*argv: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ams_actors", *argv], capture_output=True, text=True,
                          timeout=180, **kw)


def _start(cfg: Path, log: Path, *first: str) -> subprocess.Popen[str]:
    with log.open("w") as fh:  # a file, not a pipe: -v logs botocore's every request
        return subprocess.Popen([sys.executable, "-m", "ams_actors", *first, "run", "-c", str(cfg)],
                                stdout=subprocess.DEVNULL, stderr=fh, text=True, start_new_session=True)


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=60)


@pytest.mark.slow
def test_a_kept_night_starts_again_on_an_embedded_store(tmp_path: Path) -> None:
    keep = tmp_path / "night"
    sim = _ams("sim", "--mode", "network", "--stations", "2", "--cameras", "1", "--minutes", "2", "--rate", "600",
               "--keep", str(keep))
    assert sim.returncode == 0, sim.stderr[-3000:]
    assert f"ams run -c {keep}/SIM01/station.toml" in sim.stdout
    assert (keep / "bucket" / "stations" / "SIM01" / "index").is_dir()  # the night's bucket is kept
    cfg1, cfg2 = keep / "SIM01" / "station.toml", keep / "SIM02" / "station.toml"
    cfg1.write_text(cfg1.read_text().replace("[runtime]\n", '[runtime]\nlog_level = "WARNING"\n'))

    log1, log2 = tmp_path / "SIM01.log", tmp_path / "SIM02.log"
    first = _start(cfg1, log1, "-v")  # -v wins over log_level = "WARNING": its INFO lines are there
    try:
        wait_for_socket(keep / "SIM01" / "state" / "admin.sock", first)
        second = _start(cfg2, log2)
        try:
            wait_for_socket(keep / "SIM02" / "state" / "admin.sock", second)
            status = _ams("admin", "-c", str(cfg2), "status")
            assert status.returncode == 0 and status.stdout.startswith("station SIM02 "), status
        finally:
            assert _stop(second) == 0
        status = _ams("admin", "-c", str(cfg1), "status")
        assert status.returncode == 0 and status.stdout.startswith("station SIM01 "), status
    finally:
        assert _stop(first) == 0
    text1, text2 = log1.read_text(), log2.read_text()
    assert "INFO ams.store.embedded: embedded store: loaded " in text1 and f"from {keep}/bucket" in text1
    assert "claims enabled" in text1 and "embedded store: saved " in text1
    assert "is served by another station on this machine; using it" in text2, text2[-2000:]
    assert "claims enabled" in text2


def test_without_the_sim_extra_an_embedded_store_is_one_line_exit_2(tmp_path: Path) -> None:
    hidden = tmp_path / "no_moto" / "moto"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text("raise ImportError('moto is not installed here')\n")
    cfg = tmp_path / "station.toml"
    cfg.write_text(station_toml(tmp_path / "data", extra='[store]\nendpoint = "embedded"'))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hidden.parent), os.environ.get("PYTHONPATH", "")])}
    got = _ams("run", "-c", str(cfg), env=env)
    assert got.returncode == 2, got.stderr[-2000:]
    lines = [ln for ln in got.stderr.splitlines() if "moto" in ln]
    assert len(lines) == 1 and "pip install 'ams-actors[sim]'" in lines[0], got.stderr[-2000:]
    assert "Traceback" not in got.stderr
