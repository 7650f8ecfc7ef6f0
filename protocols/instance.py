"""The instance record `stations/<ID>/instance.json`: one running process per station id, network-wide.

The flock on the data root stops two processes on one machine; it cannot see a second machine set up
with the same id, which would overwrite this station's indexes and steal its claims. So a running
station holds a record in the bucket, written like a claim (protocols/claims.py): created with
If-None-Match, renewed with If-Match every lease/3 (every write changes `hb_seq`, so an ETag never
recurs), released (state `released`) on a clean stop. Another instance may take it over only

- when it is released;
- when it is this machine's and this data root's own previous run (a crash-restart: the flock proves
  that run is dead), at once;
- when its ETag stayed unchanged for longer than lease + skew margin on *our* monotonic clock.

Otherwise the new instance refuses to start and names the other one. No secrets in the record.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

from protocols.claims import ID_RE, lease_expires_at, parse_record_json, required
from protocols.errors import InputError

MAX_INSTANCE_BYTES = 8 * 1024


class InstanceState(StrEnum):
    RUNNING = "running"
    RELEASED = "released"


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    station: str
    state: InstanceState
    host: str
    pid: int
    data_root: str
    started_at: str
    token: str
    lease_s: float
    hb_seq: int
    updated_at: str

    def to_bytes(self) -> bytes:
        d = asdict(self)
        d["state"] = str(self.state)
        return json.dumps(d, sort_keys=True).encode()

    @staticmethod
    def from_bytes(data: bytes, source: str = "instance.json") -> InstanceRecord:
        d = parse_record_json(data, source, MAX_INSTANCE_BYTES)

        def need(key: str, kind: type | tuple[type, ...]) -> Any:
            return required(d, key, kind, source)

        station = need("station", str)
        if not ID_RE.match(station):
            raise InputError(source, "station", f"{station!r} is not 1-64 of A-Z a-z 0-9 _ . -")
        state = need("state", str)
        if state not in {s.value for s in InstanceState}:
            raise InputError(source, "state", f"unknown state {state!r}")
        unknown = set(d) - set(InstanceRecord.__dataclass_fields__)
        if unknown:
            raise InputError(source, sorted(unknown)[0], "unknown key")
        for key in ("host", "data_root", "started_at", "token", "updated_at"):
            if len(need(key, str)) > 512:
                raise InputError(source, key, "longer than 512 characters")
        lease_s = float(need("lease_s", (int, float)))
        if not 0 < lease_s <= 86400:
            raise InputError(source, "lease_s", f"must be within 0..86400, got {lease_s}")
        return InstanceRecord(
            station=station, state=InstanceState(state), host=d["host"], pid=need("pid", int),
            data_root=d["data_root"], started_at=d["started_at"], token=d["token"], lease_s=lease_s,
            hb_seq=need("hb_seq", int), updated_at=d["updated_at"],
        )

    def describe(self) -> str:
        return f"host {self.host} (pid {self.pid}, data root {self.data_root}, started {self.started_at})"


def renewed(rec: InstanceRecord, now_iso: str) -> InstanceRecord:
    return replace(rec, hb_seq=rec.hb_seq + 1, updated_at=now_iso)


def released(rec: InstanceRecord, now_iso: str) -> InstanceRecord:
    return replace(rec, state=InstanceState.RELEASED, hb_seq=rec.hb_seq + 1, updated_at=now_iso)


def taking_over(mine: InstanceRecord, prev: InstanceRecord) -> InstanceRecord:
    """Our record written over `prev`: hb_seq continues from it, so the bytes (and ETag) are new."""
    return replace(mine, hb_seq=max(mine.hb_seq, prev.hb_seq + 1))


class Decision(StrEnum):
    CREATE = "create"  # no record: PutObject If-None-Match
    TAKE = "take"  # PutObject If-Match the observed ETag
    HELD = "held"  # it is ours already
    WAIT = "wait"  # someone else's live-looking record: watch its ETag until `wake_at`


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    reason: str
    wake_at: float | None = None


def decide(
    mine: InstanceRecord, observed: InstanceRecord | None, unchanged_since: float, now_mono: float, skew_margin_s: float
) -> Verdict:
    """What to do about the stored record `observed`, whose ETag we have seen unchanged since `unchanged_since`."""
    if observed is None:
        return Verdict(Decision.CREATE, "no instance record")
    if observed.token == mine.token:
        return Verdict(Decision.HELD, "ours")
    if observed.state == InstanceState.RELEASED:
        return Verdict(Decision.TAKE, f"released by {observed.describe()}")
    if observed.host == mine.host and observed.data_root == mine.data_root:
        return Verdict(Decision.TAKE, f"this machine's and data root's previous run (pid {observed.pid})")
    expires = lease_expires_at(unchanged_since, observed.lease_s, skew_margin_s)
    if now_mono > expires:
        quiet = now_mono - unchanged_since
        return Verdict(Decision.TAKE, f"lease of {observed.describe()} unchanged for {quiet:.0f} s")
    return Verdict(Decision.WAIT, f"held by {observed.describe()}", wake_at=expires)
