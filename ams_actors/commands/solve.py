"""`ams solve FILE`: solve one event's trajectory from an Observation set (design.md §7).

``ams solve --gfe FILE…`` / ``--ufo FILE…`` solve directly from other networks' files instead: Global
Fireball Exchange ECSV (protocols/gfe.py) or UFOAnalyzer A.XML (protocols/ufo.py), one file per
camera (both options may be combined). ``--save-obs FILE`` writes the Observation set that was solved,
``--save-gfe DIR`` each of its observations as a GFE file (what other networks read).

Exit codes: 0 solved, 1 the solve failed (a Solution with status "failed" and its reason is still
printed), 2 the file could not be read as an Observation set (also printed as a failed Solution, so
scripts reading ``--json`` always get one document).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", nargs="?", help="Observation set JSON (design.md §7)")
    parser.add_argument("--gfe", nargs="+", default=[], metavar="FILE",
                        help="solve from Global Fireball Exchange ECSV files instead (one per camera)")
    parser.add_argument("--ufo", nargs="+", default=[], metavar="FILE",
                        help="solve from UFOAnalyzer A.XML files instead (one per camera)")
    parser.add_argument("--save-obs", metavar="FILE", help="write the Observation set that was solved")
    parser.add_argument("--save-gfe", metavar="DIR",
                        help="write each observation as a Global Fireball Exchange ECSV file into DIR")
    parser.add_argument("--json", action="store_true", help="print exactly one Solution JSON document")
    parser.add_argument("--mc", type=int, default=0, metavar="N",
                        help="Monte Carlo runs for the uncertainties (default 0: none; ~0.3 s for 20)")
    parser.add_argument("--plot", metavar="DIR", help="write diagnostic PNGs into DIR")
    parser.add_argument("--seed", type=int, default=0, help="Monte Carlo seed (default 0)")


def _fallback_event_id(path: str, text: bytes | None) -> str:
    """Best-effort id for a file that did not parse: its own event_id if readable, else its name."""
    if text is not None:
        m = re.search(rb'"event_id"\s*:\s*"([A-Za-z0-9_.-]{1,64})"', text)
        if m:
            return m.group(1).decode()
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(path).stem)[:64]
    return stem or "unknown"


def _read_input(args: argparse.Namespace) -> tuple[Any, bytes | None]:
    """The Observation set to solve and, for FILE, its bytes (InputError for anything unreadable)."""
    from protocols.errors import InputError
    from protocols.gfe import event_id_for, parse_gfe
    from protocols.observations import ObservationSet, parse_observation_set_json
    from protocols.ufo import parse_ufo_xml

    def read(path: str) -> bytes:
        try:
            return Path(path).read_bytes()
        except OSError as err:
            raise InputError(path, None, f"cannot read ({err.strerror or err})") from None

    foreign = args.gfe or args.ufo
    if foreign and args.file:
        raise InputError(args.file, None, "give either an Observation set FILE or --gfe/--ufo files, not both")
    if not foreign:
        if not args.file:
            raise InputError("ams solve", None, "no input: give an Observation set FILE, or --gfe/--ufo files")
        text = read(args.file)
        return parse_observation_set_json(text, source=args.file), text
    obs = [parse_gfe(read(f).decode("utf-8", errors="replace"), f).observation for f in args.gfe]
    obs += [parse_ufo_xml(read(f), f) for f in args.ufo]
    return ObservationSet(event_id_for(obs), tuple(obs)), None


def _save(args: argparse.Namespace, obs_set: Any) -> None:
    """--save-obs and --save-gfe: a write that fails is said on stderr; the solve goes on."""
    from ams_actors.runtime.files import atomic_write_bytes, atomic_write_json
    from protocols.gfe import write_gfe

    if args.save_obs:
        try:
            atomic_write_json(Path(args.save_obs), obs_set.to_json_dict())
        except OSError as err:
            print(f"ams solve: cannot write {args.save_obs}: {err}", file=sys.stderr)
    if args.save_gfe:
        out = Path(args.save_gfe)
        for o in obs_set.observations:
            name = f"{o.t_ref_utc:%Y-%m-%dT%H_%M_%S}_AMS_{o.station_id}" + (f"_{o.camera_id}" if o.camera_id else "")
            try:
                out.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(out / f"{name}.ecsv", write_gfe(o).encode("utf-8"))
            except OSError as err:
                print(f"ams solve: cannot write {out / name}.ecsv: {err}", file=sys.stderr)


def _fmt(x: float | None, spec: str, scale: float = 1.0) -> str:
    return "n/a" if x is None else format(x * scale, spec)


def _sig(sigma: dict[str, Any] | None, *keys: str, spec: str = ".2f", scale: float = 1.0) -> str:
    node: Any = sigma
    for k in keys:
        node = node.get(k) if isinstance(node, dict) else None
    return "" if node is None else f" ± {node * scale:{spec}}"


def _report(doc: dict[str, Any]) -> str:
    lines = [f"event {doc['event_id']}: {doc['status']}"
             + (f" — {doc['reason']}" if doc.get("reason") else "")]
    solver = doc["solver"]
    lines.append(f"  solver        {solver['name']} {solver['version']} {solver['method']}, "
                 f"{solver['runtime_s']:.3f} s")
    if doc["status"] != "solved":
        return "\n".join(lines)
    s = doc.get("sigma")
    res = ", ".join(f"{k} {_fmt(v, '.1f')}″" for k, v in doc["residuals_arcsec"].items())
    lines.append(f"  stations      {res}")
    lines.append(f"  convergence   {doc['convergence_angle_deg']:.1f}°")
    for key in ("begin", "end"):
        p = doc[key]
        lines.append(
            f"  {key:<13} {p['lat']:.4f}°{_sig(s, key, 'lat', spec='.4f')}, {p['lon']:.4f}°"
            f"{_sig(s, key, 'lon', spec='.4f')}, {p['alt_m'] / 1000:.2f}{_sig(s, key, 'alt_m', scale=1e-3)} km"
        )
    lines.append(f"  v_init        {doc['v_init_m_s'] / 1000:.3f}{_sig(s, 'v_init_m_s', spec='.3f', scale=1e-3)}"
                 f" km/s   (model: {doc.get('velocity_model')})")
    lines.append(f"  v_avg         {doc['v_avg_m_s'] / 1000:.3f}{_sig(s, 'v_avg_m_s', spec='.3f', scale=1e-3)} km/s")
    r = doc["radiant"]
    lines.append(f"  radiant       RA {r['ra_deg']:.3f}°{_sig(s, 'radiant', 'ra_deg', spec='.3f')}, "
                 f"Dec {r['dec_deg']:+.3f}°{_sig(s, 'radiant', 'dec_deg', spec='.3f')} (geocentric, J2000)")
    ra = doc.get("radiant_apparent")
    if ra:
        lines.append(f"  apparent      RA {ra['ra_deg']:.3f}°, Dec {ra['dec_deg']:+.3f}° (J2000 axes)")
    v_g = _fmt(doc["v_g_m_s"], ".3f", 1e-3)
    lines.append(f"  v_g           {v_g}{_sig(s, 'v_g_m_s', spec='.3f', scale=1e-3)} km/s")
    o = doc.get("orbit") or {}
    if o:
        lines.append(
            "  orbit         "
            + ", ".join(
                f"{label} {_fmt(o.get(k), spec)}{_sig(s, 'orbit', k, spec=spec)}"
                for label, k, spec in (("a", "a_au", ".3f"), ("e", "e", ".3f"), ("q", "q_au", ".4f"),
                                       ("i", "i_deg", ".2f"), ("ω", "peri_deg", ".2f"), ("Ω", "node_deg", ".4f"))
            )
        )
    if doc.get("shower"):
        lines.append(f"  shower        {doc['shower']['code']} (IAU {doc['shower']['iau_no']})")
    if doc.get("timing_offsets_s"):
        offs = ", ".join(f"{k} {v:+.3f} s" for k, v in doc["timing_offsets_s"].items())
        lines.append(f"  clock offsets {offs}")
    if doc.get("excluded"):
        lines.append(f"  excluded      {', '.join(doc['excluded'])} (the event solves only without them)")
    if doc.get("rejected_points"):
        lines.append(f"  rejected      {doc['rejected_points']} outlier points")
    q = doc.get("quality")
    if q:
        lines.append("  quality       " + ("ok" if q["ok"] else "POOR (not published): " + "; ".join(q["reasons"])))
    return "\n".join(lines)


def _emit(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(doc) + "\n")
    else:
        print(_report(doc))


def run(args: argparse.Namespace) -> int:
    import time

    from ams_actors.kernels.trajectory import solve_observation_set_detailed
    from ams_actors.kernels.trajectory.solver import SOLVER_NAME, SOLVER_VERSION
    from protocols.errors import InputError
    from protocols.observations import Solution, SolverInfo

    t0 = time.perf_counter()
    text: bytes | None = None
    if args.mc < 0:
        print("ams solve: --mc must be >= 0", file=sys.stderr)
        return 2
    if args.plot:
        from ams_actors.runtime.extras import require

        require("plots")  # before the solve, not after it
    try:
        obs_set, text = _read_input(args)
    except InputError as err:
        info = SolverInfo(SOLVER_NAME, SOLVER_VERSION, "none", 0, time.perf_counter() - t0)
        if args.json:  # a script reading --json always gets one document; the message goes to stderr
            first = args.file or next(iter(args.gfe or args.ufo), "unknown")
            failed = Solution(_fallback_event_id(first, text), "failed", info, reason=f"unreadable input: {err}")
            _emit(failed.to_json_dict(), True)
        print(f"ams solve: {err}", file=sys.stderr)  # once: no report repeating it on stdout
        return err.exit_code

    from ams_actors.data import load_shower_table
    from ams_actors.kernels.trajectory.epoch import warm_up

    _save(args, obs_set)
    warm_up()  # start-up cost, not part of the reported runtime_s
    showers = load_shower_table()
    try:
        result = solve_observation_set_detailed(obs_set, mc_runs=args.mc, seed=args.seed, showers=showers)
    except Exception as err:  # a bug must still not show a traceback to an operator
        info = SolverInfo(SOLVER_NAME, SOLVER_VERSION, "none", args.mc, time.perf_counter() - t0)
        failed = Solution(obs_set.event_id, "failed", info, reason=f"internal error: {type(err).__name__}: {err}")
        _emit(failed.to_json_dict(), args.json)
        return 1

    if args.plot and result.fit is not None:
        from ams_actors.kernels.trajectory.plots import all_figures

        out = Path(args.plot)
        try:
            out.mkdir(parents=True, exist_ok=True)
            for stem, fig in all_figures(result.fit, obs_set.event_id).items():
                fig.savefig(out / f"{stem}.png")
        except OSError as err:
            print(f"ams solve: cannot write plots to {out}: {err}", file=sys.stderr)
    _emit(result.solution.to_json_dict(), args.json)
    return 0 if result.solution.status == "solved" else 1
