"""An S3 endpoint on this machine for the simulator and the tests: moto's server on 127.0.0.1.

The simulated stations talk real HTTP to it through the same ObjectStore client as production, so
the claim protocol is exercised with real conditional requests.

One correction to moto: its PutObject checks `If-None-Match` / `If-Match` and then writes, with no
lock between the two, on a multi-threaded server. Under load two racing creates can both succeed —
something real S3 never does (a conditional write is atomic there). The claim protocol's safety rests
on that atomicity, so the server here puts every write of an object (PUT/POST/DELETE) under one lock,
which is what S3 guarantees; reads stay concurrent.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class AtomicWrites:
    """WSGI middleware: one mutating request at a time, each with its own body fully handled."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") in ("PUT", "POST", "DELETE"):
            with self.lock:
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)


class EmbeddedS3:
    """`with EmbeddedS3() as s3: s3.url` — moto on 127.0.0.1, a free port, atomic conditional writes."""

    def __init__(self) -> None:
        self.url = ""
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> EmbeddedS3:
        from ams_actors.runtime.extras import require

        require("sim")  # a station install has no moto: say how to get it, in one line
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        # werkzeug logs every request at INFO; a simulated night makes tens of thousands
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        os.environ.setdefault("AMS_S3_ACCESS_KEY_ID", "sim")
        os.environ.setdefault("AMS_S3_SECRET_ACCESS_KEY", "sim")
        app = AtomicWrites(DomainDispatcherApplication(create_backend_app))
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
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
