"""Stopping as systemd does (SIGTERM to the whole group, SIGHUP) and its notify protocol, with real `ams run`."""

from __future__ import annotations

import gzip
import json
import os
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_helpers import render_backlog, start_daemon, station_toml, wait_for_socket

from ams_actors.runtime.sdnotify import Notifier, watchdog_verdict

DAY = "2026_07_12"


@pytest.fixture(scope="module")
def backlog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("backlog")
    render_backlog(d, 6)
    return d


@pytest.mark.slow
def test_group_sigterm_drains_like_sigterm_to_the_main_pid(backlog: Path, tmp_path: Path) -> None:
    """systemd's default stop signals every process of the service, pool workers and fork server included."""
    root = tmp_path / "data"
    (root / "SD").mkdir(parents=True)
    for f in backlog.iterdir():
        (root / "SD" / f.name).write_bytes(f.read_bytes())
    cfg = tmp_path / "station.toml"
    cfg.write_text(station_toml(root))
    log_path = tmp_path / "station.log"
    with log_path.open("w") as log:
        proc = start_daemon(cfg, stderr=log)
        try:
            wait_for_socket(root / "state" / "admin.sock", proc)  # type: ignore[arg-type]
            deadline = time.monotonic() + 120
            while not list((root / "meteors" / DAY).glob("*.json")) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert list((root / "meteors" / DAY).glob("*.json")), "no meteor found in time"
            os.killpg(proc.pid, signal.SIGTERM)  # mid-backlog: the pool has work in hand
            proc.wait(timeout=90)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    err = log_path.read_text()
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err and "BrokenProcessPool" not in err and "crashed" not in err, err[-3000:]
    assert "received SIGTERM: stopping" in err and "station AMS1 stopped" in err
    daily = root / "meteor_archive" / "AMS1" / "DETECTS" / "MI" / DAY[:4] / f"{DAY}-meteor_index.json.gz"
    yearly = root / "meteor_archive" / "AMS1" / "DETECTS" / "MI" / f"{DAY[:4]}-meteor_index.json.gz"
    assert daily.exists() and yearly.exists(), err[-3000:]
    n_daily = len(json.loads(gzip.decompress(daily.read_bytes()))["meteors"])
    assert f"yearly index {yearly.name}: {n_daily} meteors" in err


@pytest.fixture()
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    """The boundary: a unix datagram socket standing in for systemd's (short path: sun_path is 108 bytes)."""
    folder = tempfile.mkdtemp(prefix="sdn")
    path = os.path.join(folder, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.5)
    try:
        yield sock, path
    finally:
        sock.close()
        os.unlink(path)
        os.rmdir(folder)


def _messages(sock: socket.socket, until: float) -> list[str]:
    out = []
    while time.monotonic() < until:
        try:
            out.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
    return out


@pytest.mark.slow
def test_sighup_is_a_graceful_stop_and_systemd_is_notified(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    root = tmp_path / "data"
    cfg = tmp_path / "station.toml"
    cfg.write_text(station_toml(root))
    env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="400000")  # a ping every 0.2 s
    proc = start_daemon(cfg, env=env)
    try:
        wait_for_socket(root / "state" / "admin.sock", proc)  # type: ignore[arg-type]
        got = _messages(sock, time.monotonic() + 2.0)
        proc.send_signal(signal.SIGHUP)
        _, err = proc.communicate(timeout=60)
        got += _messages(sock, time.monotonic() + 0.6)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "received SIGHUP: stopping" in err and "station AMS1 stopped" in err and "Traceback" not in err
    fields = [f for msg in got for f in msg.split("\n")]
    assert fields.count("READY=1") == 1
    assert fields.index("READY=1") < fields.index("WATCHDOG=1")
    assert fields.count("WATCHDOG=1") >= 5, got
    assert any(f.startswith("STATUS=") and "actors alive" in f for f in fields), got
    assert "STOPPING=1" in fields


def test_watchdog_is_not_pinged_while_an_actor_is_down_or_the_loop_stalled() -> None:
    ok = [("Scanner-010001", "running"), ("Indexer", "paused")]
    assert watchdog_verdict(ok, lag_s=0.01, max_lag_s=5.0) is None
    for state in ("crashed", "failed", "stopped", "new"):
        reason = watchdog_verdict([*ok, ("Detector", state)], lag_s=0.0, max_lag_s=5.0)
        assert reason is not None and f"Detector {state}" in reason
    reason = watchdog_verdict(ok, lag_s=7.5, max_lag_s=5.0)
    assert reason is not None and "stalled for 7.5 s" in reason


def test_notifier_reads_systemds_environment() -> None:
    assert not Notifier({}).enabled
    n = Notifier({"NOTIFY_SOCKET": "@abstract", "WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(os.getpid())})
    assert n.address == "\0abstract" and n.watchdog_s == 20.0
    assert Notifier({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}).watchdog_s is None


def _sig_masks(pid: int) -> dict[str, int]:
    return {line.split(":")[0]: int(line.split()[1], 16) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith(("SigBlk", "SigIgn"))}


def _worker_pid() -> int:
    return os.getpid()


def test_the_fork_server_and_workers_never_die_of_a_stop_signal() -> None:
    """Blocked from the fork server's exec on (no window before its preload ignores them), then ignored."""
    from multiprocessing import forkserver

    from ams_actors.runtime.pool import make_pool

    pool = make_pool(1)
    try:
        worker = pool.submit(_worker_pid).result(timeout=60)
        server = forkserver._forkserver._forkserver_pid  # type: ignore[attr-defined]
        for pid in (server, worker):
            masks = _sig_masks(pid)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                bit = 1 << (sig - 1)
                assert masks["SigBlk"] & bit and masks["SigIgn"] & bit, (pid, sig, masks)
        main = _sig_masks(os.getpid())
        assert not main["SigBlk"] & (1 << (signal.SIGTERM - 1))  # the station itself still gets them
    finally:
        pool.shutdown()
