"""`ams calibrate` end to end on a rendered stack, and the dated calibration files it keeps."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from ams_actors.cli import main
from ams_actors.kernels.astrometry import camera_from_record
from ams_actors.kernels.geo import angle_between_deg
from ams_actors.sim.reference_cameras import UK002F
from ams_actors.sim.starfield import render_star_stack
from protocols.calibration import (
    CalibrationRecord,
    compare_fits,
    newest_valid_calibration,
    read_calibration,
    write_calibration,
)
from protocols.errors import InputError

TRUE = UK002F
T0 = datetime(2026, 7, 12, 22, 15, 0, tzinfo=UTC)
FLAGS = [
    "--lat",
    "51.8831",
    "--lon",
    "-1.30616",
    "--alt",
    "80",
    "--az",
    "62",
    "--el",
    "41",
    "--fov",
    "84",
    "--rotation",
    "3",
    "-c",
    "/nonexistent/station.toml",
]


def _record(cam: str, when: datetime, rms_px: float, n: int = 80, valid: bool = True) -> CalibrationRecord:
    fit = {"n_matched": n, "rms_px": rms_px, "rms_arcmin": rms_px * 7.6}
    return CalibrationRecord(camera_id=cam, obs_utc=when, model=TRUE.to_dict(), fit=fit, valid=valid)


def test_cli_writes_dated_calibration_plot_and_refuses_worse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = tmp_path / "2026_07_12_22_15_00_000_010001-stacked.png"
    cv2.imwrite(str(stack), render_star_stack(TRUE, T0, rng=np.random.default_rng(5), n_steps=3))
    cal = tmp_path / "cal"
    png = tmp_path / "check.png"
    rc = main(
        [
            "calibrate",
            "--camera",
            "010001",
            "--stack",
            str(stack),
            "--out",
            str(cal),
            "--plot",
            str(png),
            "--json",
            *FLAGS,
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    doc = json.loads(out.strip().splitlines()[-1])
    assert doc["accepted"] and doc["rms_px"] <= 0.5 and doc["n_matched"] >= 60
    rec = newest_valid_calibration(cal, "010001")
    assert rec is not None and rec.path is not None and rec.path.name == "calib_010001_20260712_221530.json"
    assert rec.obs_utc == T0 + timedelta(seconds=30) and len(rec.stars) == rec.n_matched
    cam = camera_from_record(rec)
    assert float(angle_between_deg(cam.center_enu(), TRUE.center_enu())) < 0.05
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # a much better calibration already in use (later date): the new fit is refused, nothing written
    write_calibration(cal, _record("010001", T0 + timedelta(days=1), rms_px=0.05))
    files_before = sorted(cal.glob("*.json"))
    rc = main(["calibrate", "--camera", "010001", "--stack", str(stack), "--out", str(cal), "--fresh", *FLAGS])
    err = capsys.readouterr().err
    assert rc == 1 and "refused" in err
    assert sorted(cal.glob("*.json")) == files_before


def test_cli_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "nostack.png"
    junk.write_bytes(b"not a png")
    rc = main(["calibrate", "--camera", "010001", "--stack", str(junk), "--out", str(tmp_path), *FLAGS])
    assert rc == 2 and "cannot read the stack" in capsys.readouterr().err


def test_newest_valid_skips_invalid_poor_and_broken(tmp_path: Path) -> None:
    write_calibration(tmp_path, _record("010001", T0, 0.3))
    write_calibration(tmp_path, _record("010001", T0 + timedelta(days=1), 0.2, valid=False))
    write_calibration(tmp_path, _record("010001", T0 + timedelta(days=2), 3.0))  # too poor
    write_calibration(tmp_path, _record("010002", T0 + timedelta(days=3), 0.2))  # other camera
    (tmp_path / "calib_010001_20300101_000000.json").write_text("{broken")
    rec = newest_valid_calibration(tmp_path, "010001")
    assert rec is not None and rec.obs_utc == T0
    assert newest_valid_calibration(tmp_path / "missing", "010001") is None
    again = read_calibration(rec.path)  # type: ignore[arg-type]
    assert again.model == TRUE.to_dict()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**rec.to_json_dict(), "fit": {"n_matched": "many"}}))
    with pytest.raises(InputError, match="fit"):
        read_calibration(bad)


def test_compare_fits_rules() -> None:
    cur = _record("010001", T0, 0.30, n=100)
    ok, _ = compare_fits({"n_matched": 95, "rms_px": 0.32, "rms_arcmin": 0.32 * 7.6}, cur)
    assert ok
    ok, why = compare_fits({"n_matched": 95, "rms_px": 0.6, "rms_arcmin": 0.6 * 7.6}, cur)
    assert not ok and "worse" in why
    ok, why = compare_fits({"n_matched": 40, "rms_px": 0.3, "rms_arcmin": 0.3 * 7.6}, cur)
    assert not ok and "stars" in why
    assert compare_fits({"n_matched": 40, "rms_px": 0.3, "rms_arcmin": 2.3}, None)[0]
    assert not compare_fits({"n_matched": 5, "rms_px": 0.3, "rms_arcmin": 2.3}, None)[0]
    assert replace(cur, valid=False).usable() is False


def test_cli_with_station_toml_finds_newest_stack_and_camera_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = tmp_path / "root" / "SD" / "proc2" / "2026_07_12" / "images"
    images.mkdir(parents=True)
    cv2.imwrite(
        str(images / "2026_07_12_22_15_00_000_010001-stacked.png"),
        render_star_stack(TRUE, T0, rng=np.random.default_rng(9), n_steps=3),
    )
    cfg = tmp_path / "station.toml"
    cfg.write_text(
        '[station]\nid = "AMS1"\nlat = 51.8831\nlon = -1.30616\nalt_m = 80.0\ndata_root = "root"\n\n'
        '[[cameras]]\nid = "010001"\naz_deg = 62.0\nel_deg = 41.0\nfov_h_deg = 84.0\nrotation_deg = 3.0\n'
        'calibration = "cal/010001"\n'
    )
    assert main(["calibrate", "-c", str(cfg), "--camera", "010001"]) == 0, capsys.readouterr()
    rec = newest_valid_calibration(tmp_path / "cal" / "010001", "010001")
    assert rec is not None and rec.n_matched >= 60 and rec.station_id == "AMS1"
    assert main(["calibrate", "-c", str(cfg), "--camera", "999999"]) == 2


def test_camera_calibration_dir_rules(tmp_path: Path) -> None:
    from protocols.calibration import camera_calibration_dir

    assert camera_calibration_dir("cal/1", "1", tmp_path, Path("/data")) == tmp_path / "cal/1"
    assert camera_calibration_dir("/abs/c", "1", tmp_path, Path("/data")) == Path("/abs/c")
    assert camera_calibration_dir("", "010001", tmp_path, Path("/data")) == Path("/data/cal/010001")


def test_json_is_the_only_stdout_and_a_moved_pointing_is_refused_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = tmp_path / "2026_07_12_22_15_00_000_010001-stacked.png"
    cv2.imwrite(str(stack), render_star_stack(TRUE, T0, rng=np.random.default_rng(5), n_steps=3))
    cal = tmp_path / "cal"
    # the calibration in use points 2° away in azimuth from where the camera really looks (knocked camera)
    moved = {**TRUE.to_dict(), "az_deg": TRUE.to_dict()["az_deg"] + 2.0}
    in_use = CalibrationRecord(camera_id="010001", obs_utc=T0 - timedelta(days=1), model=moved,
                               fit={"n_matched": 60, "rms_px": 1.0, "rms_arcmin": 7.6})
    in_use_path = write_calibration(cal, in_use)
    args = ["calibrate", "--camera", "010001", "--stack", str(stack), "--out", str(cal), "--fresh", *FLAGS]

    rc = main([*args, "--json"])
    out, err = capsys.readouterr()
    doc = json.loads(out)  # the whole of stdout is one JSON document
    assert rc == 1 and not doc["accepted"] and doc["written"] is None
    assert "moves the pointing by 1.5" in doc["reason"], doc["reason"]  # 2° of azimuth at 38° elevation: 1.57°
    assert "limit 1°" in doc["reason"] and "--force" in err
    assert len(list(cal.glob("*.json"))) == 1

    assert main([*args, "--json", "--max-shift", "3"]) == 0
    assert json.loads(capsys.readouterr().out)["accepted"]
    (newest,) = [p for p in cal.glob("*.json") if p != in_use_path]
    newest.unlink()

    assert main([*args, "--force"]) == 0  # refused, written anyway
    out = capsys.readouterr().out
    assert "written" in out and len(list(cal.glob("*.json"))) == 2


def test_station_toml_sets_the_pointing_shift_limit(tmp_path: Path) -> None:
    from ams_actors.config import parse_config

    base = '[station]\nid = "A"\nlat = 1.0\nlon = 1.0\nalt_m = 1.0\ndata_root = "/tmp/x"\n[[cameras]]\nid = "010001"\n'
    assert parse_config(base).calibration.max_shift_deg == 1.0
    assert parse_config(base + "[calibration]\nmax_shift_deg = 2.5\n").calibration.max_shift_deg == 2.5
    with pytest.raises(InputError, match=r"calibration\.max_shift_deg: must be within 0\.\.180"):
        parse_config(base + "[calibration]\nmax_shift_deg = 0\n")
