"""The station daily meteor index: round trips, conversion from the meteor JSON, and rejection of
malformed or hostile partner files with a clear error naming the field."""

from __future__ import annotations

import copy
import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest

from protocols.errors import InputError
from protocols.meteor_index import (
    ENTRY_SCHEMA,
    INDEX_SCHEMA,
    MAX_SAMPLES,
    MeteorIndex,
    SiteInfo,
    decode_index,
    encode_index,
    entry_from_meteor_json,
    entry_from_track,
    entry_to_doc,
    format_utc_ms,
    index_to_doc,
    parse_entry,
    parse_index,
    sample_indices,
)

T = datetime(2026, 7, 12, 22, 15, 6, 355000, tzinfo=UTC)


def meteor_json(n: int = 30) -> dict[str, Any]:
    frames = [
        {
            "fn": 100 + k,
            "t_utc": (T + timedelta(seconds=k * 0.04)).isoformat().replace("+00:00", "Z"),
            "x": 300.0 + k,
            "y": 200.0 - k,
            "w": 5,
            "h": 5,
            "intensity": 1000.0 + 100 * k - 4 * k * k,
            "az": 75.0 + 0.1 * k,
            "el": 20.0 - 0.05 * k,
            "ra": 301.0 + 0.1 * k,
            "dec": 12.0 - 0.05 * k,
        }
        for k in range(n)
    ]
    frames.insert(0, {"fn": 99, "t_utc": "2026-07-12T22:15:06.315Z", "x": 1, "y": 1, "w": 1, "h": 1, "intensity": 5})
    return {
        "meteor_id": "2026_07_12_22_15_00_000_010001-trim-0153",
        "station": "AMS1",
        "camera": "010001",
        "sd_clip": "2026_07_12_22_15_00_000_010001.mp4",
        "calibration": {"file": "010001.json", "res_px": 0.5, "px_scale_arcsec": 300.0, "total_stars": 41},
        "frames": frames,
        "report": {},
    }


def make_index() -> MeteorIndex:
    e1 = entry_from_meteor_json(meteor_json())
    e2 = entry_from_track(
        meteor_id="m2",
        station_id="AMS1",
        camera_id="010002",
        times_utc=[T + timedelta(minutes=3, seconds=0.04 * k) for k in range(5)],
        az=[10.0, 10.5, 11.0, 11.5, 12.0],
        el=[40.0, 39.0, 38.0, 37.0, 36.0],
    )
    return MeteorIndex("AMS1", "2026_07_12", SiteInfo(51.87, 0.92, 21.0, 0.05), (e2, e1))


def test_from_meteor_json_samples_and_summaries() -> None:
    e = entry_from_meteor_json(meteor_json(), max_samples=16)
    assert e.start_utc == T  # the uncalibrated frame (no az/el) does not count
    assert format_utc_ms(e.start_utc) == "2026-07-12T22:15:06.355Z"
    assert e.duration_s == pytest.approx(29 * 0.04)
    assert len(e.t) == 16 and e.t[0] == 0.0 and e.t[-1] == pytest.approx(e.duration_s)
    assert (e.begin.az, e.begin.el, e.begin.ra) == (75.0, 20.0, 301.0)
    assert e.end.az == pytest.approx(77.9)
    assert e.peak_intensity == max(1000.0 + 100 * k - 4 * k * k for k in range(30))
    assert e.calib.res_arcsec == 150.0 and e.calib.stars == 41
    assert sample_indices(30, 16)[0] == 0 and sample_indices(30, 16)[-1] == 29
    assert sample_indices(3, 16) == [0, 1, 2]


def test_index_round_trip_is_byte_stable() -> None:
    idx = make_index()
    data = encode_index(idx)
    back = decode_index(data, "AMS1/2026_07_12.json.gz")
    assert back.station_id == "AMS1" and back.site == idx.site
    assert [e.meteor_id for e in back.meteors] == [idx.meteors[1].meteor_id, "m2"]  # sorted by start
    assert encode_index(back) == data
    assert decode_index(gzip.decompress(data)) == back  # plain JSON is accepted too


def _bad(mutate: Any) -> InputError:
    doc = index_to_doc(make_index())
    mutate(doc)
    with pytest.raises(InputError) as exc:
        parse_index(doc, "partner.json.gz")
    assert str(exc.value).startswith("partner.json.gz")
    return exc.value


def test_published_schema_accepts_a_valid_index() -> None:
    jsonschema.validate(index_to_doc(make_index()), INDEX_SCHEMA)
    jsonschema.validate(entry_to_doc(make_index().meteors[0]), ENTRY_SCHEMA)


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (lambda d: d["meteors"][0].__setitem__("meteor_id", "../../etc/passwd"), "meteors/0/meteor_id", "match"),
        (lambda d: d["meteors"][0].__setitem__("meteor_id", "x" * 65), "meteors/0/meteor_id", ""),
        (lambda d: d.__setitem__("station_id", "AMS 1"), "station_id", "match"),
        (lambda d: d["meteors"][0].__setitem__("station_id", "AMS2"), "meteors/0/station_id", "index of"),
        (
            lambda d: d["meteors"][1].__setitem__("meteor_id", d["meteors"][0]["meteor_id"]),
            "meteors/1/meteor_id",
            "duplicate",
        ),
        (lambda d: d["meteors"][0].__setitem__("start_utc", "2026-07-12 22:15:06"), "meteors/0/start_utc", ""),
        (lambda d: d["meteors"][0].__setitem__("start_utc", "2026-02-30T22:15:06.000Z"), "start_utc", "invalid"),
        (lambda d: d["meteors"][0]["samples"]["az"].pop(), "samples/az", "has"),
        (
            lambda d: d["meteors"][0]["samples"].__setitem__("t", d["meteors"][0]["samples"]["t"][::-1]),
            "samples/t",
            "decrease",
        ),
        (lambda d: d["meteors"][0]["samples"]["el"].__setitem__(0, 91.0), "meteors/0/samples/el/0", ""),
        (lambda d: d["meteors"][0].__setitem__("duration_s", "1.0"), "meteors/0/duration_s", ""),
        (lambda d: d["meteors"][0].__setitem__("extra", 1), "meteors/0", "Additional"),
        (lambda d: d["meteors"][0]["samples"].__setitem__("t", [0.0] * (MAX_SAMPLES + 1)), "meteors/0/samples/t", ""),
        (lambda d: d.__delitem__("site"), None, "site"),
        (lambda d: d.__setitem__("format", "something-else"), "format", ""),
        (lambda d: d["meteors"][0]["calib"].__setitem__("stars", -1), "meteors/0/calib/stars", ""),
        (lambda d: d["meteors"][0]["begin"].__setitem__("ra", 400.0), "meteors/0/begin/ra", ""),
        (lambda d: d["meteors"][0]["begin"].__delitem__("az"), "meteors/0/begin", "required"),
        (lambda d: d["meteors"][0]["samples"].__setitem__("dec", None), None, ""),  # valid: dec optional
    ],
)
def test_malformed_entries_are_rejected_with_the_field(mutate: Any, field: str | None, words: str) -> None:
    doc = index_to_doc(make_index())
    mutate(doc)
    valid_by_schema = jsonschema.Draft202012Validator(INDEX_SCHEMA).is_valid(doc)
    if field is None and not words:
        assert valid_by_schema
        parse_index(doc, "partner.json.gz")
        return
    # the fast hand checks and the published schema agree (semantic checks go beyond the schema)
    if not any(w in words for w in ("index of", "duplicate", "invalid", "has", "decrease")):
        assert not valid_by_schema
    err = _bad(mutate)
    if field:
        assert (err.field is not None and field in err.field) or field in str(err), str(err)
    assert words in str(err)


def test_size_limits_and_garbage() -> None:
    with pytest.raises(InputError, match="limit"):
        decode_index(b"x" * 100, "p", max_compressed=50)
    bomb = gzip.compress(b" " * 10_000_000)
    with pytest.raises(InputError, match="decompresses to more than"):
        decode_index(bomb, "p", max_decompressed=1_000_000)
    with pytest.raises(InputError, match="not JSON"):
        decode_index(b"\x00\x01garbage", "p")
    with pytest.raises(InputError, match="bad gzip"):
        decode_index(b"\x1f\x8bgarbage", "p")
    doc = index_to_doc(make_index())
    doc["meteors"] = doc["meteors"] * 10_001
    with pytest.raises(InputError, match="maxItems"):
        parse_index(doc, "p")
    doc = index_to_doc(make_index())
    doc["meteors"][0]["meteor_id"] += "\n"  # Python's "$" matches before a final newline; ours must not
    with pytest.raises(InputError, match="does not match"):
        parse_index(doc, "p")


def test_parse_entry_and_builder_errors() -> None:
    e = make_index().meteors[0]
    assert parse_entry(copy.deepcopy(entry_to_doc(e))) == e
    with pytest.raises(InputError, match="meteor_id"):
        entry_from_track(meteor_id="a/b", station_id="S", camera_id="c", times_utc=[T], az=[1.0], el=[2.0])
    with pytest.raises(InputError, match="at least one frame"):
        entry_from_track(meteor_id="a", station_id="S", camera_id="c", times_utc=[], az=[], el=[])
    with pytest.raises(InputError, match="el"):
        entry_from_track(meteor_id="a", station_id="S", camera_id="c", times_utc=[T], az=[1.0], el=[float("nan")])
    bad = meteor_json()
    for f in bad["frames"]:
        f.pop("az", None)
    with pytest.raises(InputError, match="no calibrated frame"):
        entry_from_meteor_json(bad, "m.json")
    assert json.dumps(entry_to_doc(e))  # plain JSON types only
