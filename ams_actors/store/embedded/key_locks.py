"""Per-key atomicity for the embedded S3, as real stores give it (design.md §6, issue 16 item 10).

moto's PutObject checks `If-None-Match` / `If-Match` and then writes, with no lock between the two, on
a multi-threaded server: two racing creates can both succeed. One global lock fixed that but made the
store stronger than S3 (every write of the whole bucket serialised), which hides races the stations
will meet on Wasabi. Real stores are atomic per key, and AWS answers 409 ConditionalRequestConflict to a
conditional write that meets another write in flight on the same key. This module gives exactly that:

- a write of one object holds that object's lock; writes to other keys run in parallel;
- a conditional write (`If-None-Match` / `If-Match`) that finds its key busy is answered 409 at once;
  an unconditional one waits its turn (last writer wins, as on S3);
- requests that touch many keys or the whole server (bucket create/delete, multi-object delete, moto's
  reset) wait until no object write is in flight and hold every other write off meanwhile.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

WRITE_METHODS = frozenset({"PUT", "POST", "DELETE"})

_CONFLICT_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ConditionalRequestConflict</Code>'
    "<Message>A conflicting conditional operation is currently in progress against this resource. "
    "Please try again.</Message><Resource>{resource}</Resource><RequestId>ams-embedded-s3</RequestId></Error>"
).format


@dataclass(frozen=True, slots=True)
class Target:
    """What a request writes: one object (``key`` non-empty) or something wider (``key`` empty)."""

    bucket: str
    key: str
    conditional: bool

    @property
    def one_object(self) -> bool:
        return bool(self.bucket and self.key)


def request_target(environ: dict[str, Any]) -> Target:
    """The bucket and key a request addresses (path style, or virtual-host style ``bucket.host``)."""
    path = unquote(environ.get("PATH_INFO", "") or "/").lstrip("/")
    host = str(environ.get("HTTP_HOST", "")).rsplit(":", 1)[0]
    conditional = bool(environ.get("HTTP_IF_NONE_MATCH") or environ.get("HTTP_IF_MATCH"))
    if path.startswith("moto-api"):
        return Target("", "", conditional)
    labels = host.split(".")
    virtual = len(labels) > 1 and not host.replace(".", "").isdigit() and labels[0] not in ("s3", "localhost")
    if virtual:
        bucket, key = labels[0], path
    else:
        bucket, _, key = path.partition("/")
    query = str(environ.get("QUERY_STRING", ""))
    if "delete" in query.split("&") and not key:
        return Target(bucket, "", conditional)  # DeleteObjects: many keys at once
    return Target(bucket, key, conditional)


def is_part_upload(environ: dict[str, Any]) -> bool:
    """UploadPart writes a part of a pending upload, not the object: it needs no object lock."""
    query = str(environ.get("QUERY_STRING", ""))
    return environ.get("REQUEST_METHOD") == "PUT" and "partNumber=" in query and "uploadId=" in query


def conflict_response(resource: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """The 409 AWS gives a conditional write that races another in flight on the same key."""
    body = _CONFLICT_XML(resource=resource).encode()
    return "409 Conflict", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))], body


class KeyLocks:
    """One lock per (bucket, key), created on demand and dropped when nobody uses it, under a gate
    that wide requests take exclusively (a readers-writer lock: object writes are the readers)."""

    def __init__(self) -> None:
        self._guard = threading.Condition()
        self._locks: dict[tuple[str, str], tuple[threading.Lock, int]] = {}
        self._object_writes = 0
        self._wide = False

    @contextlib.contextmanager
    def wide(self) -> Iterator[None]:
        """Hold off every object write, after the ones in flight finished."""
        with self._guard:
            while self._wide:
                self._guard.wait()
            self._wide = True  # from now on new object writes wait: a busy night cannot starve a reset
            while self._object_writes:
                self._guard.wait()
        try:
            yield
        finally:
            with self._guard:
                self._wide = False
                self._guard.notify_all()

    @contextlib.contextmanager
    def one(self, bucket: str, key: str, *, wait: bool) -> Iterator[bool]:
        """Hold the lock of one object. With ``wait=False`` yields False at once when it is busy."""
        name = (bucket, key)
        with self._guard:
            while self._wide:
                self._guard.wait()
            lock, users = self._locks.get(name, (threading.Lock(), 0))
            self._locks[name] = (lock, users + 1)
            self._object_writes += 1
        got = lock.acquire(blocking=wait)
        try:
            yield got
        finally:
            if got:
                lock.release()
            with self._guard:
                lock, users = self._locks[name]
                if users <= 1:
                    del self._locks[name]
                else:
                    self._locks[name] = (lock, users - 1)
                self._object_writes -= 1
                self._guard.notify_all()

    def in_use(self) -> int:
        """How many object locks exist now (0 when idle: they do not pile up over a night)."""
        with self._guard:
            return len(self._locks)
