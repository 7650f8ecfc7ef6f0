"""The claim protocol as a pure state machine (protocols/claims.py).

Besides the single transitions, a randomized check runs several stations against an in-memory
compare-and-swap register (the semantics of S3 If-None-Match/If-Match) with random delays, crashes
and lost answers, and asserts the safety properties: never two live holders at once, every epoch
owned by one station, at most one accepted solution per revision.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import claims as c
from protocols.errors import InputError

ME = c.Me(station="AMS1", token="t-1", lease_s=120, skew_margin_s=30, renew_margin_s=10)
OTHER = c.Me(station="AMS2", token="t-2", lease_s=120, skew_margin_s=30, renew_margin_s=10)
EV = "20260712_221506_355"


def obs(rec: c.ClaimRecord, since: float = 0.0) -> c.Observed:
    return c.Observed(rec, etag=hashlib.md5(rec.to_bytes()).hexdigest(), unchanged_since=since)


def test_no_claim_means_create_epoch_1() -> None:
    step = c.next_step(ME, EV, 1, None, 0.0, "t")
    assert step.kind == c.StepKind.CREATE and step.record is not None
    assert (step.record.epoch, step.record.owner, step.record.state) == (1, "AMS1", c.ClaimState.CLAIMED)


def test_live_lease_of_another_station_means_wait_until_lease_plus_margin() -> None:
    rec = c.new_claim(EV, "AMS2", "t-2", 120, "t", 1)
    step = c.next_step(ME, EV, 1, obs(rec, since=100.0), 200.0, "t")
    assert step.kind == c.StepKind.WAIT and step.wake_at == 100.0 + 120 + 30
    steal = c.next_step(ME, EV, 1, obs(rec, since=100.0), 250.1, "t")
    assert steal.kind == c.StepKind.REPLACE and steal.record is not None
    assert steal.record.epoch == 2 and steal.if_match == obs(rec).etag and steal.record.owner == "AMS1"


def test_released_stale_and_own_previous_run_are_taken_at_once() -> None:
    base = c.new_claim(EV, "AMS2", "t-2", 120, "t", 1)
    for rec in (c.released(base, "t"), c.marked_stale(base, 2, "t")):
        step = c.next_step(ME, EV, 2, obs(rec, since=0.0), 1.0, "t")
        assert step.kind == c.StepKind.REPLACE and step.record is not None and step.record.epoch == 2
    mine_before_restart = c.new_claim(EV, "AMS1", "old-token", 120, "t", 1)
    assert c.next_step(ME, EV, 1, obs(mine_before_restart), 1.0, "t").kind == c.StepKind.REPLACE
    assert c.next_step(ME, EV, 1, obs(c.new_claim(EV, "AMS1", "t-1", 120, "t", 1)), 1.0, "t").kind == c.StepKind.HELD


def test_solved_is_final_until_the_revision_changes() -> None:
    rec = c.solved(c.new_claim(EV, "AMS2", "t-2", 120, "t", 1), f"events/x/{EV}/solutions/e1-AMS2.json", "t")
    assert c.next_step(ME, EV, 1, obs(rec), 10_000.0, "t").kind == c.StepKind.DONE
    again = c.next_step(ME, EV, 2, obs(rec), 0.0, "t")
    assert again.kind == c.StepKind.REPLACE and again.record is not None and again.record.epoch == 2


def test_every_write_changes_the_bytes() -> None:
    rec = c.new_claim(EV, "AMS1", "t-1", 120, "same-time", 1)
    chain = [rec, c.renewed(rec, "same-time")]
    chain.append(c.renewed(chain[-1], "same-time"))
    chain.append(c.released(chain[-1], "same-time"))
    chain.append(c.taken_over(chain[-1], "AMS1", "t-1", 120, "same-time", 1))
    chain.append(c.solved(chain[-1], "k/solutions/e2-AMS1.json", "same-time"))
    assert len({r.to_bytes() for r in chain}) == len(chain)


def test_accepted_solution_is_fenced_by_epoch_and_owner() -> None:
    rec = c.solved(c.taken_over(c.new_claim(EV, "AMS2", "t", 120, "t", 1), "AMS1", "u", 120, "t", 1),
                   "events/2026/2026_07_12/E/solutions/e2-AMS1.json", "t")
    assert c.accepted_solution_key(rec) == "events/2026/2026_07_12/E/solutions/e2-AMS1.json"
    # a zombie's late upload under the old epoch is never the accepted one
    zombie = replace(rec, solution_key="events/2026/2026_07_12/E/solutions/e1-AMS2.json")
    assert c.accepted_solution_key(zombie) is None
    assert c.accepted_solution_key(c.new_claim(EV, "AMS2", "t", 120, "t", 1)) is None


def test_outcomes_map_to_verdicts_and_read_back() -> None:
    assert c.after_write(c.Outcome.WRITTEN) == c.Verdict.OWNED
    assert c.after_write(c.Outcome.PRECONDITION_FAILED) == c.Verdict.REREAD
    assert c.after_write(c.Outcome.NOT_FOUND) == c.Verdict.REREAD
    assert c.after_write(c.Outcome.CONFLICT) == c.Verdict.RETRY
    assert c.after_write(c.Outcome.UNKNOWN) == c.Verdict.READ_BACK
    sent = c.new_claim(EV, "AMS1", "t-1", 120, "t", 1)
    assert c.owned_after_read_back(ME, sent, sent)
    assert not c.owned_after_read_back(ME, sent, c.new_claim(EV, "AMS2", "t-2", 120, "t", 1))
    assert not c.owned_after_read_back(ME, sent, None)


def test_renew_and_self_fence_timing() -> None:
    held = c.Held(c.new_claim(EV, "AMS1", "t-1", 120, "t", 1), "e", renewed_at=0.0)
    assert not c.renew_due(ME, held, 39.9) and c.renew_due(ME, held, 40.0)
    assert not c.must_self_fence(ME, held, 109.9) and c.must_self_fence(ME, held, 110.0)
    # the holder always fences before a stealer (lease + skew after first seeing the ETag) may take over
    assert 110.0 < 0.0 + ME.lease_s + OTHER.skew_margin_s


@pytest.mark.parametrize(
    ("blob", "problem"),
    [
        (b"not json", "not JSON"),
        (b"[]", "expected a JSON object"),
        (b'{"event_id": "../x", "owner": "AMS1"}', "event_id"),
        (b"x" * 20000, "limit"),
    ],
)
def test_bad_claim_files_are_rejected_clearly(blob: bytes, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        c.ClaimRecord.from_bytes(blob)


def test_round_trip() -> None:
    rec = c.solved(c.new_claim(EV, "AMS1", "t-1", 120, "2026-07-12T22:00:00Z", 3), "k/solutions/e1-AMS1.json", "t")
    assert c.ClaimRecord.from_bytes(rec.to_bytes()) == rec


# --- randomized safety check against a compare-and-swap register ----------------------------------

@dataclass
class Register:
    """S3 conditional-write semantics for one key: ETag = hash of the bytes."""

    data: bytes | None = None
    history: list[c.ClaimRecord] = field(default_factory=list)

    @property
    def etag(self) -> str | None:
        return None if self.data is None else hashlib.md5(self.data).hexdigest()

    def put(self, rec: c.ClaimRecord, if_none_match: bool, if_match: str | None) -> c.Outcome:
        if if_none_match and self.data is not None:
            return c.Outcome.PRECONDITION_FAILED
        if if_match is not None:
            if self.data is None:
                return c.Outcome.NOT_FOUND
            if if_match != self.etag:
                return c.Outcome.PRECONDITION_FAILED
        self.data = rec.to_bytes()
        self.history.append(rec)
        return c.Outcome.WRITTEN


@dataclass
class Node:
    me: c.Me
    observed: c.Observed | None = None
    held: c.Held | None = None
    alive: bool = True
    solved_epochs: list[int] = field(default_factory=list)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_nodes=st.integers(2, 5))
def test_random_interleavings_never_double_own(seed: int, n_nodes: int) -> None:
    rng = random.Random(seed)
    reg = Register()
    nodes = [Node(c.Me(f"S{i}", f"tok{i}", 120, 30, 10)) for i in range(n_nodes)]
    now = 0.0
    live_holders_at: list[set[str]] = []
    for _ in range(400):
        now += rng.expovariate(1 / 8.0)
        node = rng.choice(nodes)
        if not node.alive:
            if rng.random() < 0.05:  # restart: a new token
                node.alive, node.held, node.observed = True, None, None
                node.me = c.Me(node.me.station, node.me.token + "r", 120, 30, 10)
            continue
        if rng.random() < 0.01:
            node.alive = False  # crash without releasing
            continue
        if node.held is not None:
            if c.must_self_fence(node.me, node.held, now):
                node.held = None
                continue
            if rng.random() < 0.05:  # finish the solve
                rec = c.solved(node.held.record, f"p/solutions/e{node.held.record.epoch}-{node.me.station}.json", "t")
                if reg.put(rec, False, node.held.etag) == c.Outcome.WRITTEN:
                    node.solved_epochs.append(rec.epoch)
                node.held = None
                continue
            if c.renew_due(node.me, node.held, now) and rng.random() < 0.8:  # renewals sometimes late
                sent_at = now
                rec = c.renewed(node.held.record, "t")
                out = reg.put(rec, False, node.held.etag)
                node.held = c.Held(rec, reg.etag or "", sent_at) if out == c.Outcome.WRITTEN else None
            continue
        # not holding: read, decide, write
        stored = c.ClaimRecord.from_bytes(reg.data) if reg.data else None
        if stored is None:
            node.observed = None
        elif node.observed is None or node.observed.etag != reg.etag:
            node.observed = c.Observed(stored, reg.etag or "", now)
        step = c.next_step(node.me, "E", 1, node.observed, now, "t")
        if step.kind in (c.StepKind.CREATE, c.StepKind.REPLACE):
            assert step.record is not None
            out = reg.put(step.record, step.kind == c.StepKind.CREATE, step.if_match)
            if c.after_write(out) == c.Verdict.OWNED:
                node.held = c.Held(step.record, reg.etag or "", now)
        live = {
            n.me.station
            for n in nodes
            if n.alive and n.held is not None and not c.must_self_fence(n.me, n.held, now)
        }
        live_holders_at.append(live)
        assert len(live) <= 1, f"two live holders at t={now}: {live}"
    owners_by_epoch: dict[int, set[str]] = {}
    for rec in reg.history:
        owners_by_epoch.setdefault(rec.epoch, set()).add(rec.owner)
    assert all(len(o) == 1 for o in owners_by_epoch.values()), owners_by_epoch
    solved_total = sum(len(n.solved_epochs) for n in nodes)
    assert solved_total <= 1  # solved is final for the revision
