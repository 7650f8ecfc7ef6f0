"""Pipeline file formats: clip-name parsing and the JSON schemas (valid and invalid documents)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from protocols.errors import InputError
from protocols.pipeline_files import (
    DETECT_FORMAT,
    METEOR_FORMAT,
    VALS_FORMAT,
    VERIFY_FORMAT,
    format_clip_name,
    iso_ms,
    parse_clip_name,
    validate,
)

CLIP = "2026_07_12_22_15_00_000_010001.mp4"


def test_parse_clip_name() -> None:
    c = parse_clip_name(f"/mnt/ams2/SD/{CLIP}")
    assert c.name == CLIP
    assert c.camera == "010001"
    assert c.start_utc == datetime(2026, 7, 12, 22, 15, 0, tzinfo=UTC)
    assert c.day == "2026_07_12"
    assert c.stem == CLIP[:-4]
    assert format_clip_name(c.start_utc, c.camera) == CLIP


@pytest.mark.parametrize("bad", [
    "2026_07_12_22_15_00_000_01001.mp4",  # 5-digit camera
    "2026_07_12_22_15_00_000_010001.mkv",
    "2026_13_12_22_15_00_000_010001.mp4",  # month 13
    "2026_02_30_22_15_00_000_010001.mp4",  # 30 February
    "2026_07_12_22_15_00_000_010001-trim-0012.mp4",
    "notes.txt",
])
def test_parse_clip_name_rejects(bad: str) -> None:
    with pytest.raises(InputError) as e:
        parse_clip_name(bad)
    assert e.value.field == "name"


def test_format_clip_name_rejects_bad_camera() -> None:
    with pytest.raises(InputError):
        format_clip_name(datetime(2026, 7, 12, tzinfo=UTC), "12")


def test_iso_ms() -> None:
    assert iso_ms(datetime(2026, 7, 12, 22, 15, 6, 355123, tzinfo=UTC)) == "2026-07-12T22:15:06.355Z"


VALS = {
    "format": VALS_FORMAT, "clip": CLIP, "camera": "010001", "start_utc": "2026-07-12T22:15:00.000Z",
    "width": 640, "height": 360, "fps": 25.0, "n_frames": 2, "bin": 2,
    "grid": {"rows": 10, "cols": 10, "cell_w": 64, "cell_h": 36},
    "noise": {"max_median": 7.0, "max_mad": 1.0, "diff_sigma": 1.1}, "thresh": 5.0,
    "max_val": [3, 9], "max_x": [10.5, 100.5], "max_y": [20.5, 30.5], "sum_above": [0, 50], "cnt_above": [0, 6],
    "cells_fn": [1], "cells": [[[57, 9]]], "peaks": [[[100.5, 30.5, 9]]],
    "scan": {"version": "scan/1", "skip_loop_filter": True, "elapsed_s": 0.1},
}
DETECT = {
    "format": DETECT_FORMAT, "clip": CLIP, "camera": "010001", "start_utc": "2026-07-12T22:15:00.000Z",
    "classification": "maybe-meteors", "reason": "1 of 1 objects passed every rule", "fps": 25.0, "thresh": 5.0,
    "pixel_scale_deg": 0.14, "n_runs": 1,
    "objects": [{"oid": 0, "fns": [1, 2], "xs": [1.0, 2.0], "ys": [1.0, 2.0], "vals": [9, 9], "passed": True,
                 "failed": [], "checks": {"speed_deg_s": 5.0, "n_frames": 2}}],
}
METEOR = {
    "format": METEOR_FORMAT, "meteor_id": CLIP[:-4] + "-trim-0000", "station": "AMS1", "camera": "010001",
    "sd_clip": CLIP, "hd_clip": None, "sd_trim": CLIP[:-4] + "-trim-0000.mp4", "hd_trim": None,
    "calibration": {"file": None, "model": "pinhole-fallback", "fit_quality": None},
    "frames": [{"fn": 1, "t_utc": "2026-07-12T22:15:00.040Z", "x": 1.5, "y": 2.5, "w": 3, "h": 3, "intensity": 100.0,
                "az": 10.0, "el": 30.0, "hd_x": 5.0, "hd_y": 8.0},
               {"fn": 2, "t_utc": "2026-07-12T22:15:00.080Z", "x": 2.5, "y": 3.5, "w": 3, "h": 3, "intensity": 90.0}],
    "report": {"speed_deg_s": 10.0},
}
VERIFY = {
    "format": VERIFY_FORMAT, "clip": CLIP, "camera": "010001", "start_utc": "2026-07-12T22:15:00.000Z",
    "result": "meteor", "meteors": [{"oid": 0, "meteor_id": METEOR["meteor_id"], "first_fn": 1, "last_fn": 2}],
    "rejected": [{"oid": 1, "reason": "too slow", "report": {}}],
}


@pytest.mark.parametrize(("kind", "doc"), [("vals", VALS), ("detect", DETECT), ("meteor", METEOR),
                                           ("verify", VERIFY)])
def test_valid_documents(kind: str, doc: dict) -> None:
    validate(kind, doc)


@pytest.mark.parametrize(("kind", "doc", "path", "value"), [
    ("vals", VALS, ("max_val",), [1, -2]),
    ("vals", VALS, ("clip",), "x.mp4"),
    ("detect", DETECT, ("classification",), "meteor"),
    ("detect", DETECT, ("objects", 0, "passed"), "yes"),
    ("meteor", METEOR, ("frames", 0, "t_utc"), "22:15"),
    ("meteor", METEOR, ("meteor_id",), "a/b"),
    ("meteor", METEOR, ("frames",), []),
    ("verify", VERIFY, ("result",), "maybe"),
])
def test_invalid_documents(kind: str, doc: dict, path: tuple, value: object) -> None:
    bad = copy.deepcopy(doc)
    tgt = bad
    for k in path[:-1]:
        tgt = tgt[k]
    tgt[path[-1]] = value
    with pytest.raises(InputError) as e:
        validate(kind, bad, source="x.json")
    assert "x.json" in str(e.value)


def test_missing_field_and_unknown_kind() -> None:
    bad = {k: v for k, v in METEOR.items() if k != "frames"}
    with pytest.raises(InputError, match="frames"):
        validate("meteor", bad)
    with pytest.raises(InputError):
        validate("nope", {})
