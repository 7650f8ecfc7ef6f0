"""The event claim protocol (design.md §6) as a pure state machine: no I/O, no clocks of its own.

The bucket is a compare-and-swap register: `claim.json` changes only through conditional writes, and
every write changes its bytes (`hb_seq` + 1), so an ETag never recurs and an `If-Match` can never
succeed against a record that moved on. This module decides; the EventBroker does the I/O:

    step = next_step(me, observed, now_mono, params)      # what to write (or wait for)
    ...store write with step.condition...
    held = after_write(me, step, outcome, now_mono)       # what we now hold

Safety rests on three rules, all enforced here:
1. Only a conditional write creates or changes a claim; whoever's write lands owns that epoch.
2. A claim held by someone else is taken only after its ETag stayed unchanged for longer than
   lease + skew margin on *our own* monotonic clock — another machine's wall clock is never trusted.
3. A holder that could not renew for lease − margin stops on its own (self-fence) before anyone may
   steal, and solutions are accepted only for the epoch the claim says was solved (a zombie's late
   upload under an old epoch is ignored).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

from protocols.errors import InputError

ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_CLAIM_BYTES = 16 * 1024


class ClaimState(StrEnum):
    CLAIMED = "claimed"
    RELEASED = "released"
    SOLVED = "solved"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class ClaimRecord:
    event_id: str
    state: ClaimState
    owner: str
    token: str
    epoch: int
    lease_s: float
    hb_seq: int
    updated_at: str
    event_revision: int
    solution_key: str | None = None

    def to_bytes(self) -> bytes:
        d = asdict(self)
        d["state"] = str(self.state)
        if self.solution_key is None:
            del d["solution_key"]
        return json.dumps(d, sort_keys=True).encode()

    @staticmethod
    def from_bytes(data: bytes, source: str = "claim.json") -> ClaimRecord:
        return _record_from_dict(parse_record_json(data, source, MAX_CLAIM_BYTES), source)


def required(d: dict[str, Any], key: str, kind: type | tuple[type, ...], source: str) -> Any:
    """`d[key]` if present and of `kind` (a bool is never a number), else InputError naming the field."""
    if key not in d:
        raise InputError(source, key, "missing")
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, kind):
        raise InputError(source, key, f"wrong type ({type(v).__name__})")
    return v


def parse_record_json(data: bytes, source: str, max_bytes: int) -> dict[str, Any]:
    """A small JSON object read from the bucket: size-limited, parsed, an object (InputError otherwise)."""
    if len(data) > max_bytes:
        raise InputError(source, None, f"{len(data)} bytes is over the {max_bytes}-byte limit")
    try:
        d = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(source, None, "not JSON") from None
    if not isinstance(d, dict):
        raise InputError(source, None, "expected a JSON object")
    return d


def lease_expires_at(unchanged_since: float, lease_s: float, skew_margin_s: float) -> float:
    """Rule 2: when a record another machine holds may be taken (our monotonic clock, never theirs)."""
    return unchanged_since + lease_s + skew_margin_s


def _record_from_dict(d: dict[str, Any], source: str) -> ClaimRecord:
    def need(key: str, kind: type | tuple[type, ...]) -> Any:
        return required(d, key, kind, source)

    event_id = need("event_id", str)
    owner = need("owner", str)
    for key, value in (("event_id", event_id), ("owner", owner)):
        if not ID_RE.match(value):
            raise InputError(source, key, f"{value!r} is not 1-64 of A-Z a-z 0-9 _ . -")
    state = need("state", str)
    if state not in {s.value for s in ClaimState}:
        raise InputError(source, "state", f"unknown state {state!r}")
    epoch = need("epoch", int)
    if epoch < 1:
        raise InputError(source, "epoch", f"must be >= 1, got {epoch}")
    solution_key = d.get("solution_key")
    if solution_key is not None and not isinstance(solution_key, str):
        raise InputError(source, "solution_key", "wrong type")
    if state == ClaimState.SOLVED and not solution_key:
        raise InputError(source, "solution_key", "missing for a solved claim")
    unknown = set(d) - {f for f in ClaimRecord.__dataclass_fields__}
    if unknown:
        raise InputError(source, sorted(unknown)[0], "unknown key")
    return ClaimRecord(
        event_id=event_id,
        state=ClaimState(state),
        owner=owner,
        token=need("token", str),
        epoch=epoch,
        lease_s=float(need("lease_s", (int, float))),
        hb_seq=need("hb_seq", int),
        updated_at=need("updated_at", str),
        event_revision=need("event_revision", int),
        solution_key=solution_key,
    )


# --- records: every transition writes new bytes -----------------------------------------------------

def new_claim(event_id: str, owner: str, token: str, lease_s: float, now_iso: str, revision: int) -> ClaimRecord:
    return ClaimRecord(event_id, ClaimState.CLAIMED, owner, token, 1, lease_s, 0, now_iso, revision)


def taken_over(prev: ClaimRecord, owner: str, token: str, lease_s: float, now_iso: str, revision: int) -> ClaimRecord:
    """A new epoch: after release, staleness, a revision change or an expired lease."""
    return ClaimRecord(
        prev.event_id, ClaimState.CLAIMED, owner, token, prev.epoch + 1, lease_s, prev.hb_seq + 1, now_iso, revision
    )


def renewed(rec: ClaimRecord, now_iso: str) -> ClaimRecord:
    return replace(rec, hb_seq=rec.hb_seq + 1, updated_at=now_iso)


def released(rec: ClaimRecord, now_iso: str) -> ClaimRecord:
    return replace(rec, state=ClaimState.RELEASED, hb_seq=rec.hb_seq + 1, updated_at=now_iso)


def solved(rec: ClaimRecord, solution_key: str, now_iso: str) -> ClaimRecord:
    return replace(rec, state=ClaimState.SOLVED, solution_key=solution_key, hb_seq=rec.hb_seq + 1, updated_at=now_iso)


def marked_stale(rec: ClaimRecord, revision: int, now_iso: str) -> ClaimRecord:
    return replace(rec, state=ClaimState.STALE, event_revision=revision, hb_seq=rec.hb_seq + 1, updated_at=now_iso)


def solution_key_for(event_prefix: str, epoch: int, station: str) -> str:
    return f"{event_prefix}/solutions/e{epoch}-{station}.json"


def accepted_solution_key(rec: ClaimRecord | None) -> str | None:
    """The only solution readers may use: the one the claim names, at the claim's own epoch."""
    if rec is None or rec.state != ClaimState.SOLVED or not rec.solution_key:
        return None
    if not rec.solution_key.endswith(f"/solutions/e{rec.epoch}-{rec.owner}.json"):
        return None
    return rec.solution_key


# --- deciding what to do ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Me:
    station: str
    token: str  # new for every process start: a restarted station is a different holder
    lease_s: float
    skew_margin_s: float
    renew_margin_s: float


@dataclass(frozen=True, slots=True)
class Observed:
    """What we last read of claim.json, and since when (our monotonic clock) its ETag is unchanged."""

    record: ClaimRecord
    etag: str
    unchanged_since: float


class StepKind(StrEnum):
    CREATE = "create"  # PutObject If-None-Match: *
    REPLACE = "replace"  # PutObject If-Match: etag
    WAIT = "wait"  # someone else holds a live lease: look again at `wake_at`
    DONE = "done"  # solved for the current revision: copy the accepted solution
    HELD = "held"  # we already hold it (nothing to write)


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    record: ClaimRecord | None = None
    if_match: str | None = None
    wake_at: float | None = None
    reason: str = ""


def next_step(
    me: Me, event_id: str, revision: int, observed: Observed | None, now_mono: float, now_iso: str
) -> Step:
    """What to write to own `event_id` at `revision`, given what we last read (None: no claim.json)."""
    if observed is None:
        return Step(StepKind.CREATE, new_claim(event_id, me.station, me.token, me.lease_s, now_iso, revision),
                    reason="no claim yet")
    rec = observed.record

    def take(reason: str) -> Step:
        return Step(StepKind.REPLACE, taken_over(rec, me.station, me.token, me.lease_s, now_iso, revision),
                    if_match=observed.etag, reason=reason)

    if rec.state == ClaimState.SOLVED:
        if rec.event_revision >= revision:
            return Step(StepKind.DONE, reason=f"solved at epoch {rec.epoch}")
        return take(f"solved at revision {rec.event_revision}, event now at {revision}")
    if rec.state in (ClaimState.RELEASED, ClaimState.STALE):
        return take(f"claim {rec.state}")
    # claimed
    if rec.token == me.token:
        return Step(StepKind.HELD, reason="ours")
    if rec.owner == me.station:
        # Our own station under an older token: that process is dead (we hold the station lock),
        # so nobody renews it; take it now instead of waiting out the lease.
        return take("held by this station's previous run")
    expires = lease_expires_at(observed.unchanged_since, rec.lease_s, me.skew_margin_s)
    if now_mono > expires:
        return take(f"lease of {rec.owner} unchanged for {now_mono - observed.unchanged_since:.0f} s")
    return Step(StepKind.WAIT, wake_at=expires, reason=f"held by {rec.owner} (epoch {rec.epoch})")


class Outcome(StrEnum):
    """What the store said to a conditional write (ams_actors.store maps its typed results to these)."""

    WRITTEN = "written"  # 200 Created/Replaced
    PRECONDITION_FAILED = "precondition_failed"  # 412: someone else wrote first
    CONFLICT = "conflict"  # 409: a concurrent conditional write; retry with jitter
    NOT_FOUND = "not_found"  # 404 on If-Match: the claim vanished
    UNKNOWN = "unknown"  # timeout / 5xx: read back before deciding


class Verdict(StrEnum):
    OWNED = "owned"
    REREAD = "reread"  # read claim.json again and call next_step
    RETRY = "retry"  # same step again after a jittered pause
    READ_BACK = "read_back"  # read it: ours if the stored token is ours (see owned_after_read_back)


def after_write(outcome: Outcome) -> Verdict:
    return {
        Outcome.WRITTEN: Verdict.OWNED,
        Outcome.PRECONDITION_FAILED: Verdict.REREAD,
        Outcome.NOT_FOUND: Verdict.REREAD,
        Outcome.CONFLICT: Verdict.RETRY,
        Outcome.UNKNOWN: Verdict.READ_BACK,
    }[outcome]


def owned_after_read_back(me: Me, intended: ClaimRecord, stored: ClaimRecord | None) -> bool:
    """After an answer was lost: the write happened iff the stored record is exactly the one we sent."""
    return stored is not None and stored.token == me.token and stored.epoch == intended.epoch and (
        stored.hb_seq == intended.hb_seq and stored.state == intended.state
    )


# --- holding ---------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Held:
    record: ClaimRecord
    etag: str
    renewed_at: float  # our monotonic clock, at the last successful write


def renew_due(me: Me, held: Held, now_mono: float) -> bool:
    return now_mono - held.renewed_at >= me.lease_s / 3.0


def must_self_fence(me: Me, held: Held, now_mono: float) -> bool:
    """No successful renewal for lease − margin: stop before anyone else may take over."""
    return now_mono - held.renewed_at >= me.lease_s - me.renew_margin_s
