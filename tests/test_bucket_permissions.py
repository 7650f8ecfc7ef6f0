"""The generated policies enforced by a real S3 server (issue 17 item 3): moto with IAM auth switched on.

Every user is a real IAM user on the embedded S3 with the documents `ams bucket policies` prints; the
requests are real signed HTTP through our ObjectStore client, through the embedded server's
write-serialising middleware. Each denied write must come back as AccessDenied naming the missing
permission (not 412, not a retry), each allowed step of the claim protocol must still work.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ams_actors.sim.iam_keys import Key, RestrictedKeys, role_documents
from ams_actors.store.objectstore import Credentials, ObjectStore
from ams_actors.store.outcomes import (
    AccessDenied,
    Created,
    NotFound,
    ObjectInfo,
    PreconditionFailed,
    Replaced,
    StoredObject,
    Written,
)
from ams_actors.store.probe import probe
from ams_actors.store.retry import RetryPolicy
from protocols import bucket_access as ba
from protocols import s3_keys as k

BUCKET = "ams-perms"
DAY = date(2026, 7, 12)
EV = "20260712_221506_355"


@pytest.fixture()
def users(s3_endpoint: str) -> Iterator[dict[str, Key]]:
    """One IAM user per principal (AMS1 and AMS2 as stations), the bucket made, then auth switched on."""
    import boto3

    with RestrictedKeys(s3_endpoint) as keys:
        made = {
            "admin": keys.admin,
            "AMS1": keys.user("ams-station-AMS1", role_documents(BUCKET, ["station"], "AMS1")),
            "AMS2": keys.user("ams-station-AMS2", role_documents(BUCKET, ["station"], "AMS2")),
            "correlator": keys.user("ams-correlator", [ba.policy("correlator", BUCKET)]),
            "publisher": keys.user("ams-publisher", [ba.policy("publisher", BUCKET)]),
            "archive": keys.user("ams-archive-R1", [ba.policy("archive", BUCKET, run="R1")]),
            "readonly": keys.user("ams-readonly", [ba.policy("readonly", BUCKET)]),
        }
        boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="x",
                     aws_secret_access_key="x").create_bucket(Bucket=BUCKET)
        keys.enforce()
        yield made


@pytest.fixture()
def store_as(s3_endpoint: str, users: dict[str, Key]) -> Callable[[str], AbstractAsyncContextManager[ObjectStore]]:
    async def no_sleep(_: float) -> None:
        return None

    def open_as(who: str) -> AbstractAsyncContextManager[ObjectStore]:
        key = users[who]
        return ObjectStore.open(s3_endpoint, BUCKET, credentials=Credentials(key.access_key_id, key.secret_access_key),
                                retry=RetryPolicy(attempts=3, sleep=no_sleep))

    return open_as


@pytest.fixture()
async def seeded(store_as: Callable[[str], AbstractAsyncContextManager[ObjectStore]]) -> AsyncIterator[None]:
    """What each role's own code would have written: meteors, an event, a claim, a solution, a day index."""
    async with store_as("admin") as admin:
        for key in (k.meteor_key("AMS2", DAY, "m2"), k.meteor_key("AMS1", DAY, "m1"), k.daily_index_key("AMS2", DAY),
                    k.event_key(EV),
                    k.claim_key(EV), k.solution_key(EV, 1, "AMS2"), k.day_index_key(DAY),
                    k.ms_detects_key(DAY, "AMS2"), k.probe_key("AMS2", "p"), "archive/R2/manifest.json"):
            await admin.put(key, b"{}")
    yield


#: (who, operation, key, condition): each must be refused with AccessDenied naming the permission
DENIED: list[tuple[str, str, str, str]] = [
    ("AMS1", "put", k.meteor_key("AMS2", DAY, "m2"), "plain"),
    ("AMS1", "put", k.meteor_key("AMS2", DAY, "new"), "create"),
    ("AMS1", "put", k.daily_index_key("AMS2", DAY), "plain"),
    ("AMS1", "put", k.yearly_index_key("AMS2", 2026), "plain"),
    ("AMS1", "put", "stations/AMS2/instance.json", "create"),
    ("AMS1", "put", k.solution_key(EV, 1, "AMS2"), "if-match"),  # another station's existing solution
    ("AMS1", "put", k.solution_key(EV, 2, "AMS2"), "create"),  # a new one under another station's name
    ("AMS1", "put", k.event_key(EV), "create"),  # exists: must be 403, not 412
    ("AMS1", "put", k.event_key(EV), "plain"),
    ("AMS1", "put", k.day_index_key(DAY), "plain"),
    ("AMS1", "put", k.ms_detects_key(DAY, "AMS1"), "plain"),
    ("AMS1", "put", k.probe_key("AMS2", "x"), "create"),
    ("AMS1", "put", "archive/R1/x.json", "plain"),
    ("AMS1", "put", "elsewhere.json", "plain"),
    ("AMS1", "delete", k.claim_key(EV), ""),
    ("AMS1", "delete", k.event_key(EV), ""),
    ("AMS1", "delete", k.solution_key(EV, 1, "AMS2"), ""),
    ("AMS1", "delete", k.meteor_key("AMS2", DAY, "m2"), ""),
    ("AMS1", "delete", k.meteor_key("AMS1", DAY, "m1"), ""),  # not even its own: the code never deletes them
    ("AMS1", "delete", k.probe_key("AMS2", "p"), ""),
    ("AMS1", "get", k.probe_key("AMS2", "p"), ""),
    ("AMS1", "get", k.ms_detects_key(DAY, "AMS2"), ""),
    ("correlator", "put", k.meteor_key("AMS1", DAY, "m1"), "plain"),
    ("correlator", "put", k.daily_index_key("AMS1", DAY), "plain"),
    ("correlator", "put", k.claim_key(EV), "if-match"),
    ("correlator", "put", k.solution_key(EV, 1, "AMS2"), "plain"),
    ("correlator", "delete", k.event_key(EV), ""),
    ("publisher", "put", k.claim_key(EV), "plain"),
    ("publisher", "put", k.event_key(EV), "plain"),
    ("publisher", "put", k.meteor_key("AMS1", DAY, "m1"), "plain"),
    ("archive", "put", k.event_key(EV), "plain"),
    ("archive", "put", "archive/R2/manifest.json", "plain"),  # another run's folder
    ("archive", "delete", "archive/R2/manifest.json", ""),
    ("readonly", "put", k.day_index_key(DAY), "plain"),
    ("readonly", "put", "archive/R1/x.json", "plain"),
    ("readonly", "delete", k.claim_key(EV), ""),
]


async def _do(store: ObjectStore, op: str, key: str, cond: str) -> Any:
    if op == "get":
        return await store.get(key)
    if op == "delete":
        return await store.delete(key)
    if cond == "create":
        return await store.put(key, b'{"x": 1}', if_none_match="*")
    if cond == "if-match":
        head = await store_head_as_admin(store, key)
        return await store.put(key, b'{"x": 2}', if_match=head)
    return await store.put(key, b'{"x": 3}')


async def store_head_as_admin(store: ObjectStore, key: str) -> str:
    """The current ETag (read with the same user: every role may read what it would compare against)."""
    info = await store.get(key)
    return info.etag if isinstance(info, StoredObject) else '"none"'


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(("who", "op", "key", "cond"), DENIED, ids=[f"{w}-{o}-{c or 'x'}-{k_}" for w, o, k_, c in DENIED])
async def test_each_denied_action_is_refused_by_the_store(
    store_as: Callable[[str], AbstractAsyncContextManager[ObjectStore]], who: str, op: str, key: str, cond: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    if cond == "if-match":  # the ETag to compare against, read with a key that may read it
        async with store_as("admin") as admin:
            etag = await store_head_as_admin(admin, key)
    async with store_as(who) as store:
        with caplog.at_level(logging.INFO, logger="ams_actors.store"), pytest.raises(AccessDenied) as err:
            if cond == "if-match":
                await store.put(key, b'{"x": 2}', if_match=etag)
            else:
                await _do(store, op, key, cond)
        # a second refusal of the same key is not logged again
        with pytest.raises(AccessDenied):
            if cond == "if-match":
                await store.put(key, b'{"x": 2}', if_match=etag)
            else:
                await _do(store, op, key, cond)
    expected = ba.OPERATION_ACTIONS[op]
    assert err.value.permission == expected and err.value.status == 403 and err.value.key == key
    assert f"lack {expected} on {key}" in str(err.value)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1, lines  # one line; no retry lines ("attempt 2/3"), no second log
    assert key in lines[0] and expected in lines[0]
    async with store_as("admin") as admin:  # and nothing was written or deleted
        got = await admin.get(key)
        if op == "put":
            assert not isinstance(got, StoredObject) or got.body == b"{}"
        elif op == "delete":
            assert isinstance(got, StoredObject)


@pytest.mark.usefixtures("seeded")
async def test_the_claim_protocol_still_works_with_station_keys(
    store_as: Callable[[str], AbstractAsyncContextManager[ObjectStore]],
) -> None:
    ev2 = "20260712_230000_000"
    ckey = k.claim_key(ev2)
    async with store_as("AMS1") as a1, store_as("AMS2") as a2:
        assert (await probe(a1, "AMS1")).ok  # the start-up probe: create, 412, if-match, delete its keys
        assert (await probe(a2, "AMS2")).ok
        claim = await a1.put(ckey, b'{"owner": "AMS1", "hb": 0}', if_none_match="*")  # acquire
        assert isinstance(claim, Created)
        assert isinstance(await a2.put(ckey, b'{"owner": "AMS2"}', if_none_match="*"), PreconditionFailed)
        beat = await a1.put(ckey, b'{"owner": "AMS1", "hb": 1}', if_match=claim.etag)  # heartbeat
        assert isinstance(beat, Replaced)
        stolen = await a2.put(ckey, b'{"owner": "AMS2", "epoch": 2}', if_match=beat.etag)  # steal after expiry
        assert isinstance(stolen, Replaced)
        assert isinstance(await a1.put(ckey, b'{"owner": "AMS1", "hb": 2}', if_match=beat.etag), PreconditionFailed)
        assert isinstance(await a2.put(k.obs_key(ev2), b"{}"), Written)
        sol = k.solution_key(ev2, 2, "AMS2")
        assert isinstance(await a2.put(sol, b'{"status": "solved"}', if_none_match="*"), Created)  # publish
        assert isinstance(await a2.put(ckey, b'{"state": "solved"}', if_match=stolen.etag), Replaced)
        copy = await a1.get(sol)  # a partner copies the accepted solution
        assert isinstance(copy, StoredObject) and copy.body == b'{"status": "solved"}'
        assert isinstance(await a1.get(k.claim_key("20260712_230001_000")), NotFound)  # 404, not 403
        assert isinstance(await a1.head(k.daily_index_key("AMS3", DAY)), NotFound)
        for key in (k.meteor_key("AMS1", DAY, "m1"), k.daily_index_key("AMS1", DAY), k.yearly_index_key("AMS1", 2026),
                    "stations/AMS1/instance.json"):
            assert isinstance(await a1.put(key, b"{}"), Written)
        assert isinstance(await a1.get(k.meteor_key("AMS2", DAY, "m2")), StoredObject)  # partner data
        assert isinstance(await a1.get(k.event_key(EV)), StoredObject)
        assert not a1.denied and not a2.denied


@pytest.mark.usefixtures("seeded")
async def test_the_other_roles_can_do_their_jobs(
    store_as: Callable[[str], AbstractAsyncContextManager[ObjectStore]],
) -> None:
    async with store_as("correlator") as corr:
        assert await corr.list_prefixes("stations/") == ["stations/AMS1/", "stations/AMS2/"]
        assert isinstance(await corr.head(k.daily_index_key("AMS2", DAY)), ObjectInfo)
        assert k.event_key(EV) in await corr.list_keys(k.events_day_prefix(DAY))
        etag = (await corr.get(k.event_key(EV))).etag  # type: ignore[union-attr]
        assert isinstance(await corr.put(k.event_key(EV), b'{"r": 2}', if_match=etag), Replaced)
        assert isinstance(await corr.put(k.ms_detects_key(DAY, "AMS1"), b"{}", if_none_match="*"), Created)
    async with store_as("publisher") as pub:
        assert isinstance(await pub.get(k.claim_key(EV)), StoredObject)
        assert isinstance(await pub.get(k.solution_key(EV, 1, "AMS2")), StoredObject)
        assert isinstance(await pub.put(k.day_index_key(DAY), b"{}"), Written)
    async with store_as("archive") as arch:
        assert isinstance(await arch.put("archive/R1/events/x.json", b"{}"), Written)
        await arch.delete("archive/R1/events/x.json")
        assert isinstance(await arch.get(k.solution_key(EV, 1, "AMS2")), StoredObject)
    async with store_as("readonly") as ro:
        assert len(await ro.list_keys("")) >= 9
        assert isinstance(await ro.get(k.day_index_key(DAY)), StoredObject)
        assert isinstance(await ro.get(k.solution_key(EV, 1, "AMS2")), StoredObject)


async def test_an_unknown_or_wrong_key_is_refused(
    s3_endpoint: str, users: dict[str, Key], store_as: Callable[[str], AbstractAsyncContextManager[ObjectStore]],
) -> None:
    """Auth really is on: a key moto does not know, or a wrong secret, gets nowhere."""
    from ams_actors.store.outcomes import StoreError

    for creds in (Credentials("AKIAUNKNOWN000000000", "x"), Credentials(users["AMS1"].access_key_id, "wrong")):
        async with ObjectStore.open(s3_endpoint, BUCKET, credentials=creds,
                                    retry=RetryPolicy(attempts=1)) as store:
            with pytest.raises(StoreError) as err:
                await store.put(k.meteor_key("AMS1", DAY, "m1"), b"{}")
            assert err.value.status == 403 and not isinstance(err.value, AccessDenied)
            assert "wrong" not in str(err.value)


async def test_a_refused_upload_is_logged_once_and_not_requeued_like_an_outage(
    tmp_path: Path, store_as: Callable[[str], AbstractAsyncContextManager[ObjectStore]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Station AMS1 started with AMS2's key (a mix-up, or a bug writing elsewhere): its uploads are
    refused; the store says so once per key naming the permission, the day is not marked for retry as if
    the network had failed, and a second cycle neither re-logs nor raises."""
    from datetime import UTC, datetime

    from ams_actors.netsync.sync import SyncEngine
    from ams_actors.runtime.files import atomic_write_json
    from ams_actors.sim.detections import meteor_archive_doc, straight_trajectory
    from ams_actors.store import index_files
    from ams_actors.store.local_paths import StationPaths

    paths = StationPaths(tmp_path, "AMS1")
    b, e = straight_trajectory(51.3, 0.7, 105, 80, 40, 45)
    doc = meteor_archive_doc(station_id="AMS1", camera_id="010001", site=(51.0, 0.0, 50.0), begin=b, end=e,
                             t_begin=datetime(2026, 7, 12, 22, 15, 6, tzinfo=UTC), speed_km_s=35.0)
    path = paths.archive_meteor("2026_07_12", doc["meteor_id"])
    atomic_write_json(path, doc)
    index_files.add_meteor(paths, "2026_07_12", index_files.SiteInfo(51.0, 0.0, 50.0), path)
    async with store_as("AMS2") as wrong_key:
        engine = SyncEngine(paths, wrong_key)
        with caplog.at_level(logging.INFO):
            first = await engine.run(["2026_07_12"])
            second = await engine.run(["2026_07_12"])
    keys = sorted([k.meteor_key("AMS1", DAY, doc["meteor_id"]), k.daily_index_key("AMS1", DAY)])
    ms_key = k.ms_detects_key(DAY, "AMS1")  # AMS2's key may read back only AMS2's own ms_detects
    for report in (first, second):
        assert sorted(f for f in report.failed if not f.startswith("download")) == keys
        assert [f for f in report.failed if f.startswith("download")] == [
            f"download 2026_07_12: object store: head {ms_key}: access denied: these credentials lack "
            f"s3:GetObject on {ms_key} (403, HTTP 403)"]
        assert report.failed_days == set() and report.uploaded == []
    denied = sorted(r.getMessage() for r in caplog.records if "access denied" in r.getMessage())
    assert len(denied) == 3, denied
    assert all("s3:PutObject" in line for line in denied[1:]) and "s3:GetObject" in denied[0], denied
    assert not [r for r in caplog.records if "retried next cycle" in r.getMessage() or "attempt" in r.getMessage()]
