"""A fault-injecting HTTP/1.1 reverse proxy for S3 endpoints (tests and ``ams sim`` fault runs).

The claim protocol has to survive a store that errs, stalls, loses answers, or ignores conditions.
Mocking our own client would test nothing, so faults are injected at the wire: this proxy sits
between the client and moto on ``127.0.0.1:<port 0>`` and, per :class:`FaultConfig`, can

- strip ``If-None-Match`` / ``If-Match`` or any header (a store that ignores conditional writes),
- check a conditional PUT itself (a HEAD) and then forward it unconditionally after a pause: a store
  that checks and then writes, right one request at a time and wrong under concurrency,
- answer an error (500/503/409/...) for the next N or a seeded fraction of matching requests,
- delay matching requests before forwarding, or the answer after forwarding,
- "lose the answer after a successful write": forward, let the store apply it, then drop the
  connection (or answer 500) — the case where only a read-back can tell who won.

It runs its own event loop in a daemon thread, so pytest's per-test loops, the simulator's loop and
plain threads can all use it. The config may be changed while it runs: assign attributes of
``proxy.faults`` for plain switches, or call :meth:`FaultProxy.update` (takes the proxy's lock) for
counters such as ``error_count``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from aiohttp import web

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
        "content-length",
    }
)
_CONDITIONAL = frozenset({"if-none-match", "if-match"})
_SESSION: web.AppKey[aiohttp.ClientSession] = web.AppKey("session", aiohttp.ClientSession)
_DEFAULT_CODES = {
    409: "ConditionalRequestConflict",
    500: "InternalError",
    503: "ServiceUnavailable",
    429: "SlowDown",
}


@dataclass
class FaultConfig:
    """Which faults to inject. Filters (``methods``, ``path_regex``) apply to errors, delays and losses;
    ``strip_conditional`` applies to every request.
    """

    strip_conditional: bool = False  # strip both If-None-Match and If-Match
    strip_headers: frozenset[str] = field(default_factory=frozenset)  # more (lower-case) names to strip
    #: seconds between the proxy's own check of a conditional PUT and the unconditional write (None: off)
    check_then_write_s: float | None = None
    #: error answers: the next ``error_count`` matching requests, then a ``error_rate`` fraction
    error_count: int = 0
    error_rate: float = 0.0
    error_status: int = 503
    error_code: str | None = None  # S3 error code in the XML body; default derived from the status
    #: seconds to wait before forwarding (``delay_s``) / before answering after forwarding
    delay_s: float = 0.0
    delay_response_s: float = 0.0
    delay_count: int | None = None  # None: delay every matching request; N: only the next N
    #: lose the answer of the next ``lose_count`` / a ``lose_rate`` fraction of *successful* matching
    #: requests, after the store applied them: "drop" closes the connection, "500" answers 500
    lose_count: int = 0
    lose_rate: float = 0.0
    lose_mode: Literal["drop", "500"] = "drop"
    #: request filter: upper-case methods (empty = all) and a regex searched in the path (None = all)
    methods: frozenset[str] = field(default_factory=frozenset)
    path_regex: str | None = None

    def matches(self, method: str, path: str) -> bool:
        """Whether a request is subject to the error/delay/lose faults."""
        if self.methods and method.upper() not in self.methods:
            return False
        return self.path_regex is None or re.search(self.path_regex, path) is not None


@dataclass
class ProxyStats:
    """Counters for assertions: what the proxy saw and did."""

    requests: int = 0
    forwarded: int = 0
    errors_injected: int = 0
    responses_lost: int = 0
    delays_injected: int = 0
    conditional_stripped: int = 0
    log: list[tuple[str, str, int]] = field(default_factory=list)  # (method, path, status to client)
    upstream_log: list[tuple[str, str, int]] = field(default_factory=list)  # (method, path, store status)


class FaultProxy:
    """Reverse proxy to ``upstream`` with injectable faults; ``with FaultProxy(url) as p: p.url``."""

    def __init__(self, upstream: str, faults: FaultConfig | None = None, *, seed: int = 0) -> None:
        self.upstream = upstream.rstrip("/")
        self.faults = faults or FaultConfig()
        self.stats = ProxyStats()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._startup_error: BaseException | None = None
        self._port = 0

    # ------------------------------------------------------------------ control (any thread)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` once started."""
        if not self._port:
            raise RuntimeError("FaultProxy is not running")
        return f"http://127.0.0.1:{self._port}"

    def update(self, **changes: Any) -> FaultConfig:
        """Replace fields of the fault config atomically (e.g. ``update(error_count=3)``)."""
        with self._lock:
            self.faults = dataclasses.replace(self.faults, **changes)
            return self.faults

    def clear(self) -> None:
        """Back to a transparent proxy."""
        with self._lock:
            self.faults = FaultConfig()

    def start(self, timeout: float = 10.0) -> FaultProxy:
        """Start the server thread and wait until it listens."""
        if self._thread is not None:
            raise RuntimeError("FaultProxy already started")
        self._thread = threading.Thread(target=self._thread_main, name="fault-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("FaultProxy did not start in time")
        if self._startup_error is not None:
            raise RuntimeError(f"FaultProxy failed to start: {self._startup_error}")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, close the upstream session and join the thread."""
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        self._thread = None
        self._port = 0

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ server thread

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as e:  # reported to start() if it happens before ready
            self._startup_error = e
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        session = aiohttp.ClientSession(
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=120),
            connector=aiohttp.TCPConnector(force_close=True),
        )
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        app[_SESSION] = session
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            server = site._server
            assert isinstance(server, asyncio.base_events.Server)
            self._port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()
            await session.close()

    def _decide(self, method: str, path: str) -> tuple[FaultConfig, bool, bool]:
        """Snapshot the config and draw this request's faults (under the lock: counters and RNG)."""
        with self._lock:
            cfg = self.faults
            self.stats.requests += 1
            if not cfg.matches(method, path):
                return cfg, False, False
            inject_error = False
            if cfg.error_count > 0:
                cfg.error_count -= 1
                inject_error = True
            elif cfg.error_rate > 0 and self._rng.random() < cfg.error_rate:
                inject_error = True
            # lose_count is consumed after forwarding, by a successful answer only (see _lose)
            lose = not inject_error and cfg.lose_rate > 0 and self._rng.random() < cfg.lose_rate
            return cfg, inject_error, lose

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method, path = request.method, request.path
        cfg, inject_error, lose = self._decide(method, path)
        matched = cfg.matches(method, path)
        delayed = matched and self._take_delay(cfg)
        # read the whole request first: a store has the request once the client sent it, even if the
        # client gives up while it waits (the case a conditional write's read-back must handle)
        body = await request.read()
        if delayed and cfg.delay_s > 0:
            await asyncio.sleep(cfg.delay_s)
        if inject_error:
            with self._lock:
                self.stats.errors_injected += 1
            return self._answer(method, path, _error_response(cfg.error_status, cfg.error_code, path))

        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        if cfg.check_then_write_s is not None and method == "PUT":
            refused = await self._check_first(request, headers, cfg.check_then_write_s)
            if refused is not None:
                return self._answer(method, path, refused)
            headers = {k: v for k, v in headers.items() if k.lower() not in _CONDITIONAL}
        strip = (_CONDITIONAL if cfg.strip_conditional else frozenset()) | cfg.strip_headers
        if strip:
            before = len(headers)
            headers = {k: v for k, v in headers.items() if k.lower() not in strip}
            if len(headers) != before:
                with self._lock:
                    self.stats.conditional_stripped += 1
        session = request.app[_SESSION]
        url = self.upstream + request.raw_path
        async with session.request(
            method, url, headers=headers, data=body if body else None, allow_redirects=False
        ) as up:
            payload = await up.read()
            status = up.status
            out_headers = {k: v for k, v in up.headers.items() if k.lower() not in _HOP_BY_HOP}
            length = up.headers.get("Content-Length")
        with self._lock:
            self.stats.forwarded += 1
            self.stats.upstream_log.append((method, path, status))
        if delayed and cfg.delay_response_s > 0:
            await asyncio.sleep(cfg.delay_response_s)

        if matched and status < 300 and (lose or self._take_lose_count()):
            with self._lock:
                self.stats.responses_lost += 1
            if cfg.lose_mode == "drop":
                transport = request.transport
                if transport is not None:
                    transport.abort()
                with self._lock:
                    self.stats.log.append((method, path, 0))
                raise asyncio.CancelledError  # nothing more to write: the client sees a dropped connection
            return self._answer(method, path, _error_response(500, None, path))

        resp = web.Response(status=status, body=payload, headers=out_headers)
        if method == "HEAD" and length is not None:
            resp.headers["Content-Length"] = length
        return self._answer(method, path, resp)

    async def _check_first(self, request: web.Request, headers: dict[str, str], pause_s: float) -> web.Response | None:
        """Evaluate If-None-Match / If-Match with a HEAD, then pause: the window a check-then-write
        store leaves open. The refusal it gives (412/404) is right; the race after it is the fault."""
        cond = {k.lower(): v for k, v in headers.items() if k.lower() in _CONDITIONAL}
        if not cond:
            return None
        auth = {k: v for k, v in headers.items() if k.lower() in ("authorization", "x-amz-date")}  # moto wants one
        async with request.app[_SESSION].head(self.upstream + request.raw_path, headers=auth) as up:
            exists, etag = up.status == 200, up.headers.get("ETag", "")
        if cond.get("if-none-match") == "*" and exists:
            return _error_response(412, "PreconditionFailed", request.path)
        if "if-match" in cond:
            if not exists:
                return _error_response(404, "NoSuchKey", request.path)
            if cond["if-match"].strip('"') != etag.strip('"'):
                return _error_response(412, "PreconditionFailed", request.path)
        await asyncio.sleep(pause_s)
        return None

    def _take_delay(self, cfg: FaultConfig) -> bool:
        if not (cfg.delay_s > 0 or cfg.delay_response_s > 0):
            return False
        with self._lock:
            if cfg.delay_count is None:
                self.stats.delays_injected += 1
                return True
            if self.faults.delay_count:
                self.faults.delay_count -= 1
                self.stats.delays_injected += 1
                return True
            return False

    def _take_lose_count(self) -> bool:
        with self._lock:
            if self.faults.lose_count > 0:
                self.faults.lose_count -= 1
                return True
            return False

    def _answer(self, method: str, path: str, resp: web.Response) -> web.Response:
        with self._lock:
            self.stats.log.append((method, path, resp.status))
        return resp


def _error_response(status: int, code: str | None, path: str) -> web.Response:
    """An S3-style XML error, so botocore parses the code like a real store's."""
    code = code or _DEFAULT_CODES.get(status, "InjectedFault")
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>injected by FaultProxy</Message>"
        f"<Resource>{path}</Resource><RequestId>fault-proxy</RequestId></Error>"
    )
    return web.Response(status=status, body=xml.encode(), content_type="application/xml")


@contextlib.contextmanager
def fault_proxy(upstream: str, faults: FaultConfig | None = None, *, seed: int = 0) -> Iterator[FaultProxy]:
    """Context manager form: a started proxy, stopped on exit."""
    proxy = FaultProxy(upstream, faults, seed=seed)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
