"""Shower association against GMN's own codes, and why the rows that disagree do (issue 13 item 3).

Assigns every row of a GMN trajectory summary file (``ams shower``'s rule: the GMN shower table's
header rule, then the IAU list's established showers) and, for each row where GMN named a shower we
did not, asks which part of the table's own rule GMN's code fails for that row: no entry of the code
in the table, none within 1° of solar longitude, none of those within 10 % of the speed, or the
radiant outside every such entry's dispersion (the ratio distance / dispersion is printed). A row that
passes all three for GMN's code is a disagreement of ours (another shower won the closeness sum).

The December 2018 file was made in 2022, before the 2023 table shipped in ../shared/data existed; if
most disagreements fail the 2023 table's rule for GMN's own code, no association by that table can
reproduce them, whatever its tie-breaking.

    python3 scripts/bench/showers.py [--file ../shared/data/meteor-showers/traj_summary_monthly_201812.txt]

The last line printed is ``BENCH {json}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ams_actors.commands.shower import assign
from ams_actors.data import load_shower_table
from ams_actors.kernels.showers import (
    MAX_VG_FRACTION,
    SOL_WINDOW_DEG,
    ShowerTable,
    angle_deg,
    equatorial_to_ecliptic_deg,
)
from protocols.errors import InputError
from protocols.showers import SPORADIC_CODE, SummaryRow, parse_traj_summary

DEFAULT_FILE = Path(__file__).resolve().parents[3] / "shared/data/meteor-showers/traj_summary_monthly_201812.txt"


def rule_failure(row: SummaryRow, code: str, table: ShowerTable) -> tuple[str, float]:
    """Which criterion of the table's rule ``code`` fails for this row, and the best radius ratio."""
    of_code = np.flatnonzero(np.asarray(table.code) == code)
    if len(of_code) == 0:
        return "code not in the table", float("nan")
    d_sol = np.abs((table.sol_deg[of_code] - row.sol_deg + 180.0) % 360.0 - 180.0)
    near = of_code[d_sol <= SOL_WINDOW_DEG]
    if len(near) == 0:
        return "solar longitude", float("nan")
    v_ok = near[np.abs(table.v_g_km_s[near] - row.v_g_km_s) <= MAX_VG_FRACTION * table.v_g_km_s[near]]
    lam, bet = equatorial_to_ecliptic_deg(row.ra_g_deg, row.dec_g_deg)
    dist = angle_deg(table.sce_lon_deg[near], table.sce_lat_deg[near], (lam - row.sol_deg) % 360.0, bet)
    ratio = float(np.min(dist / table.disp_deg[near]))
    if len(v_ok) == 0:
        return "speed", ratio
    dist_ok = angle_deg(table.sce_lon_deg[v_ok], table.sce_lat_deg[v_ok], (lam - row.sol_deg) % 360.0, bet)
    ratio = float(np.min(dist_ok / table.disp_deg[v_ok]))
    return ("radiant" if ratio > 1.0 else "passes"), ratio


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--file", type=Path, default=DEFAULT_FILE)
    args = ap.parse_args()
    try:
        doc = assign(args.file)  # reads and checks the file: a bad one is an InputError naming it
    except InputError as err:
        print(f"showers: {err}", file=sys.stderr)
        return err.exit_code
    rows = {r.traj_id: r for r in parse_traj_summary(args.file.read_text(encoding="utf-8", errors="replace")
                                                       .splitlines(), source=str(args.file))}
    table = load_shower_table()
    reasons: Counter[str] = Counter()
    ratios: list[float] = []
    for out in doc["rows"]:
        theirs, ours = out["gmn"]["code"], out["shower"]["code"]
        if theirs == ours:
            continue
        if theirs == SPORADIC_CODE:
            reasons["GMN sporadic, ours a shower"] += 1
            continue
        why, ratio = rule_failure(rows[out["traj_id"]], theirs, table)
        if why == "passes":
            reasons[f"GMN {theirs} passes the rule, ours {ours} won the closeness sum"] += 1
        else:
            reasons[f"GMN's code fails the 2023 table's rule on {why}"] += 1
        if why == "radiant":
            ratios.append(ratio)
    agreement = doc["agreement"]
    print(f"rows {agreement['rows']}, agree {agreement['agree']} ({agreement['fraction']:.3f})")
    for why, n in reasons.most_common():
        print(f"  {why}: {n}")
    if ratios:
        print(f"  radiant distance / dispersion for those: median {np.median(ratios):.2f}, "
              f"min {min(ratios):.2f}, max {max(ratios):.2f}")
    bench = {
        "rows": agreement["rows"], "agree": agreement["agree"], "fraction": round(agreement["fraction"], 4),
        "disagreement_reasons": dict(reasons.most_common()),
        "radiant_ratio_median": round(float(np.median(ratios)), 2) if ratios else None,
    }
    print("BENCH " + json.dumps(bench, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
