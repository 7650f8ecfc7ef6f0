"""The Station: start/stop order, admin over the real socket, SIGTERM and the lock with real processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from daemon_helpers import start_daemon, wait_for_socket

from ams_actors.commands.admin import format_status
from ams_actors.config import StationConfig, parse_config
from ams_actors.runtime.admin import request
from ams_actors.runtime.clock import VirtualClock
from ams_actors.station import Station

TOML = """
[station]
id = "T1"
lat = 51.0
lon = 0.5
alt_m = 10.0
data_root = "{root}"
[[cameras]]
id = "010001"
[[cameras]]
id = "010002"
[network]
roles = ["station", "correlator"]
[web]
port = 0
[runtime]
workers = 1
"""


def make_config(root: Path) -> StationConfig:
    return parse_config(TOML.format(root=root), source="test.toml")


def write_config(tmp_path: Path) -> Path:
    p = tmp_path / "station.toml"
    p.write_text(TOML.format(root=tmp_path / "data"))
    return p


@pytest.mark.slow
async def test_start_order_downstream_first_and_stop_order_reversed(tmp_path: Path) -> None:
    station = Station(make_config(tmp_path), clock=VirtualClock(), admin_socket=False)
    names = list(station.actors)
    assert names[:4] == ["DiskGuard", "InstanceKeeper", "Solver", "EventBroker"] and names[-2:] == ["Scanner-010001", "Scanner-010002"]
    assert "Correlator" in names
    stopped: list[str] = []
    for actor in station.actors.values():
        orig = actor.on_stop

        async def on_stop(actor=actor, orig=orig) -> None:  # type: ignore[no-untyped-def]
            stopped.append(actor.name)
            await orig()

        actor.on_stop = on_stop  # type: ignore[method-assign]
    await station.start()
    await asyncio.sleep(0.05)
    assert all(a["state"] == "running" for a in station.status()["actors"])
    await station.stop()
    assert stopped == list(reversed(names))
    assert all(a.state == "stopped" for a in station.actors.values())


@pytest.mark.slow
async def test_admin_commands_over_the_real_socket(tmp_path: Path) -> None:
    station = Station(make_config(tmp_path), clock=VirtualClock())
    await station.start()
    sock = station.paths.admin_socket
    try:
        assert sock.stat().st_mode & 0o777 == 0o600

        def ask(**req: object) -> dict[str, object]:
            return request(sock, req, timeout_s=10)

        status = await asyncio.to_thread(ask, cmd="status")
        assert status["ok"] and {a["name"] for a in status["result"]["actors"]} == set(station.actors)  # type: ignore[index]
        table = format_status(status["result"])  # type: ignore[arg-type]
        assert "Scanner-010001" in table and "inbox" in table
        assert "clock error unknown" in table
        # issue 13 item 7: a confident solve in which this station's clock is 1.2 s ahead of the others
        me = station.config.station_id
        station.actors["Solver"].record_clock({  # type: ignore[attr-defined]
            "status": "solved", "quality": {"ok": True, "reasons": []}, "stations": [me, "B", "C"],
            "timing_offsets_s": {me: -1.2, "B": 0.0, "C": 0.05}})
        status = await asyncio.to_thread(ask, cmd="status")
        assert status["result"]["clock_error"] == {"error_s": 1.2, "n_events": 1}  # type: ignore[index]
        assert "clock error +1.20 s ahead of the network (1 event(s))" in format_status(status["result"])  # type: ignore[arg-type]

        paused = await asyncio.to_thread(ask, cmd="pause", actor="scanner")
        assert paused["result"] == ["Scanner-010001: paused", "Scanner-010002: paused"]
        assert station.actors["Scanner-010001"].state == "paused"
        resumed = await asyncio.to_thread(ask, cmd="resume", actor="Scanner-010001")
        assert resumed["result"] == ["Scanner-010001: running"]

        ran = await asyncio.to_thread(ask, cmd="run", task="rvd", day="2026_07_12")
        assert ran["ok"] and ran["result"][0]["actor"] == "Detector"  # type: ignore[index]

        for bad, msg in (
            ({"cmd": "run", "task": "nope"}, "unknown task 'nope'"),
            ({"cmd": "pause", "actor": "Nobody"}, "no actor 'Nobody'"),
            ({"cmd": "frobnicate"}, "unknown command 'frobnicate'"),
        ):
            answer = await asyncio.to_thread(request, sock, bad, 10)
            assert not answer["ok"] and msg in str(answer["error"])

        claims = await asyncio.to_thread(ask, cmd="claims")
        assert claims["ok"]
        bye = await asyncio.to_thread(ask, cmd="shutdown")
        assert bye["result"] == "stopping"
        assert await asyncio.wait_for(station.wait(), 10) == 0
    finally:
        await station.stop()
    assert not sock.exists()


def _start_daemon(cfg: Path) -> subprocess.Popen[str]:
    return start_daemon(cfg)


def _wait_for_socket(path: Path, proc: subprocess.Popen[str], timeout_s: float = 60) -> None:
    wait_for_socket(path, proc, timeout_s)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.slow
def test_signal_drains_and_exits_zero(tmp_path: Path, sig: signal.Signals) -> None:
    cfg = write_config(tmp_path)
    proc = _start_daemon(cfg)
    try:
        _wait_for_socket(tmp_path / "data" / "state" / "admin.sock", proc)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "station T1 stopped" in err and "Traceback" not in err
    assert not (tmp_path / "data" / "state" / "admin.sock").exists()


@pytest.mark.slow
def test_sigterm_during_start_up_is_a_clean_stop(tmp_path: Path) -> None:
    """The config is a FIFO: when our write end opens, `ams run` is provably mid-start-up (reading it)."""
    fifo = tmp_path / "station.toml"
    os.mkfifo(fifo)
    proc = _start_daemon(fifo)
    try:
        with fifo.open("w") as fh:  # returns once ams has opened it for reading
            proc.send_signal(signal.SIGTERM)
            fh.write(TOML.format(root=tmp_path / "data"))
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "received SIGTERM: stopping" in err and "station T1 stopped" in err and "Traceback" not in err


@pytest.mark.slow
def test_lock_refuses_a_second_instance_and_cron_verbs(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    first = _start_daemon(cfg)
    try:
        _wait_for_socket(tmp_path / "data" / "state" / "admin.sock", first)
        second = subprocess.run(
            [sys.executable, "-m", "ams_actors", "run", "-c", str(cfg)], capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 2
        assert f"pid {first.pid}" in second.stderr and "already running" in second.stderr
        cron = subprocess.run(
            [sys.executable, "-m", "ams_actors", "rvd", "-c", str(cfg)], capture_output=True, text=True, timeout=60
        )
        assert cron.returncode == 2 and "use `ams admin run rvd`" in cron.stderr
        status = subprocess.run(
            [sys.executable, "-m", "ams_actors", "admin", "-c", str(cfg), "--json", "status"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0 and json.loads(status.stdout)["station"] == "T1"
        for argv in (["status", "--json"], ["claims", "--json"], ["claims"]):
            answer = subprocess.run([sys.executable, "-m", "ams_actors", "admin", "-c", str(cfg), *argv],
                                    capture_output=True, text=True, timeout=60)
            assert answer.returncode == 0, answer.stderr
            if "--json" in argv:
                assert json.loads(answer.stdout)["station"] == "T1"
            else:  # a table like `status`, not a JSON dump
                assert answer.stdout.splitlines()[0].startswith("station T1  claims held 0  seen 0"), answer.stdout
                assert answer.stdout.splitlines()[1].split() == ["event", "status", "owner", "epoch", "claim", "rev",
                                                                 "detail"]
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)
    assert first.returncode == 0
    # the lock dies with its holder: a new instance may start after a SIGKILL
    again = _start_daemon(cfg)
    try:
        _wait_for_socket(tmp_path / "data" / "state" / "admin.sock", again)
        os.kill(again.pid, signal.SIGKILL)
        again.communicate(timeout=30)
        third = _start_daemon(cfg)
        _wait_for_socket(tmp_path / "data" / "state" / "admin.sock", third)
        third.send_signal(signal.SIGTERM)
        third.communicate(timeout=30)
        assert third.returncode == 0
    finally:
        for p in (again,):
            if p.poll() is None:
                p.kill()


def test_admin_without_a_daemon_says_so(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "ams_actors", "admin", "-c", str(cfg), "status"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and "no station is running" in proc.stderr


def test_help_for_every_verb() -> None:
    from ams_actors.cli import VERBS

    top = subprocess.run([sys.executable, "-m", "ams_actors", "--help"], capture_output=True, text=True, timeout=60)
    assert top.returncode == 0
    for verb in VERBS:
        assert verb in top.stdout
        sub = subprocess.run([sys.executable, "-m", "ams_actors", verb, "--help"], capture_output=True, text=True, timeout=60)
        assert sub.returncode == 0 and "usage: ams" in sub.stdout, verb
