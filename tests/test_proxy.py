"""FaultProxy itself: transparent when idle, faults as configured, seeded, clean start/stop."""

from __future__ import annotations

import http.client
import socket
import threading
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from ams_actors.store.proxy import FaultConfig, FaultProxy, fault_proxy

# moto does not check signatures, but it treats requests without any as anonymous (ACLs deny reads)
_AUTH = {
    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host, Signature=00",
    "Content-Type": "application/octet-stream",  # urllib's default (form data) would be parsed away
}


def _request(url: str, method: str = "GET", path: str = "/", body: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url + path, data=body, method=method, headers=_AUTH)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_transparent_forwarding_including_head(s3_endpoint: str) -> None:
    with fault_proxy(s3_endpoint) as p:
        assert _request(p.url, "PUT", "/bkt")[0] == 200
        assert _request(p.url, "PUT", "/bkt/obj", b"hello world")[0] == 200
        assert _request(p.url, "GET", "/bkt/obj") == (200, b"hello world")
        conn = http.client.HTTPConnection(urlsplit(p.url).netloc, timeout=10)
        conn.request("HEAD", "/bkt/obj", headers=_AUTH)
        head = conn.getresponse()
        assert head.status == 200 and head.getheader("Content-Length") == "11"
        conn.close()
        assert p.stats.requests == 4 and p.stats.forwarded == 4 and p.stats.errors_injected == 0


def test_errors_for_matching_requests_only(s3_endpoint: str) -> None:
    faults = FaultConfig(error_count=2, error_status=503, methods=frozenset({"GET"}), path_regex="/bkt/x")
    with FaultProxy(s3_endpoint, faults) as p:
        _request(p.url, "PUT", "/bkt")
        _request(p.url, "PUT", "/bkt/x", b"1")
        status, body = _request(p.url, "GET", "/bkt/x")
        assert status == 503 and b"<Code>ServiceUnavailable</Code>" in body
        assert _request(p.url, "GET", "/bkt/y")[0] == 404  # other path: forwarded
        assert _request(p.url, "GET", "/bkt/x")[0] == 503
        assert _request(p.url, "GET", "/bkt/x") == (200, b"1")  # count used up
        assert p.stats.errors_injected == 2


def test_error_rate_is_seeded(s3_endpoint: str) -> None:
    def run(seed: int) -> list[int]:
        with FaultProxy(s3_endpoint, FaultConfig(error_rate=0.5, error_status=500), seed=seed) as p:
            return [_request(p.url, "GET", "/nothing")[0] for _ in range(12)]

    a, b = run(42), run(42)
    assert a == b and 500 in a and 404 in a  # bucket "nothing" does not exist → 404 when forwarded


def test_lose_response_applies_the_write_then_drops(s3_endpoint: str) -> None:
    with FaultProxy(s3_endpoint) as p:
        _request(p.url, "PUT", "/bkt")
        p.update(lose_count=1, methods=frozenset({"PUT"}))
        with pytest.raises((urllib.error.URLError, http.client.RemoteDisconnected, ConnectionError)):
            urllib.request.urlopen(
                urllib.request.Request(p.url + "/bkt/k", data=b"v", method="PUT", headers=_AUTH), timeout=10
            )
        assert _request(p.url, "GET", "/bkt/k") == (200, b"v")  # the write happened
        assert p.stats.responses_lost == 1 and p.faults.lose_count == 0


def test_config_changes_while_running_and_clean_stop(s3_endpoint: str) -> None:
    p = FaultProxy(s3_endpoint).start()
    url = p.url
    assert _request(url, "GET", "/")[0] == 200
    p.faults.error_rate = 1.0  # plain attribute switch
    p.faults.error_status = 500
    assert _request(url, "GET", "/")[0] == 500
    p.clear()
    assert _request(url, "GET", "/")[0] == 200
    p.stop()
    assert not any(t.name == "fault-proxy" and t.is_alive() for t in threading.enumerate())
    with pytest.raises(RuntimeError):
        _ = p.url
    port = int(urlsplit(url).port or 0)
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
