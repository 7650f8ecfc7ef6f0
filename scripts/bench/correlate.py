"""Benchmark: correlate a synthetic network night (100 stations × ~500 meteors each) and score it.

Why synthetic: only a simulation knows which observations really are one meteor, so recall and
precision of the events can be measured; and only a simulation reaches the network size the
correlator must handle (50 000 observations a night) on a machine without the network.

The world: 100 stations scattered over a ~1340 × 1360 km region (50°N 5°E ± 6° × ± 9.5°); true
meteors with 3D trajectories (begin 80–120 km, end 60–95 km, 11–72 km/s, entry 15–80°) at uniform
times through a 10 h night, over the region plus a margin; peak absolute magnitude from a population
index of 3 (capped at −1) with a light curve, so most meteors are seen by one or two nearby stations
and bright ones by up to ~15 (about 3 observations per meteor, 56% of meteors multi-station). A
station sees the frames (25 fps) above 15° elevation that are brighter than +1.5 after range and
extinction; each of its six 60° azimuth cameras reports its own part (a meteor crossing cameras gives
two observations from one station). Measurements get 0.03° noise plus a 0.02° per-camera bias; clocks
are off by N(0, 0.05 s), and 5% of stations have bad clocks (±2 s, declared clock_sigma 1 s). Each
station also reports 5% non-meteor tracks (random sky tracks) that must not end up in events.
Observations are generated until the network has 100 × 500 of them.

Scoring: an event matches the true meteor most of its stations saw (≥ 2 stations of it); each true
meteor counts once. recall = matched / true meteors seen by ≥ 2 stations; precision = matched / events.
Baseline: the naive all-pairs time-overlap test (n² pairs) on a time-contiguous sample, extrapolated
to the full night, against the sweep (which must find exactly the same pairs).

Run: ``python scripts/bench/correlate.py [--stations 100] [--per-station 500] [--seed 1]``.
The last line is ``BENCH {json}``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

from ams_actors.kernels import geo
from ams_actors.kernels.correlate import CorrelatedEvent, CorrelationParams, Observation, Site, correlate

FPS = 25.0
NIGHT_S = 10 * 3600.0
T0 = 1_783_886_400.0  # 2026-07-12T20:00:00Z


def make_stations(rng: np.random.Generator, n: int) -> tuple[list[str], dict[str, Site], np.ndarray]:
    lat0, lon0 = 50.0, 5.0
    ids, sites = [], {}
    lats = lat0 + rng.uniform(-6.0, 6.0, n)
    lons = lon0 + rng.uniform(-9.5, 9.5, n)
    bad = rng.random(n) < 0.05
    offsets = np.where(bad, rng.uniform(-2.0, 2.0, n), rng.normal(0, 0.05, n))
    for k in range(n):
        sid = f"AMS{k + 1:03d}"
        ids.append(sid)
        sites[sid] = Site(float(lats[k]), float(lons[k]), float(rng.uniform(0, 400)), 1.0 if bad[k] else 0.05)
    return ids, sites, offsets


def simulate(
    n_stations: int, per_station: int, seed: int, noise_deg: float = 0.03
) -> tuple[list[Observation], dict[str, Site], list[int], dict[int, set[str]]]:
    """Observations (shuffled), sites, truth meteor per observation (-1: junk), stations per meteor."""
    rng = np.random.default_rng(seed)
    ids, sites, clock = make_stations(rng, n_stations)
    lat = np.array([sites[s].lat for s in ids])
    lon = np.array([sites[s].lon for s in ids])
    spos = geo.geodetic_to_ecef(lat, lon, np.array([sites[s].alt_m for s in ids]))
    sbasis = geo.enu_basis(lat, lon)
    cam_bias = rng.normal(0, 0.02, (n_stations, 6, 2))
    target = n_stations * per_station
    n_junk_target = int(0.05 * target)
    obs: list[Observation] = []
    truth: list[int] = []
    seen_by: dict[int, set[str]] = defaultdict(set)
    counter: Counter[str] = Counter()
    limit_mag = 1.5
    m_id = 0
    while len(obs) < target - n_junk_target:
        # one true meteor
        t_begin = T0 + rng.uniform(0, NIGHT_S)
        c_lat = 50.0 + rng.uniform(-7.0, 7.0)
        c_lon = 5.0 + rng.uniform(-11.0, 11.0)
        hb = rng.uniform(80, 120)
        he = rng.uniform(60, 95)
        if he > hb - 5:
            he = hb - rng.uniform(5, 20)
        entry = np.radians(rng.uniform(15, 80))
        heading = np.radians(rng.uniform(0, 360))
        v = rng.uniform(11, 72)
        length = (hb - he) / math.sin(entry)
        dur = length / v
        n_fr = max(int(dur * FPS) + 1, 2)
        # trajectory in the local ENU frame of the centre point (begin at the centre, height hb)
        basis = geo.enu_basis(c_lat, c_lon)
        c_ecef = geo.geodetic_to_ecef(c_lat, c_lon, hb * 1000.0)
        dir_enu = np.array([math.cos(entry) * math.sin(heading), math.cos(entry) * math.cos(heading), -math.sin(entry)])
        dir_ecef = dir_enu @ basis
        s = np.linspace(0.0, length, n_fr) * 1000.0
        m_abs = 2.0 - min(rng.exponential(1.0 / math.log(3.0)), 3.0)
        pts = c_ecef + s[:, None] * dir_ecef  # (f, 3)
        t_rel = s / 1000.0 / v
        u = np.linspace(0, 1, n_fr)
        lc = m_abs + 3.0 * (2 * u - 1) ** 2  # brightest mid-way
        # candidate stations: near enough to the middle of the trail to possibly see it
        d_mid = np.linalg.norm(spos - (c_ecef + 0.5 * s[-1] * dir_ecef), axis=1)
        reach = min(700_000.0, 100_000.0 * 10 ** ((limit_mag - m_abs + 1.0) / 5.0) + 0.5 * s[-1])
        cand = np.flatnonzero(d_mid < reach)
        if len(cand) == 0:
            m_id += 1
            continue
        rel = pts[None, :, :] - spos[cand, None, :]  # (c, f, 3)
        rng_km = np.linalg.norm(rel, axis=2) / 1000.0
        enu = np.einsum("cfj,cij->cfi", rel, sbasis[cand])
        az, el = geo.enu_to_azel(enu)
        airmass = 1.0 / np.sin(np.radians(np.maximum(el, 5.0)))
        app = lc[None, :] + 5 * np.log10(rng_km / 100.0) + 0.3 * (airmass - 1.0)  # extinction
        vis = (el > 15.0) & (app < limit_mag)
        for ci, st in enumerate(cand.tolist()):
            fr = np.flatnonzero(vis[ci])
            if len(fr) < 4:
                continue
            cams = (az[ci, fr] // 60).astype(int)
            # contiguous runs of frames on one camera
            breaks = np.flatnonzero((np.diff(fr) != 1) | (np.diff(cams) != 0)) + 1
            for run in np.split(np.arange(len(fr)), breaks):
                if len(run) < 4:
                    continue
                f_idx = fr[run]
                cam = int(cams[run[0]])
                a = az[ci, f_idx] + rng.normal(0, noise_deg, len(f_idx)) + cam_bias[st, cam, 0]
                e = el[ci, f_idx] + rng.normal(0, noise_deg, len(f_idx)) + cam_bias[st, cam, 1]
                tt = t_begin + t_rel[f_idx] + clock[st]
                pick = np.unique(np.round(np.linspace(0, len(f_idx) - 1, min(16, len(f_idx)))).astype(int))
                start = round(float(tt[0]), 3)
                sid = ids[st]
                counter[sid] += 1
                obs.append(
                    Observation(
                        station_id=sid,
                        camera_id=f"0100{cam + 1:02d}",
                        meteor_id=f"{sid}_m{counter[sid]:05d}",
                        start_s=start,
                        duration_s=float(tt[-1] - start),
                        t=tuple(np.maximum(tt[pick] - start, 0.0).tolist()),
                        az=tuple((a[pick] % 360).tolist()),
                        el=tuple(np.clip(e[pick], -90, 90).tolist()),
                    )
                )
                truth.append(m_id)
                seen_by[m_id].add(sid)
        m_id += 1
    # junk: random sky tracks, single station
    for _ in range(target - len(obs)):
        st = int(rng.integers(n_stations))
        sid = ids[st]
        counter[sid] += 1
        a0, e0 = rng.uniform(0, 360), rng.uniform(12, 85)
        ang_v = rng.uniform(1.0, 20.0)
        d = rng.uniform(0.2, 2.0)
        head = rng.uniform(0, 2 * math.pi)
        n = min(16, max(4, int(d * FPS)))
        tt = np.linspace(0, d, n)
        a = (a0 + ang_v * tt * math.sin(head) / max(math.cos(math.radians(e0)), 0.2)) % 360
        e = np.clip(e0 + ang_v * tt * math.cos(head), -89, 89)
        start = round(T0 + rng.uniform(0, NIGHT_S), 3)
        obs.append(
            Observation(
                station_id=sid,
                camera_id=f"0100{int(a[0] // 60) + 1:02d}",
                meteor_id=f"{sid}_m{counter[sid]:05d}",
                start_s=start,
                duration_s=d,
                t=tuple(tt.tolist()),
                az=tuple(a.tolist()),
                el=tuple(e.tolist()),
            )
        )
        truth.append(-1)
    perm = rng.permutation(len(obs))
    return [obs[i] for i in perm], sites, [truth[i] for i in perm], seen_by


def score(
    events: Sequence[CorrelatedEvent], obs: list[Observation], truth: list[int], seen_by: dict[int, set[str]]
) -> dict[str, float]:
    multi = {m for m, s in seen_by.items() if len(s) >= 2}
    claimed: dict[int, tuple[int, int]] = {}
    n_pure = 0
    member_ok = member_all = 0
    for k, ev in enumerate(events):
        tids = [truth[i] for i in ev.members]
        by_truth: dict[int, set[str]] = defaultdict(set)
        for i, t in zip(ev.members, tids, strict=True):
            if t >= 0:
                by_truth[t].add(obs[i].station_id)
        if len(set(tids)) == 1 and tids[0] >= 0:
            n_pure += 1
        if not by_truth:
            continue
        best = max(by_truth, key=lambda t: (len(by_truth[t]), -t))
        member_all += len(tids)
        member_ok += sum(1 for t in tids if t == best)
        if len(by_truth[best]) >= 2:
            prev = claimed.get(best)
            if prev is None or len(by_truth[best]) > prev[1]:
                claimed[best] = (k, len(by_truth[best]))
    matched = len(claimed)
    complete = [n / len(seen_by[t]) for t, (_, n) in claimed.items()]
    return {
        "events": len(events),
        "truth_multi_station": len(multi),
        "matched": matched,
        "recall": matched / max(len(multi), 1),
        "precision": matched / max(len(events), 1),
        "pure_events": n_pure / max(len(events), 1),
        "member_precision": member_ok / max(member_all, 1),
        "station_completeness": float(np.mean(complete)) if complete else 0.0,
    }


def naive_time_pairs(obs: list[Observation], sites: dict[str, Site], tol: float) -> tuple[int, float]:
    """The baseline: test every pair for time overlap (n² work). Returns (pairs, seconds)."""
    t0 = time.perf_counter()
    start = np.array([o.start_s for o in obs])
    end = start + np.array([o.duration_s for o in obs])
    st = np.array([o.station_id for o in obs])
    sig = np.array([sites[o.station_id].clock_sigma_s for o in obs])
    total = 0
    for lo in range(0, len(obs), 1000):
        s, e = start[lo : lo + 1000, None], end[lo : lo + 1000, None]
        tt = tol + 3.0 * np.hypot(sig[lo : lo + 1000, None], sig[None, :])
        over = (start[None, :] <= e + tt) & (s <= end[None, :] + tt) & (st[lo : lo + 1000, None] != st[None, :])
        total += int(over.sum())
    return total // 2, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stations", type=int, default=100)
    ap.add_argument("--per-station", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--baseline-sample", type=int, default=8000)
    ap.add_argument("--noise-deg", type=float, default=0.03, help="per-point measurement noise (1-sigma, deg)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    obs, sites, truth, seen_by = simulate(args.stations, args.per_station, args.seed, args.noise_deg)
    t_gen = time.perf_counter() - t0
    mult = Counter(len(s) for s in seen_by.values())
    n_true = len(seen_by)
    print(
        f"simulated {len(obs)} observations of {n_true} meteors from {len(sites)} stations in {t_gen:.1f} s; "
        f"multi-station meteors {sum(v for k, v in mult.items() if k >= 2)} "
        f"({sum(v for k, v in mult.items() if k >= 2) / n_true:.0%}); junk {truth.count(-1)}"
    )

    params = CorrelationParams()
    t0 = time.perf_counter()
    res = correlate(obs, sites, params)
    t_corr = time.perf_counter() - t0
    sc = score(res.events, obs, truth, seen_by)
    print(f"correlated in {t_corr:.2f} s: {json.dumps({k: round(v, 3) for k, v in res.stats.items()})}")
    print("score: " + json.dumps({k: round(v, 4) for k, v in sc.items()}))

    # baseline on a time-contiguous subsample: naive all-pairs time overlap vs the sweep
    order = sorted(range(len(obs)), key=lambda i: obs[i].start_s)
    sub = [obs[i] for i in order[: args.baseline_sample]]
    naive_pairs, t_naive = naive_time_pairs(sub, sites, params.time_tolerance_s)
    t0 = time.perf_counter()
    res_sub = correlate(sub, sites, params)
    t_sub = time.perf_counter() - t0
    scale = (len(obs) / len(sub)) ** 2
    sweep_pairs = int(res_sub.stats["cross_station_time_pairs"])
    print(
        f"baseline on {len(sub)} obs: naive all-pairs time overlap {t_naive:.2f} s ({naive_pairs} pairs), "
        f"extrapolated to {len(obs)} obs ≈ {t_naive * scale:.0f} s for the time test alone; "
        f"full correlator on the sample {t_sub:.2f} s"
    )

    targets = {"runtime_s<=20": t_corr <= 20.0}
    bench = {
        "name": "correlate",
        "stations": len(sites),
        "observations": len(obs),
        "true_meteors": n_true,
        "truth_multi_station": sc["truth_multi_station"],
        "runtime_s": round(t_corr, 3),
        "events": sc["events"],
        "recall": round(sc["recall"], 4),
        "precision": round(sc["precision"], 4),
        "pure_events": round(sc["pure_events"], 4),
        "member_precision": round(sc["member_precision"], 4),
        "station_completeness": round(sc["station_completeness"], 4),
        "candidate_pairs": int(res.stats["time_pairs"]),
        "geometry_pairs": int(res.stats["geometry_pairs"]),
        "accepted_pairs": int(res.stats["accepted_pairs"]),
        "stage_s": {k: round(v, 3) for k, v in res.stats.items() if k.endswith("_s")},
        "baseline": {
            "sample": len(sub),
            "naive_time_pairs": naive_pairs,
            "sweep_time_pairs": sweep_pairs,
            "naive_s": round(t_naive, 3),
            "naive_extrapolated_s": round(t_naive * scale, 1),
            "sweep_correlate_sample_s": round(t_sub, 3),
        },
        "noise_deg": args.noise_deg,
        "sim_s": round(t_gen, 1),
        "targets_met": all(targets.values()),
        "targets": targets,
    }
    print("BENCH " + json.dumps(bench))


if __name__ == "__main__":
    main()
