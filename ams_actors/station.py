"""The Station: builds its actors from the config, wires their messages, supervises them, serves admin.

Start order is downstream first (the Solver is listening before anything can produce an event), stop
order is the reverse (Scanners stop taking clips first, then each stage drains what reached it), so a
SIGTERM never strands work in the middle of the pipeline: what did not finish is redone from disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from concurrent.futures import Executor
from typing import Any

from ams_actors.actors.base import StationActor, StationContext
from ams_actors.actors.calibration_check import CalibrationCheck
from ams_actors.actors.correlator import Correlator
from ams_actors.actors.detector import Detector
from ams_actors.actors.disk_guard import DiskGuard
from ams_actors.actors.event_broker import EventBroker
from ams_actors.actors.housekeeper import Housekeeper
from ams_actors.actors.indexer import Indexer
from ams_actors.actors.instance_keeper import InstanceKeeper, StationIdInUse
from ams_actors.actors.publisher import Publisher
from ams_actors.actors.scanner import Scanner
from ams_actors.actors.solver import Solver
from ams_actors.actors.store_watch import StoreWatch
from ams_actors.actors.syncer import Syncer
from ams_actors.actors.verifier import Verifier
from ams_actors.config import StationConfig
from ams_actors.runtime.actor import Actor
from ams_actors.runtime.admin import AdminError, AdminServer
from ams_actors.runtime.clock import Clock, RealClock
from ams_actors.runtime.pool import make_pool
from ams_actors.runtime.sdnotify import ALIVE, Notifier, keep_alive
from ams_actors.runtime.supervisor import RestartPolicy, Supervisor
from ams_actors.store.local_paths import StationPaths
from ams_actors.web.server import WebServer
from ams_actors.web.view import StationView
from protocols import messages as m

log = logging.getLogger("ams.station")

# Which actor consumes which fact. Several consumers may share a message type.
ROUTES: dict[type, tuple[str, ...]] = {
    m.ClipScanned: ("Detector",),
    m.ClipClassified: ("Verifier",),
    m.MeteorVerified: ("Indexer",),
    m.IndexUpdated: ("Syncer",),
    m.EventsChanged: ("EventBroker",),
    m.EventClaimed: ("Solver",),
    m.EventSolved: ("EventBroker",),
    m.ClaimLost: ("Solver",),
}


# What each one-shot verb (the old cron jobs) starts: the owners of its task and the local stages
# downstream of them that must take what those hand on, so the verb exits with every inbox empty.
# What a stage publishes to an actor that is not started is not lost: the files on disk say what is
# pending, and the next verb (or the daemon) picks it up (`rvd` finds vals without a classification).
# None of them talks to the bucket, so a one-shot verb neither opens nor probes the store.
ONE_SHOT_ACTORS: dict[str, tuple[str, ...]] = {
    "bs": ("Scanner",),
    "rvd": ("Detector",),
    "rvms": ("Verifier", "Indexer"),  # a verified meteor goes into its day's index
    "fix_days": ("Housekeeper", "Detector", "Verifier", "Indexer"),  # redone minutes go all the way
    "proc_index": ("Housekeeper",),
    "bmpi": ("Verifier",),  # previews of the meteors on disk; their upload is `ams sa` or the daemon's Syncer
}
# Actors that use the shared bucket: the store is opened (and probed) only when one of them runs.
STORE_ACTORS = ("Solver", "EventBroker", "Correlator", "Publisher", "Syncer", "CalibrationCheck")


def embedded_store(config: StationConfig) -> contextlib.AbstractAsyncContextManager[str]:
    """`[store] endpoint = "embedded"`: this machine's moto S3 (its URL), served here unless another
    station already serves it (store/embedded/local.py)."""
    from ams_actors.store.embedded.local import embedded_endpoint

    cfg = config.store
    return embedded_endpoint(cfg.embedded_port, cfg.bucket, cfg.region, cfg.embedded_dir or None,
                             (cfg.access_key_env, cfg.secret_key_env))


class Station:
    def __init__(
        self,
        config: StationConfig,
        clock: Clock | None = None,
        executor: Executor | None = None,
        store: Any = None,
        admin_socket: bool = True,
        only: tuple[str, ...] | None = None,
        notifier: Notifier | None = None,
        web: bool | None = None,
    ) -> None:
        """``only``: start just these actors ("Scanner" = every camera's), for a one-shot verb
        (see ONE_SHOT_ACTORS); None starts the whole station. ``web``: serve the page ([web]); None:
        as the config says, for a daemon (with its admin socket) only — in-process stations of the
        simulator and tests would all want the same port."""
        self.config = config
        self.clock = clock or RealClock()
        self.paths = StationPaths(config.data_root, config.station_id)
        self._own_executor = executor is None
        self._executor = executor
        self.ctx = StationContext(config=config, clock=self.clock, paths=self.paths, executor=executor, store=store)
        self.supervisor = Supervisor(
            self.clock,
            RestartPolicy(
                max_restarts=config.runtime.max_restarts,
                window_s=config.runtime.restart_window_s,
                backoff_initial_s=config.runtime.backoff_initial_s,
                backoff_max_s=config.runtime.backoff_max_s,
            ),
        )
        self.ctx.one_shot = only is not None
        # DiskGuard always watches the disk; the InstanceKeeper holds the station id in the bucket, so
        # it runs exactly when something that writes there runs (a one-shot verb touches no bucket).
        wanted = None if only is None else {*only, "DiskGuard"}
        built = [a for a in self._build_actors() if wanted is None or a.name.split("-")[0] in wanted]
        self.uses_store = any(a.name in STORE_ACTORS for a in built)
        self.actors: dict[str, StationActor] = {
            a.name: a for a in built if a.name != "InstanceKeeper" or self.uses_store
        }
        self.admin = AdminServer(self.paths.admin_socket, self._admin_handlers()) if admin_socket else None
        if web is None:
            web = config.web.enabled and admin_socket and only is None
        self.web = WebServer(StationView(self.ctx, self.status, lambda: self.actors, self.reindex)) if web else None
        self._exits = contextlib.AsyncExitStack()
        self.notifier = notifier or Notifier({})  # only `ams run` tells systemd
        self._keep_alive: asyncio.Task[None] | None = None
        self._stop_requested = asyncio.Event()
        self.exit_code = 0
        self._started_mono: float | None = None
        self.running = False

    # -- construction ----------------------------------------------------------------------------
    def _build_actors(self) -> list[StationActor]:
        """Actors in start order (downstream first)."""
        ctx, pub = self.ctx, self.publish
        actors: list[StationActor] = [Solver("Solver", ctx, pub), EventBroker("EventBroker", ctx, pub),
                                      StoreWatch("StoreWatch", ctx, pub)]
        if "correlator" in self.config.network.roles:
            actors.append(Correlator("Correlator", ctx, pub))
        if "publisher" in self.config.network.roles:
            actors.append(Publisher("Publisher", ctx, pub))
        actors.append(CalibrationCheck("CalibrationCheck", ctx, pub))
        actors += [
            Syncer("Syncer", ctx, pub),
            Indexer("Indexer", ctx, pub),
            Housekeeper("Housekeeper", ctx, pub),
            Verifier("Verifier", ctx, pub),
            Detector("Detector", ctx, pub),
        ]
        actors += [Scanner(f"Scanner-{cam.id}", ctx, pub) for cam in self.config.cameras]
        guard = DiskGuard("DiskGuard", ctx, pub, intake=self._scanners)
        self.supervisor.on_disk_full = guard.disk_full
        self.keeper = InstanceKeeper("InstanceKeeper", ctx, pub, on_lost=self._instance_lost)
        # first to start, last to stop: they watch the disk and hold the station id for the others
        return [guard, self.keeper, *actors]

    def _scanners(self) -> list[Actor]:
        return [a for a in self.actors.values() if isinstance(a, Scanner)]

    @property
    def probe_message(self) -> str:
        """The store's state in one line (the last probe, by the Station at start or by StoreWatch)."""
        return self.ctx.probe_message

    @probe_message.setter
    def probe_message(self, text: str) -> None:
        self.ctx.probe_message = text

    async def publish(self, msg: Any) -> None:
        """Deliver a fact to every actor that consumes it (waiting while an inbox is full)."""
        for name in ROUTES.get(type(msg), ()):
            actor = self.actors.get(name)
            if actor is not None and not actor.stopping:
                await actor.tell(msg)

    # -- lifecycle -------------------------------------------------------------------------------
    async def open_store(self) -> None:
        """Open the shared bucket and probe it; offline is not fatal (local processing goes on).

        Claims are enabled only when the probe proves the store honours conditional writes; a store
        that ignores them would let two stations solve one event, so then nothing is claimed.
        """
        from ams_actors.store.objectstore import Credentials, ObjectStore, Timeouts
        from ams_actors.store.outcomes import StoreError
        from ams_actors.store.probe import probe

        cfg = self.config.store
        if self.ctx.store is None:
            try:
                endpoint = cfg.endpoint or None
                if endpoint == "embedded":
                    endpoint = await self._exits.enter_async_context(embedded_store(self.config))
                creds = Credentials.from_env(cfg.access_key_env, cfg.secret_key_env)
                self.ctx.store = await self._exits.enter_async_context(
                    ObjectStore.open(
                        endpoint,
                        cfg.bucket,
                        cfg.region,
                        credentials=creds,
                        timeouts=Timeouts(read=cfg.timeout_s, attempt=cfg.timeout_s * 1.5),
                        max_pool_connections=cfg.max_concurrency * 2,
                    )
                )
            except StoreError as err:
                self.probe_message = f"store unavailable, running offline (no sync, no claims): {err}"
                log.error("%s", self.probe_message)
                return
        if self.config.network.solo:
            self.probe_message = "solo mode: events are solved without claims"
            log.warning("%s", self.probe_message)
            return
        result = await probe(self.ctx.store, self.config.station_id)
        self.ctx.claims_enabled = result.ok
        self.probe_message = result.message
        (log.info if result.ok else log.error)("store probe: %s", result.message)

    async def start(self) -> None:
        self.paths.ensure()
        await asyncio.to_thread(self._warn_camera_setup)
        if self.ctx.ledger is None:
            from ams_actors.store.ledger import Ledger

            self.ctx.ledger = Ledger(self.paths.ledger)
        if self.uses_store:
            await self.open_store()
            try:
                await self._acquire_instance()
            except StationIdInUse:
                await self._close_resources()
                raise
        if self._executor is None:
            self._executor = make_pool(self.config.runtime.worker_count())
            self.ctx.executor = self._executor
        for actor in self.actors.values():
            self.supervisor.start(actor)
        if self.admin is not None:
            await self.admin.start()
        await self._start_web()
        self._started_mono = self.clock.monotonic()
        self.running = True
        log.info("station %s started: %s", self.config.station_id, ", ".join(self.actors))
        self.notifier.send("READY=1", f"STATUS={self.status_line()}")
        if self.notifier.enabled:
            self._keep_alive = asyncio.create_task(
                keep_alive(self.notifier, self.clock, self._actor_states, self.status_line), name="sd-notify"
            )

    def _warn_camera_setup(self) -> None:
        """What an operator must fix but the station can run without: one warning per camera."""
        from pathlib import Path

        from ams_actors.actors.calibrations import Calibrations

        for cam_id, folder in Calibrations(self.config).uncalibrated():
            log.warning("camera %s has no calibration in %s: using the uncalibrated model (equidistant) from its "
                        "az/el/fov in the config until `ams calibrate` fits one", cam_id, folder)
        for cam in self.config.cameras:
            if cam.mask and not Path(cam.mask).is_file():
                log.warning("camera %s: mask file %s is missing: its minutes are scanned without a mask",
                            cam.id, cam.mask)

    async def _start_web(self) -> None:
        """The page is a window on the station, not part of it: a port in use is logged, not fatal."""
        if self.web is None:
            return
        try:
            url = await self.web.start()
        except OSError as err:
            log.error("web page not started: cannot listen on %s:%d: %s ([web] in %s)", self.config.web.bind,
                      self.config.web.port, err.strerror or err, self.config.source)
            await self.web.stop()
            self.web = None
            return
        log.info("web page: %s", url)

    async def reindex(self, day: str) -> None:
        """Rebuild a day's index now (after a review moved an archive file); the Indexer's IndexUpdated
        then reaches the Syncer. Without a running Indexer the ledger's mark does it at the next start."""
        indexer = self.actors.get("Indexer")
        if indexer is None or indexer.stopping:
            return
        fut: asyncio.Future[m.TaskResult] = asyncio.get_running_loop().create_future()
        await indexer.tell(m.RunTask(task="proc_index", day=day, reply=fut))
        await fut

    async def _acquire_instance(self) -> None:
        """Hold the station id before any work; watching another instance gives way to a stop request."""
        acquire = asyncio.ensure_future(self.keeper.acquire())
        stop = asyncio.ensure_future(self._stop_requested.wait())
        try:
            await asyncio.wait({acquire, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not acquire.done():
                acquire.cancel()
                await asyncio.wait({acquire})
        if not acquire.cancelled():
            acquire.result()

    def request_stop(self, reason: str = "") -> None:
        if reason and not self._stop_requested.is_set():
            log.info("%s: stopping (intake stops, work in hand drains)", reason)
        self._stop_requested.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested.is_set()

    async def wait(self) -> int:
        """Run until a stop is requested (exit 0) or an actor passes its restart limit (exit 1)."""
        stop = asyncio.ensure_future(self._stop_requested.wait())
        failed = asyncio.ensure_future(self.supervisor.failed.wait())
        try:
            await asyncio.wait({stop, failed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            failed.cancel()
        code = 1 if self.supervisor.failed.is_set() else self.exit_code
        await self.stop()
        return code

    async def stop(self, drain_timeout_s: float = 30.0) -> None:
        """Stop intake producer-first; each actor finishes its message in hand, then `on_stop`."""
        if not self.running:
            return
        self.running = False
        self.notifier.send("STOPPING=1", "STATUS=stopping: draining work in hand")
        if self._keep_alive is not None:
            self._keep_alive.cancel()
            await asyncio.wait({self._keep_alive})
            self._keep_alive = None
        for actor in reversed(list(self.actors.values())):
            actor.request_stop()
            try:
                await asyncio.wait_for(self.supervisor.wait_stopped(actor), drain_timeout_s)
            except TimeoutError:
                log.warning("actor %s did not stop within %.0f s; cancelling", actor.name, drain_timeout_s)
        await self.supervisor.cancel_all()
        if self.web is not None:
            await self.web.stop()
        if self.admin is not None:
            await self.admin.stop()
        if self._own_executor and self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        await self._close_resources()
        log.info("station %s stopped", self.config.station_id)

    async def _close_resources(self) -> None:
        await self._exits.aclose()
        if self.ctx.ledger is not None:
            self.ctx.ledger.close()
            self.ctx.ledger = None

    def _instance_lost(self, reason: str) -> None:
        """Another machine runs this station id: stop with exit 2 (systemd does not restart it)."""
        log.critical("%s — stopping the station", reason)
        self.exit_code = 2
        self.request_stop()

    # -- tasks -----------------------------------------------------------------------------------
    def owners(self, task: str) -> list[StationActor]:
        if task not in m.TASKS:
            raise AdminError(f"unknown task {task!r}; known tasks: {', '.join(m.TASKS)}")
        owners = [a for a in self.actors.values() if task in a.tasks]
        if not owners:
            raise AdminError(f"no actor on this station runs {task!r} (is the role enabled?)")
        return owners

    async def run_task(self, task: str, day: str | None = None) -> list[m.TaskResult]:
        """Queue `task` at each owning actor and wait for all of them to finish it."""
        loop = asyncio.get_running_loop()
        replies = []
        for actor in self.owners(task):
            fut: asyncio.Future[m.TaskResult] = loop.create_future()
            await actor.tell(m.RunTask(task=task, day=day, reply=fut))
            replies.append(fut)
        return list(await asyncio.gather(*replies))

    async def settle(self) -> None:
        """Wait until every actor has handled everything in its inbox, including what arrives from
        upstream meanwhile (a one-shot verb calls this before `stop`, which leaves inboxes as they are).
        Returns early when an actor has passed its restart limit: its inbox would never empty."""
        failed = asyncio.ensure_future(self.supervisor.failed.wait())
        try:
            while not failed.done():
                order = list(reversed(self.actors.values()))  # producers first
                for actor in order:
                    joined = asyncio.ensure_future(actor.inbox.join())
                    await asyncio.wait({joined, failed}, return_when=asyncio.FIRST_COMPLETED)
                    joined.cancel()
                    if failed.done():
                        return
                if all(a.inbox.empty() for a in order):
                    return
        finally:
            failed.cancel()

    # -- status ----------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        up = 0.0 if self._started_mono is None else self.clock.monotonic() - self._started_mono
        return {
            "station": self.config.station_id,
            "uptime_s": round(up, 1),
            "now_utc": self.clock.now().isoformat(timespec="seconds"),
            "roles": list(self.config.network.roles),
            "store": self.probe_message,
            "claims": "enabled" if self.ctx.claims_enabled else "disabled",
            "web": self.web.url if self.web is not None and self.web.url else "off",
            "actors": [a.stats().as_dict() for a in self.actors.values()],
            "clock_error": self._clock_error(),
        }

    def _clock_error(self) -> dict[str, Any] | None:
        """The station's clock error as its Solver measured it (None: no confident event solved yet)."""
        solver = self.actors.get("Solver")
        report = getattr(solver, "clock_error", None)
        return report() if callable(report) else None

    def status_line(self) -> str:
        """One line for `systemctl status`: what runs, whether claims work, how much was done."""
        alive = sum(a.state in ALIVE for a in self.actors.values())
        done = sum(a.processed for a in self.actors.values())
        claims = "claims enabled" if self.ctx.claims_enabled else "claims disabled"
        return f"{alive}/{len(self.actors)} actors alive, {claims}, {done} messages processed"

    def _actor_states(self) -> list[tuple[str, str]]:
        return [(a.name, str(a.state)) for a in self.actors.values()]

    def actor(self, name: str) -> Actor:
        found = self.actors.get(name) or next(
            (a for a in self.actors.values() if a.name.lower() == name.lower()), None
        )
        if found is None:
            raise AdminError(f"no actor {name!r}; actors: {', '.join(self.actors)}")
        return found

    def _admin_handlers(self) -> dict[str, Any]:
        async def status(req: dict[str, Any]) -> Any:
            return self.status()

        async def pause(req: dict[str, Any]) -> Any:
            return [self._set_paused(a, True) for a in self._actors_named(req.get("actor"))]

        async def resume(req: dict[str, Any]) -> Any:
            return [self._set_paused(a, False) for a in self._actors_named(req.get("actor"))]

        async def run(req: dict[str, Any]) -> Any:
            results = await self.run_task(str(req.get("task", "")), req.get("day"))
            return [_result_dict(r) for r in results]

        async def reprocess(req: dict[str, Any]) -> Any:
            day = req.get("day")
            if not isinstance(day, str):
                raise AdminError("reprocess needs a day (YYYY_MM_DD)")
            results = []
            for task in ("fix_days", "proc_index"):
                results += await self.run_task(task, day)
            return [_result_dict(r) for r in results]

        async def claims(req: dict[str, Any]) -> Any:
            broker = self.actors.get("EventBroker")
            describe = getattr(broker, "claims_report", None)
            return describe() if describe else {"held": [], "seen": []}

        async def shutdown(req: dict[str, Any]) -> Any:
            asyncio.get_running_loop().call_soon(self.request_stop)
            return "stopping"

        return {
            "status": status,
            "pause": pause,
            "resume": resume,
            "run": run,
            "reprocess": reprocess,
            "claims": claims,
            "shutdown": shutdown,
        }

    def _actors_named(self, name: Any) -> Iterable[Actor]:
        if not isinstance(name, str) or not name:
            raise AdminError("name an actor (see `ams admin status`)")
        if name.lower() == "scanner":  # all cameras at once
            return [a for a in self.actors.values() if a.name.startswith("Scanner-")]
        return [self.actor(name)]

    @staticmethod
    def _set_paused(actor: Actor, paused: bool) -> str:
        if paused:
            actor.pause()
        else:
            actor.resume()
        return f"{actor.name}: {actor.state}"


def _result_dict(r: m.TaskResult) -> dict[str, Any]:
    return {"task": r.task, "actor": r.actor, "done": r.done, "failed": r.failed, "detail": r.detail}
