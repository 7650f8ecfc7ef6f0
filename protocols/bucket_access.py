"""Who may do what to which key of the shared bucket: the one table the IAM policies are built from.

design.md §5 says "a station writes only ``stations/<itself>/…``, ``events/…`` and ``_probe/<itself>/…``;
the correlator writes ``network/…`` and ``event.json``". Stated in prose, nothing enforces it: every
station's key could overwrite another station's meteors or solutions. This module states it once, per
key kind, next to the key builders of :mod:`protocols.s3_keys`; :func:`policy` turns it into an IAM
policy document per principal, and a test checks that every ``*_key`` builder of ``s3_keys`` has a row
here, so a new key kind cannot be added without deciding who may write it.

Resource patterns use IAM's wildcard ``*`` (any characters, ``/`` included) and two placeholders:
``{station}`` (the writing station's own id; any station for readers) and ``{run}`` (an archive run id).
IAM cannot look inside a key, so some rules are coarser than the protocol: a station may write any
``claim.json`` / ``obs.json`` under ``events/`` (the claim protocol's conditional writes, not IAM, keep
honest stations apart there), and a solution's epoch is not checked (only its ``-<station>.json`` suffix).

Actions are the ones our store client (``ams_actors/store/objectstore.py``) sends: ``get`` and
``head`` need ``s3:GetObject``, ``put`` (plain or conditional) ``s3:PutObject``, ``delete``
``s3:DeleteObject``, a listing ``s3:ListBucket`` on the bucket. Nothing copies objects server-side (a
partner's solution is copied with a get), so no role needs more. Every role gets ``s3:ListBucket``:
on AWS a GetObject/HeadObject of a missing key answers 403 instead of 404 without it, and the claim
protocol needs to tell "no claim yet" (404) from "refused". Key names are not secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from protocols import s3_keys

Role = Literal["station", "correlator", "publisher", "archive", "readonly"]
ROLES: tuple[Role, ...] = ("station", "correlator", "publisher", "archive", "readonly")
Action = Literal["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]

#: The store client's operations and the IAM action each one needs (used to name a missing permission).
OPERATION_ACTIONS: dict[str, str] = {
    "get": "s3:GetObject",
    "head": "s3:GetObject",
    "put": "s3:PutObject",
    "put if-none-match": "s3:PutObject",
    "put if-match": "s3:PutObject",
    "delete": "s3:DeleteObject",
    "list": "s3:ListBucket",
    "create_bucket": "s3:CreateBucket",
}



@dataclass(frozen=True, slots=True)
class KeyKind:
    """One kind of key: its builder in ``s3_keys`` (None: a kind of design.md §5 with no builder yet),
    its resource pattern, and which roles may put, delete and get it."""

    name: str
    builder: str | None
    pattern: str
    writers: frozenset[Role]
    readers: frozenset[Role]
    own_readers: frozenset[Role] = frozenset()  # roles that read only their own keys of this kind
    deleters: frozenset[Role] = frozenset()  # deletes are only ever of one's own keys

    def resource(self, *, station: str = "*", run: str = "*") -> str:
        return self.pattern.format(station=station, run=run)


def _roles(*names: Role) -> frozenset[Role]:
    return frozenset(names)


_INDEX_READERS = _roles("station", "correlator", "archive", "readonly")
_SOLVED_READERS = _roles("station", "publisher", "archive", "readonly")

#: Every key kind of the bucket (design.md §5), with the roles allowed to act on it.
KEY_KINDS: tuple[KeyKind, ...] = (
    KeyKind("meteor", "meteor_key", "stations/{station}/meteors/*", _roles("station"),
            _roles("station", "archive", "readonly")),
    KeyKind("daily index", "daily_index_key", "stations/{station}/index/*", _roles("station"), _INDEX_READERS),
    KeyKind("yearly index", "yearly_index_key", "stations/{station}/index/*", _roles("station"), _INDEX_READERS),
    KeyKind("instance record", "instance_key", "stations/{station}/instance.json", _roles("station"),
            _roles("readonly"), own_readers=_roles("station")),
    KeyKind("preview", "preview_key", "stations/{station}/previews/*", _roles("station"),
            _roles("station", "readonly")),  # partners fetch an event's previews with it
    KeyKind("ms_detects", "ms_detects_key", "network/ms_detects/*/{station}.json.gz", _roles("correlator"),
            _roles("correlator", "archive", "readonly"), own_readers=_roles("station")),
    KeyKind("event", "event_key", "events/*/event.json", _roles("correlator"),
            _roles("station", "correlator", "archive", "readonly")),
    KeyKind("claim", "claim_key", "events/*/claim.json", _roles("station"), _SOLVED_READERS),
    KeyKind("observation set", "obs_key", "events/*/obs.json", _roles("station"), _roles("archive", "readonly")),
    KeyKind("solution", "solution_key", "events/*/solutions/e*-{station}.json", _roles("station"),
            _SOLVED_READERS),
    KeyKind("day index", "day_index_key", "events/*/index.json", _roles("publisher"),
            _roles("publisher", "readonly")),
    KeyKind("probe scratch", "probe_key", "_probe/{station}/*", _roles("station"), frozenset(),
            own_readers=_roles("station"), deleters=_roles("station")),
    KeyKind("archive event file", "archive_event_key", "archive/{run}/*", _roles("archive"),
            _roles("readonly"), own_readers=_roles("archive"), deleters=_roles("archive")),
    KeyKind("archive run file", "archive_run_file_key", "archive/{run}/*", _roles("archive"), _roles("readonly"),
            own_readers=_roles("archive"), deleters=_roles("archive")),
    KeyKind("archive day rows", "archive_day_rows_key", "archive/{run}/*", _roles("archive"), _roles("readonly"),
            own_readers=_roles("archive"), deleters=_roles("archive")),
)

#: Builders that take a file name and return a key of several kinds (each kind has its own row).
GENERIC_BUILDERS: frozenset[str] = frozenset({"event_file_key"})


def kind_of(builder: str) -> KeyKind:
    """The table row of a key builder of ``s3_keys`` (LookupError: the builder has no row)."""
    for kind in KEY_KINDS:
        if kind.builder == builder:
            return kind
    raise LookupError(f"s3_keys.{builder} has no row in protocols.bucket_access.KEY_KINDS")


def key_builders() -> list[str]:
    """The key-building functions of ``s3_keys`` (public functions named ``*_key``)."""
    return sorted(
        name for name, obj in vars(s3_keys).items()
        if name.endswith("_key") and callable(obj) and not name.startswith(("_", "parse_"))
        and not isinstance(obj, type)
        and getattr(obj, "__module__", "") == s3_keys.__name__
    )


def iam_match(pattern: str, key: str) -> bool:
    """Does an IAM resource pattern (``*`` any run of characters, ``?`` one) match ``key``?"""
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, key, flags=re.DOTALL) is not None


def allowed(role: Role, action: Action, key: str, *, station: str = "", run: str = "") -> bool:
    """Whether ``role`` (acting as ``station`` / archive ``run``) may do ``action`` on ``key`` by the table."""
    return any(iam_match(p, key) for p in _resources(role, action, station=station, run=run))


def _resources(role: Role, action: Action, *, station: str, run: str) -> list[str]:
    """The resource patterns ``role`` gets ``action`` on: writes and deletes only of its own keys."""
    own = {"station": station or "*", "run": run or "*"}
    out: list[str] = []
    for kind in KEY_KINDS:
        if action == "s3:GetObject":
            res = kind.resource() if role in kind.readers else (
                kind.resource(**own) if role in kind.own_readers else None)
        else:
            who = kind.writers if action == "s3:PutObject" else kind.deleters
            res = kind.resource(**own) if role in who else None
        if res is not None and res not in out:
            out.append(res)
    return out


def policy(role: Role, bucket: str, *, station: str = "", run: str = "") -> dict[str, Any]:
    """The IAM policy document of one principal: only the actions its role's code calls.

    ``station`` is required for the station role (its own prefix); ``run`` limits an archive principal
    to one run (empty: the archive runner that may create any run under ``archive/``).
    """
    if role == "station":
        s3_keys.validate_id(station, "station id")
    if role == "archive" and run:
        s3_keys.validate_id(run, "archive run id")
    arn = f"arn:aws:s3:::{bucket}"
    statements: list[dict[str, Any]] = [
        {"Sid": "List", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [arn]},
    ]
    actions: tuple[tuple[str, Action], ...] = (("Read", "s3:GetObject"), ("Write", "s3:PutObject"),
                                               ("Delete", "s3:DeleteObject"))
    for sid, action in actions:
        res = _resources(role, action, station=station, run=run)
        if res:
            statements.append({"Sid": sid, "Effect": "Allow", "Action": [action],
                               "Resource": [f"{arn}/{r}" for r in res]})
    return {"Version": "2012-10-17", "Statement": statements}


@dataclass(frozen=True, slots=True)
class Principal:
    """One user to create on the store: its name, the policy documents to attach, and why."""

    name: str
    role: Role
    documents: tuple[dict[str, Any], ...]


def principals(bucket: str, stations: Sequence[str], *, runs: Sequence[str] = ()) -> list[Principal]:
    """One principal per station, the correlator, the publisher, each archive run (or one archive runner
    for any run when ``runs`` is empty) and the read-only user."""
    out = [Principal(f"ams-station-{s}", "station", (policy("station", bucket, station=s),)) for s in stations]
    out.append(Principal("ams-correlator", "correlator", (policy("correlator", bucket),)))
    out.append(Principal("ams-publisher", "publisher", (policy("publisher", bucket),)))
    out += [Principal(f"ams-archive-{r}" if r else "ams-archive", "archive", (policy("archive", bucket, run=r),))
            for r in (runs or ("",))]
    out.append(Principal("ams-readonly", "readonly", (policy("readonly", bucket),)))
    return out


def suffix_clashes(stations: Sequence[str]) -> list[tuple[str, str]]:
    """Pairs (a, b) where b ends in ``-a``: IAM's ``e*-a.json`` then also matches b's solutions."""
    return sorted((a, b) for a in stations for b in stations if a != b and b.endswith("-" + a))


def table_markdown() -> str:
    """The table as the README shows it (a test keeps the two equal, so the docs cannot drift)."""
    def names(roles: frozenset[Role], own: frozenset[Role] = frozenset()) -> str:
        out = [r for r in ROLES if r in roles] + [f"{r} (own)" for r in ROLES if r in own]
        return ", ".join(out) or "—"

    rows = ["| key | kind | put | get | delete |", "|---|---|---|---|---|"]
    rows += [f"| `{kind.pattern}` | {kind.name} | {names(kind.writers)} | {names(kind.readers, kind.own_readers)} "
             f"| {names(kind.deleters)} |" for kind in KEY_KINDS]
    return "\n".join(rows) + "\n"


def render(doc: dict[str, Any]) -> str:
    """A policy document as stable, readable JSON (what is pasted into a console or a file)."""
    return json.dumps(doc, indent=2) + "\n"
