"""`ams correlate --rms DIR [--json]`: correlate RMS (GMN) FTPdetectinfo data into multi-station events.

Why it exists: real multi-station data to check the correlator against (GMN UK, whose WMPL
trajectories are known), and a tool for operators who run RMS cameras beside ours. Every
FTPdetectinfo below DIR is imported into meteor-index entries (the same entries our stations
publish), and the same kernel as the network Correlator groups them; event ids follow the network
rules (protocols.events).

Station coordinates come from a ``stations.json`` ({STATION: {lat, lon, elev}}) in DIR or below it,
else from RMS platepar JSON files (``platepar*.json``: one platepar, or a dict of them keyed by FF
name as in ``platepars_all_recalibrated.json``). ``elev`` is taken as height above the ellipsoid: the
geoid difference (tens of metres) is far below what correlation can notice.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ams_actors.kernels.correlate import Site
    from protocols.ftpdetectinfo import RmsMeteor
    from protocols.meteor_index import MeteorIndexEntry


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rms",
        metavar="DIR",
        type=Path,
        required=True,
        help="directory with RMS FTPdetectinfo files (searched recursively)",
    )
    parser.add_argument("--json", action="store_true", help="print the events as JSON")
    parser.add_argument(
        "--time-tolerance",
        type=float,
        default=5.0,
        metavar="S",
        help="max time difference of two observations of one meteor (default 5 s)",
    )


def rms_meteor_id(m: RmsMeteor) -> str:
    """A stable meteor id for an RMS detection: FF name without prefix/extension plus the meteor number."""
    stem = m.ff_name
    for pre in ("FF_", "FF"):
        if stem.startswith(pre):
            stem = stem[len(pre) :]
            break
    stem = stem.rsplit(".", 1)[0]
    return f"{stem}_{m.meteor_no:04d}"[-64:]


def entry_from_rms(m: RmsMeteor, source: str) -> MeteorIndexEntry:
    """A meteor-index entry from one RMS detection (az/el as RMS wrote them, RA/Dec J2000)."""
    from protocols.meteor_index import entry_from_track

    fr = m.frames
    return entry_from_track(
        meteor_id=rms_meteor_id(m),
        station_id=m.station_id,
        camera_id=m.cam_code,
        times_utc=m.times_utc,
        az=[f.azim_deg for f in fr],
        el=[f.elev_deg for f in fr],
        ra=[f.ra_deg for f in fr],
        dec=[f.dec_deg for f in fr],
        mag=[f.mag for f in fr],
        intensity=[f.intensity for f in fr],
        source=source,
    )


def _site_from_platepar(pp: Any) -> tuple[str, dict[str, float]] | None:
    if isinstance(pp, dict) and {"lat", "lon", "elev"} <= pp.keys() and isinstance(pp.get("station_code"), str):
        return pp["station_code"], {"lat": float(pp["lat"]), "lon": float(pp["lon"]), "elev": float(pp["elev"])}
    return None


def load_sites(root: Path) -> dict[str, Site]:
    """Station sites from stations.json (preferred) or platepars below ``root``."""
    from ams_actors.kernels.correlate import Site
    from protocols.errors import InputError

    raw: dict[str, dict[str, float]] = {}
    for path in sorted(root.rglob("platepar*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            print(f"ams correlate: {path}: skipped: {err}", file=sys.stderr)
            continue
        found = _site_from_platepar(doc)
        if found is None and isinstance(doc, dict):
            found = next((s for s in map(_site_from_platepar, doc.values()) if s), None)
        if found:
            raw.setdefault(found[0], found[1])
    for path in sorted(root.rglob("stations.json"), key=lambda p: (len(p.parts), str(p)), reverse=True):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise InputError(str(path), None, f"unreadable: {err}") from None
        if not isinstance(doc, dict):
            raise InputError(str(path), None, "must be an object {STATION: {lat, lon, elev}}")
        for sid, v in doc.items():
            try:
                raw[sid] = {"lat": float(v["lat"]), "lon": float(v["lon"]), "elev": float(v.get("elev", 0.0))}
            except (KeyError, TypeError, ValueError):
                raise InputError(str(path), sid, "needs numeric lat, lon (and elev)") from None
    return {sid: Site(v["lat"], v["lon"], v["elev"]) for sid, v in raw.items()}


def run(args: argparse.Namespace) -> int:
    from ams_actors.kernels.correlate import CorrelationParams, correlate_indexes
    from protocols.errors import InputError
    from protocols.ftpdetectinfo import find_ftpdetectinfo, read_ftpdetectinfo
    from protocols.meteor_index import MeteorIndex, SiteInfo, format_utc_ms

    root: Path = args.rms
    if not root.exists():
        raise InputError(str(root), None, "no such file or directory")
    files = find_ftpdetectinfo(root)
    if not files:
        raise InputError(str(root), None, "no FTPdetectinfo_*.txt below it")
    sites = load_sites(root if root.is_dir() else root.parent)
    entries: list[MeteorIndexEntry] = []
    extra: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    n_skipped = 0
    for path in files:
        meteors, problems = read_ftpdetectinfo(path)
        for p in problems:
            print(f"ams correlate: warning: {p}", file=sys.stderr)
        for k, m in enumerate(meteors):
            src = f"{path}: meteor {k + 1}"
            if m.station_id not in sites:
                n_skipped += 1
                print(
                    f"ams correlate: warning: {src}: no coordinates for station {m.station_id}; skipped",
                    file=sys.stderr,
                )
                continue
            try:
                e = entry_from_rms(m, src)
            except InputError as err:
                n_skipped += 1
                print(f"ams correlate: warning: {err}; skipped", file=sys.stderr)
                continue
            if (e.station_id, e.meteor_id) in seen:
                continue  # the same FTPdetectinfo copied twice under DIR
            seen.add((e.station_id, e.meteor_id))
            entries.append(e)
            extra.append({"ff_name": m.ff_name, "file": str(path)})

    # one daily index per station, as the stations would publish them; then the Correlator's own call
    indexes = []
    for sid in sorted({e.station_id for e in entries}):
        mine = tuple(e for e in entries if e.station_id == sid)
        site = sites[sid]
        day = min(e.start_utc for e in mine).strftime("%Y_%m_%d")
        indexes.append(MeteorIndex(sid, day, SiteInfo(site.lat, site.lon, site.alt_m, site.clock_sigma_s), mine))
    run_ = correlate_indexes(indexes, (), CorrelationParams(time_tolerance_s=args.time_tolerance))
    rec, result = run_.updates, run_.result
    where = {(e.station_id, e.meteor_id): k for k, e in enumerate(entries)}
    out: list[dict[str, Any]] = []
    for event in rec.new:
        observations = []
        for mem in event.members:
            k = where[mem.key]
            e = entries[k]
            observations.append(
                {
                    "station_id": e.station_id,
                    "camera_id": e.camera_id,
                    "meteor_id": e.meteor_id,
                    "start_utc": format_utc_ms(e.start_utc),
                    "duration_s": round(e.duration_s, 3),
                    "begin": {"az": e.begin.az, "el": e.begin.el},
                    "end": {"az": e.end.az, "el": e.end.el},
                    "peak_mag": e.peak_mag,
                    **extra[k],
                }
            )
        out.append(
            {
                "event_id": event.event_id,
                "start_utc": format_utc_ms(event.start_utc),
                "stations": list(event.stations),
                "observations": observations,
            }
        )
    out.sort(key=lambda d: (d["start_utc"], d["event_id"]))

    if args.json:
        json.dump({"events": out}, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    n_multi = sum(len(doc["stations"]) for doc in out)
    print(
        f"{len(files)} FTPdetectinfo file(s), {len(entries)} meteors from {len({e.station_id for e in entries})} "
        f"station(s){f', {n_skipped} skipped' if n_skipped else ''}"
    )
    print(
        f"{len(out)} multi-station event(s) ({n_multi} observations); "
        f"{int(result.stats.get('accepted_pairs', 0))} of {int(result.stats.get('geometry_pairs', 0))} "
        "time-overlapping station pairs passed the geometry checks"
    )
    for doc in out:
        print(f"\n{doc['event_id']}  {doc['start_utc']}  {len(doc['stations'])} stations: {' '.join(doc['stations'])}")
        for o in doc["observations"]:
            print(
                f"    {o['station_id']:<8} {o['start_utc']}  {o['duration_s']:6.2f} s  "
                f"az/el {o['begin']['az']:6.1f}/{o['begin']['el']:5.1f} -> {o['end']['az']:6.1f}/"
                f"{o['end']['el']:5.1f}  {o['ff_name']}"
            )
    return 0
