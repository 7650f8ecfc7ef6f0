"""The bucket access table and the policies built from it (issue 17 item 1): no moto, no network."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from protocols import bucket_access as ba
from protocols import s3_keys as k

DAY = date(2026, 7, 12)
EV = "20260712_221506_355"

#: one sample call per key builder: (station whose key it is, or None for a shared key; the key)
SAMPLES: dict[str, tuple[str | None, str]] = {
    "meteor_key": ("AMS1", k.meteor_key("AMS1", DAY, "m1")),
    "daily_index_key": ("AMS1", k.daily_index_key("AMS1", DAY)),
    "yearly_index_key": ("AMS1", k.yearly_index_key("AMS1", 2026)),
    "ms_detects_key": ("AMS1", k.ms_detects_key(DAY, "AMS1")),
    "event_key": (None, k.event_key(EV)),
    "claim_key": (None, k.claim_key(EV)),
    "obs_key": (None, k.obs_key(EV)),
    "solution_key": ("AMS1", k.solution_key(EV, 3, "AMS1")),
    "day_index_key": (None, k.day_index_key(DAY)),
    "probe_key": ("AMS1", k.probe_key("AMS1", "abc")),
    "instance_key": ("AMS1", k.instance_key("AMS1")),
    "preview_key": ("AMS1", k.preview_key("AMS1", DAY, "m1-preview.jpg")),
    "archive_event_key": (None, k.archive_event_key("r1", EV, "solution.json")),
    "archive_run_file_key": (None, k.archive_run_file_key("r1", "manifest.json")),
    "archive_day_rows_key": (None, k.archive_day_rows_key("r1", DAY)),
}


def test_every_key_builder_of_s3_keys_has_a_row_in_the_table() -> None:
    builders = ba.key_builders()
    assert "meteor_key" in builders and "parse_key" not in builders
    missing = [b for b in builders if b not in ba.GENERIC_BUILDERS and b not in {r.builder for r in ba.KEY_KINDS}]
    assert missing == [], f"add a row to protocols.bucket_access.KEY_KINDS for: {missing}"
    # and every builder has a sample here, so the row's pattern is checked below
    assert sorted(set(builders) - ba.GENERIC_BUILDERS) == sorted(SAMPLES)


@pytest.mark.parametrize("builder", sorted(SAMPLES))
def test_each_row_pattern_matches_its_keys_for_the_writer_only(builder: str) -> None:
    row = ba.kind_of(builder)
    owner, key = SAMPLES[builder]
    k.parse_key(key)  # a real key of the layout
    for role in ba.ROLES:
        may = ba.allowed(role, "s3:PutObject", key, station=owner or "AMS9")
        assert may == (role in row.writers), (role, key)
    if owner is not None and "station" in row.writers:
        assert ba.allowed("station", "s3:PutObject", key, station=owner)
        assert not ba.allowed("station", "s3:PutObject", key, station="AMS2"), "another station may write it"
        assert not ba.allowed("station", "s3:PutObject", key, station="AMS"), "a prefix of the id may write it"


def test_what_a_station_may_and_may_not_do() -> None:
    def may(action: Any, key: str) -> bool:
        return ba.allowed("station", action, key, station="AMS1")

    assert may("s3:PutObject", k.claim_key(EV)) and may("s3:PutObject", k.obs_key(EV))
    assert may("s3:GetObject", k.solution_key(EV, 2, "AMS2"))  # a partner's solution, to copy it
    assert may("s3:GetObject", k.meteor_key("AMS2", DAY, "m1")) and may("s3:GetObject", k.event_key(EV))
    assert not may("s3:PutObject", k.solution_key(EV, 2, "AMS2"))
    assert not may("s3:PutObject", k.event_key(EV)) and not may("s3:PutObject", k.day_index_key(DAY))
    assert not may("s3:PutObject", k.ms_detects_key(DAY, "AMS1"))
    assert not may("s3:DeleteObject", k.claim_key(EV)) and not may("s3:DeleteObject", k.meteor_key("AMS1", DAY, "m"))
    assert may("s3:DeleteObject", k.probe_key("AMS1", "x")) and not may("s3:DeleteObject", k.probe_key("AMS2", "x"))
    assert not may("s3:GetObject", k.probe_key("AMS2", "x"))
    assert may("s3:GetObject", k.ms_detects_key(DAY, "AMS1")) and not may("s3:GetObject", k.ms_detects_key(DAY, "AMS2"))


def test_policy_documents_list_only_the_actions_the_code_calls() -> None:
    every = set()
    for p in ba.principals("ams-network", ["AMS1", "AMS2"], runs=["R1"]):
        doc = p.documents[0]
        json.dumps(doc)
        assert doc["Version"] == "2012-10-17"
        for st in doc["Statement"]:
            assert st["Effect"] == "Allow" and "Condition" not in st  # moto fails any Condition
            assert all("?" not in r for r in st["Resource"])  # moto takes "?" as a regex quantifier
            every.update(st["Action"])
    assert every == {"s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"}
    corr = ba.policy("correlator", "b")
    writes = next(s for s in corr["Statement"] if s["Sid"] == "Write")["Resource"]
    assert writes == ["arn:aws:s3:::b/network/ms_detects/*/*.json.gz", "arn:aws:s3:::b/events/*/event.json"]
    ro = ba.policy("readonly", "b")
    assert [s["Sid"] for s in ro["Statement"]] == ["List", "Read"]
    arch = ba.policy("archive", "b", run="R1")
    assert next(s for s in arch["Statement"] if s["Sid"] == "Write")["Resource"] == ["arn:aws:s3:::b/archive/R1/*"]
    with pytest.raises(k.InvalidId):
        ba.policy("station", "b", station="../x")


def test_station_ids_whose_solution_patterns_overlap_are_found() -> None:
    assert ba.suffix_clashes(["AMS1", "X-AMS1", "AMS2"]) == [("AMS1", "X-AMS1")]
    assert ba.iam_match("events/*/solutions/e*-AMS1.json", k.solution_key(EV, 1, "X-AMS1"))  # why it matters


def _ams(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ams_actors", "bucket", "policies", *args],
                          capture_output=True, text=True, timeout=60)


def test_ams_bucket_policies_cli(tmp_path: Path) -> None:
    proc = _ams("--station", "AMS1", "--station", "AMS2", "--bucket", "my-bucket", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    names = [p["name"] for p in doc["principals"]]
    assert names == ["ams-station-AMS1", "ams-station-AMS2", "ams-correlator", "ams-publisher", "ams-archive",
                     "ams-readonly"]
    assert doc["principals"][0]["policy"] == ba.policy("station", "my-bucket", station="AMS1")
    out = tmp_path / "policies"
    proc = _ams("--station", "AMS1", "--out", str(out), "--run", "R7")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "ams-archive-R7.json").read_text()) == ba.policy("archive", "ams-network", run="R7")
    bad = _ams("--station", "../AMS1")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--station" in bad.stderr
    assert "Traceback" not in bad.stderr
    clash = _ams("--station", "AMS1", "--station", "B-AMS1")
    assert clash.returncode == 0 and "B-AMS1" in clash.stderr


def test_the_readme_shows_the_table_as_generated() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert ba.table_markdown() in readme, "run `ams bucket policies --table` and paste it into the README"
