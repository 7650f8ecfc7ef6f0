"""`ams archive resolve` (issue 14) on a real LocalCluster of 2 worker processes against the test S3:
a small synthetic archive (3 days × 6 stations, network-mode detections from the simulator, one
meteor per day across midnight) re-correlated and re-solved into ``archive/<run>/``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from ams_actors.archive.bucket import BucketSpec
from ams_actors.archive.run import local_cluster, read_manifest, resolve, write_manifest
from ams_actors.archive.solve import solve_events
from ams_actors.archive.tasks import correlate_day
from ams_actors.netsync.correlation import NetworkCorrelator
from ams_actors.sim.archive_fill import fill_archive, meteor_docs, station_sites
from ams_actors.store.objectstore import ObjectStore
from protocols.meteor_index import entry_from_meteor_json
from protocols.s3_keys import archive_day_rows_key, archive_prefix, day_str, event_prefix, meteor_key

distributed = pytest.importorskip("distributed")

BUCKET = "ams-archive-test"
DAYS = [date(2026, 8, 11) + timedelta(days=k) for k in range(3)]
DAY_STRS = [day_str(d) for d in DAYS]


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = local_cluster(2)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture()
async def store(s3_endpoint: str) -> AsyncIterator[ObjectStore]:
    async with ObjectStore.open(s3_endpoint, BUCKET) as st:
        await st.ensure_bucket()
        yield st


def spec_of(endpoint: str) -> BucketSpec:
    return BucketSpec(endpoint, BUCKET)


async def filled(store: ObjectStore, seed: int = 1) -> list[dict[str, Any]]:
    sites = station_sites(6)
    docs = meteor_docs(DAYS, sites, per_day=3, seed=seed)
    await fill_archive(store, docs, sites)
    return docs


async def archived(store: ObjectStore, run: str, name: str) -> dict[str, str]:
    """event id -> ETag of every ``name`` (solution.json / obs.json) of the run."""
    out = {}
    async for info in store.list_objects(archive_prefix(run) + "events/"):
        if info.key.endswith("/" + name):
            out[info.key.split("/")[-2]] = info.etag
    return out


async def summary_rows(store: ObjectStore, run: str) -> list[str]:
    text = (await store.get(archive_prefix(run) + "summary.txt")).body.decode()
    return [ln for ln in text.splitlines() if not ln.startswith("#") and ln.strip()]


@pytest.mark.slow
async def test_events_equal_the_daily_correlators_each_solved_once_and_a_rerun_rewrites_nothing(
    s3_endpoint: str, store: ObjectStore, client: Any
) -> None:
    await filled(store)
    daily = await NetworkCorrelator(store, None).run([*DAY_STRS, day_str(DAYS[-1] + timedelta(days=1))], write=False)
    expected = {e.event_id: {m.key for m in e.members} for e in daily.events if e.event_id[:8] <= "20260813"}
    n = len(expected)
    assert n >= 8  # of the 9 meteors (3 a day, one across each midnight)
    midnight = [eid for eid in expected if eid[9:15] == "235959"]
    assert len(midnight) >= 2 and all(len({mid[:10] for _, mid in expected[e]}) == 2 for e in midnight)

    spec = spec_of(s3_endpoint)
    manifest = await asyncio.to_thread(resolve, client, spec, "t1", DAY_STRS)
    solutions = await archived(store, "t1", "solution.json")
    assert set(solutions) == set(expected)
    for eid, members in expected.items():
        obs = json.loads((await store.get(f"{archive_prefix('t1')}events/{eid[:4]}/{eid[:4]}_{eid[4:6]}_{eid[6:8]}/"
                                          f"{eid}/obs.json")).body)
        assert {o["station_id"] for o in obs["observations"]} == {s for s, _ in members}
    assert sorted(manifest.days) == DAY_STRS
    counts = manifest.counts()
    assert counts["events"] == n and counts["written"] == n and counts.get("solved", 0) == n, counts
    indexes = {k for k in await store.list_keys("stations/") if "/index/" in k and k[-18:-8] in DAY_STRS}
    assert set(manifest.inputs) == indexes and manifest.solver["version"]
    rows = await summary_rows(store, "t1")
    assert len(rows) == n and {r.split(";")[0].strip() for r in rows} == set(expected)
    day_files = [(await store.get(archive_day_rows_key("t1", d))).body.decode() for d in DAYS]
    assert sorted(ln for t in day_files for ln in t.splitlines()) == sorted(rows)  # summary = the days' lines

    # the client "died" before recording the last day: a rerun redoes that day only, writing nothing;
    # its lines come back from the stored solutions, and a day left without its file (a run of an
    # older version) is summarised from its solutions
    m = await read_manifest(spec, "t1")
    del m.days[DAY_STRS[-1]]
    await write_manifest(spec, m)
    await store.delete(archive_day_rows_key("t1", DAYS[-1]))
    await store.delete(archive_day_rows_key("t1", DAYS[0]))
    again = await asyncio.to_thread(resolve, client, spec, "t1", DAY_STRS)
    assert await archived(store, "t1", "solution.json") == solutions  # same ETags: nothing rewritten
    last = again.days[DAY_STRS[-1]]
    assert last["events"] >= 2 and last.get("skipped") == last["events"] and last.get("written", 0) == 0
    assert sorted(await summary_rows(store, "t1")) == sorted(rows)

    # a batch whose worker died half-way (one event's obs.json written, its solution.json not) run
    # again: that event alone is solved and written, the others of the batch are only read back
    items = (await asyncio.to_thread(client.submit(correlate_day, spec, DAY_STRS[0], pure=False).result))["events"]
    assert len(items) >= 2
    victim = str(items[-1]["event_id"])
    await store.delete(archive_prefix("t1") + event_prefix(victim) + "solution.json")
    outs = await asyncio.to_thread(client.submit(solve_events, spec, "t1", items, pure=False).result)  # warm workers
    assert [o["event_id"] for o in outs] == [i["event_id"] for i in items]
    assert [(o["event_id"], o["status"], o["written"]) for o in outs if o["status"] != "skipped"] == [
        (victim, "solved", True)]
    assert await archived(store, "t1", "solution.json") == {**solutions, victim: mock.ANY}
    assert sorted(o["row"] for o in outs) == sorted(r for r in rows if r.split(";")[0].strip() in
                                                    {i["event_id"] for i in items})  # the same solutions


async def test_a_corrupt_meteor_file_is_recorded_and_the_run_goes_on(
    s3_endpoint: str, store: ObjectStore, client: Any
) -> None:
    docs = await filled(store, seed=2)
    bad = entry_from_meteor_json(docs[0])
    key = meteor_key(bad.station_id, bad.start_utc.date(), bad.meteor_id)
    await store.put(key, b'{"meteor_id": broken')
    manifest = await asyncio.to_thread(resolve, client, spec_of(s3_endpoint), "t2", DAY_STRS)
    assert sorted(manifest.days) == DAY_STRS
    assert any(key in f["reason"] for f in manifest.failures), manifest.failures
    counts = manifest.counts()
    assert counts["events"] >= 8 and counts.get("solved", 0) + counts.get("failed", 0) == counts["events"]
    assert counts.get("solved", 0) >= counts["events"] - 1


@pytest.mark.slow
async def test_the_verb_runs_a_range_end_to_end(s3_endpoint: str, store: ObjectStore, tmp_path: Path) -> None:
    await filled(store, seed=4)
    cfg = tmp_path / "station.toml"
    cfg.write_text(f'[station]\nid = "ARCH1"\nlat = 51.0\nlon = 0.0\nalt_m = 30.0\ndata_root = "{tmp_path}"\n'
                   '[[cameras]]\nid = "010001"\naz_deg = 0.0\nel_deg = 40.0\nfov_h_deg = 100.0\n'
                   f'[store]\nendpoint = "{s3_endpoint}"\nbucket = "{BUCKET}"\n'
                   'access_key_env = "AWS_ACCESS_KEY_ID"\nsecret_key_env = "AWS_SECRET_ACCESS_KEY"\n')
    out = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "ams_actors", "archive", "resolve", "-c", str(cfg), "--from",
                         DAY_STRS[0], "--to", DAY_STRS[1], "--workers", "1", "--run-id", "cli1"],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "2/2 day(s) complete" in out.stdout
    assert len(await archived(store, "cli1", "solution.json")) >= 5
    bad = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "ams_actors", "archive", "resolve", "-c", str(cfg), "--from",
                         DAY_STRS[1], "--to", DAY_STRS[0]], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "--to" in bad.stderr


@pytest.mark.slow
async def test_a_worker_killed_mid_run_the_run_still_completes_once(
    s3_endpoint: str, store: ObjectStore, client: Any
) -> None:
    """Runs last in this module: it leaves the cluster with one restarted worker."""
    import signal

    await filled(store, seed=3)
    daily = await NetworkCorrelator(store, None).run([*DAY_STRS, day_str(DAYS[-1] + timedelta(days=1))], write=False)
    expected = {e.event_id for e in daily.events if e.event_id[:8] <= "20260813"}
    running = asyncio.ensure_future(asyncio.to_thread(resolve, client, spec_of(s3_endpoint), "t3", DAY_STRS))
    for _ in range(2000):  # real worker processes: wait (bounded) for the first result to land
        if await archived(store, "t3", "obs.json") or running.done():
            break
        await asyncio.sleep(0.01)
    assert not running.done(), "the run finished before a worker could be killed"
    pids = await asyncio.to_thread(client.run, os.getpid)
    os.kill(sorted(pids.values())[0], signal.SIGKILL)
    manifest = await running
    assert sorted(manifest.days) == DAY_STRS and not [f for f in manifest.failures if "task error" in f["reason"]]
    assert set(await archived(store, "t3", "solution.json")) == expected
    counts = manifest.counts()
    assert counts.get("solved", 0) + counts.get("skipped", 0) == counts["events"] == len(expected)
