"""Grading a simulated night: what the bucket holds at the end against the truth, and the claim
protocol's promises (design.md §6) against the claims the stations took.

``NightGrading`` is the reading and judging half of ``SimNetwork`` (a mixin over its stations, truth
and claim log), kept apart from building and running the night so each file has one job.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ams_actors.kernels import geo
from ams_actors.kernels.correlate import CorrelationParams
from ams_actors.sim.stations import BUCKET, ClaimTaken
from ams_actors.sim.superseded import published_event_ids, superseded_report
from ams_actors.sim.world import SimMeteor, World
from ams_actors.station import Station
from ams_actors.store.objectstore import Credentials
from protocols import claims as c


@dataclass(slots=True)
class Truth:
    """Which station meteors each true meteor became (filled while injecting or rendering)."""

    seen_by: dict[str, dict[str, str]] = field(default_factory=dict)  # truth key -> station -> meteor id

    def expected_events(self, counts: Callable[[str, str], bool] | None = None) -> list[str]:
        """Truth keys seen by >= 2 stations; `counts(station, meteor_id)` drops observations that could
        never reach the network (a killed station's meteors that were not uploaded before it died)."""
        return [k for k, st in self.seen_by.items()
                if sum(1 for s, m in st.items() if counts is None or counts(s, m)) >= 2]



class NightGrading:
    """The report and the invariant checks of one night (mixed into ``SimNetwork``)."""

    endpoint: str
    world: World
    truth: Truth
    stations: list[Station]
    retired: list[Station]
    dead: set[str]
    claim_log: list[ClaimTaken]

    def admin_credentials(self) -> Credentials:
        """The harness's own key for reading the bucket (SimNetwork: its admin user under --restricted-keys)."""
        return Credentials.from_env("AMS_S3_ACCESS_KEY_ID", "AMS_S3_SECRET_ACCESS_KEY")

    def alive(self) -> list[Station]:
        return [s for s in self.stations if s.config.station_id not in self.dead]


    def expected_events(self, bucket: dict[str, Any]) -> list[str]:
        """Truth keys that should have become a solved event, given which stations died on the way and
        whether any two of the stations that saw the meteor can place it at all (:meth:`not_placeable`)."""
        unplaceable = self.not_placeable(bucket)
        return [k for k in self.seen_by_two(bucket) if k not in unplaceable]

    def seen_by_two(self, bucket: dict[str, Any]) -> list[str]:
        """Truth keys whose observations by >= 2 stations reached the network."""
        return self.truth.expected_events(self.reached(bucket))

    def reached(self, bucket: dict[str, Any]) -> Callable[[str, str], bool]:
        """Whether a station's meteor could reach the network: its station lived, or it was uploaded before
        the station died."""
        present: set[tuple[str, str]] = bucket.get("meteors", set())
        return lambda s, m: s not in self.dead or (s, m) in present

    def not_placeable(self, bucket: dict[str, Any]) -> dict[str, float]:
        """Meteors seen by >= 2 stations whose best pair of planes still converges below the correlator's
        minimum (``CorrelationParams.min_convergence_deg``): flying almost in the plane through the stations,
        no pair of them defines a line, so no event can be formed; → their best convergence (deg).

        The angle is taken from the true line, not from the measured planes, so the grading does not
        borrow the pipeline's own measurements to excuse it."""
        limit = CorrelationParams().min_convergence_deg
        reached = self.reached(bucket)
        sites = {s.id: geo.geodetic_to_ecef(s.lat, s.lon, s.alt_m) for s in self.world.stations}
        truth_by_key = {m.key: m for m in self.world.meteors}
        out: dict[str, float] = {}
        for key in self.seen_by_two(bucket):
            seen = [s for s, m in self.truth.seen_by[key].items() if reached(s, m)]
            best = best_convergence_deg(truth_by_key[key], [sites[s] for s in seen])
            if best < limit:
                out[key] = round(best, 3)
        return out

    async def all_solved(self) -> bool:
        bucket = await self.read_bucket(while_running=True)  # a progress look, not the outcome
        expected = self.expected_events(bucket)
        if not expected:
            return True
        found = self.match_events(bucket)
        return all(
            key in found and bucket["claims"].get(found[key], (None,))[0] == c.ClaimState.SOLVED for key in expected
        )

    # -- reading the outcome ---------------------------------------------------------------------
    async def read_bucket(self, *, while_running: bool = False) -> dict[str, Any]:
        """Events (members), claims and solutions as the bucket holds them now.

        The outcome of a night is read only after `stop()`: the listing and the reads take many
        requests, and stations that still write in between make a snapshot no moment ever had — a
        claim listed before its solution object existed and read after it was marked solved (issue 16
        item 9: under CPU load, "solved, but its accepted solution is missing"). So it refuses to run
        while a live station runs, unless the caller only wants a progress look (`while_running`).
        """
        running = [s.config.station_id for s in self.alive() if s.running]
        if running and not while_running:
            raise RuntimeError(f"read_bucket: stations {running} still run; stop the network first (a snapshot "
                               "read while they write mixes moments)")
        from ams_actors.store.objectstore import ObjectStore
        from ams_actors.store.outcomes import StoredObject

        creds = self.admin_credentials()
        events: dict[str, dict[str, Any]] = {}
        claims: dict[str, tuple[c.ClaimState, int, str, str | None]] = {}
        solutions: dict[str, list[str]] = {}
        meteors: set[tuple[str, str]] = set()
        async with ObjectStore.open(self.endpoint, BUCKET, credentials=creds) as store:
            for key in await store.list_keys("stations/"):
                parts = key.split("/")  # stations/<S>/meteors/YYYY/MM/DD/<meteor id>.json
                if len(parts) == 7 and parts[2] == "meteors" and parts[6].endswith(".json"):
                    meteors.add((parts[1], parts[6][: -len(".json")]))
            for key in await store.list_keys("events/"):
                parts = key.split("/")
                if len(parts) < 5:
                    continue
                event_id = parts[3]
                if key.endswith("/event.json"):
                    got = await store.get(key)
                    if isinstance(got, StoredObject):
                        events[event_id] = json.loads(got.body)
                elif key.endswith("/claim.json"):
                    got = await store.get(key)
                    if isinstance(got, StoredObject):
                        rec = c.ClaimRecord.from_bytes(got.body)
                        claims[event_id] = (rec.state, rec.epoch, rec.owner, c.accepted_solution_key(rec))
                elif "/solutions/" in key:
                    solutions.setdefault(event_id, []).append(key)
            docs: dict[str, dict[str, Any]] = {}  # every solution object, accepted or not
            for keys in solutions.values():
                for key in keys:
                    got = await store.get(key)
                    if isinstance(got, StoredObject):
                        docs[key] = json.loads(got.body)
            accepted: dict[str, dict[str, Any]] = {}
            for event_id, (state, _epoch, _owner, sol_key) in claims.items():
                if state == c.ClaimState.SOLVED and sol_key and sol_key in docs:
                    accepted[event_id] = docs[sol_key]
            published = await published_event_ids(store)
        return {"events": events, "claims": claims, "solutions": solutions, "accepted": accepted, "meteors": meteors,
                "solution_docs": docs, "published": published}

    def match_events(self, bucket: dict[str, Any]) -> dict[str, str]:
        """truth key -> event id, where the event's members are that meteor's observations."""
        owner: dict[tuple[str, str], str] = {}
        for key, seen in self.truth.seen_by.items():
            for station, meteor_id in seen.items():
                owner[(station, meteor_id)] = key
        votes: dict[str, dict[str, int]] = {}
        for event_id, ev in bucket["events"].items():
            if ev.get("superseded_by"):
                continue
            for m in ev.get("members", []):
                truth_key = owner.get((m["station_id"], m["meteor_id"]))
                if truth_key is not None:
                    votes.setdefault(truth_key, {})
                    votes[truth_key][event_id] = votes[truth_key].get(event_id, 0) + 1
        return {key: max(v.items(), key=lambda kv: (kv[1], kv[0]))[0] for key, v in votes.items()}

    def report(self, bucket: dict[str, Any]) -> dict[str, Any]:
        truth_by_key = {m.key: m for m in self.world.meteors}
        expected = self.expected_events(bucket)
        found = self.match_events(bucket)
        matched_events = set(found.values())
        solved = [k for k in expected if k in found and found[k] in bucket["accepted"]
                  and bucket["accepted"][found[k]].get("status") == "solved"]
        dir_err, v_err, begin_err, begin_h_err = [], [], [], []
        for key in solved:
            sol = bucket["accepted"][found[key]]
            d, v, b, bh = solution_errors(sol, truth_by_key[key])
            dir_err.append(d)
            v_err.append(v)
            begin_err.append(b)
            begin_h_err.append(bh)
        active = [e for e, ev in bucket["events"].items() if not ev.get("superseded_by")]
        # One solve per revision of an event is the protocol at work (a partner's meteor joined after
        # the first solve, so the event is solved again with it); a solve beyond that is a duplicate.
        n_solutions = {e: len(bucket["solutions"].get(e, [])) for e in active}
        revisions = {e: int(bucket["events"][e].get("revision", 1)) for e in active}
        accepted_per_event = [1 if e in bucket["accepted"] else 0 for e in active]
        per_station = {st.config.station_id: 0 for st in self.stations}
        for seen in self.truth.seen_by.values():
            for station in seen:
                per_station[station] += 1

        def med(xs: list[float]) -> float | None:
            return round(float(np.median(xs)), 4) if xs else None

        return {
            "meteors_injected": len(self.world.meteors),
            "detected_per_station": per_station,
            "events_expected": len(expected),
            "events_found": sum(1 for k in expected if k in found),
            "events_in_bucket": len(active),
            "events_not_in_truth": len([e for e in active if e not in matched_events]),
            "events_solved": len(solved),
            "solutions_accepted_per_event": sorted(set(accepted_per_event)),
            "duplicate_solutions": sum(1 for e in active if n_solutions[e] > revisions[e]),
            "resolved_after_revision": sum(1 for e in active if 1 < n_solutions[e] <= revisions[e]),
            "solution_objects": sum(len(v) for v in bucket["solutions"].values()),
            "lost_events": sorted(k for k in expected if k not in found or k not in solved),
            "not_expected_planes_converge_deg": self.not_placeable(bucket),
            "dir_err_deg_median": med(dir_err),
            "v_init_rel_err_median": med(v_err),
            "begin_dist_m_median": med(begin_err),
            "begin_height_err_m_median": med(begin_h_err),
            "max_epoch": max((v[1] for v in bucket["claims"].values()), default=0),
            "claims_taken": len(self.claim_log),
            "dead_stations": sorted(self.dead),
            "invariant_violations": self.check_invariants(bucket),
            **superseded_report(bucket),
        }

    # -- invariants ------------------------------------------------------------------------------
    def all_stations(self) -> list[Station]:
        """Every Station object of the night, current and retired (killed or replaced)."""
        return self.retired + self.stations

    def claim_story(self, event_id: str) -> list[str]:
        """What each station process made of one event: status, detail and its last claim steps
        (for a failure message that says why an event was not solved)."""
        story = []
        for st in self.all_stations():
            t = st.actors["EventBroker"].events.get(event_id)  # type: ignore[attr-defined]
            if t is None:
                continue
            sid = st.config.station_id
            tag = " (replaced)" if st in self.retired else " (dead)" if sid in self.dead else ""
            story.append(f"{sid}{tag}: {t.status} {t.detail!r} after {' / '.join(t.history[-4:])}")
        return story

    def check_invariants(self, bucket: dict[str, Any]) -> list[str]:
        """The claim protocol's promises, checked against the bucket and the claims the stations took.

        Returns one line per violation (empty: all hold):
        - every active event with >= 2 stations has a `solved` claim whose accepted solution exists;
        - no two stations (processes) ever held the same epoch of an event (from the EventClaimed log),
          and no two solution objects of one event carry the same epoch;
        - a solution object `e<N>-<S>` exists only if station S held epoch N;
        - every true meteor seen by >= 2 stations became a solved event;
        - no verified meteor is lost: every meteor JSON in a live station's archive is in the bucket;
        - a live member's local copy of the solution is the accepted one (when it has a copy).
        """
        out: list[str] = []
        holders: dict[tuple[str, int], set[tuple[str, str]]] = {}
        for ct in self.claim_log:
            holders.setdefault((ct.event_id, ct.epoch), set()).add((ct.station, ct.token))
        for (event_id, epoch), who in sorted(holders.items()):
            if len(who) > 1:
                out.append(f"{event_id}: epoch {epoch} held by {sorted(s for s, _ in who)} (two processes)")
        for event_id, keys in sorted(bucket["solutions"].items()):
            by_epoch: dict[int, list[str]] = {}
            for key in keys:
                name = key.rsplit("/", 1)[-1]
                epoch_s, _, station = name[1:-len(".json")].partition("-")
                by_epoch.setdefault(int(epoch_s), []).append(station)
                held_by = holders.get((event_id, int(epoch_s)))
                if held_by is not None and station not in {s for s, _ in held_by}:
                    out.append(f"{event_id}: solution {name} but epoch {epoch_s} was held by {sorted(held_by)}")
            for epoch, stations in sorted(by_epoch.items()):
                if len(stations) > 1:
                    out.append(f"{event_id}: {len(stations)} solutions at epoch {epoch}: {sorted(stations)}")
        for event_id, ev in sorted(bucket["events"].items()):
            if ev.get("superseded_by") or len({m["station_id"] for m in ev.get("members", [])}) < 2:
                continue
            claim = bucket["claims"].get(event_id)
            if claim is None or claim[0] != c.ClaimState.SOLVED:
                state = "claim missing" if claim is None else f"claim {claim[0]} epoch {claim[1]} by {claim[2]}"
                out.append(f"{event_id}: not solved ({state}); " + "; ".join(self.claim_story(event_id)))
            elif event_id not in bucket["accepted"] or claim[3] not in bucket["solutions"].get(event_id, []):
                out.append(f"{event_id}: solved, but its accepted solution {claim[3]} is missing")
        found = self.match_events(bucket)
        for key in self.expected_events(bucket):
            if key not in found:
                out.append(f"true meteor {key}: no event")
            elif found[key] not in bucket["accepted"]:
                out.append(f"true meteor {key}: event {found[key]} has no accepted solution")
        out += self.station_copy_violations(bucket)
        return out

    def station_copy_violations(self, bucket: dict[str, Any]) -> list[str]:
        """What the live stations hold locally and the bucket does not agree with (the last two promises
        of :meth:`check_invariants`)."""
        out: list[str] = []
        for st in self.alive():
            sid = st.config.station_id
            root = st.paths.archive / "METEOR"
            for path in sorted(root.glob("*/*/*/*.json")) if root.is_dir() else []:
                if (sid, path.stem) not in bucket["meteors"]:
                    out.append(f"meteor {sid}/{path.stem}: verified but not in the bucket")
            broker: Any = st.actors["EventBroker"]
            for t in broker.events.values():
                local = st.paths.events_dir(t.day) / t.event_id / "solution.json"
                if t.solution_key is None or not local.is_file():
                    continue
                # the local copy is the bucket object the station says it published or copied ...
                mine, stored = json.loads(local.read_text()), bucket["solution_docs"].get(t.solution_key)
                if mine != stored:
                    differ = sorted(k for k in set(mine) | set(stored or {}) if mine.get(k) != (stored or {}).get(k))
                    out.append(f"{t.event_id}: {sid}'s local solution.json is not {t.solution_key} in the bucket "
                               f"(fields differ: {differ}; history {t.history})")
                # ... and, once the station has the event's latest revision, the accepted one
                claim = bucket["claims"].get(t.event_id)
                latest = bucket["events"].get(t.event_id, {}).get("revision")
                if (claim is not None and t.status in ("done", "failed") and t.event.revision == latest
                        and t.solution_key != claim[3]):
                    out.append(f"{t.event_id}: {sid} keeps {t.solution_key}, the accepted solution is {claim[3]}")
        return out


def solution_errors(sol: dict[str, Any], truth: SimMeteor) -> tuple[float, float, float, float]:
    """(direction error deg, |v_init| relative error, begin point's distance from the true line m,
    |begin height − the true height at the solution's begin time| m).

    The solution's begin/end are Earth-fixed positions at their own times, the truth a line in the
    inertial frame of its epoch: the Earth turns ~0.3 km/s under a meteor, half a degree over a 30 km
    path, so both points go to the truth's frame (at their times) before they are compared.
    """
    from ams_actors.kernels.trajectory.frames import ecef_to_inertial
    from protocols.observations import parse_utc

    b, e = sol["begin"], sol["end"]
    pb = geo.geodetic_to_ecef(b["lat"], b["lon"], b["alt_m"])
    pe = geo.geodetic_to_ecef(e["lat"], e["lon"], e["alt_m"])
    t_b = (parse_utc(sol["t_begin_utc"]) - truth.meteor.epoch).total_seconds() if sol.get("t_begin_utc") else 0.0
    v_avg = float(sol.get("v_avg_m_s") or sol["v_init_m_s"])
    t_e = t_b + float(np.linalg.norm(pe - pb)) / max(v_avg, 1.0)
    ib = ecef_to_inertial(np.asarray(pb)[None, :], np.array([t_b]))[0]
    ie = ecef_to_inertial(np.asarray(pe)[None, :], np.array([t_e]))[0]
    dir_err = float(geo.angle_between_deg(ie - ib, truth.meteor.direction))
    v_err = abs(sol["v_init_m_s"] - truth.meteor.v_init_m_s) / truth.meteor.v_init_m_s
    begin_err = float(truth.meteor.distance_from_line_m(ib[None, :])[0])
    begin_h_err = abs(float(b["alt_m"]) - float(truth.meteor.geodetic(t_b)[2]))
    return dir_err, float(v_err), begin_err, begin_h_err


def best_convergence_deg(truth: SimMeteor, stations_ecef: list[Any]) -> float:
    """The largest angle (deg, 0-90) between any two stations' planes through the true line: the
    correlator's convergence, which must reach its minimum for a pair to place the meteor."""
    begin, direction = truth.meteor.line_in_frame(truth.meteor.epoch)
    normals = [np.cross(begin - np.asarray(s, float), direction) for s in stations_ecef]
    normals = [n / np.linalg.norm(n) for n in normals]
    best = 0.0
    for i, a in enumerate(normals):
        for b in normals[i + 1:]:
            best = max(best, float(np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b)), abs(float(a @ b))))))
    return best
