"""Async S3 client for the shared bucket (Wasabi in production, moto in tests and ``ams sim``).

One aiobotocore client per station, created by :meth:`ObjectStore.open` and shared by every actor.
Every call returns a typed outcome (``outcomes``) or raises :class:`StoreError`; the claim protocol
never sees a raw ``ClientError``.

Why the client is configured as it is:

- botocore's retries are off (``total_max_attempts=1``): a blind retry of a conditional PUT whose
  first attempt landed answers 412, i.e. "lost" although we won. Plain operations retry here with
  jittered back-off; conditional writes read the key back between attempts (design.md §6:
  "timeout/5xx → read back: ours if the token is ours").
- Path-style addressing works with moto, Wasabi and a local fault proxy alike (no DNS per bucket).
- Request checksums only "when required": botocore ≥ 1.36 otherwise adds CRC headers/trailers that
  some S3-compatible stores reject; the ETag and our own metadata hash cover integrity.
- aiohttp silently re-sends a PUT once when the server drops the connection before answering
  (``ClientSession._retry_connection``, RFC 9112 "idempotent" retry). For a conditional PUT whose
  first copy landed that resend answers 412 — a won claim reported as lost — so
  :class:`_NoResendHTTPSession` turns it off; failures surface and the read-back decides.
- Credentials are read from environment variables only, by name, and never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, overload

from aiobotocore.config import AioConfig
from aiobotocore.httpsession import AIOHTTPSession
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from ams_actors.store.outcomes import (
    AccessDenied,
    Conflict,
    Created,
    CreateOutcome,
    GetOutcome,
    HeadOutcome,
    NotFound,
    ObjectInfo,
    PreconditionFailed,
    PutOutcome,
    Replaced,
    ReplaceOutcome,
    StoreConfigError,
    StoredObject,
    StoreError,
    TooLarge,
    Unknown,
    Written,
)
from ams_actors.store.retry import RetryPolicy, describe, error_code, error_status, is_transient
from protocols.bucket_access import OPERATION_ACTIONS

log = logging.getLogger("ams_actors.store")

T = TypeVar("T")

#: Default refusal size for ``get`` (partner files are small JSON; a huge object is an attack or a bug).
DEFAULT_MAX_GET_BYTES = 64 * 1024 * 1024

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
#: 403 codes that are the store's access policy speaking (not a bad signature or a clock problem; a HEAD's
#: 403 has no body, so its code is just "403" and a wrong key looks the same there)
_DENIED_CODES = frozenset({"AccessDenied", "AllAccessDisabled", "403", "Forbidden"})
_READ_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Network time limits (seconds, real time: the network does not follow the virtual clock).

    ``attempt`` bounds one whole try (request + reading the body), so a stalled store turns into a
    retry instead of a hung actor.
    """

    connect: float = 5.0
    read: float = 20.0
    attempt: float = 30.0


@dataclass(frozen=True)
class Credentials:
    """S3 credentials taken from environment variables (never from files, never logged)."""

    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(
        cls,
        access_key_var: str = "AWS_ACCESS_KEY_ID",
        secret_key_var: str = "AWS_SECRET_ACCESS_KEY",
        session_token_var: str = "AWS_SESSION_TOKEN",
        environ: Mapping[str, str] | None = None,
    ) -> Credentials:
        """Read the named variables; a missing one is a :class:`StoreConfigError` naming the variable."""
        env = os.environ if environ is None else environ
        missing = [v for v in (access_key_var, secret_key_var) if not env.get(v)]
        if missing:
            raise StoreConfigError("credentials come from environment variables only; not set: " + ", ".join(missing))
        return cls(env[access_key_var], env[secret_key_var], env.get(session_token_var) or None)


OUTAGE_ATTEMPTS = 3  # failed attempts in a row that make an outage worth a warning

_session: Any = None


def _shared_session() -> Any:
    """One aiobotocore session per process: it caches the parsed S3 service model (~0.1 s per client).

    The session holds no connections or loop state (clients do), so sharing it across loops is safe.
    """
    global _session
    if _session is None:
        _session = get_session()
    return _session


class _NoResendHTTPSession(AIOHTTPSession):
    """aiobotocore's aiohttp session with aiohttp's automatic request resend switched off (see top)."""

    async def _get_session(self, proxy_url: Any) -> Any:
        session = await super()._get_session(proxy_url)
        if getattr(session, "_retry_connection", False):
            session._retry_connection = False
        return session


class ObjectStore:
    """The bucket as typed async operations. Create with ``async with ObjectStore.open(...) as store``.

    All keys are relative to ``bucket``. ETags are passed and returned exactly as S3 shows them
    (quoted). Safe to share between tasks of one event loop.
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        endpoint_url: str | None,
        region: str,
        retry: RetryPolicy,
        timeouts: Timeouts,
        max_get_bytes: int,
    ) -> None:
        self._client = client
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        self.retry = retry
        self.timeouts = timeouts
        self.max_get_bytes = max_get_bytes
        #: (permission, key) refused by the store's access policy so far (each logged once)
        self.denied: set[tuple[str, str | None]] = set()
        #: times the store answered again after failing (network errors, timeouts, 5xx). A station
        #: that came up offline re-probes when this moves (StoreWatch), not only on its timer.
        self.recoveries = 0
        self._failing = False
        self._failed_attempts = 0

    def _note(self, answered: bool, op: str = "", key: str | None = None, why: BaseException | None = None) -> None:
        """Track whether the store answers: any HTTP answer but a transient one counts as reachable.

        An operator reads one warning when the store stops answering (OUTAGE_ATTEMPTS failed attempts
        in a row: a single 503 that the next attempt gets past is no news) and one line when it is
        back, not one per attempt of every request of every actor (those are DEBUG)."""
        if answered:
            if self._failing:
                self.recoveries += 1
            if self._failed_attempts >= OUTAGE_ATTEMPTS:
                log.warning("store %s answers again (%d attempt(s) failed during the outage)", self.location,
                            self._failed_attempts)
            self._failed_attempts = 0
        else:
            self._failed_attempts += 1
            if self._failed_attempts == OUTAGE_ATTEMPTS:
                log.warning("store %s is not answering (%s %s: %s); retrying quietly until it answers",
                            self.location, op, key or "", describe(why) if why is not None else "no answer")
        self._failing = not answered

    def __repr__(self) -> str:
        return f"ObjectStore(endpoint_url={self.endpoint_url!r}, bucket={self.bucket!r})"

    @property
    def location(self) -> str:
        """Human-readable ``endpoint/bucket`` for messages."""
        return f"{self.endpoint_url or 'AWS S3'}/{self.bucket}"

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        endpoint_url: str | None,
        bucket: str,
        region: str = "us-east-1",
        *,
        credentials: Credentials | None = None,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        max_get_bytes: int = DEFAULT_MAX_GET_BYTES,
        max_pool_connections: int = 16,
        addressing_style: Literal["path", "virtual", "auto"] = "path",
    ) -> AsyncIterator[ObjectStore]:
        """Create the one aiobotocore client of this process and close it on exit.

        ``credentials`` defaults to :meth:`Credentials.from_env` (``AWS_ACCESS_KEY_ID`` /
        ``AWS_SECRET_ACCESS_KEY``), so no file or instance-metadata lookup ever happens.
        """
        if len(bucket) < 3:
            raise StoreConfigError(f"bucket name {bucket!r} is too short (S3 needs 3-63 characters)")
        creds = credentials if credentials is not None else Credentials.from_env()
        tmo = timeouts or Timeouts()
        config = AioConfig(
            connect_timeout=tmo.connect,
            read_timeout=tmo.read,
            retries={"total_max_attempts": 1, "mode": "standard"},
            s3={"addressing_style": addressing_style},
            max_pool_connections=max_pool_connections,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            http_session_cls=_NoResendHTTPSession,
        )
        async with _shared_session().create_client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=creds.access_key_id,
            aws_secret_access_key=creds.secret_access_key,
            aws_session_token=creds.session_token,
            config=config,
        ) as client:
            yield cls(
                client,
                bucket,
                endpoint_url=endpoint_url,
                region=region,
                retry=retry or RetryPolicy(),
                timeouts=tmo,
                max_get_bytes=max_get_bytes,
            )

    async def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (simulator and tests; production buckets pre-exist)."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}

        async def call() -> None:
            try:
                await self._client.create_bucket(**kwargs)
            except ClientError as e:
                if error_code(e) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

        await self._plain("create_bucket", None, call)

    # ------------------------------------------------------------------ plain operations

    async def get(self, key: str, *, max_bytes: int | None = None) -> GetOutcome:
        """Read a whole object: ``StoredObject``, ``NotFound``, or ``TooLarge`` past ``max_bytes``.

        The size is checked from Content-Length before reading and again while reading, so a lying
        or huge partner file never gets into memory.
        """
        limit = self.max_get_bytes if max_bytes is None else max_bytes

        async def call() -> GetOutcome:
            try:
                resp = await self._client.get_object(Bucket=self.bucket, Key=key)
            except ClientError as e:
                if error_status(e) == 404 and error_code(e) in _NOT_FOUND_CODES:
                    return NotFound(key)
                raise
            etag = str(resp.get("ETag", ""))
            size = int(resp.get("ContentLength", 0) or 0)
            async with resp["Body"] as stream:
                if size > limit:
                    return TooLarge(key, size, limit, etag)
                chunks: list[bytes] = []
                total = 0
                while True:
                    chunk = await stream.read(_READ_CHUNK)
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > limit:
                        return TooLarge(key, total, limit, etag)
                    chunks.append(chunk)
            return StoredObject(
                key=key,
                body=b"".join(chunks),
                etag=etag,
                metadata=dict(resp.get("Metadata") or {}),
                last_modified=resp.get("LastModified"),
                content_type=resp.get("ContentType"),
            )

        return await self._plain("get", key, call)

    async def head(self, key: str) -> HeadOutcome:
        """ETag, size and metadata of an object without reading it, or ``NotFound``."""

        async def call() -> HeadOutcome:
            try:
                resp = await self._client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as e:
                if error_status(e) == 404:
                    return NotFound(key)
                raise
            return ObjectInfo(
                key=key,
                etag=str(resp.get("ETag", "")),
                size=int(resp.get("ContentLength", 0) or 0),
                last_modified=resp.get("LastModified"),
                metadata=dict(resp.get("Metadata") or {}),
                content_type=resp.get("ContentType"),
            )

        return await self._plain("head", key, call)

    async def delete(self, key: str) -> None:
        """Delete a key (idempotent: deleting a missing key succeeds, so retrying is safe)."""

        async def call() -> None:
            await self._client.delete_object(Bucket=self.bucket, Key=key)

        await self._plain("delete", key, call)

    async def list_objects(
        self, prefix: str = "", *, start_after: str | None = None, page_size: int | None = None
    ) -> AsyncIterator[ObjectInfo]:
        """Every object under ``prefix`` in key order, page by page (each page retried on its own).

        Listing entries carry no user metadata (S3 does not return it); use :meth:`head` for that.
        """
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
            if page_size:
                kwargs["MaxKeys"] = page_size
            if token:
                kwargs["ContinuationToken"] = token
            elif start_after:
                kwargs["StartAfter"] = start_after

            async def call(kw: dict[str, Any] = kwargs) -> Any:
                return await self._client.list_objects_v2(**kw)

            page = await self._plain("list", prefix, call)
            for item in page.get("Contents", []) or []:
                yield ObjectInfo(
                    key=item["Key"],
                    etag=str(item.get("ETag", "")),
                    size=int(item.get("Size", 0) or 0),
                    last_modified=item.get("LastModified"),
                )
            if not page.get("IsTruncated"):
                return
            token = page.get("NextContinuationToken")
            if not token:
                return

    async def list_keys(self, prefix: str = "") -> list[str]:
        """All keys under ``prefix`` (convenience over :meth:`list_objects`)."""
        return [info.key async for info in self.list_objects(prefix)]

    async def list_prefixes(self, prefix: str = "", delimiter: str = "/") -> list[str]:
        """The "sub-folders" directly under ``prefix`` (e.g. the stations under ``stations/``)."""
        found: list[str] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "Delimiter": delimiter}
            if token:
                kwargs["ContinuationToken"] = token

            async def call(kw: dict[str, Any] = kwargs) -> Any:
                return await self._client.list_objects_v2(**kw)

            page = await self._plain("list", prefix, call)
            found.extend(p["Prefix"] for p in page.get("CommonPrefixes", []) or [])
            token = page.get("NextContinuationToken") if page.get("IsTruncated") else None
            if not token:
                return found

    # ------------------------------------------------------------------ writes

    @overload
    async def put(
        self,
        key: str,
        body: bytes,
        *,
        if_none_match: None = None,
        if_match: None = None,
        metadata: Mapping[str, str] | None = None,
        content_type: str | None = None,
    ) -> Written: ...

    @overload
    async def put(
        self,
        key: str,
        body: bytes,
        *,
        if_none_match: Literal["*"],
        if_match: None = None,
        metadata: Mapping[str, str] | None = None,
        content_type: str | None = None,
    ) -> CreateOutcome: ...

    @overload
    async def put(
        self,
        key: str,
        body: bytes,
        *,
        if_none_match: None = None,
        if_match: str,
        metadata: Mapping[str, str] | None = None,
        content_type: str | None = None,
    ) -> ReplaceOutcome: ...

    async def put(
        self,
        key: str,
        body: bytes,
        *,
        if_none_match: Literal["*"] | None = None,
        if_match: str | None = None,
        metadata: Mapping[str, str] | None = None,
        content_type: str | None = None,
    ) -> PutOutcome:
        """Write an object, unconditionally or as a create / compare-and-swap.

        - no condition → ``Written(etag)`` (retried blindly: rewriting the same bytes is harmless);
        - ``if_none_match="*"`` → ``Created | PreconditionFailed | Conflict | Unknown``;
        - ``if_match=etag`` → ``Replaced | PreconditionFailed | Conflict | NotFound | Unknown``.

        A conditional write is never retried blindly: after a timeout/5xx the key is read back and the
        write counts as ours only if the stored bytes are exactly ``body``. Callers must therefore make
        every conditional payload unique (a token and a sequence number), as design.md §6 requires.
        """
        if if_none_match is not None and if_match is not None:
            raise ValueError("put: give if_none_match or if_match, not both")
        if if_none_match is not None and if_none_match != "*":
            raise ValueError('put: if_none_match must be "*"')
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "Body": body}
        if metadata:
            kwargs["Metadata"] = _check_metadata(metadata)
        if content_type:
            kwargs["ContentType"] = content_type
        if if_none_match is None and if_match is None:
            return await self._put_plain(key, kwargs)
        if if_none_match is not None:
            kwargs["IfNoneMatch"] = "*"
        else:
            kwargs["IfMatch"] = if_match
        return await self._put_conditional(key, body, kwargs, if_match)

    async def _put_plain(self, key: str, kwargs: dict[str, Any]) -> Written:
        async def call() -> Written:
            resp = await self._client.put_object(**kwargs)
            return Written(str(resp.get("ETag", "")))

        return await self._plain("put", key, call)

    async def _put_conditional(
        self, key: str, body: bytes, kwargs: dict[str, Any], if_match: str | None
    ) -> CreateOutcome | ReplaceOutcome:
        op = "put if-match" if if_match is not None else "put if-none-match"
        reason = "no attempt made"
        for attempt in range(self.retry.attempts):
            if attempt:
                await self.retry.backoff(attempt)
            try:
                async with asyncio.timeout(self.timeouts.attempt):
                    resp = await self._client.put_object(**kwargs)
            except ClientError as e:
                status, code = error_status(e), error_code(e)
                self._note(not is_transient(e), op, key, e)
                refused: PreconditionFailed | Conflict | None = None
                if status == 412 or code == "PreconditionFailed":
                    refused = PreconditionFailed(key)
                elif status == 409:  # ConditionalRequestConflict (or OperationAborted): caller retries
                    refused = Conflict(key)
                if refused is not None:
                    if attempt == 0:
                        return refused
                    # An earlier attempt that timed out may have landed after our read-back: then this
                    # refusal is against our own bytes. Only a second read-back can tell.
                    again = await self._read_back(key, body, if_match)
                    return again if isinstance(again, Created | Replaced) else refused
                if if_match is not None and status == 404 and code in _NOT_FOUND_CODES:
                    return NotFound(key)
                if not is_transient(e):
                    raise self._refusal(op, key, e) from e
                reason = describe(e)
            except Exception as e:
                if not is_transient(e):
                    raise
                self._note(False, op, key, e)
                reason = describe(e)
            else:
                self._note(True)
                return (Created if if_match is None else Replaced)(str(resp.get("ETag", "")))

            log.debug("%s %s: %s; reading the key back", op, key, reason)
            decided = await self._read_back(key, body, if_match)
            if decided is not None:
                return decided
        return Unknown(key, f"{op} gave no answer after {self.retry.attempts} attempts: {reason}")

    async def _read_back(self, key: str, body: bytes, if_match: str | None) -> CreateOutcome | ReplaceOutcome | None:
        """Decide a conditional write that got no answer; ``None`` means "did not land, safe to retry"."""
        try:
            found = await self.get(key, max_bytes=len(body))
        except StoreError as e:
            return Unknown(key, f"no answer to the write, and the read-back failed: {e}")
        if isinstance(found, StoredObject) and found.body == body:
            return Created(found.etag) if if_match is None else Replaced(found.etag)
        if isinstance(found, NotFound):
            # A create on a missing key is still guarded by If-None-Match: retrying is safe.
            return None if if_match is None else NotFound(key)
        # Another version is stored. For If-Match, the old version still there means our write did not
        # land and the condition still guards a retry; anything else means someone else won.
        if if_match is not None and found.etag == if_match:
            return None
        return PreconditionFailed(key)

    # ------------------------------------------------------------------ retry machinery

    def _refusal(self, op: str, key: str | None, e: ClientError) -> StoreError:
        """The error for a final (non-transient) answer; an access-policy refusal is logged once per key."""
        code, status = error_code(e), error_status(e)
        if status == 403 and code in _DENIED_CODES:
            denied = AccessDenied(op, key, OPERATION_ACTIONS.get(op, op), code=code)
            if (denied.permission, key) not in self.denied:
                self.denied.add((denied.permission, key))
                log.error("%s (not retried; grant it in the store's policy if this role should do that)", denied)
            return denied
        return StoreError(op, key, str(e.response.get("Error", {}).get("Message", "")), code=code, status=status)

    async def _plain(self, op: str, key: str | None, call: Callable[[], Awaitable[T]]) -> T:
        """Run an idempotent call with timeouts and jittered back-off on transient failures."""
        last: BaseException | None = None
        for attempt in range(self.retry.attempts):
            if attempt:
                await self.retry.backoff(attempt)
            try:
                async with asyncio.timeout(self.timeouts.attempt):
                    result = await call()
                self._note(True)
                return result
            except ClientError as e:
                self._note(not is_transient(e), op, key, e)
                if not is_transient(e):
                    raise self._refusal(op, key, e) from e
                last = e
            except Exception as e:
                if not is_transient(e):
                    raise
                self._note(False, op, key, e)
                last = e
            log.debug("%s %s: %s (attempt %d/%d)", op, key or "", describe(last), attempt + 1, self.retry.attempts)
        assert last is not None
        status = error_status(last) if isinstance(last, ClientError) else None
        code = error_code(last) if isinstance(last, ClientError) else None
        raise StoreError(
            op,
            key,
            f"gave up after {self.retry.attempts} attempts: {describe(last)}",
            code=code,
            status=status,
            retryable=True,
        ) from last


def _check_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """S3 user metadata: lower-case keys, ASCII values (anything else is mangled by the store)."""
    out: dict[str, str] = {}
    for k, v in metadata.items():
        if not k or k != k.lower() or not all(c.isalnum() or c in "-_" for c in k) or not k.isascii():
            raise ValueError(f"metadata key {k!r}: use lower-case ASCII letters, digits, '-' or '_'")
        if not isinstance(v, str) or not v.isascii():
            raise ValueError(f"metadata {k!r}: value must be an ASCII string")
        out[k] = v
    return out
