"""`ams admin CMD`: the client of a running station's admin socket."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ams_actors.commands.common import add_config_option
from protocols.messages import TASKS

# what `ams admin run TASK` does, for its --help (every task in protocols.messages.TASKS)
TASK_HELP: dict[str, str] = {
    "bs": "scan the finished SD minutes now (Scanners)",
    "rvd": "classify scanned minutes that have no -detect/-maybe-meteors/-toomany yet (Detector)",
    "rvms": "verify maybe-meteors that have no verdict yet (Verifier)",
    "bmpi": "(re)make the preview JPEGs of the verified meteors (Verifier)",
    "fix_days": "redo minutes whose outputs are missing, then their day's stats (Housekeeper)",
    "proc_index": "write the per-day processing stats, proc_stats.json (Housekeeper)",
    "sync": "upload this station's meteors and indexes, download the partners' (Syncer)",
    "correlate": "correlate all stations' daily indexes into events (Correlator; correlator role)",
    "solve": "claim and solve the pending multi-station events (EventBroker, Solver)",
    "publish": "write the public day index of solved events (Publisher; publisher role)",
    "calibrate": "re-check each camera's calibration on a clear stack now (CalibrationCheck)",
}

def _common(parser: argparse.ArgumentParser, inherit: bool) -> None:
    """The options every admin sub-command takes, before or after its name."""
    add_config_option(parser, inherit)
    dflt = argparse.SUPPRESS if inherit else None
    parser.add_argument("--socket", metavar="PATH", default=dflt,
                        help="admin socket (default: <data root>/state/admin.sock)")
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS if inherit else False,
                        help="print the station's answer as JSON")


def configure(parser: argparse.ArgumentParser) -> None:
    _common(parser, inherit=False)
    sub = parser.add_subparsers(dest="admin_cmd", metavar="CMD")
    sub.required = True

    def add(name: str, help_text: str, **kw: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, **kw)
        _common(p, inherit=True)
        return p

    add("status", "every actor's state, inbox depth, minutes and meteors per actor and camera, messages/failed "
                  "counts, last error and uptime")
    for name, what in (("pause", "stop"), ("resume", "restart")):
        p = add(name, f"{what} an actor's intake")
        p.add_argument("actor", help="actor name as in `ams admin status`; 'Scanner' = all cameras")
    p = add("run", "run a task now and wait for its result", formatter_class=argparse.RawDescriptionHelpFormatter,
            epilog="tasks:\n" + "\n".join(f"  {t:<11} {TASK_HELP[t]}" for t in TASKS))
    p.add_argument("task", choices=TASKS, metavar="TASK", help="the task (see below)")
    p.add_argument("--day", metavar="YYYY_MM_DD", help="limit the task to one day (where it applies)")
    p = add("reprocess", "redo a day's missing outputs (fix_days), then its stats (proc_index)")
    p.add_argument("day", metavar="YYYY_MM_DD")
    add("claims", "event claims this station holds and those it has recently seen, with owners and epochs")
    add("shutdown", "stop the station cleanly, as SIGTERM does")


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
    elif args.admin_cmd == "claims" and isinstance(result, dict):
        print(format_claims(result))
    else:
        print(format_plain(result))
    return 0


def format_status(status: dict[str, Any]) -> str:
    head = (
        f"station {status['station']}  up {_duration(status['uptime_s'])}  "
        f"roles {','.join(status['roles'])}  claims {status.get('claims', '?')}  clock {status['now_utc']}"
    )
    cols = ("actor", "state", "inbox", "minutes", "meteors", "messages", "failed", "restarts", "uptime", "last error")
    rows = [
        (
            a["name"],
            a["state"],
            f"{a['inbox']}/{a['inbox_size']}",
            _work_total(a, "minutes"),
            _work_total(a, "meteors"),
            str(a["processed"]),
            str(a["failed"]),
            str(a["restarts"]),
            _duration(a["uptime_s"]),
            a["last_error"] or "-",
        )
        for a in status["actors"]
    ]
    clock = status.get("clock_error")
    clock_line = ("clock error unknown (no confident multi-station event solved here yet)" if not clock else
                  f"clock error {clock['error_s']:+.2f} s ahead of the network ({clock['n_events']} event(s))")
    page = f"page {status['web']}" if status.get("web") else ""
    return "\n".join([head, *([page] if page else []), clock_line, *_table(cols, rows),
                      *_camera_table(status["actors"])])


def _work_total(actor: dict[str, Any], what: str) -> str:
    work = actor.get("work") or {}
    return str(sum(c.get(what, 0) for c in work.values())) if work else "-"


def _camera_table(actors: Sequence[dict[str, Any]]) -> list[str]:
    """Per camera: minutes scanned, classified and verified, meteors found (since the daemon started)."""
    stage = {"Scanner": "scanned", "Detector": "classified", "Verifier": "verified"}
    cams: dict[str, dict[str, int]] = {}
    for a in actors:
        col = stage.get(a["name"].split("-")[0])
        for cam, counts in (a.get("work") or {}).items():
            row = cams.setdefault(cam, {})
            if col is not None:
                row[col] = row.get(col, 0) + counts.get("minutes", 0)
            row["meteors"] = row.get("meteors", 0) + counts.get("meteors", 0)
    if not cams:
        return []
    cols = ("camera", "scanned", "classified", "verified", "meteors")
    rows = [(cam, *(str(cams[cam].get(c, 0)) for c in cols[1:])) for cam in sorted(cams)]
    return ["", *_table(cols, rows)]


def format_claims(report: dict[str, Any]) -> str:
    """`ams admin claims` as a table: the events held, then those seen (EventBroker.claims_report)."""
    held, seen = report.get("held", []), report.get("seen", [])
    cols = ("", "event", "status", "owner", "epoch", "claim", "rev", "detail")
    rows = [
        (
            kind,
            str(r.get("event_id", "?")),
            str(r.get("status", "-")),
            str(r.get("owner") or "-"),
            "-" if r.get("epoch") is None else str(r["epoch"]),
            str(r.get("state") or "-"),
            str(r.get("revision", "-")),
            str(r.get("detail") or "-"),
        )
        for kind, group in (("held", held), ("seen", seen))
        for r in group
    ]
    head = f"station {report.get('station', '?')}  claims held {len(held)}  seen {len(seen)}"
    return "\n".join([head, *_table(cols, rows)])


def _table(cols: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return lines


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
