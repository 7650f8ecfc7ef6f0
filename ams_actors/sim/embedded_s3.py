"""An S3 endpoint on this machine for the simulator: moto's threaded server on 127.0.0.1, any free port.

The simulated stations talk real HTTP to it through the same ObjectStore client as production, so
the claim protocol is exercised with real conditional requests (moto answers 412 like AWS).
"""

from __future__ import annotations

import logging
import os
from types import TracebackType


class EmbeddedS3:
    def __init__(self) -> None:
        self.url = ""
        self._server: object | None = None

    def __enter__(self) -> EmbeddedS3:
        from moto.server import ThreadedMotoServer

        # moto's werkzeug logs every request at INFO; a simulated night makes tens of thousands
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        os.environ.setdefault("AMS_S3_ACCESS_KEY_ID", "sim")
        os.environ.setdefault("AMS_S3_SECRET_ACCESS_KEY", "sim")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        self._server = server
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.stop()  # type: ignore[attr-defined]
            self._server = None
