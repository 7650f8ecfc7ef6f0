"""`ams correlate --rms` on real GMN UK data against the trajectories WMPL's correlator found there."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ams_actors.cli import main

GMN_UK = Path(__file__).resolve().parents[2] / "shared" / "data" / "gmn-uk-2026-07-12"
if not GMN_UK.exists():  # CI clones main with shared/ beside the clone
    GMN_UK = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gmn-uk-2026-07-12"

pytestmark = pytest.mark.skipif(not GMN_UK.exists(), reason="GMN UK test data not available")


def expected_starts() -> list[datetime]:
    names = [ln.strip() for ln in (GMN_UK / "expected_results.txt").read_text().splitlines() if ln.strip()]
    return sorted({datetime.strptime(n[:15], "%Y%m%d_%H%M%S").replace(tzinfo=UTC) for n in names})


def test_gmn_uk_events_match_wmpl(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["correlate", "--rms", str(GMN_UK), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    events = doc["events"]
    expected = expected_starts()
    assert len(expected) == 19
    starts = [datetime.fromisoformat(e["start_utc"].replace("Z", "+00:00")) for e in events]
    # WMPL names a trajectory by its start to the whole second; an event is found within 2 s of it
    found = [t for t in expected if any(abs((s - t).total_seconds()) <= 2.0 for s in starts)]
    extra = [s for s in starts if not any(abs((s - t).total_seconds()) <= 2.0 for t in expected)]
    assert len(found) >= 17, f"found {len(found)}/19; missed {sorted(set(expected) - set(found))}"
    assert len(extra) <= 3, f"{len(extra)} events not found by WMPL: {extra}"
    for e in events:
        assert e["event_id"].startswith(e["start_utc"][:4])
        assert len(e["stations"]) == len(set(e["stations"])) >= 2
        assert {o["station_id"] for o in e["observations"]} == set(e["stations"])
        assert e["start_utc"] == min(o["start_utc"] for o in e["observations"])


def test_gmn_uk_readable_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["correlate", "--rms", str(GMN_UK)]) == 0
    out = capsys.readouterr().out
    assert "4 FTPdetectinfo file(s), 122 meteors from 4 station(s)" in out
    assert "20260712_221506_" in out


def test_missing_dir_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["correlate", "--rms", str(tmp_path / "nope")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    assert main(["correlate", "--rms", str(tmp_path)]) == 2
    assert "no FTPdetectinfo" in capsys.readouterr().err
