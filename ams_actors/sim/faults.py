"""Fault scenarios for the simulated network (design.md §8: "a station killed mid-solve, S3 errors and
delays through a proxy, clock skew").

Each scenario is a coroutine that runs beside the injector of `SimNetwork.run` and returns what it
did, so a test can check the protocol's promises against it afterwards (`SimNetwork.check_invariants`)
and a report can say which faults were really exercised. Nothing here changes how a station works:
a kill is the supervisor cancelling every actor task (no `on_stop`, nothing released), S3 faults are
injected on the wire by `store.proxy.FaultProxy`, a restart is a new `Station` on the same data root.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ams_actors.sim.network import SimNetwork
from ams_actors.station import Station
from ams_actors.store.proxy import FaultProxy


@dataclass(frozen=True, slots=True)
class HolderHit:
    """A station hit (killed or crash-restarted) while it held a claim its Solver had not finished."""

    station: str
    event_id: str
    epoch: int
    at_s: float  # the network's virtual monotonic time of the hit


def holding(station: Station) -> list[tuple[str, int]]:
    """(event id, epoch) of the claims this station's EventBroker holds and has handed to its Solver."""
    broker: Any = station.actors["EventBroker"]
    return [(t.event_id, t.held.record.epoch) for t in broker.events.values()
            if t.held is not None and t.status == "solving"]


async def hit_a_holder(
    net: SimNetwork,
    candidates: Sequence[int],
    action: Callable[[int], Awaitable[Station]],
    poll_s: float = 2.0,
    within_s: float = 3600.0,
) -> HolderHit:
    """Pause the candidates' Solvers, wait until one of them holds a claim, then `action` it (kill or
    restart); the other candidates' Solvers resume. Pausing makes "mid-solve" certain: with a fast
    solver the window between claim and publish would be a few milliseconds. Raises when no candidate
    held a claim within `within_s` virtual seconds (the scenario could not happen: say why)."""
    for i in candidates:
        net.stations[i].actors["Solver"].pause()
    deadline = net.clock.monotonic() + within_s
    try:
        while True:
            if net.clock.monotonic() > deadline:
                ids = [net.stations[i].config.station_id for i in candidates]
                seen = {e for st in net.stations for e in st.actors["EventBroker"].events}  # type: ignore[attr-defined]
                story = {e: net.claim_story(e) for e in sorted(seen)}
                raise RuntimeError(f"none of {ids} held a claim within {within_s:.0f} s; events: {story}")
            for i in candidates:
                held = holding(net.stations[i])
                if held:
                    event_id, epoch = held[0]
                    hit = HolderHit(net.stations[i].config.station_id, event_id, epoch, net.clock.monotonic())
                    await action(i)
                    return hit
            await net.clock.sleep(poll_s)
    finally:
        for i in candidates:
            net.stations[i].actors["Solver"].resume()


@dataclass(frozen=True, slots=True)
class S3Phase:
    """One period of `s3_chaos`: the FaultConfig fields set for `seconds` of virtual time, and longer
    (up to `max_seconds`) until the proxy really injected `min_faults` faults: on a busy machine few
    requests fall into a short virtual period, and a phase that injected nothing tested nothing."""

    name: str
    seconds: float
    faults: dict[str, Any]
    min_faults: int = 1
    max_seconds: float = 900.0


#: The default rotation: every answer the claim protocol must survive, one after the other.
S3_PHASES: tuple[S3Phase, ...] = (
    S3Phase("http-500", 40.0, {"error_rate": 0.15, "error_status": 500}),
    S3Phase("claim-409", 40.0, {"error_rate": 0.5, "error_status": 409, "methods": frozenset({"PUT"}),
                                "path_regex": r"/claim\.json$"}, min_faults=0),  # claim writes come late
    S3Phase("put-answer-lost", 40.0, {"lose_rate": 0.25, "methods": frozenset({"PUT"})}),
    S3Phase("http-503", 40.0, {"error_rate": 0.15, "error_status": 503}),
    S3Phase("event-put-timeouts", 40.0, {"delay_s": 2.0, "delay_count": 4, "methods": frozenset({"PUT"}),
                                         "path_regex": r"^/[^/]+/events/"}),
)


@dataclass(slots=True)
class ChaosLog:
    phases_run: list[str] = field(default_factory=list)


async def s3_chaos(net: SimNetwork, until_s: float, phases: Sequence[S3Phase] = S3_PHASES) -> ChaosLog:
    """Rotate the proxy through `phases` until virtual time `until_s` (network monotonic), then leave
    it transparent so the drain shows the network converging after the storm."""
    proxy = net.proxy
    if proxy is None:
        raise RuntimeError("s3_chaos needs SimOptions.faults (the stations must talk through the proxy)")
    log = ChaosLog()
    try:
        k = 0
        while net.clock.monotonic() < until_s:
            phase = phases[k % len(phases)]
            proxy.clear()
            proxy.update(**phase.faults)
            log.phases_run.append(phase.name)
            started, before = net.clock.monotonic(), injected(proxy)
            await net.clock.sleep(min(phase.seconds, max(0.0, until_s - started)))
            while (injected(proxy) - before < phase.min_faults
                   and net.clock.monotonic() - started < phase.max_seconds):
                await net.clock.sleep(5.0)
            k += 1
    finally:
        proxy.clear()
    return log


def injected(proxy: FaultProxy) -> int:
    """Faults of any kind the proxy has injected so far."""
    st = proxy.stats
    return st.errors_injected + st.responses_lost + st.delays_injected


async def alongside(*jobs: Awaitable[Any]) -> list[Any]:
    """Run the injector and fault scenarios together (the `inject` of `SimNetwork.run`)."""
    return list(await asyncio.gather(*jobs))
