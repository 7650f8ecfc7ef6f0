"""Rendered minutes through the real actors of a Station: Scanner → Detector → Verifier → Indexer.

A meteor comes out as meteor JSON at the right frames and pixels (SD and HD), the aircraft-only minute
and the flashes do not, every vals file has exactly one classification, a corrupt clip lands in bad/
with a reason, a daytime clip in daytime/, and proc_index counts it all from the ledger.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ams_actors.config import parse_config
from ams_actors.runtime.clock import VirtualClock
from ams_actors.runtime.pool import make_pool
from ams_actors.sim.render import Truth, render_clip
from ams_actors.sim.scene import Aircraft, Flash, Meteor, Scene
from ams_actors.station import Station
from protocols.pipeline_files import DETECT_SUFFIX, validate

METEOR_CLIP = "2026_07_12_23_15_00_000_010001.mp4"
PLANE_CLIP = "2026_07_12_23_16_00_000_010001.mp4"
BAD_CLIP = "2026_07_12_23_17_00_000_010001.mp4"
DAY_CLIP = "2026_07_12_12_00_00_000_010001.mp4"
DAY = "2026_07_12"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    d = tmp_path_factory.mktemp("clips")
    (d / "SD").mkdir()
    (d / "HD").mkdir()
    plane = Aircraft(t0=0.0, t1=6.0, x0=60.0, y0=300.0, vx=9.0, vy=-3.0)
    meteor_scene = Scene(
        duration=6.0, seed=3,
        meteors=(Meteor(t0=2.0, duration=1.2, x0=150.0, y0=90.0, vx=180.0, vy=70.0, amp=100.0),),
        aircraft=(plane,),
    )
    truth = render_clip(meteor_scene, d / "SD" / METEOR_CLIP, d / "HD" / METEOR_CLIP, hd_preset="ultrafast")
    plane_scene = Scene(duration=6.0, seed=4, aircraft=(plane,),
                        flashes=(Flash(fn=20, x=300.0, y=200.0, amp=90.0), Flash(fn=90, x=500.0, y=80.0, amp=90.0)))
    render_clip(plane_scene, d / "SD" / PLANE_CLIP)
    (d / "SD" / BAD_CLIP).write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video" * 10)
    render_clip(Scene(duration=2.0, seed=5), d / "SD" / DAY_CLIP)
    return d, truth


@pytest.mark.slow
async def test_minutes_through_the_station_pipeline(
    rendered: tuple[Path, Truth], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ams")
    src, truth = rendered
    root = tmp_path / "data"
    for sub in ("SD", "HD"):
        (root / sub).mkdir(parents=True)
        for f in (src / sub).iterdir():
            (root / sub / f.name).write_bytes(f.read_bytes())
    cfg = parse_config(
        f"""
[station]
id = "AMS1"
lat = 51.5
lon = -0.1
alt_m = 20.0
data_root = "{root}"
[[cameras]]
id = "010001"
az_deg = 90.0
el_deg = 45.0
fov_h_deg = 90.0
[runtime]
workers = 2
""",
        source="test.toml",
    )
    pool = make_pool(2)
    station = Station(cfg, clock=VirtualClock(), executor=pool, admin_socket=False)
    await station.start()
    try:
        (scan,) = await station.run_task("bs")
        assert (scan.done, scan.failed) == (3, 1)  # meteor, plane, daytime; the corrupt one failed
        await station.run_task("rvd")  # queued behind the Detector's own work: returns when it is done
        await station.run_task("rvms")
        for jpg in (root / "meteors" / DAY).glob("*-preview.jpg"):
            jpg.unlink()  # `ams bmpi` makes them again
        (bmpi,) = await station.run_task("bmpi", DAY)
        assert (bmpi.done, bmpi.failed) == (1, 0)
        await station.run_task("proc_index", DAY)
        await station.run_task("fix_days", DAY)  # nothing is missing: nothing is redone
        status = station.status()
    finally:
        await station.stop()
        pool.shutdown()

    proc2 = root / "SD" / "proc2"
    data = proc2 / DAY / "data"
    # every scanned clip has its vals, stack, thumbnail and exactly one classification
    for clip in (METEOR_CLIP, PLANE_CLIP):
        stem = clip[:-4]
        assert (proc2 / DAY / clip).exists() and not (root / "SD" / clip).exists()
        assert (proc2 / DAY / "images" / f"{stem}-stacked.png").exists()
        assert (proc2 / DAY / "images" / f"{stem}-stacked-tn.jpg").exists()
        vals = json.loads((data / f"{stem}-vals.json").read_text())
        validate("vals", vals)
        results = [s for s in DETECT_SUFFIX.values() if (data / f"{stem}{s}").exists()]
        assert len(results) == 1, (clip, results)
    # the corrupt clip is in bad/ with its reason; the daytime clip was not scanned
    assert (proc2 / DAY / "bad" / BAD_CLIP).exists()
    assert (proc2 / DAY / "bad" / f"{BAD_CLIP}.reason").read_text().strip()
    assert (proc2 / "daytime" / DAY_CLIP).exists()
    assert not (data / f"{DAY_CLIP[:-4]}-vals.json").exists()

    # one meteor, from the meteor minute, at the true frames and pixels
    meteors = sorted((root / "meteors" / DAY).glob("*.json"))
    assert len(meteors) == 1, meteors
    doc = json.loads(meteors[0].read_text())
    validate("meteor", doc)
    assert doc["sd_clip"] == METEOR_CLIP and doc["station"] == "AMS1"
    assert (root / "meteors" / DAY / doc["sd_trim"]).exists()
    assert doc.get("hd_trim") and (root / "meteors" / DAY / doc["hd_trim"]).exists()
    t = truth.meteors[0]
    true_xy = dict(zip(t.fns, zip(t.x, t.y, strict=True), strict=True))
    errs = [float(np.hypot(f["x"] - true_xy[f["fn"]][0], f["y"] - true_xy[f["fn"]][1]))
            for f in doc["frames"] if f["fn"] in true_xy]
    assert len(errs) >= 0.7 * len(doc["frames"]) and len(doc["frames"]) >= 15
    assert float(np.median(errs)) < 0.5
    assert all("az" in f and "el" in f and "ra" in f for f in doc["frames"])
    archive = root / "meteor_archive" / "AMS1" / "METEOR" / "2026" / "07" / "12" / f"{doc['meteor_id']}.json"
    assert json.loads(archive.read_text()) == doc
    check_previews(root / "meteors" / DAY, doc, truth)
    check_operator_view(caplog, status, doc)
    # the Indexer put it in the station's daily index
    assert (root / "meteor_archive" / "AMS1" / "DETECTS" / "MI" / "2026" / f"{DAY}-meteor_index.json.gz").exists()

    stats = json.loads((proc2 / "json" / "proc_stats.json").read_text())["days"][DAY]
    assert stats["clips_seen"] == 4
    assert (stats["scanned"], stats["bad"], stats["daytime"]) == (2, 1, 1)
    assert stats["meteors_verified"] == 1 and stats["pending_detect"] == 0 and stats["pending_verify"] == 0


def check_previews(folder: Path, doc: dict[str, Any], truth: Truth) -> None:
    """Both preview JPEGs exist, are listed, decode, have the contract's sizes, and show the track."""
    import cv2

    names = doc["previews"]
    mid = doc["meteor_id"]
    assert names == {"crop": f"{mid}-preview.jpg", "frame": f"{mid}-frame.jpg"}
    crop = cv2.imread(str(folder / names["crop"]))
    frame = cv2.imread(str(folder / names["frame"]))
    assert crop is not None and frame is not None
    assert crop.shape[1] == 400 and frame.shape[1] <= 640
    # the crop holds the true track, and the streak itself is visible there (not hidden by the marks)
    from ams_actors.kernels.preview import crop_box

    x0, y0, x1, y1 = crop_box([(f["x"], f["y"]) for f in doc["frames"]], Scene().width, Scene().height)
    t = truth.meteors[0]
    inside = [x0 <= x < x1 and y0 <= y < y1 for x, y in zip(t.x, t.y, strict=True)]
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).astype(float)
    s = 400 / (x1 - x0)
    on_track = [gray[int((f["y"] - y0 + 0.5) * s), int((f["x"] - x0 + 0.5) * s)] for f in doc["frames"]]
    assert float(np.median(on_track)) > float(np.median(gray)) + 40
    assert sum(inside) >= 0.9 * len(inside)


def check_operator_view(caplog: pytest.LogCaptureFixture, status: dict[str, Any], doc: dict[str, Any]) -> None:
    """One INFO line per minute (camera, minute, class, ms) and per meteor; status counts clips."""
    from ams_actors.commands.admin import format_status

    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    minute = [ln for ln in lines if ln.startswith(f"minute {METEOR_CLIP[:-4]} camera 010001: maybe-meteors")]
    assert len(minute) == 1 and minute[0].endswith(" ms"), lines
    assert len([ln for ln in lines if ln.startswith("minute ")]) == 2  # the meteor and the plane minute
    assert len([ln for ln in lines if ln.startswith(f"meteor {doc['meteor_id']}: camera 010001, ")]) == 1
    work = {a["name"]: a["work"] for a in status["actors"]}
    assert work["Scanner-010001"] == {"010001": {"minutes": 2}}
    assert work["Detector"] == {"010001": {"minutes": 2}}
    assert work["Verifier"] == {"010001": {"minutes": 1, "meteors": 1}}
    table = format_status(status).splitlines()
    assert table[-2].split() == ["camera", "scanned", "classified", "verified", "meteors"]
    assert table[-1].split() == ["010001", "2", "2", "1", "1"]
