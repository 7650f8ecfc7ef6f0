"""The `ams` command as a user pipes it: a reader that stops early gets no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

GMN_UK = Path(__file__).resolve().parents[2] / "shared" / "data" / "gmn-uk-2026-07-12"


@pytest.mark.skipif(not GMN_UK.exists(), reason="shared GMN data not present (its output is large enough to fill the pipe)")
def test_output_piped_into_a_reader_that_stops_early() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ams_actors", "correlate", "--rms", str(GMN_UK), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(16).startswith(b"{")  # like `| head -c 16`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
