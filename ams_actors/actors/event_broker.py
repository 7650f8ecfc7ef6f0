"""EventBroker: claims events in the shared bucket so that each is solved exactly once (design.md §6).

All decisions come from the pure state machine in `protocols/claims.py`; this actor only reads and
writes the bucket and keeps time on the station's monotonic clock. Per event it:
1. reads `claim.json`, asks `next_step`, and writes with `If-None-Match: *` / `If-Match: etag`;
2. once owned, writes `obs.json` (the solver input) and hands the event to the Solver;
3. renews every lease/3, and self-fences (ClaimLost to the Solver, nothing published) when no renewal
   succeeded for lease − margin; the renewal time recorded is when the request was *sent*, so the
   holder always stops before a stealer's own clock lets it take over;
4. publishes the solution under `solutions/e<epoch>-<STATION>.json` (If-None-Match) and then sets the
   claim `solved` (If-Match); readers accept only the solution the claim names at its epoch;
5. for events solved by a partner, copies the accepted solution into the local EVENTS folder.
Stations are ranked per event by a hash, so the first-ranked station tries first and the others
only watch; load spreads over the network and claim races are rare.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ams_actors.actors.base import StationActor, StationContext
from ams_actors.netsync.event_obs import MAX_PARTNER_BYTES, build_obs
from ams_actors.runtime.actor import Publish
from ams_actors.runtime.files import atomic_write_bytes_async, atomic_write_json_async
from ams_actors.store.events_tree import events_root, recent_days
from protocols import claims as c
from protocols import s3_keys
from protocols.errors import InputError
from protocols.events import Event, decode_event
from protocols.messages import ClaimLost, EventClaimed, EventsChanged, EventSolved, TaskResult

PREFERENCE_STEP_S = 15.0  # how much later each lower-ranked station looks at a new event
MAX_HELD = 4  # unsolved claims held at once: more would only wait in the Solver's inbox while their leases run


@dataclass(slots=True)
class Tracked:
    """What this station knows of one event it takes part in."""

    event_id: str
    day: str
    event: Event
    due: float  # station monotonic time of the next look
    observed: c.Observed | None = None
    held: c.Held | None = None
    status: str = "pending"  # pending | waiting | held | solving | done | failed
    detail: str = ""
    solution_key: str | None = None
    unpublished: EventSolved | None = None  # a solution whose publishing failed: retried while the lease holds
    history: list[str] = field(default_factory=list)


def preference_rank(event_id: str, station: str, stations: tuple[str, ...]) -> int:
    """0 for the station that should try first; the same answer on every station."""
    order = sorted(stations, key=lambda s: hashlib.sha256(f"{event_id}/{s}".encode()).hexdigest())
    return order.index(station) if station in order else len(order)


def _outcome(result: Any) -> c.Outcome:
    from ams_actors.store import outcomes as o

    if isinstance(result, o.Created | o.Replaced | o.Written):
        return c.Outcome.WRITTEN
    if isinstance(result, o.PreconditionFailed):
        return c.Outcome.PRECONDITION_FAILED
    if isinstance(result, o.Conflict):
        return c.Outcome.CONFLICT
    if isinstance(result, o.NotFound):
        return c.Outcome.NOT_FOUND
    return c.Outcome.UNKNOWN


class EventBroker(StationActor):
    tasks = ("solve",)

    def __init__(self, name: str, ctx: StationContext, publish: Publish | None = None) -> None:
        super().__init__(name, ctx, publish)
        cl = ctx.config.claims
        self.me = c.Me(
            station=ctx.config.station_id,
            token=uuid.uuid4().hex,
            lease_s=cl.lease_s,
            skew_margin_s=cl.skew_margin_s,
            renew_margin_s=cl.renew_margin_s,
        )
        self.tick_interval_s = max(1.0, cl.lease_s / 12.0)
        self.events: dict[str, Tracked] = {}
        self.claim_counts: Counter[str] = Counter()  # claims won and lost since the start (/metrics)
        self._warned_disabled = False
        self._bad_partner_files: set[str] = set()  # problems with partner files, already logged

    # -- hooks -----------------------------------------------------------------------------------
    async def on_start(self) -> None:
        # A claim held when this station last stopped or crashed is still ours to take up ("held by
        # this station's previous run"), but only until its lease runs out; the Syncer offers the
        # recent events again only after its first sync, which may upload a whole night first. So
        # look at the recent local events now (the supervisor also calls this after a crash: then
        # they are known already and nothing changes).
        for day in recent_days(self.clock.now().date()):
            self.load_local_events(day)

    async def on_message(self, msg: Any) -> None:
        if isinstance(msg, EventsChanged):
            for event_id in msg.event_ids:
                self.track(msg.day, event_id)
            await self.work(force=False)
        elif isinstance(msg, EventSolved):
            await self.on_solved(msg)

    async def on_tick(self) -> None:
        await self.drop_superseded()
        await self.heartbeat()
        for t in list(self.events.values()):
            if t.unpublished is not None and t.held is not None:
                msg, t.unpublished = t.unpublished, None
                await self.on_solved(msg)
        await self.work(force=False)

    async def on_task(self, task: str, day: str | None) -> TaskResult:
        self.load_local_events(day)
        await self.work(force=True)
        done = sum(1 for t in self.events.values() if t.status == "done")
        pending = sum(1 for t in self.events.values() if t.status not in ("done", "failed"))
        return TaskResult(task, self.name, done=done, detail=f"{pending} event(s) pending")

    async def on_stop(self) -> None:
        await self.release_all("station stopping")

    async def on_failure(self, exc: BaseException) -> None:
        # A crash loses the in-hand step, not the claims: held ones are renewed again after restart
        # (the Tracked state survives in this object) or self-fence if the restart takes too long.
        self.log.warning("broker restarting; %d claim(s) held", sum(1 for t in self.events.values() if t.held))

    # -- tracking --------------------------------------------------------------------------------
    def track(self, day: str, event_id: str) -> Tracked | None:
        path = self.ctx.paths.events_dir(day) / event_id / "event.json"
        try:
            event = decode_event(path.read_bytes(), source=str(path))
        except (OSError, InputError) as err:
            self.log.warning("event %s: cannot read %s: %s", event_id, path, err)
            return None
        now = self.clock.monotonic()
        known = self.events.get(event_id)
        if event.superseded_by:  # merged into another event: that one is solved instead, never this one
            if known is not None and known.status != "superseded":
                known.event, known.unpublished = event, None
                known.status, known.detail = "superseded", f"merged into {event.superseded_by}"
                known.history.append(known.detail)
                self.log.info("event %s: %s; not solved here", event_id, known.detail)
            return known
        if known is not None:
            if event.revision > known.event.revision:
                known.event = event
                if known.status in ("done", "failed"):
                    known.status, known.due = "pending", now
            return known
        rank = preference_rank(event_id, self.me.station, event.stations)
        tracked = Tracked(event_id, day, event, due=now + rank * PREFERENCE_STEP_S)
        self.events[event_id] = tracked
        return tracked

    def load_local_events(self, day: str | None) -> None:
        """Track the local events of one day folder (None: of every day folder)."""
        paths = self.ctx.paths
        folders = [paths.events_dir(day)] if day is not None else sorted(events_root(paths).glob("*/*"))
        for folder in folders:
            for ev_json in sorted(folder.glob("*/event.json")):
                self.track(folder.name, ev_json.parent.name)

    # -- the work loop ---------------------------------------------------------------------------
    async def work(self, force: bool) -> None:
        store = self.ctx.store
        if store is None:
            return
        if not self.ctx.claims_enabled and not self.ctx.config.network.solo:
            if not self._warned_disabled and self.events:
                self.log.error("claims are disabled (the store failed its probe): not solving %d event(s)",
                               len(self.events))
                self._warned_disabled = True
            return
        now = self.clock.monotonic()
        for t in sorted(self.events.values(), key=lambda t: t.due):
            if self.stopping:
                return
            if t.status in ("done", "failed", "solving", "held", "superseded") or (not force and t.due > now):
                continue
            self.track(t.day, t.event_id)  # the local event.json may say it was merged since it was tracked
            if t.status == "superseded":
                continue
            if sum(1 for e in self.events.values() if e.held is not None) >= MAX_HELD:
                return  # the rest waits for the next tick; holding more would only let leases run out
            if self.ctx.config.network.solo:
                await self.solo_solve(t)
            else:
                await self.try_claim(t)
                await self.heartbeat()  # a long pass over a backlog must not starve the claims held

    async def read_claim(self, t: Tracked) -> c.Observed | bool | None:
        """The claim as it is now (None: no claim); False when it cannot be read (try later)."""
        from ams_actors.store.outcomes import NotFound, StoredObject, StoreError

        key = s3_keys.claim_key(t.event_id)
        try:
            got = await self.ctx.store.get(key, max_bytes=c.MAX_CLAIM_BYTES)
        except StoreError as err:
            t.detail = f"claim unreadable: {err}"
            return False
        if isinstance(got, NotFound):
            return None
        if not isinstance(got, StoredObject):
            t.detail = "claim.json too large"
            return False
        try:
            rec = c.ClaimRecord.from_bytes(got.body, source=key)
        except InputError as err:
            self.log.warning("%s", err)
            t.detail = str(err)
            return False
        prev = t.observed
        since = prev.unchanged_since if prev is not None and prev.etag == got.etag else self.clock.monotonic()
        return c.Observed(rec, got.etag, since)

    async def try_claim(self, t: Tracked) -> None:
        from ams_actors.store.outcomes import StoreError

        for _attempt in range(4):
            observed = await self.read_claim(t)
            if observed is False:
                t.due = self.clock.monotonic() + self.me.lease_s / 4
                return
            t.observed = observed if isinstance(observed, c.Observed) else None
            step = c.next_step(
                self.me, t.event_id, t.event.revision, t.observed, self.clock.monotonic(), self.clock.now().isoformat()
            )
            t.history.append(f"{step.kind}: {step.reason}")
            if step.kind == c.StepKind.DONE:
                await self.copy_accepted(t)
                return
            if step.kind == c.StepKind.WAIT:
                t.status, t.detail = "waiting", step.reason
                wake = step.wake_at if step.wake_at is not None else self.clock.monotonic() + self.me.lease_s
                t.due = min(wake, self.clock.monotonic() + self.me.lease_s / 2) + 0.001
                return
            if step.kind == c.StepKind.HELD:
                assert t.observed is not None
                t.held = c.Held(t.observed.record, t.observed.etag, self.clock.monotonic())
                await self.start_solving(t)
                return
            assert step.record is not None
            sent_at = self.clock.monotonic()
            key = s3_keys.claim_key(t.event_id)
            try:
                if step.kind == c.StepKind.CREATE:
                    result = await self.ctx.store.put(key, step.record.to_bytes(), if_none_match="*")
                else:
                    assert step.if_match is not None
                    result = await self.ctx.store.put(key, step.record.to_bytes(), if_match=step.if_match)
            except StoreError as err:
                t.detail = f"claim write failed: {err}"
                t.due = self.clock.monotonic() + self.me.lease_s / 4
                return
            verdict = c.after_write(_outcome(result))
            if verdict == c.Verdict.OWNED:
                t.held = c.Held(step.record, result.etag, sent_at)
                t.history.append(f"owned epoch {step.record.epoch}")
                self.claim_counts["won"] += 1
                await self.start_solving(t)
                return
            if verdict == c.Verdict.RETRY:
                await self.clock.sleep(0.2 + (hash((self.me.token, _attempt)) % 100) / 100.0)
            # REREAD / READ_BACK: the next read decides (a record with our token counts as ours: HELD)
        t.due = self.clock.monotonic() + self.me.lease_s / 4

    # -- holding ---------------------------------------------------------------------------------
    async def start_solving(self, t: Tracked) -> None:
        """Write obs.json for this epoch and hand the event to the Solver."""
        assert t.held is not None
        try:
            obs_doc = await self.build_obs(t)
        except (InputError, LookupError) as err:
            self.log.warning("event %s: cannot build the observation set: %s", t.event_id, err)
            obs_doc = {"event_id": t.event_id, "observations": [], "error": str(err)}
        body = json.dumps(obs_doc).encode()
        key = s3_keys.obs_key(t.event_id)
        local = self.ctx.paths.events_dir(t.day) / t.event_id / "obs.json"
        await atomic_write_bytes_async(local, body)
        from ams_actors.store.outcomes import StoreError

        try:
            await self.ctx.store.put(key, body, content_type="application/json")
        except StoreError as err:
            self.log.warning("event %s: obs.json upload failed (solving anyway): %s", t.event_id, err)
        t.status, t.detail = "solving", f"epoch {t.held.record.epoch}"
        await self.publish(EventClaimed(t.event_id, t.day, t.held.record.epoch, key, local))

    async def build_obs(self, t: Tracked) -> dict[str, Any]:
        """The solver input, every member's file validated (see netsync/event_obs.py)."""
        return await build_obs(self.ctx.store, t.event_id, t.event, self._bad_partner_files, self.log)

    async def heartbeat(self) -> None:
        for t in self.events.values():
            held = t.held
            if held is None:
                continue
            now = self.clock.monotonic()
            if c.must_self_fence(self.me, held, now):
                await self.lose(t, "self-fenced: no renewal succeeded within the lease")
                continue
            if c.renew_due(self.me, held, now):
                await self.renew(t)

    async def renew(self, t: Tracked) -> c.Outcome | None:
        """One renewal of the held claim (If-Match); None when the store gave no answer (retried later).

        A 412/404 means the claim is no longer ours: it is dropped here (ClaimLost to the Solver).
        """
        from ams_actors.store.outcomes import StoreError

        assert t.held is not None
        sent_at = self.clock.monotonic()  # the lease counts from the send, never from the answer
        rec = c.renewed(t.held.record, self.clock.now().isoformat())
        try:
            result = await self.ctx.store.put(s3_keys.claim_key(t.event_id), rec.to_bytes(), if_match=t.held.etag)
        except StoreError as err:
            self.log.warning("event %s: renewal failed (will retry): %s", t.event_id, err)
            return None
        outcome = _outcome(result)
        if outcome == c.Outcome.WRITTEN:
            t.held = c.Held(rec, result.etag, sent_at)
        elif outcome in (c.Outcome.PRECONDITION_FAILED, c.Outcome.NOT_FOUND):
            await self.lose(t, "lease lost: the claim changed under us")
        return outcome

    async def lose(self, t: Tracked, reason: str) -> None:
        epoch = t.held.record.epoch if t.held else 0
        self.claim_counts["lost"] += 1
        t.held = None
        t.unpublished = None
        t.status, t.detail = "pending", reason
        t.due = self.clock.monotonic() + self.me.lease_s / 2
        t.history.append(reason)
        self.log.warning("event %s: %s", t.event_id, reason)
        await self.publish(ClaimLost(t.event_id, epoch, reason))

    # -- publishing ------------------------------------------------------------------------------
    async def on_solved(self, msg: EventSolved) -> None:
        """Publish our solution (If-None-Match), then mark the claim solved (If-Match).

        A store failure or an undecided answer keeps the claim and retries on the next tick while
        the lease holds (heartbeats go on); only 412/404 on the claim mean it is no longer ours.
        """
        from ams_actors.store.outcomes import StoredObject, StoreError

        t = self.events.get(msg.event_id)
        if t is not None and t.held is not None:
            self.track(t.day, t.event_id)
            if t.status == "superseded":
                await self.drop_superseded()
                return
        if t is None or t.held is None or t.held.record.epoch != msg.epoch:
            self.log.info("event %s: solution of epoch %d not published (claim not held)", msg.event_id, msg.epoch)
            return
        if c.must_self_fence(self.me, t.held, self.clock.monotonic()):
            await self.lose(t, "self-fenced before publishing")
            return
        body = msg.solution_path.read_bytes()
        key = s3_keys.solution_key(t.event_id, msg.epoch, self.me.station)
        if self.ctx.config.network.solo:
            try:
                await self.ctx.store.put(key, body, content_type="application/json")
            except StoreError as err:
                self.log.warning("event %s: solution upload failed: %s", t.event_id, err)
            t.held, t.solution_key = None, key
            t.status = "done" if msg.status == "solved" else "failed"
            return
        # Publish only under a lease renewed just now. The self-fence check above may pass on a renewal
        # almost lease − margin old; if the upload then takes a little while (a busy loop, a slow store),
        # a partner's lease timer runs out meanwhile, it takes epoch + 1 and solves again, and our
        # upload lands as a second solution of the event. The renewal proves the claim is still ours
        # and restarts every watcher's timer, so the upload has the whole lease + skew margin.
        renewal = await self.renew(t)
        if renewal != c.Outcome.WRITTEN:
            if t.held is not None:  # no answer (409, 5xx, timeout): try again on the next tick
                t.unpublished = msg
            return
        if c.must_self_fence(self.me, t.held, self.clock.monotonic()):  # the answer itself came late
            await self.lose(t, "self-fenced before publishing")
            return
        try:
            first = _outcome(await self.ctx.store.put(key, body, if_none_match="*", content_type="application/json"))
            if first == c.Outcome.PRECONDITION_FAILED:
                # only this epoch's holder writes this key: an earlier attempt of ours landed
                stored = await self.ctx.store.get(key, max_bytes=MAX_PARTNER_BYTES)
                if isinstance(stored, StoredObject):
                    body = stored.body
            elif first != c.Outcome.WRITTEN:
                t.unpublished = msg
                return
            rec = c.solved(t.held.record, key, self.clock.now().isoformat())
            result = await self.ctx.store.put(s3_keys.claim_key(t.event_id), rec.to_bytes(), if_match=t.held.etag)
        except StoreError as err:
            self.log.warning("event %s: publishing failed (retrying while the lease holds): %s", t.event_id, err)
            t.unpublished = msg
            return
        outcome = _outcome(result)
        if outcome in (c.Outcome.PRECONDITION_FAILED, c.Outcome.NOT_FOUND):
            await self.lose(t, "claim changed before it could be marked solved; solution not accepted")
            return
        if outcome != c.Outcome.WRITTEN:
            t.unpublished = msg
            return
        t.held = None
        await atomic_write_bytes_async(self.ctx.paths.events_dir(t.day) / t.event_id / "solution.json", body)
        t.status = "done" if msg.status == "solved" else "failed"
        t.solution_key = key
        t.detail = f"{msg.status} at epoch {msg.epoch}"
        self.log.info("event %s: %s, published %s", t.event_id, msg.status, key)
        if t.event.revision > rec.event_revision:  # a member joined while we solved: solve again
            t.status, t.due = "pending", self.clock.monotonic()

    async def copy_accepted(self, t: Tracked) -> None:
        """A partner solved it: keep a local copy of the accepted solution (and only that one)."""
        from ams_actors.store.outcomes import StoredObject

        assert t.observed is not None
        key = c.accepted_solution_key(t.observed.record)
        if key is None:
            t.status, t.detail = "failed", "claim marked solved without an acceptable solution key"
            return
        got = await self.ctx.store.get(key, max_bytes=MAX_PARTNER_BYTES)
        if not isinstance(got, StoredObject):
            t.due = self.clock.monotonic() + self.me.lease_s / 2
            return
        try:
            doc = json.loads(got.body)
        except ValueError:
            t.status, t.detail = "failed", f"{key} is not JSON"
            return
        await atomic_write_json_async(self.ctx.paths.events_dir(t.day) / t.event_id / "solution.json", doc)
        t.status = "done" if doc.get("status") == "solved" else "failed"
        t.solution_key, t.detail = key, f"solved by {t.observed.record.owner} (epoch {t.observed.record.epoch})"

    async def solo_solve(self, t: Tracked) -> None:
        """Single-station network: no claims (nobody to race); the solution still goes to the bucket."""
        t.held = c.Held(c.new_claim(t.event_id, self.me.station, self.me.token, self.me.lease_s, "solo", 1), "solo",
                        self.clock.monotonic() + 10 ** 9)
        await self.start_solving(t)

    async def drop_superseded(self) -> None:
        """A claim held for an event merged into another is released, never solved or published: the
        event it was merged into covers the same meteor."""
        for t in self.events.values():
            if t.held is None:
                continue
            self.track(t.day, t.event_id)
            if t.status != "superseded":
                continue
            epoch = t.held.record.epoch
            await self.release(t, t.detail)
            await self.publish(ClaimLost(t.event_id, epoch, t.detail))

    async def release(self, t: Tracked, reason: str) -> None:
        """Give a held claim back (If-Match); a failed release only means the lease runs out instead."""
        from ams_actors.store.outcomes import StoreError

        if t.held is None:
            return
        if self.ctx.store is not None and not self.ctx.config.network.solo:
            rec = c.released(t.held.record, self.clock.now().isoformat())
            try:
                await self.ctx.store.put(s3_keys.claim_key(t.event_id), rec.to_bytes(), if_match=t.held.etag)
                self.log.info("event %s: claim released (%s)", t.event_id, reason)
            except StoreError as err:
                self.log.warning("event %s: release failed (the lease will expire): %s", t.event_id, err)
        t.held = None

    async def release_all(self, reason: str) -> None:
        for t in self.events.values():
            await self.release(t, reason)

    # -- admin -----------------------------------------------------------------------------------
    def claims_report(self) -> dict[str, Any]:
        def row(t: Tracked) -> dict[str, Any]:
            rec = t.held.record if t.held else (t.observed.record if t.observed else None)
            return {
                "event_id": t.event_id,
                "status": t.status,
                "owner": rec.owner if rec else None,
                "epoch": rec.epoch if rec else None,
                "state": str(rec.state) if rec else None,
                "revision": t.event.revision,
                "detail": t.detail,
                "solution_key": t.solution_key,
            }

        held = [row(t) for t in self.events.values() if t.held is not None]
        seen = [row(t) for t in self.events.values() if t.held is None]
        return {"station": self.me.station, "held": held, "seen": seen}

