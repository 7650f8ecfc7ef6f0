"""event.json, event ids and the reconcile rule (ids stable, membership only grows)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest

from protocols.errors import InputError
from protocols.events import (
    EVENT_SCHEMA,
    Event,
    EventMember,
    assign_event_ids,
    decode_event,
    encode_event,
    event_id_base,
    event_to_doc,
    parse_event,
    pick_members,
    reconcile,
    utc_from_seconds,
)
from protocols.s3_keys import validate_event_id

T = datetime(2026, 7, 12, 22, 15, 6, 355000, tzinfo=UTC)


def mem(station: str, meteor: str, dt: float = 0.0, dur: float = 1.0) -> EventMember:
    return EventMember(station, meteor, T + timedelta(seconds=dt), dur, "010001")


def test_event_ids_from_the_earliest_start_with_suffixes() -> None:
    assert event_id_base(T) == "20260712_221506_355"
    assert event_id_base(T + timedelta(microseconds=999)) == "20260712_221506_356"  # index times are ms
    ids = assign_event_ids([T, T, T + timedelta(milliseconds=1), T], taken={"20260712_221506_355"})
    assert ids == ["20260712_221506_355_b", "20260712_221506_355_c", "20260712_221506_356", "20260712_221506_355_d"]
    many = assign_event_ids([T] * 30)
    assert many[25] == "20260712_221506_355_z" and many[26] == "20260712_221506_355_ba"
    for eid in many:
        assert validate_event_id(eid) == eid  # the S3 key layer accepts every id we make
    assert utc_from_seconds(T.timestamp()) == T


def test_event_json_round_trip_and_schema() -> None:
    ev = Event("20260712_221506_355", 2, T, (mem("AMS2", "b"), mem("AMS1", "a", 0.5)))
    doc = event_to_doc(ev)
    jsonschema.validate(doc, EVENT_SCHEMA)
    assert [m["station_id"] for m in doc["members"]] == ["AMS1", "AMS2"]
    back = decode_event(encode_event(ev))
    assert back.event_id == ev.event_id and back.revision == 2 and back.member_keys == ev.member_keys
    assert encode_event(back) == encode_event(ev)


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda d: d.__setitem__("event_id", "../x"), "event_id"),
        (lambda d: d.__setitem__("event_id", "20260712_221506_355\n"), "event"),
        (lambda d: d.__setitem__("revision", 0), "revision"),
        (lambda d: d["members"][0].__setitem__("meteor_id", "a b"), "members/0/meteor_id"),
        (lambda d: d["members"][1].__setitem__("station_id", "AMS1"), "at least two stations"),
        (lambda d: d["members"].append(dict(d["members"][0])), "duplicate"),
        (lambda d: d["members"].pop(), "members"),
        (lambda d: d.__setitem__("members", [d["members"][0]] * 300), "members"),
    ],
)
def test_malformed_event_rejected(mutate: Any, words: str) -> None:
    doc = event_to_doc(Event("20260712_221506_355", 1, T, (mem("AMS1", "a"), mem("AMS2", "b"))))
    mutate(doc)
    with pytest.raises(InputError) as exc:
        parse_event(json.loads(json.dumps(doc)), "events/x/event.json")
    assert words in str(exc.value) and str(exc.value).startswith("events/x/event.json")
    with pytest.raises(InputError, match="limit"):
        decode_event(b"{" * 100, "e", max_bytes=10)


def test_pick_members_is_order_free_and_associative() -> None:
    ms = [mem("A", "a1", 0, 1.0), mem("A", "a2", 0.2, 2.0), mem("A", "a3", -1, 2.0), mem("B", "b1")]
    for perm in itertools.permutations(ms):
        assert pick_members(perm) == (mem("A", "a3", -1, 2.0), mem("B", "b1"))
    assert pick_members(pick_members(ms[:2]) + tuple(ms[2:])) == pick_members(ms)


def test_reconcile_new_revised_unchanged_superseded() -> None:
    first = reconcile([], [[mem("A", "a"), mem("B", "b", 0.3)], [mem("C", "c", 50), mem("D", "d", 50.2)]])
    assert [e.event_id for e in first.new] == ["20260712_221506_355", "20260712_221556_355"]
    e1, e2 = first.new
    # late station E joins e1 with an EARLIER start: the id stays, revision 2
    second = reconcile(first.new, [[mem("A", "a"), mem("B", "b", 0.3), mem("E", "e", -0.5)]])
    assert second.new == () and [e.event_id for e in second.revised] == [e1.event_id]
    assert second.revised[0].revision == 2 and second.revised[0].start_utc == T - timedelta(seconds=0.5)
    assert [e.event_id for e in second.unchanged] == [e2.event_id]
    stored = [*second.revised, e2]
    # the same correlation again: nothing to write (two correlators converge)
    assert reconcile(stored, [[mem("A", "a"), mem("B", "b", 0.3), mem("E", "e", -0.5)]]).to_write == ()
    # a correlation showing both events to be one meteor: the earlier id survives, the other is superseded
    third = reconcile(stored, [[mem("B", "b", 0.3), mem("C", "c", 50)]])
    assert [e.event_id for e in third.revised] == [e1.event_id]
    assert third.revised[0].stations == ("A", "B", "C", "D", "E")
    assert [(e.event_id, e.superseded_by, e.revision) for e in third.superseded] == [(e2.event_id, e1.event_id, 2)]
    # a brand-new event whose id collides with a stored one gets a suffix
    fourth = reconcile(stored, [[mem("F", "f"), mem("G", "g")]])
    assert [e.event_id for e in fourth.new] == ["20260712_221506_355_b"]


def test_reconcile_result_is_independent_of_input_order() -> None:
    stored = reconcile([], [[mem("A", "a"), mem("B", "b")]]).new
    groups = [
        [mem("A", "a"), mem("C", "c")],
        [mem("D", "d", 9), mem("E", "e", 9)],
        [mem("F", "f", 9), mem("G", "g", 9)],
    ]
    ref = reconcile(stored, groups)
    for perm in itertools.permutations(groups):
        got = reconcile(stored, [list(reversed(g)) for g in perm])
        assert got == ref
    assert [e.event_id for e in ref.new] == ["20260712_221515_355", "20260712_221515_355_b"]
