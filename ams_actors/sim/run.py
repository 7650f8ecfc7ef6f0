"""`ams sim`'s whole night: a work folder, the network, the injector of the chosen mode, the report."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ams_actors.sim.network import SimNetwork, SimOptions


@dataclass(slots=True)
class SimReport:
    stations: list[dict[str, Any]] = field(default_factory=list)
    virtual_s: float = 0.0
    wall_s: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)


async def run_sim(opts: SimOptions, endpoint: str, progress: Callable[[float], None] | None = None) -> SimReport:
    loop = asyncio.get_running_loop()
    t_wall = loop.time()
    with contextlib.ExitStack() as cleanup:
        if opts.keep is not None:
            opts.keep.mkdir(parents=True, exist_ok=True)
            tmp = str(opts.keep)
        elif opts.workdir is None:
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
        finally:
            await net.stop()
        bucket = await net.read_bucket()  # after stop: nothing writes while it is read
        if opts.keep is not None:
            from ams_actors.sim.keep import keep_night

            await keep_night(net, opts.keep)
        if opts.mode == "video":  # the truth as the stations' files say now, also when the night ran out of time
            feeder.update_truth()
        figures = net.report(bucket)
        figures["access_denied"] = net.access_denied()
        if opts.mode == "video":
            figures.update(feeder.figures())
        statuses = [s.status() for s in net.stations]
    report = SimReport(stations=statuses, virtual_s=virtual_s, figures=figures)
    report.wall_s = loop.time() - t_wall
    report.figures["wall_s"] = round(report.wall_s, 1)
    if net.injected_at_s is not None:  # in video mode: when every station had worked through its minutes
        report.figures["pipeline_done_virtual_s"] = round(net.injected_at_s, 1)
    if opts.workdir is not None:
        report.figures["workdir"] = tmp
    return report
