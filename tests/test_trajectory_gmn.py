"""Real data: the GMN UK night (design.md §9). WMPL's correlator found 19 trajectories in it; every one
must solve to a physical meteor with residuals at the cameras' real noise level.

The FTPdetectinfo reading here is deliberately minimal (az/el and frame times only): the project's
importer lives in protocols and is tested on its own.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ams_actors.kernels.trajectory import solve_observation_set
from protocols.observations import parse_observation_set

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gmn-uk-2026-07-12"
if not DATA.exists():
    DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gmn-uk-2026-07-12"

pytestmark = pytest.mark.skipif(not DATA.exists(), reason="GMN UK test data not present")


def _detections() -> list[dict[str, Any]]:
    out = []
    for path in sorted(DATA.glob("*/*/FTPdetectinfo_*.txt")):
        lines = path.read_text().splitlines()
        i = 0
        while i < len(lines):
            m = re.match(r"FF_(\w+?)_(\d{8})_(\d{6})_(\d{3})_", lines[i])
            if not m:
                i += 1
                continue
            head = lines[i + 2].split()
            n, fps = int(head[2]), float(head[3])
            start = datetime.strptime(m.group(2) + m.group(3), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
            start += timedelta(milliseconds=int(m.group(4)))
            rows = [[float(x) for x in line.split()] for line in lines[i + 3:i + 3 + n]]
            out.append({"station": m.group(1), "start": start, "fps": fps, "rows": rows})
            i += 3 + n
    return out


def _observation_set(event: str, members: list[dict[str, Any]], stations: dict[str, Any]) -> dict[str, Any]:
    obs = []
    for d in members:
        t0 = d["start"] + timedelta(seconds=d["rows"][0][0] / d["fps"])
        st = stations[d["station"]]
        obs.append({
            "station_id": d["station"], "camera_id": "1", "lat": st["lat"], "lon": st["lon"], "alt_m": st["elev"],
            "t_ref_utc": t0.isoformat().replace("+00:00", "Z"),
            "times": [(r[0] - d["rows"][0][0]) / d["fps"] for r in d["rows"]],
            "azimuths": [r[5] for r in d["rows"]], "elevations": [r[6] for r in d["rows"]],
        })
    return {"event_id": event, "observations": obs}


def test_every_wmpl_trajectory_of_the_night_solves_physically() -> None:
    stations = json.loads((DATA / "stations.json").read_text())
    detections = _detections()
    expected = sorted({line[:15] for line in (DATA / "expected_results.txt").read_text().split()})
    assert len(expected) == 19
    solved = 0
    for name in expected:
        when = datetime.strptime(name, "%Y%m%d_%H%M%S").replace(tzinfo=UTC)
        members: dict[str, dict[str, Any]] = {}
        for d in detections:
            if abs((d["start"] + timedelta(seconds=d["rows"][0][0] / d["fps"]) - when).total_seconds()) < 4:
                members.setdefault(d["station"], d)
        assert len(members) >= 2, name
        sol = solve_observation_set(parse_observation_set(_observation_set(name, list(members.values()),
                                                                           stations)))
        assert sol.status == "solved", (name, sol.reason)
        assert sol.begin is not None and sol.end is not None and sol.v_init_m_s is not None
        assert 80e3 < sol.begin.alt_m < 125e3, name
        assert 60e3 < sol.end.alt_m < sol.begin.alt_m, name
        assert 11e3 < sol.v_init_m_s < 73e3, name
        assert max(sol.residuals_arcsec.values()) < 250.0, (name, sol.residuals_arcsec)
        assert sol.orbit is not None and 0.0 < sol.orbit.q_au < 1.1, name
        solved += 1
    assert solved == 19
