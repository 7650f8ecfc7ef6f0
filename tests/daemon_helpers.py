"""Helpers for tests that run real `ams run` processes (imported by name: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from ams_actors.runtime.admin import request
from protocols.pipeline_files import DETECT_SUFFIX, VERIFY_SUFFIX


def start_daemon(cfg: Path, stderr: IO[Any] | int = subprocess.PIPE, **kw: Any) -> subprocess.Popen[str]:
    """`ams run -c cfg` in its own process group (as systemd starts it), running this worktree's code."""
    return subprocess.Popen(
        [sys.executable, "-m", "ams_actors", "run", "-c", str(cfg)],
        stdout=subprocess.DEVNULL if stderr is not subprocess.PIPE else subprocess.PIPE,
        stderr=stderr,
        text=True,
        start_new_session=True,
        **kw,
    )


def wait_for_socket(path: Path, proc: subprocess.Popen[str], timeout_s: float = 60) -> None:
    """Until the station's admin socket answers `status` (its start-up is over)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists():
            try:
                if request(path, {"cmd": "status"}, timeout_s=5)["ok"]:
                    return
            except OSError:
                pass
        if proc.poll() is not None:
            raise AssertionError(f"daemon exited early ({proc.returncode})")
        time.sleep(0.05)
    raise AssertionError("admin socket never appeared")


def catches(pid: int, signum: int) -> bool:
    """Whether the process has a handler installed for `signum` (SigCgt in /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    return False


def station_toml(root: Path, station_id: str = "AMS1", extra: str = "") -> str:
    """A one-camera station that scans its SD folder often (tests with rendered backlogs)."""
    return f"""
[station]
id = "{station_id}"
lat = 51.5
lon = -0.1
alt_m = 20.0
data_root = "{root}"
[[cameras]]
id = "010001"
[schedule]
scan_interval_s = 0.5
clip_settle_s = 0.5
[web]
port = 0
[runtime]
workers = 2
{extra}
"""


def render_backlog(folder: Path, n: int, day: str = "2026_07_12", hour: int = 23) -> list[str]:
    """`n` rendered SD minutes of camera 010001, a meteor in every even one; returns the file names."""
    from ams_actors.sim.render import render_clip
    from ams_actors.sim.scene import Meteor, Scene

    names = []
    for i in range(n):
        meteors = (
            (Meteor(t0=1.0, duration=0.9, x0=100.0 + 40 * (i % 8), y0=80.0, vx=200.0, vy=90.0, amp=110.0),)
            if i % 2 == 0 else ()
        )
        name = f"{day}_{hour:02d}_{10 + i:02d}_00_000_010001.mp4"
        render_clip(Scene(duration=3.0, seed=100 + i, meteors=meteors), folder / name)
        names.append(name)
    return names


def backlog_done(root: Path, names: list[str], day: str) -> bool:
    """Every clip scanned and moved, with exactly one detection result (and a verification if it needs one)."""
    data = root / "SD" / "proc2" / day / "data"
    if any((root / "SD").glob("*.mp4")) or not data.is_dir():
        return False
    for name in names:
        stem = name[:-4]
        result = [k for k, s in DETECT_SUFFIX.items() if (data / f"{stem}{s}").exists()]
        if len(result) != 1:
            return False
        if result[0] == "maybe-meteors" and not any((data / f"{stem}{s}").exists() for s in VERIFY_SUFFIX.values()):
            return False
    return True
