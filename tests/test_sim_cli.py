"""`ams sim` as a new user runs it: a real process, embedded S3, the report's invariants hold."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_ams_sim_network_mode_solves_every_event_once(tmp_path: Path) -> None:
    workdir = tmp_path / "new" / "sim"  # made if missing, and kept for the operator to look at
    proc = subprocess.run(
        [sys.executable, "-m", "ams_actors", "sim", "--mode", "network", "--minutes", "8", "--meteors", "5",
         "--rate", "40", "--json", "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    assert [s["station"] for s in report["stations"]] == ["SIM01", "SIM02", "SIM03"]
    assert all(s["claims"] == "enabled" for s in report["stations"])  # the probe passed on the embedded S3
    assert report["meteors_injected"] == 5
    assert report["events_expected"] >= 2
    assert report["events_found"] == report["events_expected"]
    assert report["events_solved"] == report["events_expected"]
    assert report["solutions_accepted_per_event"] == [1]
    assert report["duplicate_solutions"] == 0 and report["lost_events"] == []
    assert report["superseded_published"] == []  # a merged event is never listed beside the one it joined
    assert report["v_init_rel_err_median"] < 0.05
    kept = Path(report["workdir"])
    assert kept.parent == workdir and (kept / "SIM01" / "meteor_archive").is_dir()


@pytest.mark.slow
def test_ams_sim_rejects_bad_arguments_in_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ams_actors", "sim", "--stations", "0"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    proc = subprocess.run([sys.executable, "-m", "ams_actors", "sim", "--workdir", str(not_a_dir / "sub")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--workdir" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "ams_actors", "sim", "--mode", "network", "--true-calibration"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--true-calibration" in proc.stderr
