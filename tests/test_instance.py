"""One running instance per station id, network-wide: two real data roots with one id on one S3."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from daemon_helpers import start_daemon, station_toml, wait_for_socket

from protocols import instance as inst
from protocols.errors import InputError

LEASE_S = 10.0
MARGIN_S = 1.0


def _config(tmp_path: Path, name: str, endpoint: str) -> Path:
    cfg = tmp_path / f"{name}.toml"
    cfg.write_text(station_toml(tmp_path / name, extra=f"""
[store]
endpoint = "{endpoint}"
bucket = "ams-test"
access_key_env = "AWS_ACCESS_KEY_ID"
secret_key_env = "AWS_SECRET_ACCESS_KEY"
[claims]
lease_s = {LEASE_S}
skew_margin_s = {MARGIN_S}
renew_margin_s = 2.0
"""))
    return cfg


def _record(endpoint: str) -> dict[str, Any]:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    return json.loads(s3.get_object(Bucket="ams-test", Key="stations/AMS1/instance.json")["Body"].read())


def _stop(proc: subprocess.Popen[str], sig: signal.Signals = signal.SIGTERM) -> str:
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    return err


@pytest.mark.slow
def test_a_second_instance_of_one_station_id_refuses_until_the_first_is_gone(tmp_path: Path, s3_endpoint: str) -> None:
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket="ams-test")
    cfg_a, cfg_b = _config(tmp_path, "a", s3_endpoint), _config(tmp_path, "b", s3_endpoint)
    sock_a, sock_b = tmp_path / "a" / "state" / "admin.sock", tmp_path / "b" / "state" / "admin.sock"
    host = socket.gethostname()
    first = start_daemon(cfg_a)
    procs = [first]
    try:
        wait_for_socket(sock_a, first)
        rec = _record(s3_endpoint)
        assert rec["host"] == host and rec["pid"] == first.pid and rec["state"] == "running"
        assert rec["data_root"] == str((tmp_path / "a").resolve()) and set(rec) == set(inst.InstanceRecord.__dataclass_fields__)
        # the second data root with the same id: refused (it sees the first one renew). A one-shot verb
        # (`ams bs`, …) touches no bucket (issue 11: it opens no store), so it holds no instance record.
        for verb in ("run",):
            t0 = time.monotonic()
            second = subprocess.run([sys.executable, "-m", "ams_actors", verb, "-c", str(cfg_b)],
                                    capture_output=True, text=True, timeout=120)
            assert second.returncode == 2, second.stderr[-2000:]
            line = second.stderr.strip().splitlines()[-1]
            assert line.startswith(f"ams {verb}: stations/AMS1/instance.json: station AMS1 is already running on host {host}")
            assert f"pid {first.pid}" in line and f"started {rec['started_at']}" in line and "Traceback" not in second.stderr
            assert time.monotonic() - t0 < LEASE_S + 15
        assert _record(s3_endpoint)["pid"] == first.pid
        # a clean stop releases the record: the other data root starts at once
        err = _stop(first)
        assert first.returncode == 0 and "instance record stations/AMS1/instance.json released" in err
        assert _record(s3_endpoint)["state"] == "released"
        b = start_daemon(cfg_b)
        procs.append(b)
        wait_for_socket(sock_b, b, timeout_s=LEASE_S)
        assert _record(s3_endpoint)["pid"] == b.pid
        # a crash-restart on the same machine and data root takes its own previous record at once
        _stop(b, signal.SIGKILL)
        b2 = start_daemon(cfg_b)
        procs.append(b2)
        t0 = time.monotonic()
        wait_for_socket(sock_b, b2)
        assert time.monotonic() - t0 < LEASE_S and _record(s3_endpoint)["pid"] == b2.pid
        # a crashed instance elsewhere: taken over only after its record stayed unchanged for lease + margin
        _stop(b2, signal.SIGKILL)
        a2 = start_daemon(cfg_a)
        procs.append(a2)
        t0 = time.monotonic()
        wait_for_socket(sock_a, a2, timeout_s=LEASE_S * 4)
        assert time.monotonic() - t0 >= LEASE_S + MARGIN_S
        assert _record(s3_endpoint)["pid"] == a2.pid
        err = _stop(a2)
        assert a2.returncode == 0 and "watching it for up to" in err and "Traceback" not in err
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.communicate(timeout=30)


def _rec(**kw: Any) -> inst.InstanceRecord:
    base = dict(station="AMS1", state=inst.InstanceState.RUNNING, host="h1", pid=10, data_root="/mnt/ams2",
                started_at="2026-07-12T20:00:00+00:00", token="t1", lease_s=120.0, hb_seq=0,
                updated_at="2026-07-12T20:00:00+00:00")
    base.update(kw)
    return inst.InstanceRecord(**base)  # type: ignore[arg-type]


def test_decide() -> None:
    mine = _rec(host="h2", token="t2", pid=20)
    D = inst.Decision
    assert inst.decide(mine, None, 0.0, 0.0, 30.0).decision == D.CREATE
    assert inst.decide(mine, _rec(host="h2", token="t2"), 0.0, 0.0, 30.0).decision == D.HELD
    assert inst.decide(mine, _rec(state=inst.InstanceState.RELEASED), 0.0, 0.0, 30.0).decision == D.TAKE
    assert inst.decide(mine, _rec(host="h2", data_root="/mnt/ams2"), 0.0, 0.0, 30.0).decision == D.TAKE
    other = inst.decide(mine, _rec(host="h2", data_root="/other"), 5.0, 100.0, 30.0)
    assert other.decision == D.WAIT and other.wake_at == 155.0 and "host h2" in other.reason
    assert inst.decide(mine, _rec(), 5.0, 155.1, 30.0).decision == D.TAKE


def test_record_round_trip_and_validation() -> None:
    r = _rec()
    assert inst.InstanceRecord.from_bytes(r.to_bytes()) == r
    assert inst.InstanceRecord.from_bytes(inst.renewed(r, "x").to_bytes()).hb_seq == 1
    for bad, field in ((b"[]", None), (b"{", None), (r.to_bytes().replace(b'"pid": 10', b'"pid": "10"'), "pid"),
                       (r.to_bytes().replace(b'"running"', b'"zombie"'), "state"),
                       (r.to_bytes().replace(b'"host"', b'"secret"'), "secret")):
        with pytest.raises(InputError) as e:
            inst.InstanceRecord.from_bytes(bad, "instance.json")
        assert e.value.field == field
