"""Server-side trace of every write the embedded S3 answers (issue 16 item 9).

When the bucket and the stations disagree, the client side cannot say which request changed what: a
lost answer, a retry, a proxy, or a second test process on the same server all look alike from there.
The server sees every write once, in the order it applied them, so it records one JSON line per write:
``{t0, t1, server, method, bucket, key, query, condition, copy_source, etag_before, status, etag_after,
client}``. ``server`` is this server's ``pid:port``, so two servers (or two processes) writing one
file show up at once.

Off by default; on with ``EmbeddedS3(trace=path)`` or ``AMS_S3_TRACE=path``. Cheap: one dict lookup
in moto's backend for ``etag_before`` and one buffered write per request under a small lock.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

TRACE_ENV = "AMS_S3_TRACE"


def current_etag(bucket: str, key: str) -> str | None:
    """The ETag moto holds for ``bucket/key`` now (None: no such object). Never raises."""
    if not bucket or not key:
        return None
    try:
        from moto.s3.models import s3_backends

        for account in list(s3_backends):
            for backend in s3_backends[account].values():
                found = backend.buckets.get(bucket)
                if found is not None:
                    obj = found.keys.get(key)
                    return None if obj is None else str(obj.etag)
    except Exception:  # tracing must never change what the server answers
        return None
    return None


class WriteTrace:
    """Appends one JSON line per write to ``path`` (line-buffered, so a killed run keeps its lines)."""

    def __init__(self, path: Path, server: str) -> None:
        self.path = path
        self.server = server
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("a", buffering=1, encoding="utf-8")

    def record(self, environ: dict[str, Any], bucket: str, key: str, t0: float, before: str | None,
               status: str, headers: list[tuple[str, str]]) -> None:
        etag_after = next((v for k, v in headers if k.lower() == "etag"), None)
        line = {
            "t0": round(t0, 6),
            "t1": round(time.time(), 6),
            "server": self.server,
            "method": environ.get("REQUEST_METHOD"),
            "bucket": bucket,
            "key": key,
            "query": environ.get("QUERY_STRING", ""),
            "condition": _condition(environ),
            "copy_source": environ.get("HTTP_X_AMZ_COPY_SOURCE"),
            "etag_before": before,
            "status": int(status.split()[0]) if status else 0,
            "etag_after": etag_after if status.startswith("2") else None,
            "client": f"{environ.get('REMOTE_ADDR')}:{environ.get('REMOTE_PORT')}",
        }
        with self._lock:
            if not self._fh.closed:
                self._fh.write(json.dumps(line) + "\n")

    def close(self) -> None:
        with self._lock:
            self._fh.close()


def _condition(environ: dict[str, Any]) -> str | None:
    if environ.get("HTTP_IF_NONE_MATCH"):
        return f"If-None-Match: {environ['HTTP_IF_NONE_MATCH']}"
    if environ.get("HTTP_IF_MATCH"):
        return f"If-Match: {environ['HTTP_IF_MATCH']}"
    return None


def read_trace(path: Path) -> list[dict[str, Any]]:
    """The trace lines of ``path`` (for tests and for reading a failed run)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def trace_path_from_env(explicit: Path | None) -> Path | None:
    """``explicit`` if given, else ``$AMS_S3_TRACE`` (with ``{pid}`` replaced, one file per process)."""
    if explicit is not None:
        return explicit
    raw = os.environ.get(TRACE_ENV, "")
    return Path(raw.replace("{pid}", str(os.getpid()))) if raw else None
