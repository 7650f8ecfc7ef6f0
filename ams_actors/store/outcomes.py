"""Typed results of object-store operations.

The claim protocol (design.md §6) branches on *what the store answered*: 200, 412, 409, 404, or "no
answer". Raw ``botocore`` ``ClientError``s make every caller parse error codes and HTTP statuses, and
a misread (a 404 taken for a 412, a timeout taken for a loss) is a correctness bug, so the client maps
every expected answer to one of these frozen values and callers use ``match``/``isinstance``.

Unexpected failures (no such bucket, retries exhausted on a plain operation) are not outcomes: they
raise :class:`StoreError`; a refusal by the store's access policy raises its typed subclass
:class:`AccessDenied` (never retried, logged once).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias


@dataclass(frozen=True, slots=True)
class Created:
    """A conditional create (``If-None-Match: *``) wrote the object; ``etag`` is the new ETag."""

    etag: str


@dataclass(frozen=True, slots=True)
class Replaced:
    """A compare-and-swap (``If-Match: etag``) replaced the object; ``etag`` is the new ETag."""

    etag: str


@dataclass(frozen=True, slots=True)
class Written:
    """An unconditional put stored the object; ``etag`` is the new ETag."""

    etag: str


@dataclass(frozen=True, slots=True)
class PreconditionFailed:
    """412: the key exists (create) or holds another version (If-Match): someone else won."""

    key: str


@dataclass(frozen=True, slots=True)
class Conflict:
    """409 ConditionalRequestConflict: a concurrent conditional write was in flight; retry with jitter."""

    key: str


@dataclass(frozen=True, slots=True)
class NotFound:
    """404: the key does not exist (a get/head, or an If-Match write to a missing key)."""

    key: str


@dataclass(frozen=True, slots=True)
class Unknown:
    """A conditional write whose effect could not be determined (no answer, and no read-back either).

    The caller must treat it as "maybe": not owned, but possibly holding the key; read it again later
    (its token tells whether the write landed).
    """

    key: str
    reason: str


@dataclass(frozen=True, slots=True)
class TooLarge:
    """A get refused because the object is bigger than the caller's limit (bad partner files)."""

    key: str
    size: int
    limit: int
    etag: str


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What a head (or a listing, without metadata) says about an object."""

    key: str
    etag: str
    size: int
    last_modified: datetime | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class StoredObject:
    """An object read in full: bytes, ETag (quoted, as S3 returns it) and user metadata."""

    key: str
    body: bytes
    etag: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    last_modified: datetime | None = None
    content_type: str | None = None


CreateOutcome: TypeAlias = Created | PreconditionFailed | Conflict | Unknown
"""Possible results of ``put(..., if_none_match="*")``."""

ReplaceOutcome: TypeAlias = Replaced | PreconditionFailed | Conflict | NotFound | Unknown
"""Possible results of ``put(..., if_match=etag)``."""

PutOutcome: TypeAlias = Written | Created | Replaced | PreconditionFailed | Conflict | NotFound | Unknown
"""Union of every put result (for code that handles both kinds of condition)."""

GetOutcome: TypeAlias = StoredObject | NotFound | TooLarge
"""Possible results of ``get``."""

HeadOutcome: TypeAlias = ObjectInfo | NotFound
"""Possible results of ``head``."""


class StoreError(Exception):
    """A store failure that is not a protocol answer: bad credentials, missing bucket, retries exhausted.

    Carries the S3 error code and HTTP status (when there was a response) so the caller can log one
    clear line; it never carries credentials.
    """

    def __init__(
        self,
        operation: str,
        key: str | None,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        retryable: bool = False,
    ) -> None:
        self.operation = operation
        self.key = key
        self.code = code
        self.status = status
        self.retryable = retryable
        where = f"{operation} {key}" if key else operation
        detail = f" ({code}, HTTP {status})" if code or status else ""
        super().__init__(f"object store: {where}: {message}{detail}")


class StoreConfigError(StoreError):
    """The store cannot be opened as configured (e.g. a credential variable is not set)."""

    def __init__(self, message: str) -> None:
        super().__init__("open", None, message)


class AccessDenied(StoreError):
    """403 AccessDenied: the store's policy does not let these credentials do this to this key.

    A decision, not a failure: retrying cannot change it (only an operator changing the policy can), so
    it is never retried, and the client logs it once per key and permission. ``permission`` names the
    IAM action that is missing (``s3:PutObject`` ...), so the line tells the operator what to grant, or
    which bug made a station write where it does not belong.
    """

    def __init__(self, operation: str, key: str | None, permission: str, *, code: str = "AccessDenied") -> None:
        self.permission = permission
        target = f"{permission} on {key}" if key else permission
        super().__init__(operation, key, f"access denied: these credentials lack {target}", code=code, status=403)
