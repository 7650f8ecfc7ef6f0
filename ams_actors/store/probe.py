"""Start-up probe: does this store really honour conditional writes? (design.md §6)

Wasabi does not document If-None-Match/If-Match, and a store (or a proxy in front of it) that
silently ignores them turns every claim into "everyone wins": two stations solve and publish the same
event. So every start (and daily) the station runs the five steps below on scratch keys under
``_probe/<STATION>/<uuid>`` and refuses to run claims unless every answer is the one S3 gives:

1. ``create``            If-None-Match on a new key          → Created
2. ``create-again``      If-None-Match on the same key       → PreconditionFailed or Conflict
3. ``if-match-bogus``    If-Match with a wrong ETag          → PreconditionFailed
4. ``if-match-right``    If-Match with the current ETag      → Replaced
5. ``if-match-missing``  If-Match on a key that never existed → NotFound or PreconditionFailed

plus a read-back checking that only the writes that were accepted changed the object, and

7. ``parallel-create``   K (8) concurrent If-None-Match creates of one fresh key → exactly one Created,
                         the others PreconditionFailed or Conflict, and the stored bytes the winner's.

Step 7 is what the claim protocol really rests on: a store that checks the condition and then writes
(plain moto, a naive proxy or gateway) passes steps 1-6 one request at a time, yet lets two stations
win one claim when they race. One round of K requests takes about one round trip, so the probe stays
cheap enough to run at every start. It cannot prove atomicity (a race may be missed), only refuse a
store caught breaking it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from ams_actors.store.objectstore import ObjectStore
from ams_actors.store.outcomes import (
    Conflict,
    Created,
    NotFound,
    PreconditionFailed,
    PutOutcome,
    Replaced,
    StoredObject,
    StoreError,
    Unknown,
)
from protocols.s3_keys import probe_key

log = logging.getLogger("ams_actors.store.probe")

STEPS = (
    "create", "create-again", "if-match-bogus", "if-match-right", "if-match-missing", "read-back", "parallel-create"
)
PARALLEL_CREATES = 8  # concurrent creates in step 7 (the ObjectStore's pool holds ≥ 16 connections)

_SOLO_HINT = "claims disabled; use solo mode for a single-station network"


@dataclass(frozen=True, slots=True)
class ProbeStep:
    """One probe step: what was expected and what the store answered."""

    name: str
    expected: str
    got: str
    ok: bool


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """The verdict. ``kind``: ``ok``; ``unsupported`` (the store answered wrongly: no claims until
    the configuration changes); ``error`` (no usable answer — network/credentials: probe again later).
    """

    kind: Literal["ok", "unsupported", "error"]
    message: str
    failed_step: str | None = None
    steps: tuple[ProbeStep, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True if the store can be trusted with claims."""
        return self.kind == "ok"


def _name(outcome: object) -> str:
    return type(outcome).__name__


def _payload(run: str, step: str) -> bytes:
    # every write has distinct bytes, so ETags never repeat (an ETag is a content hash)
    return json.dumps({"probe": run, "step": step}).encode()


async def probe(
    store: ObjectStore,
    station_id: str,
    *,
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    parallel: int = PARALLEL_CREATES,
) -> ProbeResult:
    """Run the probe against ``store`` and clean up its scratch keys (best effort).

    Never raises for store failures: they become ``ProbeResult(kind="error")``.
    """
    run = new_id()
    key = probe_key(station_id, run)
    missing = probe_key(station_id, run + "-missing")
    race = probe_key(station_id, run + "-race")
    where = f"store at {store.endpoint_url or 'AWS S3'} (bucket {store.bucket})"
    steps: list[ProbeStep] = []

    def record(name: str, expected: tuple[type, ...], outcome: PutOutcome | str) -> bool:
        got = outcome if isinstance(outcome, str) else _name(outcome)
        ok = not isinstance(outcome, str) and isinstance(outcome, expected)
        steps.append(ProbeStep(name, " or ".join(t.__name__ for t in expected), got, ok))
        return ok

    def refuse(step: str, what: str) -> ProbeResult:
        last = steps[-1]
        msg = f"{where} {what} (probe step {step!r}: expected {last.expected}, got {last.got}): {_SOLO_HINT}"
        return ProbeResult("unsupported", msg, step, tuple(steps))

    def no_answer(step: str, detail: str) -> ProbeResult:
        msg = f"{where} gave no usable answer to probe step {step!r} ({detail}): claims disabled until the probe passes"
        return ProbeResult("error", msg, step, tuple(steps))

    try:
        first = await store.put(key, _payload(run, "create"), if_none_match="*")
        if not record("create", (Created,), first):
            if isinstance(first, Unknown | Conflict):
                return no_answer("create", _name(first))
            return refuse("create", "refuses a conditional create of a new key")
        assert isinstance(first, Created)

        again = await store.put(key, _payload(run, "create-again"), if_none_match="*")
        if not record("create-again", (PreconditionFailed, Conflict), again):
            if isinstance(again, Unknown):
                return no_answer("create-again", again.reason)
            return refuse("create-again", "ignores If-None-Match")

        bogus = await store.put(key, _payload(run, "if-match-bogus"), if_match='"0000000000bogus0000000000"')
        if not record("if-match-bogus", (PreconditionFailed,), bogus):
            if isinstance(bogus, Unknown | Conflict):
                return no_answer("if-match-bogus", _name(bogus))
            return refuse("if-match-bogus", "ignores If-Match")

        right = await store.put(key, _payload(run, "if-match-right"), if_match=first.etag)
        if not record("if-match-right", (Replaced,), right):
            if isinstance(right, Unknown | Conflict):
                return no_answer("if-match-right", _name(right))
            return refuse("if-match-right", "rejects If-Match with the current ETag")

        ghost = await store.put(missing, _payload(run, "if-match-missing"), if_match=first.etag)
        if not record("if-match-missing", (NotFound, PreconditionFailed), ghost):
            if isinstance(ghost, Unknown | Conflict):
                return no_answer("if-match-missing", _name(ghost))
            return refuse("if-match-missing", "ignores If-Match on a missing key")

        final = await store.get(key)
        expect = _payload(run, "if-match-right")
        got = (
            "the if-match-right bytes"
            if isinstance(final, StoredObject) and final.body == expect
            else (f"other bytes ({_name(final)})")
        )
        steps.append(ProbeStep("read-back", "the if-match-right bytes", got, got == "the if-match-right bytes"))
        if not steps[-1].ok:
            return refuse("read-back", "applied a write it answered as refused")

        steps.append(await _parallel_create(store, race, run, parallel))
        if not steps[-1].ok:
            if steps[-1].got.startswith("no answer"):
                return no_answer("parallel-create", steps[-1].got)
            return refuse("parallel-create", "is not atomic under concurrent conditional writes")
    except StoreError as e:
        step = STEPS[len(steps)] if len(steps) < len(STEPS) else "cleanup"
        steps.append(ProbeStep(step, "an answer", f"error: {e}", False))
        if e.status == 501 or e.code in ("NotImplemented", "InvalidArgument"):
            return refuse(step, "does not implement conditional writes")
        return no_answer(step, str(e))
    finally:
        for k in (key, missing, race):
            try:
                await store.delete(k)
            except StoreError as e:  # scratch keys are harmless; do not mask the verdict
                log.warning("probe cleanup of %s failed: %s", k, e)

    return ProbeResult("ok", f"{where} supports conditional writes: claims enabled", None, tuple(steps))


async def _parallel_create(store: ObjectStore, key: str, run: str, k: int) -> ProbeStep:
    """Step 7: ``k`` If-None-Match creates of one new key at once; exactly one may win."""
    bodies = [_payload(run, f"parallel-{i}") for i in range(k)]
    answers = await asyncio.gather(*(store.put(key, b, if_none_match="*") for b in bodies))
    expected = f"exactly 1 Created of {k}, the others PreconditionFailed or Conflict, the winner's bytes stored"
    counts: dict[str, int] = {}
    for a in answers:
        counts[_name(a)] = counts.get(_name(a), 0) + 1
    tally = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
    if any(isinstance(a, Unknown) for a in answers):
        return ProbeStep("parallel-create", expected, f"no answer to some creates ({tally})", False)
    winners = [i for i, a in enumerate(answers) if isinstance(a, Created)]
    if len(winners) != 1 or not all(isinstance(a, Created | PreconditionFailed | Conflict) for a in answers):
        return ProbeStep("parallel-create", expected, tally, False)
    final = await store.get(key)
    if not (isinstance(final, StoredObject) and final.body == bodies[winners[0]]):
        return ProbeStep("parallel-create", expected, f"{tally}, but another create's bytes stored", False)
    return ProbeStep("parallel-create", expected, tally, True)
