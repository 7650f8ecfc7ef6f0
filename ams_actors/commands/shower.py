"""`ams shower FILE`: assign each row of a GMN trajectory summary to a shower (kernels/showers.py).

Prints, per row, our shower (``{code, iau_no}``, ``SPO``/-1 for sporadic) next to GMN's own code, and
how often the two agree: a check of our association against the network that wrote the file.
Exit codes: 0 done, 2 the file could not be read (one line naming file and field).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="GMN trajectory summary (traj_summary_*.txt)")
    parser.add_argument("--json", action="store_true", help="print one JSON document (rows and agreement)")


def _gmn_code(code: str) -> str:
    from protocols.showers import SPORADIC_CODE

    return SPORADIC_CODE if code in ("...", "") else code


def assign(path: Path) -> dict[str, Any]:
    """Our association of every row of the summary file, with the agreement figures."""
    from ams_actors.data import load_shower_table
    from ams_actors.kernels.showers import shower_for, shower_json
    from protocols.errors import InputError
    from protocols.showers import parse_traj_summary

    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise InputError(str(path), None, f"cannot read ({err.strerror or err})") from None
    rows = parse_traj_summary(text.splitlines(), source=str(path))
    if not rows:
        raise InputError(str(path), None, "no trajectory rows")
    table = load_shower_table()
    out_rows: list[dict[str, Any]] = []
    pairs: Counter[tuple[str, str]] = Counter()
    for r in rows:
        ours = shower_json(shower_for(r.ra_g_deg, r.dec_g_deg, r.v_g_km_s, r.sol_deg, table))
        theirs = _gmn_code(r.code)
        pairs[(theirs, str(ours["code"]))] += 1
        out_rows.append({"traj_id": r.traj_id, "shower": ours, "gmn": {"code": theirs, "iau_no": r.iau_no}})
    agree = sum(n for (a, b), n in pairs.items() if a == b)
    return {
        "file": str(path),
        "rows": out_rows,
        "agreement": {
            "rows": len(rows),
            "agree": agree,
            "fraction": agree / len(rows),
            "disagreements": [
                {"gmn": a, "ours": b, "n": n} for (a, b), n in pairs.most_common() if a != b
            ],
        },
    }


def run(args: argparse.Namespace) -> int:
    doc = assign(Path(args.file))
    if args.json:
        sys.stdout.write(json.dumps(doc) + "\n")
        return 0
    for row in doc["rows"]:
        print(f"{row['traj_id']:<22} {row['shower']['code']:<6} (GMN {row['gmn']['code']})")
    a = doc["agreement"]
    print(f"agreement with GMN's codes: {a['agree']}/{a['rows']} rows ({100 * a['fraction']:.1f} %)")
    for d in a["disagreements"]:
        print(f"  GMN {d['gmn']:<6} ours {d['ours']:<6} {d['n']}")
    return 0
