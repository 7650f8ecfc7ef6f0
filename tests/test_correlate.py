"""The correlator kernel on small synthetic networks: true multi-station meteors are found, everything
that is not one meteor from several stations is rejected, and the result is deterministic."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest

from ams_actors.kernels import geo
from ams_actors.kernels.correlate import (
    CorrelationParams,
    CorrelationResult,
    Observation,
    Site,
    correlate,
    correlate_indexes,
    explain_pair,
)
from ams_actors.sim.detections import straight_trajectory
from protocols.errors import InputError
from protocols.events import EventMember, reconcile, station_detections, utc_from_seconds
from protocols.meteor_index import MeteorIndex, SiteInfo, entry_from_track, index_to_doc, parse_index

T0 = 1_783_886_400.0  # 2026-07-12T20:00:00Z

SITES = {
    "AMS1": Site(51.00, 0.00, 50.0),
    "AMS2": Site(51.60, 1.10, 30.0),
    "AMS3": Site(50.70, 1.40, 80.0),
    "AMS4": Site(52.20, -0.60, 10.0),
}


trajectory = straight_trajectory  # begin and end points (ECEF, m) of a straight meteor


def observe(
    sid: str,
    begin: np.ndarray,
    end: np.ndarray,
    t_begin: float,
    speed_km_s: float,
    *,
    part: tuple[float, float] = (0.0, 1.0),
    camera: str = "010001",
    meteor_id: str | None = None,
    clock_s: float = 0.0,
    noise_deg: float = 0.0,
    reverse: bool = False,
    seed: int = 0,
) -> Observation:
    """What station ``sid`` records of the meteor: the ``part`` of the trail it sees, 12 samples."""
    site = SITES[sid]
    length_km = float(np.linalg.norm(end - begin)) / 1000.0
    u = np.linspace(part[0], part[1], 12)
    pts = begin + u[:, None] * (end - begin)
    az, el, _ = geo.look_azel(geo.geodetic_to_ecef(site.lat, site.lon, site.alt_m), pts, site.lat, site.lon)
    if noise_deg:
        rng = np.random.default_rng(seed)
        az = az + rng.normal(0, noise_deg, az.shape)
        el = el + rng.normal(0, noise_deg, el.shape)
    if reverse:
        az, el = az[::-1], el[::-1]
    t = u * length_km / speed_km_s
    start = t_begin + t[0] + clock_s
    return Observation(
        station_id=sid,
        camera_id=camera,
        meteor_id=meteor_id or f"{sid}_{int(start * 1000)}",
        start_s=start,
        duration_s=float(t[-1] - t[0]),
        t=tuple((t - t[0]).tolist()),
        az=tuple((az % 360).tolist()),
        el=tuple(el.tolist()),
    )


def groups(result: CorrelationResult, obs: list[Observation]) -> list[list[tuple[str, str]]]:
    return [sorted((obs[i].station_id, obs[i].meteor_id) for i in ev.members) for ev in result.events]


def network_night() -> tuple[list[Observation], list[set[str]]]:
    """Two meteors seen by 3 and 2 stations, a single-station meteor, and coincident impostors."""
    m1 = trajectory(51.3, 0.7, 105, 80, 40, 45)
    m2 = trajectory(51.5, 0.2, 95, 72, 200, 60)
    m3 = trajectory(50.9, 0.3, 100, 85, 120, 30)
    obs = [
        observe("AMS1", *m1, T0 + 100.0, 35, part=(0.0, 0.9), noise_deg=0.02, seed=1, meteor_id="a1"),
        observe("AMS2", *m1, T0 + 100.0, 35, part=(0.1, 1.0), noise_deg=0.02, seed=2, meteor_id="b1"),
        observe("AMS3", *m1, T0 + 100.0, 35, part=(0.05, 0.8), noise_deg=0.02, seed=3, meteor_id="c1"),
        observe("AMS2", *m2, T0 + 400.0, 20, noise_deg=0.02, seed=4, meteor_id="b2"),
        observe("AMS4", *m2, T0 + 400.0, 20, part=(0.2, 1.0), noise_deg=0.02, seed=5, meteor_id="d2"),
        # seen by one station only
        observe("AMS3", *m3, T0 + 900.0, 50, meteor_id="c3"),
        # an impostor at the same time as m3 from another station: the same track flown upwards
        observe("AMS1", *m3, T0 + 900.5, 50, reverse=True, meteor_id="a3"),
    ]
    return obs, [{"a1", "b1", "c1"}, {"b2", "d2"}]


def test_finds_multi_station_meteors_and_rejects_the_rest() -> None:
    obs, truth = network_night()
    res = correlate(obs, SITES)
    found = [{m for _, m in g} for g in groups(res, obs)]
    assert found == truth
    assert sorted(res.events[0].stations) == ["AMS1", "AMS2", "AMS3"]
    assert res.events[0].start_s == pytest.approx(T0 + 100.0, abs=1e-6)


def test_plane_intersection_recovers_heights_and_speed() -> None:
    b, e = trajectory(51.3, 0.7, 105, 80, 40, 45)
    a1 = observe("AMS1", b, e, T0, 35, noise_deg=0.01, seed=1)
    a3 = observe("AMS3", b, e, T0 + 0.2, 35, clock_s=0.0, noise_deg=0.01, seed=2)
    g = explain_pair(a1, a3, SITES)
    assert bool(g.ok[0]) and g.convergence_deg[0] > 10
    assert g.heights_km[0] == pytest.approx([105, 80, 105, 80], abs=1.0)
    assert abs(g.speed_km_s[0]) == pytest.approx(35, rel=0.05)
    assert g.offset_s[0] == pytest.approx(0.2, abs=0.05)  # the clock offset between the stations
    assert g.speed_ratio[0] < 1.1


def test_rejects_time_offsets_distances_and_bad_geometry() -> None:
    b, e = trajectory(51.3, 0.7, 105, 80, 40, 45)
    good = [observe("AMS1", b, e, T0, 30), observe("AMS2", b, e, T0, 30)]
    assert len(correlate(good, SITES).events) == 1
    # 20 s apart: not the same meteor
    assert correlate([good[0], observe("AMS2", b, e, T0 + 20, 30)], SITES).events == ()
    # one station sees it moving upwards (begin below end)
    assert correlate([good[0], observe("AMS2", b, e, T0, 30, reverse=True)], SITES).events == ()
    # heights out of range: a "meteor" at 5 km → 2 km (an aircraft-like track)
    lb, le = trajectory(51.3, 0.7, 5, 2, 40, 10)
    low = [observe("AMS1", lb, le, T0, 0.25), observe("AMS2", lb, le, T0, 0.25)]
    assert correlate(low, SITES).events == ()
    # the two stations' speeds along the line disagree by 3x
    assert correlate([good[0], observe("AMS2", b, e, T0, 90)], SITES).events == ()
    # stations closer than 5 km or farther than 600 km never pair
    near = dict(SITES, AMS2=Site(51.01, 0.01, 50.0))
    assert correlate([observe("AMS1", b, e, T0, 30), _as(observe("AMS1", b, e, T0, 30), "AMS2")], near).events == ()
    far_params = CorrelationParams(max_station_km=50.0)
    assert correlate(good, SITES, far_params).events == ()


def _as(o: Observation, station: str) -> Observation:
    return replace(o, station_id=station, meteor_id=o.meteor_id + "x")


def test_clock_quality_widens_the_time_tolerance() -> None:
    b, e = trajectory(51.3, 0.7, 105, 80, 40, 45)
    obs = [observe("AMS1", b, e, T0, 30), observe("AMS2", b, e, T0, 30, clock_s=7.0)]
    assert correlate(obs, SITES).events == ()
    sloppy = dict(SITES, AMS2=replace(SITES["AMS2"], clock_sigma_s=1.0))
    assert len(correlate(obs, sloppy).events) == 1


def test_one_observation_per_station_keeps_the_longest() -> None:
    b, e = trajectory(51.3, 0.7, 105, 80, 40, 45)
    obs = [
        observe("AMS1", b, e, T0, 30, part=(0.0, 0.55), camera="010001", meteor_id="a_cam1"),
        observe("AMS1", b, e, T0, 30, part=(0.5, 1.0), camera="010002", meteor_id="a_cam2"),
        observe("AMS2", b, e, T0, 30, meteor_id="b"),
    ]
    res = correlate(obs, SITES)
    assert len(res.events) == 1
    ev = res.events[0]
    assert sorted(obs[i].meteor_id for i in ev.members) == ["a_cam1", "b"]
    assert [obs[i].meteor_id for i in ev.others] == ["a_cam2"]


def test_deterministic_under_input_shuffling() -> None:
    obs, _ = network_night()
    # add a busy hour of random traffic so ties and near-misses exist
    rng = np.random.default_rng(7)
    for k in range(40):
        lat, lon = 51.2 + rng.uniform(-0.4, 0.4), 0.6 + rng.uniform(-0.6, 0.6)
        tr = trajectory(lat, lon, rng.uniform(90, 115), rng.uniform(65, 85), rng.uniform(0, 360), rng.uniform(20, 70))
        stations = rng.choice(sorted(SITES), size=int(rng.integers(1, 4)), replace=False)
        t = T0 + 2000 + rng.uniform(0, 300)
        for s in stations:
            obs.append(observe(str(s), *tr, t, rng.uniform(15, 60), noise_deg=0.03, seed=k, meteor_id=f"r{k}_{s}"))

    def ids(observations: list[Observation]) -> list[tuple[str, list[tuple[str, str]]]]:
        res = correlate(observations, SITES)
        found = [
            [
                EventMember(o.station_id, o.meteor_id, utc_from_seconds(o.start_s), o.duration_s, o.camera_id)
                for o in (observations[i] for i in ev.members)
            ]
            for ev in res.events
        ]
        return [(e.event_id, sorted(e.member_keys)) for e in reconcile([], found).new]

    reference = ids(obs)
    assert len(reference) >= 20
    for seed in range(4):
        shuffled = obs[:]
        random.Random(seed).shuffle(shuffled)
        assert ids(shuffled) == reference


def _index(station: str, observations: list[Observation]) -> MeteorIndex:
    site = SITES[station]
    entries = tuple(
        entry_from_track(
            meteor_id=o.meteor_id,
            station_id=station,
            camera_id=o.camera_id,
            times_utc=[utc_from_seconds(o.start_s + t) for t in o.t],
            az=o.az,
            el=o.el,
        )
        for o in observations
        if o.station_id == station
    )
    return MeteorIndex(station, "2026_07_12", SiteInfo(site.lat, site.lon, site.alt_m), entries)


def _parsed(indexes: list[MeteorIndex]) -> list[MeteorIndex]:
    """Through the file format, as the Correlator gets them from the bucket."""
    return [parse_index(index_to_doc(idx), f"{idx.station_id}.json") for idx in indexes]


def test_late_third_station_raises_the_revision_and_keeps_the_id() -> None:
    obs, _ = network_night()
    # the late station saw the meteor first: the event keeps its id all the same
    m1 = trajectory(51.3, 0.7, 105, 80, 40, 45)
    obs[0] = observe("AMS1", *m1, T0 + 100.0, 35, part=(0.1, 0.9), noise_deg=0.02, seed=1, meteor_id="a1")
    obs[2] = observe("AMS3", *m1, T0 + 100.0, 35, meteor_id="c1")
    first = correlate_indexes(_parsed([_index(s, obs) for s in ("AMS1", "AMS2", "AMS4")])).updates
    assert [e.stations for e in first.new] == [("AMS1", "AMS2"), ("AMS2", "AMS4")]
    ev1 = first.new[0]
    assert ev1.revision == 1 and ev1.event_id == "20260712_200140_101"

    # AMS3 uploads later; yesterday's AMS1 index comes along too (a night spans two dates)
    later = _parsed([_index(s, obs) for s in ("AMS1", "AMS2", "AMS3", "AMS4")])
    yesterday = replace(later[0], day="2026_07_11")
    second = correlate_indexes([*later, yesterday], existing=first.new).updates
    assert second.new == ()
    assert [e.event_id for e in second.revised] == [ev1.event_id]
    assert second.revised[0].revision == 2
    assert second.revised[0].stations == ("AMS1", "AMS2", "AMS3")
    assert second.revised[0].start_utc == utc_from_seconds(T0 + 100.0)  # dated by its new first member
    assert [e.event_id for e in second.unchanged] == [first.new[1].event_id]
    assert station_detections(second.revised + second.unchanged)["AMS2"] == sorted(
        [("b1", ev1.event_id), ("b2", first.new[1].event_id)]
    )

    # a correlator that still has only the first two indexes changes nothing (membership only grows)
    stored = second.revised + second.unchanged
    assert correlate_indexes(_parsed([_index("AMS1", obs), _index("AMS2", obs)]), stored).updates.to_write == ()


def test_a_burst_from_one_station_is_left_out() -> None:
    """Lightning or a hostile index: thousands of 'meteors' at once must neither pair nor blow up."""
    obs, _ = network_night()
    o = obs[0]
    burst = [replace(o, meteor_id=f"flash{k}", start_s=o.start_s + k * 1e-4) for k in range(5000)]
    res = correlate(obs[1:] + burst, SITES)
    assert res.stats["burst_dropped"] == 5000
    assert [{m for _, m in g} for g in groups(res, obs[1:] + burst)] == [{"b1", "c1"}, {"b2", "d2"}]


def test_empty_and_missing_sites() -> None:
    assert correlate([], SITES).events == ()
    b, e = trajectory(51.3, 0.7, 105, 80, 40, 45)
    with pytest.raises(InputError, match="AMS9"):
        correlate([replace(observe("AMS1", b, e, T0, 30), station_id="AMS9")], SITES)
