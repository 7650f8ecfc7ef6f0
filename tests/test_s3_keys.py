"""Bucket key layout (design.md §5): exact spellings, round trips, and refusal of unsafe input."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import s3_keys as k

DAY = date(2026, 7, 12)
EV = "20260712_221506_355"


def test_every_key_is_spelled_as_in_the_design() -> None:
    assert k.meteor_key("AMS1", DAY, "m-01") == "stations/AMS1/meteors/2026/07/12/m-01.json"
    assert k.daily_index_key("AMS1", DAY) == "stations/AMS1/index/2026/2026_07_12.json.gz"
    assert k.yearly_index_key("AMS1", 2026) == "stations/AMS1/index/2026.json.gz"
    assert k.ms_detects_key(DAY, "AMS1") == "network/ms_detects/2026/2026_07_12/AMS1.json.gz"
    assert k.event_key(EV) == f"events/2026/2026_07_12/{EV}/event.json"
    assert k.claim_key(EV) == f"events/2026/2026_07_12/{EV}/claim.json"
    assert k.obs_key(EV) == f"events/2026/2026_07_12/{EV}/obs.json"
    assert k.solution_key(EV, 3, "AMS2") == f"events/2026/2026_07_12/{EV}/solutions/e3-AMS2.json"
    assert k.day_index_key(DAY) == "events/2026/2026_07_12/index.json"
    assert k.probe_key("AMS1", "abc123") == "_probe/AMS1/abc123"
    assert k.instance_key("AMS1") == "stations/AMS1/instance.json"
    assert k.parse_key("stations/AMS1/instance.json") == k.InstanceKey("AMS1")
    # an event filed under another day folder (explicit day)
    assert k.claim_key(EV, date(2026, 7, 11)) == f"events/2026/2026_07_11/{EV}/claim.json"
    assert k.event_prefix(EV + "_b") == f"events/2026/2026_07_12/{EV}_b/"


def test_prefixes() -> None:
    assert k.meteors_prefix("AMS1") == "stations/AMS1/meteors/"
    assert k.meteors_prefix("AMS1", DAY) == "stations/AMS1/meteors/2026/07/12/"
    assert k.ms_detects_prefix(DAY) == "network/ms_detects/2026/2026_07_12/"
    assert k.events_day_prefix(DAY) == "events/2026/2026_07_12/"
    assert k.solutions_prefix(EV) == f"events/2026/2026_07_12/{EV}/solutions/"
    assert k.probe_prefix("AMS1") == "_probe/AMS1/"


def test_parse_gives_typed_keys() -> None:
    assert k.parse_key("stations/AMS1/meteors/2026/07/12/m-01.json") == k.MeteorKey("AMS1", DAY, "m-01")
    assert k.parse_key("stations/AMS1/index/2026/2026_07_12.json.gz") == k.DailyIndexKey("AMS1", DAY)
    assert k.parse_key("stations/AMS1/index/2026.json.gz") == k.YearlyIndexKey("AMS1", 2026)
    assert k.parse_key("network/ms_detects/2026/2026_07_12/AMS1.json.gz") == k.MsDetectsKey(DAY, "AMS1")
    assert k.parse_key(f"events/2026/2026_07_12/{EV}/claim.json") == k.EventFileKey(DAY, EV, "claim.json")
    assert k.parse_key(f"events/2026/2026_07_12/{EV}/solutions/e12-AMS-2.json") == k.SolutionKey(DAY, EV, 12, "AMS-2")
    assert k.parse_key("events/2026/2026_07_12/index.json") == k.DayIndexKey(DAY)
    assert k.parse_key("_probe/AMS1/abc") == k.ProbeKey("AMS1", "abc")
    assert k.archive_day_rows_key("r1", DAY) == "archive/r1/days/2026_07_12.txt"
    assert k.parse_key("archive/r1/days/2026_07_12.txt") == k.ArchiveDayRowsKey("r1", DAY)
    with pytest.raises(k.InvalidKey):
        k.parse_key("archive/r1/days/2026_07_12.json")


@pytest.mark.parametrize(
    "bad",
    ["", ".", "..", "...", "a/b", "a b", "x" * 65, "AMS1\n", "é", "a\\b", "a\x00"],
)
def test_bad_ids_are_rejected(bad: str) -> None:
    with pytest.raises(k.InvalidId):
        k.validate_id(bad, "station id")
    with pytest.raises(k.InvalidId):
        k.meteor_key(bad, DAY, "m1")
    with pytest.raises(k.InvalidId):
        k.probe_key("AMS1", bad)


@pytest.mark.parametrize(
    "bad", ["20260712_221506", "20261312_221506_355", "20260712_251506_355", "2026_07_12", "x" * 20]
)
def test_bad_event_ids_are_rejected(bad: str) -> None:
    with pytest.raises(k.InvalidId):
        k.claim_key(bad)


def test_bad_epochs_are_rejected() -> None:
    for epoch in (0, -1, True):
        with pytest.raises(k.InvalidId):
            k.solution_key(EV, epoch, "AMS1")


@pytest.mark.parametrize(
    "bad",
    [
        "stations/../meteors/2026/07/12/m.json",
        "stations/AMS1/meteors/2026/07/12/...json",
        "stations/AMS1/meteors/2026/02/30/m.json",  # no such date
        "stations/AMS1/meteors/2026/7/12/m.json",  # not canonical
        "stations/AMS1/index/2025/2026_07_12.json.gz",  # year folder mismatch
        "stations/AMS1/index/26.json.gz",
        "stations/AMS1/other/x",
        f"events/2026/2026_07_12/{EV}/solutions/e01-AMS1.json",  # leading zero
        f"events/2026/2026_07_12/{EV}/solutions/e1-../x.json",
        f"events/2026/2026_07_12/{EV}/secret.json",
        "events/2026/2026_07_12/not-an-event/claim.json",
        "/stations/AMS1/index/2026.json.gz",
        "_probe/AMS1/a/b",
        "",
    ],
)
def test_parse_rejects_foreign_and_unsafe_keys(bad: str) -> None:
    with pytest.raises(k.InvalidKey):
        k.parse_key(bad)


ids = st.from_regex(r"[A-Za-z0-9_.-]{1,64}", fullmatch=True).filter(lambda s: set(s) != {"."})
days = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
event_ids = st.builds(
    lambda d, h, m, s, ms, suf: f"{d.year:04d}{d.month:02d}{d.day:02d}_{h:02d}{m:02d}{s:02d}_{ms:03d}{suf}",
    days,
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
    st.integers(0, 999),
    st.sampled_from(["", "_b", "_c"]),
)


@settings(max_examples=60, deadline=None)
@given(station=ids, meteor=ids, day=days, event=event_ids, epoch=st.integers(1, 10**6), probe_id=ids)
def test_every_built_key_parses_back_to_itself(
    station: str, meteor: str, day: date, event: str, epoch: int, probe_id: str
) -> None:
    built = [
        k.meteor_key(station, day, meteor),
        k.daily_index_key(station, day),
        k.yearly_index_key(station, day.year),
        k.ms_detects_key(day, station),
        k.event_key(event),
        k.claim_key(event, day),
        k.obs_key(event),
        k.solution_key(event, epoch, station, day),
        k.day_index_key(day),
        k.probe_key(station, probe_id),
    ]
    for key in built:
        assert k.parse_key(key).key == key
        assert ".." not in key.split("/")


def test_local_path_stays_inside_root(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    root.mkdir()
    key = f"events/2026/2026_07_12/{EV}/solutions/e1-AMS1.json"
    assert k.local_path(root, key) == root.resolve() / key
    assert k.local_path(root, key, strip_prefix="events/") == root.resolve() / key[len("events/") :]


@pytest.mark.parametrize(
    "bad", ["../x", "a/../../x", "/etc/passwd", "a//b", "a/./b", "a\\..\\b", "C:/x", "a/b\x00", "", "a/ b"]
)
def test_local_path_rejects_traversal(tmp_path: Path, bad: str) -> None:
    with pytest.raises(k.InvalidKey):
        k.local_path(tmp_path, bad)


def test_local_path_rejects_symlink_escape(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "link")
    with pytest.raises(k.InvalidKey, match="outside"):
        k.local_path(root, "link/file.json")
    with pytest.raises(k.InvalidKey):
        k.local_path(root, "events/x.json", strip_prefix="stations/")
