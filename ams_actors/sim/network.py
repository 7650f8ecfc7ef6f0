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

This module builds the network and runs its night; the world it simulates is `sim/world.py`, the
stations' configs `sim/stations.py`, the report and invariants `sim/grading.py` (the `NightGrading`
half of `SimNetwork`), and `ams sim`'s whole night `sim/run.py`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ams_actors.config import StationConfig
from ams_actors.runtime.clock import Clock, VirtualClock
from ams_actors.runtime.files import atomic_write_json
from ams_actors.runtime.pool import make_pool
from ams_actors.sim.detections import meteor_docs_for_station
from ams_actors.sim.grading import NightGrading, Truth
from ams_actors.sim.iam_keys import RestrictedKeys, make_station_keys, sim_key_env
from ams_actors.sim.selfcal import rough_stations
from ams_actors.sim.stations import BUCKET, ClaimTaken, station_config
from ams_actors.sim.world import NIGHT_START, World, make_meteors, make_stations
from ams_actors.station import Station
from ams_actors.store.objectstore import Credentials
from ams_actors.store.proxy import FaultConfig, FaultProxy
from protocols.messages import EventClaimed, MeteorVerified
from protocols.pipeline_files import parse_clip_name


@dataclass(frozen=True, slots=True)
class SimOptions:
    stations: int = 3
    cameras: int = 2
    minutes: float = 30.0
    mode: str = "video"  # "video" | "network"
    meteors: int | None = None  # default: about one per 2 virtual minutes per station pair
    rate: float = 60.0  # virtual seconds per real second
    #: real seconds of a stall of the whole process (stations, S3 server and all) that still count
    #: as virtual time; beyond that the night waits (see VirtualClock): at 60x a loaded machine's 1.5 s
    #: hiccup would otherwise run out every lease at once while no station could renew
    max_stall_s: float = 0.25
    seed: int = 1
    workdir: Path | None = None
    keep: Path | None = None  # `ams sim --keep DIR`: the stations' data roots go to DIR/<STATION> and stay
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
    #: "physical" (sim/ablation.py) or "exponential" (the lag the solver also fits)
    deceleration: str = "physical"
    #: video mode: hand each camera its true model instead of a rough pointing and a star fit of its
    #: own first minute (`ams sim --true-calibration`, the old shortcut, for comparison)
    true_calibration: bool = False




class SimNetwork(NightGrading):
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
                               self.rng, physical=opts.deceleration == "physical")
        self.world = World(NIGHT_START, opts.minutes, stations, meteors)
        self.clock = VirtualClock(start=NIGHT_START, rate=opts.rate, max_stall_s=opts.max_stall_s)
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
        self.config_args: list[dict[str, Any]] = []
        self.station_clocks: list[Clock] = []
        self.stations: list[Station] = []
        self.retired: list[Station] = []  # killed or replaced Station objects (their claim logs still count)
        self.dead: set[str] = set()  # stations killed and not restarted: nothing is delivered to them
        self.claim_log: list[ClaimTaken] = []
        self._lifecycle = asyncio.Lock()  # a restart and a delivery to that station never interleave
        self.injected_at_s: float | None = None  # virtual s from the start until the injector was done
        self.keys: RestrictedKeys | None = None  # per-station IAM users (opts.restricted_keys)
        # in video mode the operators typed a rough pointing; the stations fit the truth from the stars
        typed = rough_stations(stations, opts.seed) if opts.mode == "video" and not opts.true_calibration else stations
        for i, st in enumerate(typed):
            roles = ["station", "correlator", "publisher"] if i == 0 else ["station"]
            args: dict[str, Any] = dict(
                st=st, root=root, partners=[p for p in ids if p != st.id], roles=roles, lease_s=opts.lease_s,
                mc_runs=opts.mc_runs, timeout_s=opts.store_timeout_s,
                schedule=(opts.sync_interval_s, opts.correlate_interval_s, opts.index_interval_s),
                key_env=sim_key_env(i) if opts.restricted_keys else ("AMS_S3_ACCESS_KEY_ID",
                                                                     "AMS_S3_SECRET_ACCESS_KEY"))
            self.config_args.append(args)  # `ams sim --keep` writes each station's station.toml from them
            cfg = station_config(endpoint=station_endpoint, **args)
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


def _warm_up_solver() -> None:
    import ams_actors.kernels.trajectory  # noqa: F401  (seconds of imports, once per process)
    from ams_actors.kernels.trajectory.epoch import warm_up

    warm_up()


def _warm_up_worker() -> None:
    import time

    import ams_actors.netsync.correlation
    import ams_actors.netsync.sync
    import ams_actors.store.index_files  # noqa: F401

    time.sleep(0.2)  # hold this worker so the next job starts another

