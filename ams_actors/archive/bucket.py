"""Where the bucket is, as a small picklable value: a task carries this, never a client or credentials."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from ams_actors.config import StationConfig


@dataclass(frozen=True, slots=True)
class BucketSpec:
    """Endpoint, bucket and the *names* of the credential variables (each worker reads its own env)."""

    endpoint: str | None
    bucket: str
    region: str = "us-east-1"
    access_key_env: str = "AWS_ACCESS_KEY_ID"
    secret_key_env: str = "AWS_SECRET_ACCESS_KEY"
    timeout_s: float = 30.0

    @classmethod
    def from_config(cls, config: StationConfig) -> BucketSpec:
        cfg = config.store
        return cls(cfg.endpoint or None, cfg.bucket, cfg.region, cfg.access_key_env, cfg.secret_key_env,
                   cfg.timeout_s)


@contextlib.asynccontextmanager
async def open_store(spec: BucketSpec) -> AsyncIterator[Any]:
    """This process's client of the bucket (a worker opens one per task: tasks are seconds long)."""
    from ams_actors.store.objectstore import Credentials, ObjectStore, Timeouts

    async with ObjectStore.open(
        spec.endpoint, spec.bucket, spec.region,
        credentials=Credentials.from_env(spec.access_key_env, spec.secret_key_env),
        timeouts=Timeouts(read=spec.timeout_s, attempt=spec.timeout_s * 1.5),
    ) as store:
        yield store
