"""The admin socket: JSON lines over a Unix socket (`state/admin.sock`, mode 0600).

One request per line, one answer per line: ``{"cmd": "status"}`` → ``{"ok": true, "result": …}`` or
``{"ok": false, "error": "…"}``. Only the station's own user can connect (0600), so there is no
authentication beyond the file mode. `ams admin …` is the client (`request()` below).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("ams.admin")

Handler = Callable[[dict[str, Any]], Awaitable[Any]]
MAX_LINE = 64 * 1024


class AdminError(Exception):
    """A request the station understood but refuses (unknown actor, unknown task)."""


class AdminServer:
    def __init__(self, path: Path, handlers: dict[str, Handler]) -> None:
        self.path = path
        self.handlers = handlers
        self._server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # we hold the station lock, so any socket file here is stale
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=str(self.path), limit=MAX_LINE)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                answer = await self._answer(line)
                writer.write((json.dumps(answer, default=str) + "\n").encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            req = json.loads(line)
        except json.JSONDecodeError:
            return {"ok": False, "error": "request is not JSON"}
        if not isinstance(req, dict) or not isinstance(req.get("cmd"), str):
            return {"ok": False, "error": 'request must be an object with a "cmd" string'}
        handler = self.handlers.get(req["cmd"])
        if handler is None:
            return {"ok": False, "error": f"unknown command {req['cmd']!r}; known: {', '.join(sorted(self.handlers))}"}
        try:
            return {"ok": True, "result": await handler(req)}
        except AdminError as err:
            return {"ok": False, "error": str(err)}
        except Exception as err:  # the admin channel must survive any handler bug
            log.exception("admin command %s failed", req["cmd"])
            return {"ok": False, "error": f"{type(err).__name__}: {err}"}


def request(path: Path, req: dict[str, Any], timeout_s: float = 600.0) -> dict[str, Any]:
    """Blocking client for the CLI: send one request, return the decoded answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        sock.connect(str(path))
        sock.sendall((json.dumps(req) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
    answer: dict[str, Any] = json.loads(buf)
    return answer
