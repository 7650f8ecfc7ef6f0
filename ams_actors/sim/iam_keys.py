"""Per-principal keys on the embedded S3: IAM users with the generated policies, and moto's auth switch.

moto's server checks SigV4 signatures and IAM policies only when asked to (its setting
``INITIAL_NO_AUTH_ACTION_COUNT``, changed at run time through ``POST /moto-api/reset-auth``). The
simulator and the tests create the users while it is off, then switch it on, so every request after
that is authenticated against a user and authorised against the policies attached to it: a station
on its own key gets the store's real answer (403 AccessDenied) when it writes where it may not.

The switch is process-wide in moto (one setting for every server in the process), so
:class:`RestrictedKeys` switches it off again on exit.

moto's policy engine is basic (moto/iam/access_control.py): it evaluates Action and Resource with
``*`` wildcards (``?`` is not supported: it becomes a regular expression quantifier) and fails any
statement that has a Condition (it passes S3 requests no condition values). The generated policies
use neither, so what moto enforces is exactly what the documents say.
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import quote, unquote

from ams_actors.config import StationConfig
from protocols.bucket_access import Role, policy

#: the harness's own user: creates the bucket and reads it for the report
ADMIN_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": ["*"]}],
}


@dataclass(frozen=True)
class Key:
    """An access key pair of one IAM user (the secret is never printed: repr hides it)."""

    user: str
    access_key_id: str
    secret_access_key: str = field(repr=False)


def _fix_moto_query_signing() -> None:
    """Make moto check signatures of requests whose query holds a ``/`` (every prefixed listing).

    moto re-signs the request from werkzeug's ``request.url``, which decodes ``%2F`` back to ``/``; the
    client signed ``prefix=events%2F``, so every ``ListObjectsV2`` with a prefix would fail with
    SignatureDoesNotMatch. Re-encoding the query values the way botocore does (RFC 3986 unreserved
    characters only) restores the client's canonical query. Idempotent; harmless without auth.
    """
    from moto.iam.access_control import IAMRequestBase

    if getattr(IAMRequestBase, "_ams_query_fix", False):
        return
    original = IAMRequestBase._create_aws_request

    def create(self: Any) -> Any:
        path, sep, query = self._path.partition("?")
        if sep:
            pairs = (p.partition("=") for p in query.split("&"))
            self._path = path + "?" + "&".join(
                f"{quote(unquote(k), safe='-_.~')}{eq}{quote(unquote(v), safe='-_.~')}" for k, eq, v in pairs)
        return original(self)

    IAMRequestBase._create_aws_request = create  # type: ignore[method-assign]
    IAMRequestBase._ams_query_fix = True  # type: ignore[attr-defined]


def set_auth(endpoint: str, on: bool) -> None:
    """Switch moto's authentication and authorisation on (every request) or off (none)."""
    _fix_moto_query_signing()
    body = b"0" if on else b"inf"
    req = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=body, method="POST",
                                 headers={"Content-Type": "text/plain"})  # a form body would be parsed away
    urllib.request.urlopen(req, timeout=10).close()


def _iam(endpoint: str) -> Any:
    import boto3

    # moto accepts any key for IAM calls while auth is off (users are created before it is switched on)
    return boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="setup", aws_secret_access_key="setup")


def create_user(endpoint: str, name: str, documents: Sequence[dict[str, Any]]) -> Key:
    """An IAM user with ``documents`` attached as managed policies, and one access key."""
    iam = _iam(endpoint)
    iam.create_user(UserName=name)
    for i, doc in enumerate(documents):
        arn = iam.create_policy(PolicyName=f"{name}-{i}", PolicyDocument=json.dumps(doc))["Policy"]["Arn"]
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
    made = iam.create_access_key(UserName=name)["AccessKey"]
    return Key(name, made["AccessKeyId"], made["SecretAccessKey"])


def role_documents(bucket: str, roles: Sequence[str], station: str) -> list[dict[str, Any]]:
    """The policies a station process running ``roles`` needs: its station policy plus one per extra role."""
    docs = []
    for role in roles:
        r: Role = "station" if role == "station" else ("correlator" if role == "correlator" else "publisher")
        docs.append(policy(r, bucket, station=station) if r == "station" else policy(r, bucket))
    return docs


class RestrictedKeys:
    """``with RestrictedKeys(url) as keys:`` users made with ``keys.user(...)``; auth on after ``enforce()``.

    The admin user (``keys.admin``, every S3 action) is for the harness itself: creating the bucket and
    reading it for the report.
    """

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.users: dict[str, Key] = {}
        self.admin = Key("", "", "")
        self.env_names: list[str] = []

    def put_env(self, name: str, value: str) -> None:
        """Hand a credential to a station the only way stations take them: an environment variable."""
        os.environ[name] = value
        self.env_names.append(name)

    def __enter__(self) -> RestrictedKeys:
        self.admin = self.user(f"ams-admin-{secrets.token_hex(3)}", [ADMIN_POLICY])
        return self

    def user(self, name: str, documents: Sequence[dict[str, Any]]) -> Key:
        key = create_user(self.endpoint, name, documents)
        self.users[name] = key
        return key

    def enforce(self) -> None:
        set_auth(self.endpoint, True)

    def close(self) -> None:
        """Auth off again (moto's switch is process-wide), and the secrets out of the environment."""
        for name in self.env_names:
            os.environ.pop(name, None)
        set_auth(self.endpoint, False)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def sim_key_env(slot: int) -> tuple[str, str]:
    """The environment variables a simulated station's own key pair is passed in (never a file)."""
    return f"AMS_SIM_S3_KEY_ID_{slot}", f"AMS_SIM_S3_SECRET_{slot}"


def make_station_keys(endpoint: str, bucket: str, configs: Sequence[StationConfig]) -> RestrictedKeys:
    """An admin user for the harness and, per station, a user with the policies of the roles it runs;
    each station's key pair goes into the environment variables its config names. Auth stays off
    until :meth:`RestrictedKeys.enforce`."""
    keys = RestrictedKeys(endpoint).__enter__()
    for cfg in configs:
        key = keys.user(f"ams-station-{cfg.station_id}",
                        role_documents(bucket, cfg.network.roles, cfg.station_id))
        keys.put_env(cfg.store.access_key_env, key.access_key_id)
        keys.put_env(cfg.store.secret_key_env, key.secret_access_key)
    return keys
