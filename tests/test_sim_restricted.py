"""A whole simulated night with every station on its own least-privilege key (issue 17 items 3-5).

The embedded S3 authenticates and authorises every request (moto's IAM auth on); the stations run
their real actors. The night must end with the same report as with one admin key and meet no access
refusal, and no secret may reach the logs, the stations' files or the bucket.
"""

from __future__ import annotations

import dataclasses
import logging
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import pytest

from ams_actors.runtime.pool import make_pool
from ams_actors.sim.network import BUCKET, SimNetwork, SimOptions
from ams_actors.store.objectstore import ObjectStore
from ams_actors.store.outcomes import StoredObject

OPTS = SimOptions(stations=3, cameras=2, minutes=4.0, mode="network", meteors=5, rate=120.0, seed=3,
                  drain_minutes=20.0, lease_s=480.0, mc_runs=0, noise_arcsec=30.0,
                  sync_interval_s=30.0, correlate_interval_s=60.0, index_interval_s=60.0)
# Not `solution_objects`: whether a partner's meteor joins an event before or after its first solve is
# timing (one more solve per revision, `resolved_after_revision`), not a matter of keys; a second solve of
# one revision is still caught by `duplicate_solutions`.
SAME = ("meteors_injected", "detected_per_station", "events_expected", "events_found", "events_in_bucket",
        "events_not_in_truth", "events_solved", "solutions_accepted_per_event", "duplicate_solutions",
        "lost_events", "dead_stations", "invariant_violations", "access_denied")
CANARY = "CANARY-s3cr3t-5a1f0e9d"


@pytest.fixture(scope="module")
def pool() -> Iterator[Executor]:
    p = make_pool(2)
    yield p
    p.shutdown(wait=True, cancel_futures=True)


def _reset(endpoint: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()


async def night(opts: SimOptions, endpoint: str, root: Path, pool: Executor) -> tuple[dict[str, Any], dict[str, bytes],
                                                                                        list[str]]:
    """Run a night; return its report figures, every object left in the bucket, and the secrets in use."""
    net = SimNetwork(opts, endpoint, root, pool=pool)
    await net.start()
    try:
        secrets = [net.admin_credentials().secret_access_key]
        if net.keys is not None:
            secrets += [key.secret_access_key for key in net.keys.users.values()]
        await net.run(net.inject_network_mode)
    finally:
        await net.stop()
    # the outcome is read after stop (a bucket read while stations write mixes moments); stop also
    # switches the store's authorisation off again, so the harness's own key reads everything
    figures = net.report(await net.read_bucket())
    figures["access_denied"] = net.access_denied()
    objects: dict[str, bytes] = {}
    async with ObjectStore.open(endpoint, BUCKET, credentials=net.admin_credentials()) as store:
        for key in await store.list_keys(""):
            got = await store.get(key)
            assert isinstance(got, StoredObject)
            objects[key] = got.body
    return figures, objects, secrets


def _assert_no_secret(secrets: list[str], text: str, root: Path, objects: dict[str, bytes]) -> None:
    for secret in secrets:
        assert len(secret) >= 8
        assert secret not in text
        for key, body in objects.items():
            assert secret.encode() not in body, key
        for path in root.rglob("*"):
            if path.is_file() and path.suffix not in (".sock",):
                assert secret.encode() not in path.read_bytes(), path


@pytest.mark.slow
async def test_a_night_on_restricted_keys_ends_as_with_one_admin_key(
    s3_endpoint: str, tmp_path: Path, pool: Executor, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AMS_S3_SECRET_ACCESS_KEY", CANARY)  # the admin night's one key: recognisable
    with caplog.at_level(logging.INFO):
        admin, admin_objects, admin_secrets = await night(OPTS, s3_endpoint, tmp_path / "admin", pool)
    assert admin_secrets == [CANARY]
    _assert_no_secret(admin_secrets, caplog.text, tmp_path / "admin", admin_objects)
    caplog.clear()
    _reset(s3_endpoint)

    with caplog.at_level(logging.INFO):
        restricted, objects, secrets = await night(dataclasses.replace(OPTS, restricted_keys=True), s3_endpoint,
                                                   tmp_path / "restricted", pool)
    assert len(set(secrets)) == 1 + OPTS.stations and CANARY not in secrets  # the harness + one per station

    assert admin["events_expected"] >= 2 and admin["events_solved"] == admin["events_expected"], admin
    assert {k: restricted[k] for k in SAME} == {k: admin[k] for k in SAME}
    assert restricted["access_denied"] == 0
    assert "access denied" not in caplog.text and "AccessDenied" not in caplog.text
    assert "InvalidAccessKeyId" not in caplog.text and "SignatureDoesNotMatch" not in caplog.text
    assert abs(restricted["v_init_rel_err_median"] - admin["v_init_rel_err_median"]) < 0.01
    # claims and the rest of the bucket hold no secret; nor do the logs or the stations' files
    _assert_no_secret(secrets, caplog.text, tmp_path / "restricted", objects)
    assert any(key.endswith("/claim.json") for key in objects)


async def test_restricted_keys_are_really_enforced_in_a_night(s3_endpoint: str, tmp_path: Path,
                                                              pool: Executor) -> None:
    """The same harness, a station's key turned on another station's prefix: refused, counted."""
    from datetime import date

    from protocols import s3_keys

    net = SimNetwork(dataclasses.replace(OPTS, restricted_keys=True), s3_endpoint, tmp_path, pool=pool)
    await net.start()
    try:
        st = net.stations[1]
        store = st.ctx.store
        assert store is not None
        other = net.stations[2].config.station_id
        from ams_actors.store.outcomes import AccessDenied

        with pytest.raises(AccessDenied):
            await store.put(s3_keys.meteor_key(other, date(2026, 7, 12), "x"), b"{}")
        assert net.access_denied() == 1
    finally:
        await net.stop()


@pytest.mark.slow
async def test_an_expired_lease_is_stolen_on_restricted_keys(s3_endpoint: str, tmp_path: Path,
                                                             pool: Executor) -> None:
    """A claim holder is killed mid-solve; another station, on its own restricted key, takes the claim
    written by the dead one at the next epoch (If-Match on someone else's claim.json), solves and
    publishes under its own name, with no refusal from the store."""
    from ams_actors.sim.faults import alongside, hit_a_holder
    from protocols import claims as c

    opts = dataclasses.replace(OPTS, stations=4, meteors=6, restricted_keys=True)
    net = SimNetwork(opts, s3_endpoint, tmp_path, pool=pool)
    await net.start()
    found: list[Any] = []
    try:
        async def inject() -> None:
            found.extend(await alongside(net.inject_network_mode(),
                                         hit_a_holder(net, [1, 2, 3], net.kill_station)))

        await net.run(inject)
    finally:
        await net.stop()
    bucket = await net.read_bucket()
    denied = net.access_denied()
    hit = found[1]
    state, epoch, owner, key = bucket["claims"][hit.event_id]
    assert state == c.ClaimState.SOLVED and epoch > hit.epoch and owner != hit.station
    assert key.endswith(f"e{epoch}-{owner}.json") and key in bucket["solutions"][hit.event_id]
    assert denied == 0
