"""A data root that cannot be written, and a disk that fills up mid-night, with real `ams run` processes."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_helpers import backlog_done, render_backlog, start_daemon, station_toml, wait_for_socket

from ams_actors.runtime.admin import request

DAY = "2026_07_12"
N_CLIPS = 4
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root (CI and the dev box run as root)")


def _run(cfg: Path, verb: str = "run") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ams_actors", verb, "-c", str(cfg)],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture()
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12M", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_parent_that_is_a_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "mnt").write_text("not a folder")
    cfg = tmp_path / "station.toml"
    cfg.write_text(station_toml(tmp_path / "mnt" / "ams"))
    for verb in ("run", "bs"):
        proc = _run(cfg, verb)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert f"{tmp_path / 'mnt'} is a file, not a folder" in proc.stderr and "data_root" in proc.stderr


@root_only
def test_a_read_only_data_root_is_one_line_and_exit_2(tmp_path: Path, tmpfs: Path) -> None:
    (tmpfs / "ams" / "state").mkdir(parents=True)
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    cfg = tmp_path / "station.toml"
    cfg.write_text(station_toml(tmpfs / "ams"))
    proc = _run(cfg)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert str(tmpfs / "ams") in proc.stderr and "Read-only file system" in proc.stderr


def _fill(path: Path) -> int:
    """Write `path` until the file system is full; the bytes written."""
    chunk = b"\0" * 65536
    n = 0
    with path.open("wb", buffering=0) as fh:
        while True:
            try:
                n += fh.write(chunk) or 0
            except OSError as err:
                assert err.errno == errno.ENOSPC
                break
        for size in (4096, 512, 1):  # the last few blocks too
            try:
                while True:
                    n += fh.write(chunk[:size]) or 0
            except OSError:
                pass
    return n


def _status(sock: Path) -> dict[str, str]:
    answer = request(sock, {"cmd": "status"}, timeout_s=10)
    return {a["name"]: a["state"] for a in answer["result"]["actors"]}


@root_only
@pytest.mark.slow
def test_a_full_disk_pauses_intake_loses_nothing_and_resumes(tmp_path: Path, tmpfs: Path) -> None:
    root = tmpfs / "ams"
    (root / "SD").mkdir(parents=True)
    names = render_backlog(root / "SD", N_CLIPS)
    cfg = tmp_path / "station.toml"
    # min_free_mb = 0: intake stops on the first real ENOSPC of a write, not on the free-space check
    toml = station_toml(root, extra="min_free_mb = 0.0")
    cfg.write_text(toml.replace("clip_settle_s = 0.5", "clip_settle_s = 0.5\ndisk_check_interval_s = 0.5"))
    sock = root / "state" / "admin.sock"
    log_path = tmp_path / "station.log"
    filler = tmpfs / "filler"
    with log_path.open("w") as log:
        proc = start_daemon(cfg, stderr=log)
        try:
            wait_for_socket(sock, proc)  # type: ignore[arg-type]
            request(sock, {"cmd": "pause", "actor": "scanner"}, timeout_s=10)
            assert _fill(filler) > 0
            request(sock, {"cmd": "resume", "actor": "scanner"}, timeout_s=10)
            deadline = time.monotonic() + 60
            while "is full" not in log_path.read_text() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert "is full" in log_path.read_text(), log_path.read_text()[-3000:]
            time.sleep(1.0)  # several disk checks and actor restarts on the full disk
            assert _status(sock)["Scanner-010001"] == "paused"
            # nothing stored is lost or half-written while the disk is full
            for name in names:
                places = [p for p in root.rglob(name)]
                assert len(places) == 1, places
            for f in root.rglob("*.json"):
                json.loads(f.read_text())
            filler.unlink()
            deadline = time.monotonic() + 120
            while not backlog_done(root, names, DAY) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert backlog_done(root, names, DAY), log_path.read_text()[-3000:]
            assert _status(sock)["Scanner-010001"] == "running"
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    err = log_path.read_text()
    assert proc.returncode == 0, err[-3000:]
    assert err.count("is full") == 1 and err.count("intake resumed") == 1, err[-3000:]
    assert "Traceback" not in err and "crashed" not in err, err[-3000:]
    day = root / "SD" / "proc2" / DAY
    for name in names:
        assert [p for p in root.rglob(name)] == [day / name]
    assert [p for p in root.rglob(".*") if p.suffix == ".tmp"] == []
    meteors = sorted(json.loads(m.read_text())["sd_clip"] for m in (root / "meteors" / DAY).glob("*.json"))
    assert meteors == names[0::2]
