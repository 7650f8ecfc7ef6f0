"""`ams correlate --rms DIR [--json] [--solve --out OUT [--mc N]]`: RMS (GMN) data to events, clocks
and a trajectory catalogue.

Why it exists: real multi-station data to check the correlator against (GMN UK, whose WMPL
trajectories are known), and one command for a scientist from RMS detections to a catalogue. Every
FTPdetectinfo below DIR is imported into meteor-index entries (the same entries our stations
publish), and the same kernel as the network Correlator groups them; event ids follow the network
rules (protocols.events). Stations: see commands.rms_input.

Two passes, because a station whose clock is seconds off misses the 5 s window: first a wide window
(``--clock-window``) gives candidate events, whose nominal solves measure each station's clock error
(kernels.clocks: the confident events only); then the normal window with those errors taken off
decides the events. Every station's clock error is reported. With ``--solve`` each event is written
as an Observation set and solved (commands.catalog).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ams_actors.commands.rms_input import RmsStation, entry_from_rms, load_stations, observation_from_rms

if TYPE_CHECKING:
    from ams_actors.kernels.clocks import ClockEstimate
    from protocols.events import Event
    from protocols.ftpdetectinfo import RmsMeteor
    from protocols.meteor_index import MeteorIndexEntry
    from protocols.observations import ObservationSet


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rms", metavar="DIR", type=Path, required=True,
                        help="directory with RMS FTPdetectinfo files (searched recursively)")
    parser.add_argument("--json", action="store_true", help="print the events (and clocks) as JSON")
    parser.add_argument("--time-tolerance", type=float, default=5.0, metavar="S",
                        help="max time difference of two observations of one meteor (default 5 s)")
    parser.add_argument("--clock-window", type=float, default=30.0, metavar="S",
                        help="time window of the first pass that measures the stations' clocks (default 30 s; "
                             "0: no clock pass)")
    parser.add_argument("--solve", action="store_true", help="solve every event (needs --out)")
    parser.add_argument("--out", metavar="OUT", type=Path,
                        help="with --solve: per-event obs.json/solution.json/plots and the trajectory summary")
    parser.add_argument("--mc", type=int, default=0, metavar="N", help="Monte Carlo runs per solve (default 0)")
    parser.add_argument("--workers", type=int, default=2, metavar="N", help="solver processes (default 2)")
    parser.add_argument("--no-plots", action="store_true", help="with --solve: no PNGs (faster)")
    parser.add_argument("--progress", action="store_true", help="show the progress bar even when not on a tty")


@dataclass(frozen=True, slots=True)
class Detections:
    """What DIR holds: entries (one per detection, in file order) and the RMS records behind them."""

    files: int
    entries: tuple[MeteorIndexEntry, ...]
    meteors: dict[tuple[str, str], RmsMeteor]
    sources: dict[tuple[str, str], dict[str, str]]
    skipped: int


def read_detections(root: Path, stations: dict[str, RmsStation]) -> Detections:
    """Every FTPdetectinfo below ``root``; a station with no coordinates is an error naming it."""
    from protocols.errors import InputError
    from protocols.ftpdetectinfo import find_ftpdetectinfo, read_ftpdetectinfo

    files = find_ftpdetectinfo(root)
    if not files:
        raise InputError(str(root), None, "no FTPdetectinfo_*.txt below it")
    entries: list[MeteorIndexEntry] = []
    meteors: dict[tuple[str, str], RmsMeteor] = {}
    sources: dict[tuple[str, str], dict[str, str]] = {}
    n_skipped = 0
    for path in files:
        found, problems = read_ftpdetectinfo(path)
        for p in problems:
            print(f"ams correlate: warning: {p}", file=sys.stderr)
        for k, m in enumerate(found):
            if m.station_id not in stations:
                raise InputError(str(path), f"station {m.station_id}",
                                 "no coordinates: not in a stations.json below DIR and no platepar of it "
                                 "(add {\"" + m.station_id + "\": {\"lat\": .., \"lon\": .., \"elev\": ..}})")
            try:
                e = entry_from_rms(m, f"{path}: meteor {k + 1}")
            except InputError as err:
                n_skipped += 1
                print(f"ams correlate: warning: {err}; skipped", file=sys.stderr)
                continue
            key = (e.station_id, e.meteor_id)
            if key in meteors:
                continue  # the same FTPdetectinfo copied twice under DIR
            entries.append(e)
            meteors[key] = m
            sources[key] = {"ff_name": m.ff_name, "file": str(path)}
    return Detections(len(files), tuple(entries), meteors, sources, n_skipped)


def correlate_events(det: Detections, stations: dict[str, RmsStation], tolerance_s: float,
                     clock_errors: dict[str, float]) -> list[Event]:
    """The Correlator's own call over one daily index per station, each station's clock error taken off."""
    from ams_actors.kernels.correlate import CorrelationParams, correlate_indexes
    from protocols.meteor_index import MeteorIndex, SiteInfo

    indexes = []
    for sid in sorted({e.station_id for e in det.entries}):
        shift = timedelta(milliseconds=round(1000 * clock_errors.get(sid, 0.0)))
        mine = tuple(replace(e, start_utc=e.start_utc - shift) if shift else e
                     for e in det.entries if e.station_id == sid)
        site = stations[sid]
        day = min(e.start_utc for e in mine).strftime("%Y_%m_%d")
        indexes.append(MeteorIndex(sid, day, SiteInfo(site.lat, site.lon, site.alt_m, 0.0), mine))
    run_ = correlate_indexes(indexes, (), CorrelationParams(time_tolerance_s=tolerance_s))
    return sorted(run_.updates.new, key=lambda ev: (ev.start_utc, ev.event_id))


def observation_sets(events: list[Event], det: Detections, stations: dict[str, RmsStation],
                     clock_errors: dict[str, float]) -> list[ObservationSet]:
    from protocols.observations import ObservationSet

    return [
        ObservationSet(ev.event_id, tuple(sorted(
            (observation_from_rms(det.meteors[m.key], stations[m.key[0]], clock_errors.get(m.key[0], 0.0))
             for m in ev.members), key=lambda o: (o.station_id, o.camera_id))))
        for ev in events
    ]


def measure_clocks(det: Detections, stations: dict[str, RmsStation], window_s: float) -> dict[str, ClockEstimate]:
    """The first pass: wide-window events of 3+ stations, solved nominally, to each station's clock error."""
    from ams_actors.commands.catalog import solve_sets_inline
    from ams_actors.kernels.clocks import MIN_STATIONS, estimate_clock_errors
    from ams_actors.kernels.trajectory.epoch import warm_up

    events = [ev for ev in correlate_events(det, stations, window_s, {}) if len(ev.stations) >= MIN_STATIONS]
    if not events:
        return {}
    warm_up()
    return estimate_clock_errors(solve_sets_inline(observation_sets(events, det, stations, {})))


def _event_doc(ev: Event, det: Detections, clock_errors: dict[str, float]) -> dict[str, Any]:
    from protocols.meteor_index import format_utc_ms

    by_key = {(e.station_id, e.meteor_id): e for e in det.entries}
    observations = []
    for mem in ev.members:
        e = by_key[mem.key]
        observations.append({
            "station_id": e.station_id, "camera_id": e.camera_id, "meteor_id": e.meteor_id,
            "start_utc": format_utc_ms(mem.start_utc), "duration_s": round(e.duration_s, 3),  # clock corrected
            "clock_error_s": clock_errors.get(e.station_id, 0.0),
            "begin": {"az": e.begin.az, "el": e.begin.el}, "end": {"az": e.end.az, "el": e.end.el},
            "peak_mag": e.peak_mag, **det.sources[mem.key],
        })
    return {"event_id": ev.event_id, "start_utc": format_utc_ms(ev.start_utc), "stations": list(ev.stations),
            "observations": observations}


def run(args: argparse.Namespace) -> int:
    from protocols.errors import InputError

    root: Path = args.rms
    if not root.exists():
        raise InputError(str(root), None, "no such file or directory")
    if args.solve and args.out is None:
        raise InputError("--solve", None, "needs --out OUT (where the catalogue is written)")
    if args.mc < 0 or args.workers < 1:
        raise InputError("--mc/--workers", None, "--mc must be >= 0 and --workers >= 1")
    stations = load_stations(root if root.is_dir() else root.parent)
    det = read_detections(root, stations)
    for sid in sorted({e.station_id for e in det.entries}):
        if stations[sid].geoid_m is None:
            print(f"ams correlate: warning: no geoid height for {sid} (its position is not a number): "
                  "its sea-level elevation is used as height above the ellipsoid", file=sys.stderr)
    clocks = measure_clocks(det, stations, args.clock_window) if args.clock_window > 0 else {}
    errors = {sid: c.error_s for sid, c in clocks.items()}
    events = correlate_events(det, stations, args.time_tolerance, errors)
    docs = [_event_doc(ev, det, errors) for ev in events]
    clock_doc = {sid: ({"error_s": c.error_s, "n_events": c.n_events, "spread_s": c.spread_s} if (c := clocks.get(sid))
                       else None) for sid in sorted({e.station_id for e in det.entries})}
    catalog = _solve(args, observation_sets(events, det, stations, errors)) if args.solve else None
    if args.json:
        out: dict[str, Any] = {"events": docs, "clocks": clock_doc}
        if catalog is not None:
            out["catalog"] = catalog
        json.dump(out, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    _print_report(det, docs, clock_doc, catalog)
    return 0


def _solve(args: argparse.Namespace, sets: list[ObservationSet]) -> dict[str, Any]:
    import time

    from ams_actors.commands.catalog import Progress, catalog_report, write_catalog
    from ams_actors.runtime.pool import make_pool

    t0 = time.perf_counter()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    progress = Progress(len(sets), "solving", enabled=True if args.progress else None)
    pool = make_pool(min(args.workers, max(1, len(sets))))
    try:
        solutions = write_catalog(out, sets, pool, args.mc, progress, plots=not args.no_plots)
    finally:
        pool.shutdown()
    return catalog_report(solutions, out, time.perf_counter() - t0)


def _print_report(det: Detections, docs: list[dict[str, Any]], clocks: dict[str, Any],
                  catalog: dict[str, Any] | None) -> None:
    n_stations = len({e.station_id for e in det.entries})
    print(f"{det.files} FTPdetectinfo file(s), {len(det.entries)} meteors from {n_stations} station(s)"
          f"{f', {det.skipped} skipped' if det.skipped else ''}")
    print(f"{len(docs)} multi-station event(s) ({sum(len(d['stations']) for d in docs)} observations)")
    print("station clocks (ahead of the network, median over confident events):")
    for sid, c in clocks.items():
        shown = "unknown (in no confident event)" if c is None else (
            f"{c['error_s']:+.2f} s  ({c['n_events']} event(s), spread {c['spread_s']:.2f} s)")
        print(f"    {sid:<8} {shown}")
    if catalog is not None:
        print(f"catalogue: {catalog['solved']} solved ({catalog['poor']} flagged poor), {catalog['failed']} failed "
              f"in {catalog['runtime_s']:.1f} s -> {catalog['summary']}, {catalog['csv']}")
    for doc in docs:
        print(f"\n{doc['event_id']}  {doc['start_utc']}  {len(doc['stations'])} stations: {' '.join(doc['stations'])}")
        for o in doc["observations"]:
            print(
                f"    {o['station_id']:<8} {o['start_utc']}  {o['duration_s']:6.2f} s  "
                f"az/el {o['begin']['az']:6.1f}/{o['begin']['el']:5.1f} -> {o['end']['az']:6.1f}/"
                f"{o['end']['el']:5.1f}  {o['ff_name']}"
            )
