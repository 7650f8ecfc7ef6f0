"""What an operator reads at start: a warning per uncalibrated camera and per missing mask, and a clip
from a camera that is not configured moved aside with a warning (not left in SD/ for ever)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from daemon_helpers import station_toml, wait_for_socket

from ams_actors.config import parse_config
from ams_actors.runtime.clock import VirtualClock
from ams_actors.station import Station

STRANGER = "2026_07_12_23_15_00_000_999999.mp4"
OURS = "2026_07_12_23_15_00_000_010001.mp4"


async def test_start_warnings_and_a_clip_of_an_unknown_camera(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "data"
    (root / "SD").mkdir(parents=True)
    (root / "SD" / STRANGER).write_bytes(b"not scanned by anyone")
    (root / "SD" / OURS).write_bytes(b"ours: left for the Scanner")
    mask = tmp_path / "mask.png"
    cv2.imwrite(str(mask), np.zeros((360, 640), np.uint8))
    cfg = parse_config(f"""
[station]
id = "AMS1"
lat = 51.5
lon = -0.1
alt_m = 20.0
data_root = "{root}"
[[cameras]]
id = "010001"
mask = "{mask}"
[[cameras]]
id = "010002"
""", source=str(tmp_path / "station.toml"))
    mask.unlink()  # gone after the config was checked (a card swapped, a folder cleaned)
    caplog.set_level(logging.INFO, logger="ams")
    station = Station(cfg, clock=VirtualClock(), admin_socket=False, only=("Housekeeper",))
    await station.start()
    await station.stop()

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for cam in ("010001", "010002"):
        assert sum(w.startswith(f"camera {cam} has no calibration in ") and "uncalibrated model" in w
                   for w in warnings) == 1, warnings
    assert sum(w == f"camera 010001: mask file {mask} is missing: its minutes are scanned without a mask"
               for w in warnings) == 1, warnings
    unknown = root / "SD" / "proc2" / "unknown"
    assert (unknown / STRANGER).read_bytes() == b"not scanned by anyone"
    assert not (root / "SD" / STRANGER).exists() and (root / "SD" / OURS).exists()
    assert any(w.startswith(f"clip {STRANGER} is from camera 999999, which is not in ") and str(unknown) in w
               for w in warnings), warnings


@pytest.mark.parametrize("verbose", [True, False])
def test_ams_v_wins_over_the_configs_log_level(tmp_path: Path, s3_endpoint: str, verbose: bool) -> None:
    root = tmp_path / "data"
    cfg = tmp_path / "station.toml"
    cfg.write_text(station_toml(root, extra=f'log_level = "WARNING"\n[store]\nendpoint = "{s3_endpoint}"'))
    log = tmp_path / "stderr.log"
    env = {**os.environ, "AMS_S3_ACCESS_KEY_ID": "test", "AMS_S3_SECRET_ACCESS_KEY": "test"}
    with log.open("w") as fh:  # a file, not a pipe: -v logs botocore's every request
        proc = subprocess.Popen([sys.executable, "-m", "ams_actors", *(["-v"] if verbose else []), "run", "-c",
                                 str(cfg)], stdout=subprocess.DEVNULL, stderr=fh, text=True, env=env,
                                start_new_session=True)
    try:
        wait_for_socket(root / "state" / "admin.sock", proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    text = log.read_text()
    assert ("INFO ams.station: station AMS1 started" in text) is verbose, text[-2000:]
    assert (" DEBUG " in text) is verbose
