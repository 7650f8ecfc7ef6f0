"""The simulated network: N real `Station` objects on one virtual clock against one embedded S3.

Every fake station is the production `Station` with its own data root, config and store client; only
the world around it is fake (the sky, the cameras, the clock). In network mode each station is handed
the meteor archive JSON its Verifier would have written, at the virtual time it would have written it;
in video mode (`sim/video.py`) real H.264 minutes go through each station's whole pipeline. Then the
real Indexer → Syncer → Correlator → Syncer → EventBroker → Solver chain runs, and the report compares
what the bucket holds at the end with the truth.

Faults (design.md §8; scenarios in `sim/faults.py`): `SimOptions.faults` puts a `FaultProxy` between
every station and the store; `kill_station` cancels a station's actors without `on_stop` (a crash:
nothing released); `restart_station` starts a new `Station` process on the same data root (after a
graceful stop or a crash); `skew_s` skews wall clocks. Every claim a station takes is logged on its way
to the Solver (`claim_log`), and `check_invariants` checks the claim protocol's promises at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import tempfile
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ams_actors.config import StationConfig, parse_config
from ams_actors.kernels import geo
from ams_actors.runtime.clock import Clock, VirtualClock
from ams_actors.runtime.files import atomic_write_json
from ams_actors.runtime.pool import make_pool
from ams_actors.sim.detections import meteor_docs_for_station
from ams_actors.sim.iam_keys import RestrictedKeys, make_station_keys, sim_key_env
from ams_actors.sim.world import SimMeteor, SimStation, World, make_meteors, make_stations
from ams_actors.station import Station
from ams_actors.store.objectstore import Credentials
from ams_actors.store.proxy import FaultConfig, FaultProxy
from protocols import claims as c
from protocols.messages import EventClaimed, MeteorVerified
from protocols.pipeline_files import parse_clip_name

NIGHT_START = datetime(2026, 7, 12, 22, 0, tzinfo=UTC)
BUCKET = "ams-sim"


@dataclass(frozen=True, slots=True)
class SimOptions:
    stations: int = 3
    cameras: int = 2
    minutes: float = 30.0
    mode: str = "video"  # "video" | "network"
    meteors: int | None = None  # default: about one per 2 virtual minutes per station pair
    rate: float = 60.0  # virtual seconds per real second
    seed: int = 1
    workdir: Path | None = None
    center_lat: float = 51.5
    center_lon: float = 0.0
    spacing_km: float = 70.0
    drain_minutes: float = 20.0  # after the night: time for sync, correlation and solving to finish
    lease_s: float = 60.0
    skew_s: tuple[float, ...] = ()  # per-station wall-clock skew (s), for clock-skew faults
    noise_arcsec: float = 60.0
    mc_runs: int = 10
    #: route every station's store traffic through a FaultProxy with this (initial) config; the
    #: simulator itself (bucket creation, `read_bucket`) always talks to the store directly
    faults: FaultConfig | None = None
    fault_seed: int = 0
    store_timeout_s: float = 10.0  # the stations' S3 read timeout (real seconds): short for timeout faults
    #: the stations' schedules (virtual s); shorter ones make a small test night converge sooner
    sync_interval_s: float = 60.0
    correlate_interval_s: float = 120.0
    index_interval_s: float = 120.0
    #: every station on its own IAM user with the generated least-privilege policies (issue 17); the
    #: embedded S3 then authenticates and authorises every request
    restricted_keys: bool = False


@dataclass(slots=True)
class SimReport:
    stations: list[dict[str, Any]] = field(default_factory=list)
    virtual_s: float = 0.0
    wall_s: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)


def station_config(
    st: SimStation, root: Path, endpoint: str, partners: list[str], roles: list[str], lease_s: float,
    mc_runs: int = 10, timeout_s: float = 10.0, schedule: tuple[float, float, float] = (60.0, 120.0, 120.0),
    key_env: tuple[str, str] = ("AMS_S3_ACCESS_KEY_ID", "AMS_S3_SECRET_ACCESS_KEY"),
) -> StationConfig:
    """One fake station's config; `schedule` is (sync, correlate, index) interval in virtual seconds;
    `key_env` names the environment variables its S3 key pair is read from."""
    sync_s, correlate_s, index_s = schedule
    cams = "\n".join(
        f'[[cameras]]\nid = "{cam.id}"\naz_deg = {cam.az_deg}\nel_deg = {cam.el_deg}\n'
        f"fov_h_deg = {cam.fov_h_deg}\nrotation_deg = {cam.rotation_deg}\n"
        for cam in st.cameras
    )
    text = f"""
[station]
id = "{st.id}"
lat = {st.lat}
lon = {st.lon}
alt_m = {st.alt_m}
data_root = "{root / st.id}"
{cams}
[store]
endpoint = "{endpoint}"
bucket = "{BUCKET}"
timeout_s = {timeout_s}
access_key_env = "{key_env[0]}"
secret_key_env = "{key_env[1]}"
[network]
partners = [{", ".join(f'"{p}"' for p in partners)}]
roles = [{", ".join(f'"{r}"' for r in roles)}]
[schedule]
scan_interval_s = 20.0
clip_settle_s = 30.0
sync_interval_s = {sync_s}
correlate_interval_s = {correlate_s}
index_interval_s = {index_s}
[claims]
lease_s = {lease_s}
skew_margin_s = {lease_s / 4}
renew_margin_s = {lease_s / 10}
[solver]
mc_runs = {mc_runs}
[runtime]
workers = 2
max_restarts = 20
"""
    return parse_config(text, source=f"sim:{st.id}.toml")


@dataclass(slots=True)
class Truth:
    """Which station meteors each true meteor became (filled while injecting or rendering)."""

    seen_by: dict[str, dict[str, str]] = field(default_factory=dict)  # truth key -> station -> meteor id

    def expected_events(self, counts: Callable[[str, str], bool] | None = None) -> list[str]:
        """Truth keys seen by >= 2 stations; `counts(station, meteor_id)` drops observations that could
        never reach the network (a killed station's meteors that were not uploaded before it died)."""
        return [k for k, st in self.seen_by.items()
                if sum(1 for s, m in st.items() if counts is None or counts(s, m)) >= 2]


@dataclass(frozen=True, slots=True)
class ClaimTaken:
    """One EventClaimed seen on its way to a Solver: station `station` (process `token`) believes it
    holds `epoch` of `event_id` from virtual time `at_s` on. Two of these with one (event, epoch) and
    different tokens would be a double claim."""

    station: str
    token: str
    event_id: str
    epoch: int
    at_s: float


class SimNetwork:
    """The stations, their clock and the truth of one simulated night."""

    def __init__(self, opts: SimOptions, endpoint: str, root: Path, pool: Executor | None = None) -> None:
        """`pool`: a process pool to share (tests running several nights); by default the network makes
        one and shuts it down in `stop()`."""
        self.opts = opts
        self.endpoint = endpoint
        self.root = root
        self.rng = np.random.default_rng(opts.seed)
        stations = make_stations(opts.stations, opts.cameras, opts.center_lat, opts.center_lon, opts.spacing_km,
                                 self.rng)
        radius_km = max(60.0, opts.spacing_km * math.sqrt(max(1, opts.stations)) * 0.45)
        n_meteors = opts.meteors if opts.meteors is not None else max(4, int(opts.minutes / 2))
        meteors = make_meteors(n_meteors, NIGHT_START, opts.minutes, opts.center_lat, opts.center_lon, radius_km,
                               self.rng)
        self.world = World(NIGHT_START, opts.minutes, stations, meteors)
        self.clock = VirtualClock(start=NIGHT_START, rate=opts.rate)
        self.truth = Truth()
        self._own_pool = pool is None
        self.pool: Executor = pool if pool is not None else make_pool(2)
        self._pool_warm = not self._own_pool
        #: the fault-injecting proxy between the stations and the store (None: they talk to it directly)
        self.proxy: FaultProxy | None = None
        station_endpoint = endpoint
        if opts.faults is not None:
            self.proxy = FaultProxy(endpoint, opts.faults, seed=opts.fault_seed).start()
            station_endpoint = self.proxy.url
        ids = [s.id for s in stations]
        self.configs: list[StationConfig] = []
        self.station_clocks: list[Clock] = []
        self.stations: list[Station] = []
        self.retired: list[Station] = []  # killed or replaced Station objects (their claim logs still count)
        self.dead: set[str] = set()  # stations killed and not restarted: nothing is delivered to them
        self.claim_log: list[ClaimTaken] = []
        self._lifecycle = asyncio.Lock()  # a restart and a delivery to that station never interleave
        self.injected_at_s: float | None = None  # virtual s from the start until the injector was done
        self.keys: RestrictedKeys | None = None  # per-station IAM users (opts.restricted_keys)
        for i, st in enumerate(stations):
            roles = ["station", "correlator", "publisher"] if i == 0 else ["station"]
            key_env = sim_key_env(i) if opts.restricted_keys else ("AMS_S3_ACCESS_KEY_ID", "AMS_S3_SECRET_ACCESS_KEY")
            cfg = station_config(st, root, station_endpoint, [p for p in ids if p != st.id], roles, opts.lease_s,
                                 opts.mc_runs, opts.store_timeout_s,
                                 (opts.sync_interval_s, opts.correlate_interval_s, opts.index_interval_s), key_env)
            skew = opts.skew_s[i] if i < len(opts.skew_s) else 0.0
            clock: Clock = self.clock.skewed(skew) if skew else self.clock
            self.configs.append(cfg)
            self.station_clocks.append(clock)
            self.stations.append(self._new_station(i))

    def _new_station(self, i: int) -> Station:
        """A Station for slot `i`, with its Solver's inbox watched so every claim taken is logged."""
        station = Station(self.configs[i], clock=self.station_clocks[i], executor=self.pool, admin_socket=False)
        solver = station.actors["Solver"]
        broker = station.actors["EventBroker"]
        token = broker.me.token  # type: ignore[attr-defined]
        tell = solver.tell

        async def watched_tell(msg: Any) -> None:
            if isinstance(msg, EventClaimed):
                self.claim_log.append(ClaimTaken(station.config.station_id, token, msg.event_id, msg.epoch,
                                                 self.clock.monotonic()))
            await tell(msg)

        solver.tell = watched_tell  # type: ignore[method-assign]
        return station

    def index_of(self, station: str | int) -> int:
        if isinstance(station, int):
            return station
        return next(i for i, s in enumerate(self.stations) if s.config.station_id == station)

    # -- faults ----------------------------------------------------------------------------------
    async def kill_station(self, station: str | int) -> Station:
        """A crash: every actor task cancelled at once, nothing released or flushed (no `on_stop`).

        The Station object stays in `stations` (slots match `world.stations`) but receives nothing
        more until `restart_station`; its claims can only expire.
        """
        async with self._lifecycle:
            st = self.stations[self.index_of(station)]
            await st.supervisor.cancel_all()
            self.dead.add(st.config.station_id)
            return st

    async def restart_station(self, station: str | int, crash: bool = False) -> Station:
        """Stop a station (gracefully: it releases its claims; or `crash`: killed, nothing released) and
        start a new `Station` process on the same data root, config and clock, as systemd would."""
        async with self._lifecycle:
            i = self.index_of(station)
            old = self.stations[i]
            if crash or old.config.station_id in self.dead:
                await old.supervisor.cancel_all()
            # stop() on a killed station only closes its store client and ledger: no actor runs on_stop
            await old.stop()
            self.retired.append(old)
            new = self._new_station(i)
            await new.start()
            self.stations[i] = new
            self.dead.discard(new.config.station_id)
            return new

    def access_denied(self) -> int:
        """Refusals by the store's access policy the stations met (each key and permission counted once)."""
        return sum(len(s.ctx.store.denied) for s in [*self.retired, *self.stations] if s.ctx.store is not None)

    def alive(self) -> list[Station]:
        return [s for s in self.stations if s.config.station_id not in self.dead]

    # -- running ---------------------------------------------------------------------------------
    def admin_credentials(self) -> Credentials:
        """The harness's own key (bucket creation, reading the bucket for the report): every S3 action."""
        if self.keys is not None:
            return Credentials(self.keys.admin.access_key_id, self.keys.admin.secret_access_key)
        return Credentials.from_env("AMS_S3_ACCESS_KEY_ID", "AMS_S3_SECRET_ACCESS_KEY")

    async def start(self) -> None:
        from ams_actors.store.objectstore import ObjectStore

        if self.opts.restricted_keys:
            self.keys = await asyncio.to_thread(make_station_keys, self.endpoint, BUCKET, self.configs)
        async with ObjectStore.open(self.endpoint, BUCKET, credentials=self.admin_credentials()) as store:
            await store.ensure_bucket()
        if self.keys is not None:
            await asyncio.to_thread(self.keys.enforce)
        # Virtual time stands still while the stations start: the solver's imports and astropy's IERS
        # table take seconds of CPU (in every Solver's on_start), and at 60x those seconds would be
        # minutes of night in which leases run out and sync rounds are missed for no simulated reason.
        rate = self.clock.rate
        self.clock.set_rate(0.0)
        try:
            await asyncio.to_thread(_warm_up_solver)
            if not self._pool_warm:  # start the pool's workers and their imports now, too
                loop = asyncio.get_running_loop()
                await asyncio.gather(*(loop.run_in_executor(self.pool, _warm_up_worker) for _ in range(4)))
                self._pool_warm = True
            await asyncio.gather(*(s.start() for s in self.stations))
            for _ in range(50):  # let every actor run its on_start (warm_up is cached by now)
                await asyncio.sleep(0.01)
        finally:
            self.clock.set_rate(rate)

    async def stop(self) -> None:
        await asyncio.gather(*(s.stop() for s in self.stations), return_exceptions=True)
        if self.keys is not None:
            await asyncio.to_thread(self.keys.close)
            self.keys = None
        if self._own_pool:
            self.pool.shutdown(wait=True, cancel_futures=True)
        if self.proxy is not None:
            self.proxy.stop()

    async def inject_network_mode(self) -> None:
        """Hand each station its verified meteors 30 s (virtual) after each meteor, like its Verifier."""
        for sm in self.world.meteors:
            wait = (sm.meteor.epoch - self.clock.now()).total_seconds() + 30.0
            if wait > 0:
                await self.clock.sleep(wait)
            for i, sim_st in enumerate(self.world.stations):
                cfg = self.configs[i]
                docs = meteor_docs_for_station(sm.meteor, cfg.station_id, sim_st.lat, sim_st.lon, sim_st.alt_m,
                                               cfg.cameras, self.rng, noise_arcsec=self.opts.noise_arcsec)
                if not docs:
                    continue
                async with self._lifecycle:
                    if cfg.station_id in self.dead:  # a dead station's Verifier writes nothing
                        continue
                    for doc in docs:
                        await self.deliver(self.stations[i], doc)
                # the station keeps its longest view, as the correlator will
                best = max(docs, key=lambda d: len(d["frames"]))
                self.truth.seen_by.setdefault(sm.key, {})[cfg.station_id] = best["meteor_id"]

    @staticmethod
    async def deliver(station: Station, doc: dict[str, Any]) -> None:
        day = parse_clip_name(doc["sd_clip"]).day
        path = station.paths.archive_meteor(day, doc["meteor_id"])
        atomic_write_json(path, doc)
        await station.publish(MeteorVerified(station.config.station_id, doc["camera"], doc["meteor_id"], day, path))

    async def run(
        self, inject: Callable[[], Awaitable[None]], progress: Callable[[float], None] | None = None
    ) -> float:
        """Run the night, then drain until every expected event is solved; returns virtual seconds.

        The drain (sync, correlation, claims, solving) starts when the injector is done — in video
        mode that is when every station has worked through its minutes, which on a slow machine can
        be long after the night's end — and lasts at most `drain_minutes` after that.
        """
        t0 = self.clock.monotonic()
        night = self.opts.minutes * 60.0
        drain = self.opts.drain_minutes * 60.0
        hard_cap = 4 * (night + drain) + 3600.0
        injector: asyncio.Future[None] = asyncio.ensure_future(inject())
        done_at: float | None = None
        try:
            while (elapsed := self.clock.monotonic() - t0) < hard_cap:
                if injector.done() and done_at is None:
                    done_at = max(elapsed, night)
                    self.injected_at_s = elapsed
                if progress is not None:
                    progress(min(1.0, elapsed / (night + drain)) if done_at is None else
                             min(1.0, max(elapsed / (night + drain), (elapsed - done_at) / drain)))
                if done_at is not None and elapsed >= night:
                    if await self.all_solved() or elapsed >= done_at + drain:
                        break
                await self.clock.sleep(30.0)
                for st in self.stations:
                    if st.supervisor.failed.is_set():
                        raise RuntimeError(f"station {st.config.station_id} failed: {st.supervisor.failure}")
            if injector.done() and injector.exception() is not None:
                raise injector.exception()  # type: ignore[misc]
        finally:
            injector.cancel()
        if progress is not None:
            progress(1.0)
        return self.clock.monotonic() - t0

    def expected_events(self, bucket: dict[str, Any]) -> list[str]:
        """Truth keys that should have become a solved event, given which stations died on the way."""
        present: set[tuple[str, str]] = bucket.get("meteors", set())
        return self.truth.expected_events(lambda s, m: s not in self.dead or (s, m) in present)

    async def all_solved(self) -> bool:
        bucket = await self.read_bucket()
        expected = self.expected_events(bucket)
        if not expected:
            return True
        found = self.match_events(bucket)
        return all(
            key in found and bucket["claims"].get(found[key], (None,))[0] == c.ClaimState.SOLVED for key in expected
        )

    # -- reading the outcome ---------------------------------------------------------------------
    async def read_bucket(self) -> dict[str, Any]:
        """Events (members), claims and solutions as the bucket holds them now."""
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
        return {"events": events, "claims": claims, "solutions": solutions, "accepted": accepted, "meteors": meteors,
                "solution_docs": docs}

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
        dir_err, v_err, begin_err = [], [], []
        for key in solved:
            sol = bucket["accepted"][found[key]]
            d, v, b = solution_errors(sol, truth_by_key[key])
            dir_err.append(d)
            v_err.append(v)
            begin_err.append(b)
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
            "dir_err_deg_median": med(dir_err),
            "v_init_rel_err_median": med(v_err),
            "begin_dist_m_median": med(begin_err),
            "max_epoch": max((v[1] for v in bucket["claims"].values()), default=0),
            "claims_taken": len(self.claim_log),
            "dead_stations": sorted(self.dead),
            "invariant_violations": self.check_invariants(bucket),
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


def _warm_up_solver() -> None:
    import ams_actors.kernels.trajectory  # noqa: F401  (seconds of imports, once per process)
    from ams_actors.kernels.trajectory.epoch import warm_up

    warm_up()


def _warm_up_worker() -> None:
    import time

    import ams_actors.network.correlation
    import ams_actors.network.index_files
    import ams_actors.network.sync  # noqa: F401

    time.sleep(0.2)  # hold this worker so the next job starts another


def solution_errors(sol: dict[str, Any], truth: SimMeteor) -> tuple[float, float, float]:
    """(direction error deg, |v_init| relative error, begin point's distance from the true line m).

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
    return dir_err, float(v_err), begin_err


async def run_sim(opts: SimOptions, endpoint: str, progress: Callable[[float], None] | None = None) -> SimReport:
    loop = asyncio.get_running_loop()
    t_wall = loop.time()
    with contextlib.ExitStack() as cleanup:
        if opts.workdir is None:
            tmp = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="ams-sim-"))
        else:  # kept afterwards: the operator asked for a place to look at the stations' files
            opts.workdir.mkdir(parents=True, exist_ok=True)
            tmp = tempfile.mkdtemp(prefix="ams-sim-", dir=opts.workdir)
        net = SimNetwork(opts, endpoint, Path(tmp))
        await net.start()
        try:
            if opts.mode == "video":
                from ams_actors.sim.video import VideoFeeder

                feeder = VideoFeeder(net)
                inject: Callable[[], Awaitable[None]] = feeder.run
            else:
                inject = net.inject_network_mode
            virtual_s = await net.run(inject, progress)
            bucket = await net.read_bucket()
            figures = net.report(bucket)
            figures["access_denied"] = net.access_denied()
            if opts.mode == "video":
                figures.update(feeder.figures())
            statuses = [s.status() for s in net.stations]
        finally:
            await net.stop()
    report = SimReport(stations=statuses, virtual_s=virtual_s, figures=figures)
    report.wall_s = loop.time() - t_wall
    report.figures["wall_s"] = round(report.wall_s, 1)
    if net.injected_at_s is not None:  # in video mode: when every station had worked through its minutes
        report.figures["pipeline_done_virtual_s"] = round(net.injected_at_s, 1)
    if opts.workdir is not None:
        report.figures["workdir"] = tmp
    return report

