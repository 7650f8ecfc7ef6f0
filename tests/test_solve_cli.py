"""`ams solve`: exit codes, one JSON document on stdout, readable report, plots, never a traceback."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

from ams_actors.cli import main
from ams_actors.sim.trajectories import Site, TrueMeteor, observation_set_dict
from protocols.observations import SOLUTION_SCHEMA

EPOCH = datetime(2026, 7, 12, 22, 15, 6, 355000, tzinfo=UTC)
SITES = [Site("AMS1", 51.0, 0.0, 20.0), Site("AMS2", 51.8, 1.5, 50.0), Site("AMS3", 52.2, -0.3, 80.0)]


def _doc() -> dict[str, Any]:
    m = TrueMeteor.from_geodetic(51.5, 0.5, 100e3, 60.0, 45.0, 30000.0, 1.2, EPOCH)
    doc, _ = observation_set_dict("20260712_221506_355", m, SITES, 25.0, 40.0, np.random.default_rng(11))
    return doc


def _write(tmp_path: Path, doc: object, name: str = "obs.json") -> Path:
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return p


def _solve_json(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(["solve", str(path), "--json", *extra])
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out  # exactly one document
    doc = json.loads(out)
    jsonschema.validate(doc, SOLUTION_SCHEMA)
    return code, doc


def test_solves_and_prints_one_valid_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = _solve_json(_write(tmp_path, _doc()), capsys)
    assert code == 0
    assert doc["status"] == "solved"
    assert doc["event_id"] == "20260712_221506_355"
    assert 25e3 < doc["v_g_m_s"] < 30e3
    assert doc["sigma"] is None and doc["solver"]["mc_runs"] == 0


def test_monte_carlo_flag_fills_sigma(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = _solve_json(_write(tmp_path, _doc()), capsys, "--mc", "6")
    assert code == 0
    assert doc["solver"]["mc_runs"] == 6
    assert doc["sigma"]["v_init_m_s"] > 0 and doc["sigma"]["radiant"]["ra_deg"] > 0


def test_readable_report_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plots = tmp_path / "plots"
    code = main(["solve", str(_write(tmp_path, _doc())), "--plot", str(plots)])
    out = capsys.readouterr().out
    assert code == 0
    assert "solved" in out and "radiant" in out and "km/s" in out
    pngs = sorted(p.name for p in plots.glob("*.png"))
    assert pngs == [f"20260712_221506_355_{k}.png" for k in ("length_lag", "map", "residuals")]
    assert all((plots / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in pngs)


def test_failed_solve_exits_1_with_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _doc()
    doc["observations"] = doc["observations"][:1]
    code, out = _solve_json(_write(tmp_path, doc), capsys)
    assert code == 1
    assert out["status"] == "failed" and "one station" in out["reason"]


def test_nan_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _doc()
    doc["observations"][0]["azimuths"][3] = math.nan  # json.dumps writes NaN, which Python reads back
    code, out = _solve_json(_write(tmp_path, doc), capsys)
    assert code == 1 and "NaN" in out["reason"]


@pytest.mark.parametrize(
    "content",
    ["{not json", "[1, 2]", json.dumps({"event_id": "x"}), json.dumps({"observations": []})],
)
def test_unreadable_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str) -> None:
    code = main(["solve", str(_write(tmp_path, content)), "--json"])
    captured = capsys.readouterr()
    assert code == 2
    doc = json.loads(captured.out)
    jsonschema.validate(doc, SOLUTION_SCHEMA)
    assert doc["status"] == "failed" and doc["reason"].startswith("unreadable input")
    assert "Traceback" not in captured.err and captured.err.startswith("ams solve: ")


def test_missing_field_names_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _doc()
    del doc["observations"][1]["elevations"]
    code = main(["solve", str(_write(tmp_path, doc))])
    err = capsys.readouterr().err
    assert code == 2
    assert "observations[1].elevations: missing" in err


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", str(tmp_path / "nope.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_process_exit_code_and_no_traceback(tmp_path: Path) -> None:
    """The real entry point, as an operator runs it."""
    path = _write(tmp_path, "not json at all")
    proc = subprocess.run([sys.executable, "-m", "ams_actors", "solve", str(path), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["status"] == "failed"


def test_unreadable_input_is_said_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["solve", str(_write(tmp_path, "{not json"))])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""  # no report repeating the error on stdout
    assert len(captured.err.splitlines()) == 1 and captured.err.startswith("ams solve: ")


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("lat", 95.0, "station lat 95 is out of range (-90..90 deg)"),
    ("alt_m", 250000.0, "station alt_m 250000 is out of range (-20000..100000 m)"),
])
def test_station_out_of_range_names_the_field_and_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, value: float, expected: str
) -> None:
    doc = _doc()
    doc["observations"][1][field] = value
    code, out = _solve_json(_write(tmp_path, doc), capsys)
    assert code == 1 and out["status"] == "failed"
    assert f"observations[1] ({doc['observations'][1]['station_id']}" in out["reason"], out["reason"]
    assert out["reason"].endswith(expected), out["reason"]


def test_mc_help_shows_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["solve", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--mc N Monte Carlo runs for the uncertainties (default 0" in help_text
