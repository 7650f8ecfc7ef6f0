"""The start-up probe (design.md §6) against real moto, and against moto behind a lying proxy."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator

import pytest

from ams_actors.store import ObjectStore, ProbeResult, RetryPolicy, probe
from ams_actors.store.proxy import FaultProxy

BUCKET = "ams-probe"


async def _no_sleep(_: float) -> None:
    return None


def _policy() -> RetryPolicy:
    return RetryPolicy(attempts=3, sleep=_no_sleep, rng=random.Random(0))


@pytest.fixture()
def proxy(s3_endpoint: str) -> Iterator[FaultProxy]:
    with FaultProxy(s3_endpoint) as p:
        yield p


@pytest.fixture()
async def pstore(proxy: FaultProxy) -> AsyncIterator[ObjectStore]:
    async with ObjectStore.open(proxy.url, BUCKET, retry=_policy()) as st:
        await st.ensure_bucket()
        yield st


async def _scratch(store: ObjectStore) -> list[str]:
    return await store.list_keys("_probe/")


async def test_probe_passes_on_moto_and_cleans_up(s3_endpoint: str) -> None:
    async with ObjectStore.open(s3_endpoint, BUCKET, retry=_policy()) as store:
        await store.ensure_bucket()
        result = await probe(store, "AMS1")
        assert result.ok and result.kind == "ok" and result.failed_step is None
        assert [s.name for s in result.steps] == [
            "create",
            "create-again",
            "if-match-bogus",
            "if-match-right",
            "if-match-missing",
            "read-back",
        ]
        assert all(s.ok for s in result.steps)
        assert await _scratch(store) == []


async def test_probe_refuses_store_that_ignores_if_none_match(pstore: ObjectStore, proxy: FaultProxy) -> None:
    proxy.update(strip_conditional=True)
    result = await probe(pstore, "AMS1")
    assert not result.ok and result.kind == "unsupported"
    assert result.failed_step == "create-again"
    assert "\n" not in result.message
    assert result.message.startswith(f"store at {proxy.url}")
    assert "ignores If-None-Match" in result.message
    assert "claims disabled; use solo mode for a single-station network" in result.message
    proxy.clear()
    assert await _scratch(pstore) == []


async def test_probe_refuses_store_that_ignores_if_match(pstore: ObjectStore, proxy: FaultProxy) -> None:
    proxy.update(strip_headers=frozenset({"if-match"}))
    result = await probe(pstore, "AMS1")
    assert result.kind == "unsupported" and result.failed_step == "if-match-bogus"
    assert "ignores If-Match" in result.message and "got Replaced" in result.message
    proxy.clear()
    assert await _scratch(pstore) == []


async def test_probe_refuses_store_that_does_not_implement_conditions(pstore: ObjectStore, proxy: FaultProxy) -> None:
    # some S3-compatibles answer 501 NotImplemented to a header they do not support
    proxy.update(error_rate=1.0, error_status=501, error_code="NotImplemented", methods=frozenset({"PUT"}))
    result = await probe(pstore, "AMS1")
    assert result.kind == "unsupported" and result.failed_step == "create"
    assert "does not implement conditional writes" in result.message


async def test_probe_without_answers_is_an_error_not_a_verdict(pstore: ObjectStore, proxy: FaultProxy) -> None:
    proxy.update(error_rate=1.0, error_status=503)
    result: ProbeResult = await probe(pstore, "AMS1")
    assert result.kind == "error" and not result.ok and result.failed_step == "create"
    assert "no usable answer" in result.message and "claims disabled" in result.message
