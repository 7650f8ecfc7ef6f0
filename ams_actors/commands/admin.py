"""`ams admin CMD`: the client of a running station's admin socket."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ams_actors.commands.common import add_config_option
from protocols.messages import TASKS


def configure(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.add_argument("--socket", metavar="PATH", help="admin socket (default: <data root>/state/admin.sock)")
    parser.add_argument("--json", action="store_true", help="print the station's answer as JSON")
    sub = parser.add_subparsers(dest="admin_cmd", metavar="CMD")
    sub.required = True
    sub.add_parser("status", help="every actor's state, inbox depth, processed/failed counts, last error, uptime")
    for name, what in (("pause", "stop"), ("resume", "restart")):
        p = sub.add_parser(name, help=f"{what} an actor's intake (name as in `status`; 'Scanner' = all cameras)")
        p.add_argument("actor")
    p = sub.add_parser("run", help="run a task now: " + ", ".join(TASKS))
    p.add_argument("task")
    p.add_argument("--day", metavar="YYYY_MM_DD")
    p = sub.add_parser("reprocess", help="redo a day's missing outputs and its stats")
    p.add_argument("day", metavar="YYYY_MM_DD")
    sub.add_parser("claims", help="event claims this station holds and has recently seen")
    sub.add_parser("shutdown", help="stop the station cleanly (as SIGTERM)")


def _socket_path(args: argparse.Namespace) -> Path:
    if args.socket:
        return Path(args.socket)
    from ams_actors.commands.common import load

    return load(args).data_root / "state" / "admin.sock"


def run(args: argparse.Namespace) -> int:
    from ams_actors.runtime.admin import request

    req: dict[str, Any] = {"cmd": args.admin_cmd}
    for key in ("actor", "task", "day"):
        if getattr(args, key, None) is not None:
            req[key] = getattr(args, key)
    path = _socket_path(args)
    try:
        answer = request(path, req)
    except (FileNotFoundError, ConnectionRefusedError):
        print(f"ams admin: no station is running (nothing listens on {path})", file=sys.stderr)
        return 2
    except (OSError, ValueError) as err:
        print(f"ams admin: {path}: {err}", file=sys.stderr)
        return 2
    if not answer.get("ok"):
        print(f"ams admin {args.admin_cmd}: {answer.get('error')}", file=sys.stderr)
        return 1
    result = answer.get("result")
    if args.json:
        print(json.dumps(result, indent=1))
    elif args.admin_cmd == "status" and isinstance(result, dict):
        print(format_status(result))
    else:
        print(format_plain(result))
    return 0


def format_status(status: dict[str, Any]) -> str:
    head = (
        f"station {status['station']}  up {_duration(status['uptime_s'])}  "
        f"roles {','.join(status['roles'])}  claims {status.get('claims', '?')}  clock {status['now_utc']}"
    )
    cols = ("actor", "state", "inbox", "processed", "failed", "restarts", "uptime", "last error")
    rows = [
        (
            a["name"],
            a["state"],
            f"{a['inbox']}/{a['inbox_size']}",
            str(a["processed"]),
            str(a["failed"]),
            str(a["restarts"]),
            _duration(a["uptime_s"]),
            a["last_error"] or "-",
        )
        for a in status["actors"]
    ]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    lines = [head, "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def format_plain(result: Any) -> str:
    if isinstance(result, list):
        return "\n".join(format_plain(r) for r in result) or "(none)"
    if isinstance(result, dict):
        if {"task", "actor", "done"} <= result.keys():
            detail = f" — {result['detail']}" if result.get("detail") else ""
            return f"{result['actor']}: {result['task']}: {result['done']} done, {result['failed']} failed{detail}"
        return json.dumps(result, indent=1)
    return str(result)


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{(s % 3600) // 60:02d}m{s % 60:02d}s"
