"""Retry policy for object-store calls: which failures are transient, and how long to wait.

botocore's own retry loop is switched off (see ``objectstore``): it would retry a conditional PUT
blindly, and a retried create whose first attempt landed answers 412, which the claim protocol would
read as "someone else owns it". Instead, plain operations retry here, and conditional writes read the
key back between attempts.

The sleep function and the RNG are injected so the station's clock drives back-off (virtual time in
the simulator) and tests never sleep for real.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    IncompleteReadError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

SleepFn = Callable[[float], Awaitable[None]]

#: S3 error codes that mean "try again later" whatever the HTTP status says.
RETRYABLE_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "BandwidthLimitExceeded",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "ServiceUnavailable",
        "OperationAborted",
    }
)

#: 5xx statuses that are not transient: the store does not implement what we asked for.
NON_RETRYABLE_5XX = frozenset({501, 505})


def error_code(err: ClientError) -> str:
    """The S3 error code of a ClientError ("" if absent)."""
    return str(err.response.get("Error", {}).get("Code", ""))


def error_status(err: ClientError) -> int:
    """The HTTP status of a ClientError (0 if absent)."""
    meta = err.response.get("ResponseMetadata", {})
    try:
        return int(meta.get("HTTPStatusCode", 0))
    except (TypeError, ValueError):
        return 0


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying: 5xx, throttling, timeouts, dropped connections.

    For a write, "transient" also means "may or may not have happened" — the caller decides whether a
    blind retry is safe (plain operations) or a read-back is needed (conditional writes).
    """
    if isinstance(exc, ClientError):
        status = error_status(exc)
        if status in NON_RETRYABLE_5XX:
            return False
        return status >= 500 or status == 429 or error_code(exc) in RETRYABLE_CODES
    if isinstance(exc, (HTTPClientError, BotoConnectionError, IncompleteReadError)):
        return True
    if isinstance(exc, (aiohttp.ClientError, asyncio.TimeoutError, TimeoutError, ConnectionError)):
        return True
    # Other BotoCoreErrors (bad parameters, missing credentials...) are programming/config errors.
    return not isinstance(exc, BotoCoreError) and isinstance(exc, OSError)


def describe(exc: BaseException) -> str:
    """One line naming a failure without dumping request details (no credentials in there)."""
    if isinstance(exc, ClientError):
        return f"{error_code(exc) or 'error'} (HTTP {error_status(exc)})"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass(frozen=True)
class RetryPolicy:
    """Jittered exponential back-off.

    ``attempts`` counts every try including the first. The n-th retry waits a uniform random time in
    ``[d/2, d]`` with ``d = min(max_delay, base_delay * 2**(n-1))`` ("equal jitter": spreads stations
    that failed together, never retries at once).
    """

    attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 10.0
    sleep: SleepFn = asyncio.sleep
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be >= 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("RetryPolicy delays must be >= 0")

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 = the first retry)."""
        cap = min(self.max_delay, self.base_delay * (2 ** max(0, retry - 1)))
        return cap / 2 + self.rng.uniform(0, cap / 2)

    async def backoff(self, retry: int) -> None:
        """Sleep (with the injected sleep function) before retry number ``retry``."""
        await self.sleep(self.delay(retry))
