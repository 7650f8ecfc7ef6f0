"""The embedded S3 is atomic per key, as real stores are: no stronger (one global lock hid races) and
no weaker (plain moto checks and then writes). Issue 16 item 10."""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ams_actors.store import Conflict, Created, ObjectStore, RetryPolicy, StoredObject, Written
from ams_actors.store.embedded.s3_trace import read_trace
from ams_actors.store.embedded.server import EmbeddedS3

BUCKET = "ams-keys"


async def _no_sleep(_: float) -> None:
    return None


@pytest.fixture(scope="module")
def embedded() -> Iterator[EmbeddedS3]:
    with EmbeddedS3() as s3:
        yield s3


@pytest.fixture()
async def store(embedded: EmbeddedS3) -> AsyncIterator[ObjectStore]:
    policy = RetryPolicy(attempts=2, sleep=_no_sleep, rng=random.Random(0))
    async with ObjectStore.open(embedded.url, BUCKET, retry=policy) as st:
        await st.ensure_bucket()
        yield st


async def test_a_write_to_another_key_is_not_held_up_by_a_busy_key(embedded: EmbeddedS3, store: ObjectStore) -> None:
    """While one key's write is in flight (its lock held), other keys are written at once and a
    conditional write to the busy key is answered 409 ConditionalRequestConflict, as AWS does."""
    assert embedded.app is not None
    await store.put("busy", b"v1")
    with embedded.app.locks.one(BUCKET, "busy", wait=True) as got:
        assert got
        other = await asyncio.wait_for(store.put("other", b"x", if_none_match="*"), 10)
        assert isinstance(other, Created)
        assert isinstance(await store.put("busy", b"v2", if_none_match="*"), Conflict)
        head = await store.head("busy")
        assert isinstance(await store.put("busy", b"v3", if_match=head.etag), Conflict)  # type: ignore[union-attr]
        # an unconditional write waits its turn instead (last writer wins, as on S3)
        plain = asyncio.ensure_future(store.put("busy", b"v4"))
        await asyncio.sleep(0.3)
        assert not plain.done()
    assert isinstance(await asyncio.wait_for(plain, 10), Written)
    got_back = await store.get("busy")
    assert isinstance(got_back, StoredObject) and got_back.body == b"v4"
    assert embedded.app.locks.in_use() == 0  # no lock left behind per key


async def test_racing_creates_have_one_winner_and_the_rest_conflict_or_fail(
    embedded: EmbeddedS3, store: ObjectStore
) -> None:
    answers = await asyncio.gather(*(store.put("race", f"{i}".encode(), if_none_match="*") for i in range(12)))
    kinds = Counter(type(a).__name__ for a in answers)
    assert kinds["Created"] == 1 and kinds["Created"] + kinds["PreconditionFailed"] + kinds["Conflict"] == 12, kinds
    winner = next(i for i, a in enumerate(answers) if isinstance(a, Created))
    stored = await store.get("race")
    assert isinstance(stored, StoredObject) and stored.body == f"{winner}".encode()


async def test_writes_to_different_keys_run_in_parallel(embedded: EmbeddedS3, store: ObjectStore) -> None:
    """Two threads hold two different keys at once (a global lock would make the second wait)."""
    assert embedded.app is not None
    locks = embedded.app.locks
    inside = threading.Barrier(2, timeout=5)

    def hold(key: str) -> None:
        with locks.one(BUCKET, key, wait=True):
            inside.wait()  # both inside at the same time, or BrokenBarrierError

    threads = [threading.Thread(target=hold, args=(k,)) for k in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not inside.broken


async def test_reset_and_bucket_operations_wait_for_object_writes(embedded: EmbeddedS3, store: ObjectStore) -> None:
    """A wide request (reset, bucket create/delete, multi-delete) waits until object writes finish."""
    assert embedded.app is not None
    locks = embedded.app.locks
    order: list[str] = []
    with locks.one(BUCKET, "k", wait=True):
        def wide() -> None:
            with locks.wide():
                order.append("wide")

        t = threading.Thread(target=wide)
        t.start()
        await asyncio.sleep(0.2)
        order.append("object write done")
    t.join(5)
    assert order == ["object write done", "wide"]


async def test_every_write_is_traced_on_the_server(tmp_path: Path) -> None:
    """Issue 16 item 9: each write leaves one line — key, ETag before and after, condition, answer,
    client — so a disagreement between the bucket and the stations can be read off the server."""
    trace = tmp_path / "trace.jsonl"
    with EmbeddedS3(trace=trace) as s3:
        policy = RetryPolicy(attempts=1, sleep=_no_sleep)
        async with ObjectStore.open(s3.url, BUCKET, retry=policy) as st:
            await st.ensure_bucket()
            first = await st.put("k", b"one", if_none_match="*")
            assert isinstance(first, Created)
            await st.put("k", b"two", if_none_match="*")  # 412
            second = await st.put("k", b"three", if_match=first.etag)
            await st.delete("k")
        port = s3.url.rsplit(":", 1)[1]
    lines = read_trace(trace)
    assert [(t["method"], t["key"], t["status"]) for t in lines] == [
        ("PUT", "", 200), ("PUT", "k", 200), ("PUT", "k", 412), ("PUT", "k", 200), ("DELETE", "k", 204)]
    create, refused, swap, delete = lines[1:]
    assert create["condition"] == "If-None-Match: *" and create["etag_before"] is None
    assert create["etag_after"] == first.etag
    assert refused["etag_before"] == first.etag and refused["etag_after"] is None
    assert swap["condition"] == f"If-Match: {first.etag}" and swap["etag_before"] == first.etag
    assert swap["etag_after"] == second.etag  # type: ignore[union-attr]
    assert delete["etag_before"] == second.etag  # type: ignore[union-attr]
    assert all(t["server"].endswith(f":{port}") and t["client"].startswith("127.0.0.1:") for t in lines)
    assert all(t["t0"] <= t["t1"] for t in lines)
