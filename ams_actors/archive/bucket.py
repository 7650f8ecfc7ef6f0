"""Where the bucket is, as a small picklable value (a task carries this, never a client or credentials),
and each process's one client of it.

A task used to open its own client with ``asyncio.run``: a new aiobotocore client, new connections and a
new event loop per task, ~0.1 s before its first request answered (measured on the embedded S3, where
an event's whole solve takes ~0.1 s). Dask's idiom for such state is a per-worker resource made once
and reused by every task the worker runs; a worker here is one process, so :func:`on_bucket` keeps one
event loop thread and one ObjectStore per bucket per process, made on first use. That works the same
on any cluster's workers (nothing to register), in the plain loop of the benchmark and in the client.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ams_actors.config import StationConfig

T = TypeVar("T")


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
    """A new client of the bucket (the process's shared one is :func:`on_bucket`'s)."""
    from ams_actors.store.objectstore import Credentials, ObjectStore, Timeouts

    async with ObjectStore.open(
        spec.endpoint, spec.bucket, spec.region,
        credentials=Credentials.from_env(spec.access_key_env, spec.secret_key_env),
        timeouts=Timeouts(read=spec.timeout_s, attempt=spec.timeout_s * 1.5),
    ) as store:
        yield store


class _BucketLoop:
    """An event loop in a daemon thread holding one open ObjectStore per bucket, closed at exit."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self._opening: dict[BucketSpec, asyncio.Task[Any]] = {}
        self._stack = contextlib.AsyncExitStack()
        threading.Thread(target=self.loop.run_forever, name="archive-bucket", daemon=True).start()

    async def _store(self, spec: BucketSpec) -> Any:
        # created before any await: two tasks of this loop asking at once share one opening
        if spec not in self._opening:
            self._opening[spec] = asyncio.ensure_future(self._stack.enter_async_context(open_store(spec)))
        return await asyncio.shield(self._opening[spec])

    async def _call(self, spec: BucketSpec, fn: Callable[[Any], Awaitable[T]]) -> T:
        return await fn(await self._store(spec))

    def run(self, spec: BucketSpec, fn: Callable[[Any], Awaitable[T]]) -> T:
        return asyncio.run_coroutine_threadsafe(self._call(spec, fn), self.loop).result()

    def close(self) -> None:
        if self.loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._stack.aclose(), self.loop).result(timeout=10)
            self.loop.call_soon_threadsafe(self.loop.stop)


_loop: _BucketLoop | None = None
_loop_lock = threading.Lock()


def on_bucket(spec: BucketSpec, fn: Callable[[Any], Awaitable[T]]) -> T:
    """``await fn(store)`` on this process's client of ``spec``'s bucket, from synchronous code (a Dask
    task, the client's loop). Safe from several threads; not from the bucket loop itself."""
    global _loop
    with _loop_lock:
        if _loop is None or _loop.pid != os.getpid():  # a forked child gets its own
            _loop = _BucketLoop()
            atexit.register(_loop.close)
        runner = _loop
    return runner.run(spec, fn)
