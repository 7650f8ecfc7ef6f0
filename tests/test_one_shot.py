"""The one-shot verbs (the old cron jobs) as real `ams` processes: each starts only the actors it needs,
touches no bucket, and exits with nothing left in an inbox."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ams_actors.sim.render import render_clip
from ams_actors.sim.scene import Meteor, Scene
from ams_actors.store.local_paths import StationPaths

CLIP = "2026_07_12_23_15_00_000_010001.mp4"
DAY = "2026_07_12"


def _config(tmp_path: Path) -> Path:
    p = tmp_path / "station.toml"
    p.write_text(f"""
[station]
id = "AMS1"
lat = 51.5
lon = -0.1
alt_m = 20.0
data_root = "{tmp_path / 'data'}"
[[cameras]]
id = "010001"
az_deg = 90.0
el_deg = 45.0
fov_h_deg = 90.0
[store]
endpoint = "http://127.0.0.1:9"
[runtime]
workers = 1
""")
    return p


def _ams(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ams_actors", *argv], capture_output=True, text=True, timeout=300)


def _started(stderr: str) -> str:
    (line,) = [ln for ln in stderr.splitlines() if "station AMS1 started:" in ln]
    return line.split("started: ", 1)[1]


def test_rvd_on_an_empty_data_root_starts_only_the_detector(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    t0 = time.monotonic()
    proc = _ams("rvd", "-c", str(cfg))
    wall = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr
    assert _started(proc.stderr) == "DiskGuard, Detector"  # the guard stops intake on a full disk (issue 16)
    assert "store" not in proc.stderr.lower()  # no bucket opened, probed or complained about
    assert proc.stdout.strip() == "Detector: rvd: 0 done, 0 failed"
    assert wall < 8.0, wall  # was 8-15 s with the whole station (Solver warm-up, yearly index, store)


@pytest.mark.parametrize(("verb", "actors"), [
    ("bs", "DiskGuard, Scanner-010001"), ("rvms", "DiskGuard, Indexer, Verifier"), ("proc_index", "DiskGuard, Housekeeper"),
])
def test_each_verb_starts_its_own_actors(tmp_path: Path, verb: str, actors: str) -> None:
    proc = _ams(verb, "-c", str(_config(tmp_path)))
    assert proc.returncode == 0, proc.stderr
    assert _started(proc.stderr) == actors


@pytest.mark.slow
def test_fix_days_takes_a_scanned_minute_all_the_way_and_leaves_nothing_unprocessed(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    sd = tmp_path / "data" / "SD"
    sd.mkdir(parents=True)
    meteor = Meteor(t0=2.0, duration=1.2, x0=150.0, y0=90.0, vx=180.0, vy=70.0, amp=100.0)
    render_clip(Scene(duration=6.0, seed=3, meteors=(meteor,)), sd / CLIP)
    paths = StationPaths(tmp_path / "data", "AMS1")

    bs = _ams("bs", "-c", str(cfg))
    assert bs.returncode == 0 and "Scanner-010001: bs: 1 done, 0 failed" in bs.stdout, bs.stderr
    stem = CLIP.removesuffix(".mp4")
    assert (paths.data_dir(DAY) / f"{stem}-vals.json").exists()
    assert not list(paths.data_dir(DAY).glob(f"{stem}-*meteor*"))  # classifying is rvd's job, as under cron

    fix = _ams("fix_days", "-c", str(cfg))
    assert fix.returncode == 0, fix.stderr
    assert (paths.data_dir(DAY) / f"{stem}-maybe-meteors.json").exists()
    index = json.loads(gzip.decompress(paths.meteor_index(DAY).read_bytes()))
    assert len(index["meteors"]) == 1
    for proc in (bs, fix):
        assert "unprocessed" not in proc.stderr, proc.stderr
