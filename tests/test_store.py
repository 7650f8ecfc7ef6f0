"""ObjectStore against a real moto server, with faults injected on the wire by FaultProxy.

Nothing of ours is mocked: the client talks HTTP to moto, directly or through the proxy. Back-off
sleeps go to an injected recorder, so retry tests take milliseconds.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Iterator

import pytest

from ams_actors.store import (
    Conflict,
    Created,
    Credentials,
    NotFound,
    ObjectInfo,
    ObjectStore,
    PreconditionFailed,
    Replaced,
    RetryPolicy,
    StoreConfigError,
    StoredObject,
    StoreError,
    Timeouts,
    TooLarge,
    Unknown,
    Written,
)
from ams_actors.store.proxy import FaultConfig, FaultProxy

BUCKET = "ams-test"


class SleepRecorder:
    """Injected sleep: records the back-off delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture()
def sleeps() -> SleepRecorder:
    return SleepRecorder()


def _policy(sleeps: SleepRecorder, attempts: int = 5) -> RetryPolicy:
    return RetryPolicy(attempts=attempts, base_delay=0.2, max_delay=5.0, sleep=sleeps, rng=random.Random(7))


@pytest.fixture()
async def store(any_s3: str, sleeps: SleepRecorder) -> AsyncIterator[ObjectStore]:
    async with ObjectStore.open(any_s3, BUCKET, retry=_policy(sleeps)) as st:
        await st.ensure_bucket()
        yield st


@pytest.fixture()
def proxy(any_s3: str) -> Iterator[FaultProxy]:
    with FaultProxy(any_s3, seed=1) as p:
        yield p


@pytest.fixture()
async def pstore(proxy: FaultProxy, sleeps: SleepRecorder) -> AsyncIterator[ObjectStore]:
    """A store whose traffic goes through the fault proxy."""
    timeouts = Timeouts(connect=2.0, read=5.0, attempt=5.0)
    async with ObjectStore.open(proxy.url, BUCKET, retry=_policy(sleeps), timeouts=timeouts) as st:
        await st.ensure_bucket()
        yield st


def _puts(proxy: FaultProxy, key: str) -> list[int]:
    return [status for (m, path, status) in proxy.stats.log if m == "PUT" and path.endswith("/" + key)]


# ---------------------------------------------------------------------- plain operations


async def test_round_trip_put_get_head_list_delete(store: ObjectStore) -> None:
    body = b'{"meteor": 1}'
    written = await store.put(
        "stations/AMS1/meteors/2026/07/12/m1.json",
        body,
        metadata={"sha256": "abc123"},
        content_type="application/json",
    )
    assert isinstance(written, Written) and written.etag.startswith('"')

    got = await store.get("stations/AMS1/meteors/2026/07/12/m1.json")
    assert isinstance(got, StoredObject)
    assert got.body == body and got.etag == written.etag
    assert got.metadata == {"sha256": "abc123"} and got.content_type == "application/json"

    head = await store.head("stations/AMS1/meteors/2026/07/12/m1.json")
    assert isinstance(head, ObjectInfo)
    assert head.size == len(body) and head.etag == written.etag and head.metadata == {"sha256": "abc123"}

    await store.put("stations/AMS1/index/2026.json.gz", b"x")
    await store.put("stations/AMS2/index/2026.json.gz", b"y")
    assert await store.list_keys("stations/AMS1/") == [
        "stations/AMS1/index/2026.json.gz",
        "stations/AMS1/meteors/2026/07/12/m1.json",
    ]
    assert await store.list_prefixes("stations/") == ["stations/AMS1/", "stations/AMS2/"]

    await store.delete("stations/AMS1/meteors/2026/07/12/m1.json")
    assert await store.get("stations/AMS1/meteors/2026/07/12/m1.json") == NotFound(
        "stations/AMS1/meteors/2026/07/12/m1.json"
    )
    await store.delete("never/existed")  # idempotent


async def test_missing_keys_are_typed_not_found(store: ObjectStore) -> None:
    assert await store.get("nope") == NotFound("nope")
    assert await store.head("nope") == NotFound("nope")
    assert await store.list_keys("nope/") == []


async def test_list_paginates_in_key_order(store: ObjectStore) -> None:
    keys = [f"p/k{i:02d}" for i in range(11)]
    await asyncio.gather(*(store.put(k, k.encode()) for k in keys))
    listed = [o.key async for o in store.list_objects("p/", page_size=4)]
    assert listed == keys
    after = [o.key async for o in store.list_objects("p/", start_after="p/k07", page_size=2)]
    assert after == keys[8:]


async def test_get_refuses_objects_over_the_size_limit(store: ObjectStore) -> None:
    await store.put("big", b"x" * 5000)
    refused = await store.get("big", max_bytes=4999)
    assert isinstance(refused, TooLarge) and refused.size == 5000 and refused.limit == 4999
    ok = await store.get("big", max_bytes=5000)
    assert isinstance(ok, StoredObject) and len(ok.body) == 5000


async def test_store_wide_default_size_limit(any_s3: str, sleeps: SleepRecorder) -> None:
    async with ObjectStore.open(any_s3, BUCKET, retry=_policy(sleeps), max_get_bytes=10) as st:
        await st.ensure_bucket()
        await st.put("k", b"01234567890")
        assert isinstance(await st.get("k"), TooLarge)


async def test_put_argument_checks(store: ObjectStore) -> None:
    with pytest.raises(ValueError, match="not both"):
        await store.put("k", b"x", if_none_match="*", if_match='"e"')  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="metadata key"):
        await store.put("k", b"x", metadata={"Upper": "v"})
    with pytest.raises(ValueError, match="ASCII"):
        await store.put("k", b"x", metadata={"k": "é"})


async def test_missing_bucket_raises_store_error(any_s3: str, sleeps: SleepRecorder) -> None:
    async with ObjectStore.open(any_s3, "no-such-bucket", retry=_policy(sleeps)) as st:
        with pytest.raises(StoreError) as err:
            await st.get("k")
    assert err.value.code == "NoSuchBucket" and err.value.status == 404
    assert sleeps.delays == []  # not transient: no retries


# ---------------------------------------------------------------------- conditional writes


async def test_twenty_racing_creates_have_exactly_one_winner(store: ObjectStore) -> None:
    key = "events/2026/2026_07_12/20260712_221506_355/claim.json"
    bodies = [f'{{"owner": "S{i}", "token": "{i}"}}'.encode() for i in range(20)]
    outcomes = await asyncio.gather(*(store.put(key, b, if_none_match="*") for b in bodies))
    winners = [i for i, o in enumerate(outcomes) if isinstance(o, Created)]
    assert len(winners) == 1
    assert all(isinstance(o, PreconditionFailed | Conflict) for o in outcomes if not isinstance(o, Created))
    stored = await store.get(key)
    assert isinstance(stored, StoredObject) and stored.body == bodies[winners[0]]


async def test_if_match_compare_and_swap(store: ObjectStore) -> None:
    first = await store.put("claim", b"v1", if_none_match="*")
    assert isinstance(first, Created)
    second = await store.put("claim", b"v2", if_match=first.etag)
    assert isinstance(second, Replaced) and second.etag != first.etag
    stale = await store.put("claim", b"v3", if_match=first.etag)
    assert stale == PreconditionFailed("claim")
    got = await store.get("claim")
    assert isinstance(got, StoredObject) and got.body == b"v2" and got.etag == second.etag


async def test_if_match_on_missing_key_is_not_found(store: ObjectStore) -> None:
    assert await store.put("ghost", b"x", if_match='"0123"') == NotFound("ghost")
    assert await store.get("ghost") == NotFound("ghost")


async def test_create_keeps_metadata(store: ObjectStore) -> None:
    out = await store.put("m", b"x", if_none_match="*", metadata={"sha256": "ff"})
    assert isinstance(out, Created)
    head = await store.head("m")
    assert isinstance(head, ObjectInfo) and head.metadata == {"sha256": "ff"}


# ---------------------------------------------------------------------- retries (through the proxy)


async def test_plain_get_retries_503_with_jittered_backoff(
    pstore: ObjectStore, proxy: FaultProxy, sleeps: SleepRecorder
) -> None:
    await pstore.put("k", b"hello")
    proxy.update(error_count=3, error_status=503, methods=frozenset({"GET"}))
    got = await pstore.get("k")
    assert isinstance(got, StoredObject) and got.body == b"hello"
    assert proxy.stats.errors_injected == 3
    assert len(sleeps.delays) == 3
    caps = [0.2, 0.4, 0.8]
    assert all(cap / 2 <= d <= cap for d, cap in zip(sleeps.delays, caps, strict=True))


async def test_plain_put_retries_slowdown_and_500(pstore: ObjectStore, proxy: FaultProxy) -> None:
    proxy.update(error_count=1, error_status=503, error_code="SlowDown", methods=frozenset({"PUT"}))
    assert isinstance(await pstore.put("a", b"1"), Written)
    proxy.update(error_count=2, error_status=500, error_code=None)
    assert isinstance(await pstore.put("b", b"2"), Written)
    assert proxy.stats.errors_injected == 3


async def test_retries_exhausted_raise_retryable_store_error(
    pstore: ObjectStore, proxy: FaultProxy, sleeps: SleepRecorder
) -> None:
    proxy.update(error_rate=1.0, error_status=503, methods=frozenset({"GET"}))
    with pytest.raises(StoreError) as err:
        await pstore.get("k")
    assert err.value.retryable and err.value.code == "ServiceUnavailable" and err.value.status == 503
    assert len(sleeps.delays) == 4  # 5 attempts


async def test_an_outage_is_logged_once_not_per_attempt(
    pstore: ObjectStore, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    await pstore.put("k", b"hello")
    caplog.set_level(logging.INFO, logger="ams")
    proxy.update(error_count=2, error_status=503, methods=frozenset({"GET"}))
    assert isinstance(await pstore.get("k"), StoredObject)  # a blip the third attempt gets past: no news
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO] == []
    proxy.update(error_rate=1.0, error_status=503, methods=frozenset({"GET", "PUT"}))
    for _ in range(3):  # three operations of five attempts each: one outage
        with pytest.raises(StoreError):
            await pstore.get("k")
    proxy.update(error_rate=0.0)
    assert isinstance(await pstore.get("k"), StoredObject)
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert len(lines) == 2, lines
    assert "is not answering (get k: ServiceUnavailable (HTTP 503))" in lines[0]
    assert "answers again (15 attempt(s) failed during the outage)" in lines[1]


async def test_client_errors_are_not_retried(pstore: ObjectStore, proxy: FaultProxy) -> None:
    proxy.update(error_count=1, error_status=403, error_code="AccessDenied")
    with pytest.raises(StoreError) as err:
        await pstore.get("k")
    assert err.value.code == "AccessDenied" and not err.value.retryable
    assert proxy.stats.requests == 2  # ensure_bucket + one GET


async def test_timeout_is_retried(proxy: FaultProxy, sleeps: SleepRecorder) -> None:
    timeouts = Timeouts(connect=2.0, read=5.0, attempt=0.3)
    async with ObjectStore.open(proxy.url, BUCKET, retry=_policy(sleeps), timeouts=timeouts) as st:
        await st.ensure_bucket()
        await st.put("k", b"v")
        proxy.update(delay_s=0.6, delay_count=1, methods=frozenset({"GET"}))
        got = await st.get("k")
    assert isinstance(got, StoredObject) and got.body == b"v"
    assert len(sleeps.delays) >= 1


# ---------------------------------------------------------------------- conditional writes under faults


async def test_lost_response_after_create_is_read_back_as_ours(pstore: ObjectStore, proxy: FaultProxy) -> None:
    proxy.update(lose_count=1, lose_mode="drop", methods=frozenset({"PUT"}))
    out = await pstore.put("claim", b'{"token": "mine"}', if_none_match="*")
    assert isinstance(out, Created)
    assert proxy.stats.responses_lost == 1
    # exactly one PUT reached the store: nobody (botocore, aiohttp) re-sent it blindly
    assert _puts(proxy, "claim") == [0]
    got = await pstore.get("claim")
    assert isinstance(got, StoredObject) and got.etag == out.etag


async def test_lost_response_after_if_match_is_read_back_as_ours(pstore: ObjectStore, proxy: FaultProxy) -> None:
    first = await pstore.put("claim", b"hb=1", if_none_match="*")
    assert isinstance(first, Created)
    proxy.update(lose_count=1, lose_mode="500", methods=frozenset({"PUT"}))
    out = await pstore.put("claim", b"hb=2", if_match=first.etag)
    assert isinstance(out, Replaced) and out.etag != first.etag
    assert _puts(proxy, "claim") == [200, 500]


async def test_failed_create_that_did_not_land_is_retried(pstore: ObjectStore, proxy: FaultProxy) -> None:
    proxy.update(error_count=2, error_status=503, methods=frozenset({"PUT"}))
    out = await pstore.put("claim", b"mine", if_none_match="*")
    assert isinstance(out, Created)
    assert _puts(proxy, "claim") == [503, 503, 200]


async def test_failed_create_on_someone_elses_key_is_precondition_failed(
    pstore: ObjectStore, proxy: FaultProxy
) -> None:
    assert isinstance(await pstore.put("claim", b"theirs", if_none_match="*"), Created)
    proxy.update(error_count=1, error_status=500, methods=frozenset({"PUT"}))
    assert await pstore.put("claim", b"mine", if_none_match="*") == PreconditionFailed("claim")
    assert _puts(proxy, "claim") == [200, 500]  # decided by the read-back, no second write


async def test_failed_if_match_on_unchanged_key_is_retried(pstore: ObjectStore, proxy: FaultProxy) -> None:
    first = await pstore.put("claim", b"hb=1", if_none_match="*")
    assert isinstance(first, Created)
    proxy.update(error_count=1, error_status=503, methods=frozenset({"PUT"}))
    out = await pstore.put("claim", b"hb=2", if_match=first.etag)
    assert isinstance(out, Replaced)
    assert _puts(proxy, "claim") == [200, 503, 200]


async def test_failed_if_match_after_a_steal_is_precondition_failed(pstore: ObjectStore, proxy: FaultProxy) -> None:
    first = await pstore.put("claim", b"hb=1", if_none_match="*")
    assert isinstance(first, Created)
    assert isinstance(await pstore.put("claim", b"stolen", if_match=first.etag), Replaced)
    proxy.update(error_count=1, error_status=503, methods=frozenset({"PUT"}))
    assert await pstore.put("claim", b"hb=2", if_match=first.etag) == PreconditionFailed("claim")


async def test_conditional_write_without_any_answer_is_unknown(pstore: ObjectStore, proxy: FaultProxy) -> None:
    proxy.update(error_rate=1.0, error_status=503)
    out = await pstore.put("claim", b"mine", if_none_match="*")
    assert isinstance(out, Unknown) and out.key == "claim"
    assert "read-back failed" in out.reason


async def test_409_conflict_is_typed(pstore: ObjectStore, proxy: FaultProxy) -> None:
    proxy.update(error_count=1, error_status=409, methods=frozenset({"PUT"}))
    assert await pstore.put("claim", b"mine", if_none_match="*") == Conflict("claim")


async def test_timed_out_create_that_landed_is_ours(proxy: FaultProxy, sleeps: SleepRecorder) -> None:
    timeouts = Timeouts(connect=2.0, read=5.0, attempt=0.3)
    async with ObjectStore.open(proxy.url, BUCKET, retry=_policy(sleeps), timeouts=timeouts) as st:
        await st.ensure_bucket()
        proxy.update(delay_response_s=0.6, methods=frozenset({"PUT"}))
        out = await st.put("claim", b"mine", if_none_match="*")
    assert isinstance(out, Created)
    # the store applied the first PUT (its answer came too late); the read-back found it ours
    assert [s for (m, _, s) in proxy.stats.upstream_log if m == "PUT"][-1:] == [200]
    assert len([m for (m, _, _) in proxy.stats.upstream_log if m == "PUT"]) == 2  # bucket + claim


async def test_timed_out_create_landing_after_the_read_back_is_still_ours(proxy: FaultProxy) -> None:
    """Attempt 1 stalls in flight; the read-back finds nothing; attempt 1 lands during the back-off;
    attempt 2 gets 412 — against our own bytes. The second read-back must say Created."""
    timeouts = Timeouts(connect=2.0, read=5.0, attempt=0.2)
    policy = RetryPolicy(base_delay=1.0, max_delay=1.0, rng=random.Random(1))  # real sleep 0.5-1 s
    async with ObjectStore.open(proxy.url, BUCKET, retry=policy, timeouts=timeouts) as st:
        await st.ensure_bucket()
        proxy.update(delay_s=0.4, delay_count=1, methods=frozenset({"PUT"}))
        out = await st.put("claim", b"mine", if_none_match="*")
    assert isinstance(out, Created)
    assert [s for (m, _, s) in proxy.stats.upstream_log if m == "PUT"][1:] == [200, 412]


# ---------------------------------------------------------------------- policy and credentials


def test_retry_policy_delays_grow_and_cap() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0, rng=random.Random(3))
    for retry, cap in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 4.0), (10, 4.0)]:
        for _ in range(20):
            assert cap / 2 <= policy.delay(retry) <= cap
    a = RetryPolicy(rng=random.Random(5))
    b = RetryPolicy(rng=random.Random(5))
    assert [a.delay(i) for i in range(1, 6)] == [b.delay(i) for i in range(1, 6)]
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


def test_credentials_only_from_environment_and_never_shown() -> None:
    with pytest.raises(StoreConfigError, match="AMS_SECRET") as err:
        Credentials.from_env("AMS_KEY", "AMS_SECRET", environ={"AMS_KEY": "id-123"})
    assert "id-123" not in str(err.value)
    creds = Credentials.from_env("AMS_KEY", "AMS_SECRET", environ={"AMS_KEY": "id-123", "AMS_SECRET": "s3cr3t"})
    assert creds.secret_access_key == "s3cr3t"
    assert "s3cr3t" not in repr(creds) and "id-123" not in repr(creds)


async def test_short_bucket_name_is_a_config_error() -> None:
    with pytest.raises(StoreConfigError, match="too short"):
        async with ObjectStore.open("http://127.0.0.1:9", "ab"):
            pass


def test_proxy_config_is_a_dataclass_that_filters() -> None:
    cfg = FaultConfig(methods=frozenset({"PUT"}), path_regex=r"/claim\.json$")
    assert cfg.matches("put", "/b/events/x/claim.json")
    assert not cfg.matches("GET", "/b/events/x/claim.json")
    assert not cfg.matches("PUT", "/b/events/x/obs.json")
