"""Benchmark: the real GMN nights through `ams correlate --rms DIR --solve --out OUT` (issue 13 items 1, 6, 7).

For each night: wall time of the whole command (clock pass, correlation, solves in the pool with
Monte Carlo, summary), events, solved, flagged poor (and why), stations' clock errors; then the
clock test of the 2023 night: one station's FTPdetectinfo shifted by +6 s, how many events it joins
without and with the clock pass, and the error reported for it.

Run: ``python scripts/bench/catalog.py [--mc 20] [--workers 2]`` from the repository root (the data
are in ../shared/data). The last line is ``BENCH {json}``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
NIGHTS = ("gmn-uk-2026-07-12", "gmn-uk-2023-02-18")
SHIFTED = "UK0031"


def ams(*args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "ams_actors", "correlate", *args, "--json"], check=True,
                         capture_output=True, text=True)
    return dict(json.loads(out.stdout))


def night(name: str, out: Path, mc: int, workers: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    doc = ams("--rms", str(DATA / name), "--solve", "--out", str(out), "--mc", str(mc), "--workers", str(workers))
    wall = time.perf_counter() - t0
    reasons: Counter[str] = Counter()
    for sol_path in out.glob("*/solution.json"):
        q = json.loads(sol_path.read_text()).get("quality") or {}
        for r in q.get("reasons", []):
            reasons[re.sub(r"[-+]?\d[\d.]*", "#", r)] += 1
    clocks = {s: (c or {}).get("error_s") for s, c in doc["clocks"].items()}
    return {"night": name, "wall_s": round(wall, 1), **{k: doc["catalog"][k] for k in ("events", "solved", "poor",
            "failed")}, "poor_reasons": dict(reasons), "clock_errors_s": clocks,
            "clocks_off_0.5s": sorted(s for s, e in clocks.items() if e is not None and abs(e) >= 0.5)}


def shifted_clock() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "night"
        shutil.copytree(DATA / NIGHTS[1], root)
        (path,) = (root / "stations" / SHIFTED).glob("*/FTPdetectinfo_*.txt")
        pattern = re.compile(r"FF_(\w+?)_(\d{8}_\d{6})_(\d{3})_")

        def later(m: re.Match[str]) -> str:
            t = datetime.strptime(m.group(2) + m.group(3), "%Y%m%d_%H%M%S%f") + timedelta(seconds=6)
            return f"FF_{m.group(1)}_{t:%Y%m%d_%H%M%S}_{t.microsecond // 1000:03d}_"

        path.write_text(pattern.sub(later, path.read_text()))
        before = ams("--rms", str(root), "--clock-window", "0")
        t0 = time.perf_counter()
        after = ams("--rms", str(root))
        wall = time.perf_counter() - t0
    return {"station": SHIFTED, "shift_s": 6.0,
            "events_without_clock_pass": sum(SHIFTED in e["stations"] for e in before["events"]),
            "events_with_clock_pass": sum(SHIFTED in e["stations"] for e in after["events"]),
            "reported_error_s": (after["clocks"][SHIFTED] or {}).get("error_s"), "correlate_wall_s": round(wall, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mc", type=int, default=20)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in NIGHTS:
            r = night(name, Path(tmp) / name, args.mc, args.workers)
            print(json.dumps(r))
            results.append(r)
    clock = shifted_clock()
    print(json.dumps(clock))
    print("BENCH " + json.dumps({"mc": args.mc, "workers": args.workers, "nights": results, "shifted_clock": clock}))


if __name__ == "__main__":
    main()
