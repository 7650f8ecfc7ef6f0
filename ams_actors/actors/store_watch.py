"""StoreWatch: probes the store again, so claims do not stay off after a boot without network.

The start-up probe (store/probe.py) decides whether this station may claim events. A station that
boots while the network is down gets no answer, and before this actor it kept claims disabled until
someone restarted it: its events waited for partners, or for ever on a single station. Now:
- while claims are disabled: probe every ``REPROBE_DISABLED_S`` of the station clock, and at once
  when the store answers again after failing (the Syncer's next upload, a partner file read...);
- while enabled: probe daily (design.md §6), because the store or a proxy in front of it can change.

A probe that gets no answer (kind "error") changes nothing: an enabled station keeps its claims (a
network blip is not a store that cheats; the claim protocol handles lost answers) and probes again
after ``REPROBE_DISABLED_S``. Only a store that answers wrongly ("unsupported") disables claims.
"""

from __future__ import annotations

from ams_actors.actors.base import StationActor, StationContext
from ams_actors.runtime.actor import Publish
from ams_actors.store.probe import ProbeResult, probe

REPROBE_DISABLED_S = 600.0  # while claims are off
REPROBE_ENABLED_S = 86_400.0  # daily while they are on
WATCH_TICK_S = 10.0  # how soon "the store answers again" is noticed


class StoreWatch(StationActor):
    def __init__(self, name: str, ctx: StationContext, publish: Publish | None = None) -> None:
        super().__init__(name, ctx, publish)
        self.tick_interval_s = WATCH_TICK_S
        self._next_probe: float | None = None
        self._seen_recoveries = 0
        self.probes = 0  # probes run by this actor (the start-up one is the Station's)

    async def on_start(self) -> None:
        if self._next_probe is None:
            self._schedule(ok_or_kept=self.ctx.claims_enabled)
        store = self.ctx.store
        self._seen_recoveries = store.recoveries if store is not None else 0

    async def on_tick(self) -> None:
        store = self.ctx.store
        if store is None or self.ctx.config.network.solo:
            return
        came_back = store.recoveries != self._seen_recoveries
        self._seen_recoveries = store.recoveries
        assert self._next_probe is not None
        if came_back and not self.ctx.claims_enabled:
            await self.reprobe("the store answers again")
        elif self.clock.monotonic() >= self._next_probe:
            await self.reprobe("claims enabled: daily probe" if self.ctx.claims_enabled else "claims disabled")

    async def reprobe(self, why: str) -> ProbeResult:
        """Probe now; enable claims on a pass, disable them only on a wrong answer."""
        store = self.ctx.store
        result = await probe(store, self.ctx.config.station_id)
        self.probes += 1
        self._seen_recoveries = store.recoveries  # the probe's own requests are not news
        was = self.ctx.claims_enabled
        if result.kind != "error":
            self.ctx.claims_enabled = result.ok
        if result.kind != "error" or not was:
            self.ctx.probe_message = result.message
        if self.ctx.claims_enabled != was:
            (self.log.warning if was else self.log.info)("store probe (%s): %s", why, result.message)
        else:
            self.log.debug("store probe (%s): %s", why, result.message)
        self._schedule(ok_or_kept=self.ctx.claims_enabled and result.kind != "error")
        return result

    def _schedule(self, ok_or_kept: bool) -> None:
        wait = REPROBE_ENABLED_S if ok_or_kept else REPROBE_DISABLED_S
        self._next_probe = self.clock.monotonic() + wait
