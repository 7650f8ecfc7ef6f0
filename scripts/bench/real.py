"""Two-station solves against all-station solves on real GMN data, without any reference (issue 13 item 5).

Every RMS FTPdetectinfo below DIR is correlated (the network Correlator's kernel, as ``ams correlate
--rms`` does); each event seen by ≥ 3 stations is solved with all its stations and again with every
pair of them. The all-station solve is the yardstick: a pair's radiant (geocentric, degrees of arc)
and v_init (percent) are compared with it; ``v_same_point_pct`` compares the pair's v_init with the
all-station speed at the pair's own first point (a pair may have missed the start of the meteor).
Printed before and after the robust v_init (the "before" figures use the speed model's own
extrapolated v at the first point, as the solver did until issue 13; they come from the same fits,
so the comparison is of the estimator only).

    python3 scripts/bench/real.py [DIR]   (default ../shared/data/gmn-uk-2023-02-18)

Station coordinates come from DIR/stations.json (``lat_deg``/``lon_deg``/``elev_m``; the elevation
above sea level is used as is: tens of metres do not matter to a pair-vs-all comparison). The last
line printed is ``BENCH {json}``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ams_actors.commands.correlate import entry_from_rms
from ams_actors.kernels.correlate import CorrelationParams, Site, correlate_indexes
from ams_actors.kernels.geo import angle_between_deg
from ams_actors.kernels.trajectory import solve_observation_set_detailed
from ams_actors.kernels.trajectory.quantities import QUANTITIES, quantities
from ams_actors.kernels.trajectory.solver import SolveResult
from protocols.ftpdetectinfo import RmsMeteor, find_ftpdetectinfo, read_ftpdetectinfo
from protocols.meteor_index import MeteorIndex, SiteInfo
from protocols.observations import ObservationSet, parse_observation_set

DEFAULT = Path(__file__).resolve().parents[3] / "shared" / "data" / "gmn-uk-2023-02-18"
RA, DEC = QUANTITIES.index("radiant.ra_deg"), QUANTITIES.index("radiant.dec_deg")


def load_events(root: Path) -> tuple[list[list[RmsMeteor]], dict[str, Site]]:
    """Correlated events (each a list of RMS detections) and the station sites."""
    raw = json.loads((root / "stations.json").read_text())
    sites = {sid: Site(float(v["lat_deg"]), float(v["lon_deg"]), float(v["elev_m"])) for sid, v in raw.items()}
    meteors: dict[tuple[str, str], RmsMeteor] = {}
    entries = []
    for path in find_ftpdetectinfo(root):
        for m in read_ftpdetectinfo(path)[0]:
            if m.station_id not in sites or len(m.frames) < 3:
                continue
            e = entry_from_rms(m, str(path))
            if (e.station_id, e.meteor_id) not in meteors:
                meteors[(e.station_id, e.meteor_id)] = m
                entries.append(e)
    indexes = []
    for sid in sorted({e.station_id for e in entries}):
        mine = tuple(e for e in entries if e.station_id == sid)
        s = sites[sid]
        day = min(e.start_utc for e in mine).strftime("%Y_%m_%d")
        indexes.append(MeteorIndex(sid, day, SiteInfo(s.lat, s.lon, s.alt_m, s.clock_sigma_s), mine))
    run = correlate_indexes(indexes, (), CorrelationParams())
    return [[meteors[mem.key] for mem in ev.members] for ev in run.updates.new], sites


def observation_set(event_id: str, members: list[RmsMeteor], sites: dict[str, Site]) -> ObservationSet:
    obs = []
    for m in members:
        times = m.times_utc
        s = sites[m.station_id]
        obs.append({
            "station_id": m.station_id, "camera_id": m.cam_code or "1", "lat": s.lat, "lon": s.lon, "alt_m": s.alt_m,
            "t_ref_utc": times[0].isoformat().replace("+00:00", "Z"),
            "times": [(t - times[0]).total_seconds() for t in times],
            "azimuths": [f.azim_deg for f in m.frames], "elevations": [f.elev_deg for f in m.frames],
        })
    return parse_observation_set({"event_id": event_id, "observations": obs})


def estimates(result: SolveResult) -> dict[str, tuple[float, float, float, float]] | None:
    """{"before"|"after": (ra, dec, v_init, begin time in s since 1970)}: the published numbers and the
    model-extrapolated ones."""
    fit, ctx = result.fit, result.context
    if fit is None or ctx is None:
        return None
    tau_b = float(np.min(fit.tau[fit.inlier]))
    v_model = float(fit.timing.velocity(np.array([tau_b]))[0])
    t_begin = fit.tracks.epoch.timestamp() + fit.t_begin
    out = {}
    for key, f in (("after", fit), ("before", replace(fit, v_init=v_model))):
        q = quantities(f, ctx)
        out[key] = (float(q[RA]), float(q[DEC]), f.v_init, t_begin)
    return out


def speed_at(result: SolveResult, t_abs: float, v_init: float) -> float:
    """The all-station solve's speed where a pair's track begins: its v_init plus its own model's
    speed change from its first point to that time (a pair that saw only the end of a decelerating
    meteor rightly starts slower)."""
    fit = result.fit
    assert fit is not None
    tau_b = float(np.min(fit.tau[fit.inlier]))
    dt = max(t_abs - (fit.tracks.epoch.timestamp() + fit.t_begin), 0.0)
    change = fit.timing.velocity(np.array([tau_b + dt]))[0] - fit.timing.velocity(np.array([tau_b]))[0]
    return v_init + float(change)


def _radec_angle(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    def unit(ra: float, dec: float) -> np.ndarray:
        r, d = np.radians(ra), np.radians(dec)
        return np.array([np.cos(d) * np.cos(r), np.cos(d) * np.sin(r), np.sin(d)])

    return float(angle_between_deg(unit(a[0], a[1]), unit(b[0], b[1])))


def _stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "p90": None}
    return {"median": float(np.median(values)), "p90": float(np.percentile(values, 90))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--min-stations", type=int, default=3)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    events, sites = load_events(args.dir)
    diffs: dict[str, dict[str, list[float]]] = {
        k: {"radiant_deg": [], "v_init_pct": [], "v_same_point_pct": []} for k in ("before", "after")
    }
    n_events = n_pairs = n_pair_failed = 0
    for k, members in enumerate(events):
        stations = sorted({m.station_id for m in members})
        if len(stations) < args.min_stations:
            continue
        full_result = solve_observation_set_detailed(observation_set(f"ev{k:03d}", members, sites))
        full = estimates(full_result)
        if full is None:
            continue
        n_events += 1
        for a, b in itertools.combinations(stations, 2):
            pair = [m for m in members if m.station_id in (a, b)]
            got = estimates(solve_observation_set_detailed(observation_set(f"ev{k:03d}_{a}_{b}", pair, sites)))
            n_pairs += 1
            if got is None:
                n_pair_failed += 1
                continue
            for key in ("before", "after"):
                diffs[key]["radiant_deg"].append(_radec_angle(got[key], full[key]))
                diffs[key]["v_init_pct"].append(100.0 * abs(got[key][2] - full[key][2]) / full[key][2])
                v_there = speed_at(full_result, got[key][3], full[key][2])
                diffs[key]["v_same_point_pct"].append(100.0 * abs(got[key][2] - v_there) / v_there)
    report: dict[str, Any] = {
        "data": args.dir.name, "events_ge3": n_events, "pairs": n_pairs, "pairs_failed": n_pair_failed,
        **{key: {q: _stats(v) for q, v in d.items()} for key, d in diffs.items()},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print("BENCH " + json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
