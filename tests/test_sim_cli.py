"""`ams sim` as a new user runs it: a real process, embedded S3, completes and exits 0."""

from __future__ import annotations

import json
import subprocess
import sys


def test_ams_sim_runs_and_reports() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ams_actors", "sim", "--minutes", "3", "--rate", "120", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    assert [s["station"] for s in report["stations"]] == ["SIM01", "SIM02", "SIM03"]
    assert all(s["claims"] == "enabled" for s in report["stations"])  # the probe passed on the embedded S3
    assert report["virtual_s"] >= 180
    assert all(a["state"] == "running" for s in report["stations"] for a in s["actors"])


def test_ams_sim_rejects_bad_arguments_in_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ams_actors", "sim", "--stations", "0"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
