"""An S3 endpoint on this machine for the simulator, the tests and `[store] endpoint = "embedded"`:
moto's server on 127.0.0.1 (a pip extra: ``ams-actors[sim]``; imported only when one is started).

The simulated stations talk real HTTP to it through the same ObjectStore client as production, so
the claim protocol is exercised with real conditional requests.

moto alone checks `If-None-Match` / `If-Match` and then writes with no lock between the two, on a
multi-threaded server, so two racing creates can both win. The server here makes each object's writes
atomic, per key, and answers 409 ConditionalRequestConflict to a conditional write that meets another
write in flight on its key, as AWS does (see key_locks.py). Writes to different keys interleave, as
they will on Wasabi; reads stay concurrent.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from ams_actors.store.embedded.key_locks import (
    WRITE_METHODS,
    KeyLocks,
    Target,
    conflict_response,
    is_part_upload,
    request_target,
)
from ams_actors.store.embedded.s3_trace import WriteTrace, current_etag, trace_path_from_env

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


PROCESS_LOCKS = KeyLocks()


class AtomicWrites:
    """WSGI middleware: per-key atomic writes, 409 to a conditional write that finds its key busy."""

    def __init__(self, app: WSGIApp, trace: WriteTrace | None = None) -> None:
        self.app = app
        # moto keeps every server's buckets in one process-wide backend (and its reset wipes them all),
        # so the locks are process-wide too: two servers in one process are atomic with each other
        self.locks = PROCESS_LOCKS
        self.trace = trace
        self.conflicts = 0  # 409s answered (tests read it to see contention happen)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in WRITE_METHODS:
            return self.app(environ, start_response)
        target = request_target(environ)
        if not target.one_object:
            with self.locks.wide():
                return self._serve(self.app, environ, start_response, target)
        if is_part_upload(environ):
            return self._serve(self.app, environ, start_response, target)
        with self.locks.one(target.bucket, target.key, wait=not target.conditional) as got:
            if not got:
                self.conflicts += 1
                _drain(environ)
                return self._serve(_conflict, environ, start_response, target)
            # the whole answer is produced under the lock: moto writes while it builds the response
            return self._serve(self.app, environ, start_response, target)

    def _serve(self, app: WSGIApp, environ: dict[str, Any], start_response: Callable[..., Any],
               target: Target) -> list[bytes]:
        """Run ``app`` to the end; with a trace, record the write (under the key's lock, if it has one)."""
        if self.trace is None:
            return list(app(environ, start_response))
        t0, before = time.time(), current_etag(target.bucket, target.key)
        seen: list[Any] = ["", []]

        def capture(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            seen[0], seen[1] = status, headers
            return start_response(status, headers, *exc)

        out = list(app(environ, capture))
        key = target.key if target.key or target.bucket else str(environ.get("PATH_INFO", ""))
        self.trace.record(environ, target.bucket, key, t0, before, seen[0], seen[1])
        return out


def _conflict(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    target = request_target(environ)
    status, headers, body = conflict_response(f"/{target.bucket}/{target.key}")
    start_response(status, headers)
    return [body]


def _drain(environ: dict[str, Any]) -> None:
    """Read the body of a request answered without moto, so the connection stays usable."""
    try:
        left = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    stream = environ.get("wsgi.input")
    while stream is not None and left > 0:
        chunk = stream.read(min(left, 1 << 16))
        if not chunk:
            return
        left -= len(chunk)


class EmbeddedS3:
    """`with EmbeddedS3() as s3: s3.url` — moto on 127.0.0.1, a free port, atomic conditional writes.

    ``atomic=False`` serves plain moto (check-then-write): only for tests that show the start-up
    probe refusing such a store. ``trace`` (or ``$AMS_S3_TRACE``) writes one JSON line per write
    (s3_trace.py).
    """

    def __init__(self, *, atomic: bool = True, trace: Path | None = None, port: int = 0) -> None:
        """``port``: 0 for a free one; a fixed port lets several stations of one machine share the server
        (the first to bind serves it; OSError EADDRINUSE for the others)."""
        self.atomic = atomic
        self.port = port
        self.trace_path = trace_path_from_env(trace) if atomic else None
        self._trace: WriteTrace | None = None
        self.url = ""
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.app: AtomicWrites | None = None

    def __enter__(self) -> EmbeddedS3:
        from ams_actors.runtime.extras import require

        require("sim")  # a station install has no moto: say how to get it, in one line
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        # werkzeug logs every request at INFO; a simulated night makes tens of thousands
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        os.environ.setdefault("AMS_S3_ACCESS_KEY_ID", "sim")
        os.environ.setdefault("AMS_S3_SECRET_ACCESS_KEY", "sim")
        moto_app = DomainDispatcherApplication(create_backend_app)
        self.app = AtomicWrites(moto_app) if self.atomic else None
        if self.port:
            # bind here: werkzeug's own bind calls sys.exit(1) on a port in use, and a station sharing
            # another's server needs the OSError instead
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("127.0.0.1", self.port))
                sock.listen(128)
                self._server = make_server("127.0.0.1", self.port, self.app or moto_app, threaded=True,
                                           fd=sock.fileno())
        else:
            self._server = make_server("127.0.0.1", 0, self.app or moto_app, threaded=True)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        if self.app is not None and self.trace_path is not None:
            self._trace = self.app.trace = WriteTrace(self.trace_path, f"{os.getpid()}:{port}")
        self._thread = threading.Thread(target=self._server.serve_forever, name="embedded-s3", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._trace is not None:
            self._trace.close()
            self._trace = None
