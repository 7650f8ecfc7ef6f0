"""station.toml: the example loads; each kind of mistake is one line naming file, key and problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ams_actors.config import load_config, parse_config
from protocols.errors import InputError

ROOT = Path(__file__).resolve().parents[1]

BASE = """
[station]
id = "AMS1"
lat = 51.87
lon = 0.92
alt_m = 21.0
data_root = "/tmp/x"

[[cameras]]
id = "010001"

[[cameras]]
id = "010002"

[[cameras]]
id = "010003"
"""


def test_example_station_toml_is_complete_and_valid() -> None:
    cfg = load_config(ROOT / "station.toml")
    assert cfg.station_id == "AMS1"
    assert len(cfg.cameras) >= 2
    assert all(len(c.id) == 6 for c in cfg.cameras)
    assert cfg.store.access_key_env and "secret" not in (ROOT / "station.toml").read_text().lower().split("_env")[0]
    assert cfg.claims.lease_s > 3 * cfg.claims.renew_margin_s


def test_relative_data_root_is_relative_to_the_file(tmp_path: Path) -> None:
    p = tmp_path / "s.toml"
    p.write_text(BASE.replace('"/tmp/x"', '"data"'))
    assert load_config(p).data_root == tmp_path / "data"


def test_embedded_store_and_its_folder_relative_to_the_file(tmp_path: Path) -> None:
    p = tmp_path / "s.toml"
    p.write_text(BASE + '\n[store]\nendpoint = "embedded"\nembedded_dir = "bucket"\n')
    cfg = load_config(p)
    assert (cfg.store.endpoint, cfg.store.embedded_port) == ("embedded", 9401)
    assert cfg.store.embedded_dir == str(tmp_path / "bucket")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.replace('id = "010003"', 'id = "01x"'), 'station.toml: cameras[2].id: expected six digits, got "01x"'),
        (lambda t: t.replace("lat = 51.87", "lat = 123.0"), "station.toml: station.lat: must be within -90..90"),
        (lambda t: t.replace("lat = 51.87", 'lat = "north"'), "station.toml: station.lat: expected a number"),
        (lambda t: t + "\n[store]\nbukket = 'x'\n", "station.toml: store.bukket: unknown key"),
        (lambda t: t.replace('id = "AMS1"\n', ""), "station.toml: station.id: missing (required)"),
        (lambda t: t.replace('id = "010002"', 'id = "010001"'), "station.toml: cameras[1].id: duplicate camera id"),
        (lambda t: t + "\n[network]\nroles = ['solver']\n", "station.toml: network.roles: unknown role 'solver'"),
        (lambda t: t + "\n[network]\npartners = ['AMS1']\n", "station.toml: network.partners: lists this station's own"),
        (lambda t: t + "\n[claims]\nlease_s = 1\n", "station.toml: claims.lease_s: must be within 10..3600"),
        (lambda t: t + "\n[store]\nendpoint = 'ftp://x'\n", "station.toml: store.endpoint: expected an http"),
        (lambda t: t + "\n[store]\nembedded_port = 0\n", "station.toml: store.embedded_port: must be within 1..65535"),
        (lambda t: t + "\n[runtime]\nlog_level = 'LOUD'\n", "station.toml: runtime.log_level: expected one of"),
        (lambda t: t + "\n[network]\nsolo = 'yes'\n", "station.toml: network.solo: expected true or false"),
        (lambda t: t.replace("[[cameras]]", "[cameras]", 1), "station.toml: not valid TOML"),
        (lambda t: t.split("[[cameras]]")[0], "station.toml: cameras: missing"),
    ],
)
def test_each_mistake_names_file_key_and_problem(edit, expected: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as err:
        parse_config(edit(BASE), source="station.toml")
    assert str(err.value).startswith(expected), str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_config(tmp_path / "nope.toml")


def test_cli_reports_config_error_in_one_line_exit_2(tmp_path: Path) -> None:
    p = tmp_path / "station.toml"
    p.write_text(BASE.replace('id = "010003"', 'id = "01x"'))
    proc = subprocess.run(
        [sys.executable, "-m", "ams_actors", "run", "-c", str(p)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f'ams run: {p}: cameras[2].id: expected six digits, got "01x"'


def test_input_error_crosses_the_process_pool() -> None:
    import pickle

    err = pickle.loads(pickle.dumps(InputError("obs.json", "observations[0].lat", "not a number")))
    assert isinstance(err, InputError) and str(err) == "obs.json: observations[0].lat: not a number"


def _with_mask(tmp_path: Path, mask: str) -> Path:
    p = tmp_path / "s.toml"
    p.write_text(BASE.replace('id = "010001"', f'id = "010001"\nmask = "{mask}"'))
    return p


def test_camera_mask_missing_unreadable_or_wrong_size_is_a_config_error(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    with pytest.raises(InputError) as err:
        load_config(_with_mask(tmp_path, "masks/010001.png"))
    assert str(err.value) == f"{tmp_path / 's.toml'}: cameras[0].mask: {tmp_path / 'masks/010001.png'}: no such file"
    (tmp_path / "junk.png").write_text("not a png")
    with pytest.raises(InputError, match=r"cameras\[0\]\.mask: .*junk.png: not a readable image"):
        load_config(_with_mask(tmp_path, "junk.png"))
    cv2.imwrite(str(tmp_path / "small.png"), np.zeros((100, 100), np.uint8))
    with pytest.raises(InputError, match=r"cameras\[0\]\.mask: .*small.png: is 100x100, the camera's SD frames are 640x360"):
        load_config(_with_mask(tmp_path, "small.png"))
    cv2.imwrite(str(tmp_path / "ok.png"), np.zeros((360, 640), np.uint8))
    cfg = load_config(_with_mask(tmp_path, "ok.png"))
    assert cfg.cameras[0].mask == str(tmp_path / "ok.png")  # relative to the file, resolved once


def test_cli_missing_mask_is_one_line_exit_2(tmp_path: Path) -> None:
    p = _with_mask(tmp_path, "nope.png")
    proc = subprocess.run([sys.executable, "-m", "ams_actors", "rvd", "-c", str(p)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"ams rvd: {p}: cameras[0].mask: {tmp_path / 'nope.png'}: no such file", proc.stderr
