"""What the pages show, read from the data root: plain functions the server runs in a worker thread.

Nothing here touches the loop, the ledger or the actors (the server passes in what it got from them);
everything read is checked or skipped, so one bad file never breaks a page.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from ams_actors.actors.calibrations import Calibrations
from ams_actors.config import StationConfig
from ams_actors.store.events_tree import events_root, local_events
from ams_actors.store.local_paths import StationPaths
from ams_actors.web.safe_paths import url_of
from protocols.calibration import CalibrationRecord, read_calibration
from protocols.errors import InputError
from protocols.pipeline_files import parse_clip_name

T = TypeVar("T")


@dataclass(slots=True)
class MeteorCard:
    meteor_id: str
    day: str
    camera: str
    start_utc: str
    frames: int
    duration_s: float
    preview: str | None  # URL, None: no preview yet (old meteor) → placeholder
    frame_preview: str | None = None
    doc: dict[str, Any] = field(default_factory=dict)

    @property
    def hour(self) -> int:
        return int(self.start_utc[11:13]) if len(self.start_utc) >= 13 else -1


def thumb_of(paths: StationPaths, clip: str) -> str | None:
    """URL of a clip's minute-stack thumbnail, if it exists."""
    try:
        name = parse_clip_name(clip if clip.endswith(".mp4") else clip + ".mp4")
    except InputError:
        return None
    p = paths.images_dir(name.day) / f"{name.stem}-stacked-tn.jpg"
    return url_of(paths.root, p) if p.is_file() else None


def disk(paths: StationPaths) -> tuple[int, int, int]:
    """(total, used, free) bytes of the data root's filesystem."""
    u = shutil.disk_usage(paths.root)
    return u.total, u.used, u.free


def calibration_records(config: StationConfig, camera_id: str) -> list[CalibrationRecord]:
    """Every readable calibration file of a camera, newest first (the fit history)."""
    folder = Calibrations(config).folder(config.camera(camera_id))
    out = []
    for p in sorted(folder.glob(f"calib_{camera_id}_*.json")) if folder.is_dir() else []:
        try:
            rec = read_calibration(p)
        except (OSError, InputError):
            continue
        if rec.camera_id == camera_id:
            out.append(rec)
    return sorted(out, key=lambda r: r.obs_utc, reverse=True)


def _names(folder: Path) -> set[str]:
    """The names of a folder's regular files (one scandir: cheaper than a stat per name asked about)."""
    try:
        with os.scandir(folder) as it:
            return {e.name for e in it if e.is_file()}
    except OSError:
        return set()


def _card(paths: StationPaths, day: str, doc: dict[str, Any], present: set[str] | None = None,
          keep_doc: bool = True) -> MeteorCard | None:
    """A meteor's card; `present` (the names in its meteors folder, when the caller listed them) saves a stat
    per preview. A night's grid needs no doc: without it a year of nights' cards stays small in memory."""
    try:
        mid = str(doc["meteor_id"])
        frames = doc.get("frames") or []
        t0 = str(frames[0]["t_utc"]) if frames else ""
        t1 = str(frames[-1]["t_utc"]) if frames else ""
        dur = (datetime.fromisoformat(t1.replace("Z", "+00:00")) -
               datetime.fromisoformat(t0.replace("Z", "+00:00"))).total_seconds() if t0 and t1 else 0.0
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    folder = paths.meteors_dir(day)
    if present is None:
        present = _names(folder)
    previews = doc.get("previews") if isinstance(doc.get("previews"), dict) else {}
    base = url_of(paths.root, folder) + "/"

    def url(key: str) -> str | None:
        name = previews.get(key) if previews else None
        if not isinstance(name, str) or "/" in name or name.startswith("."):
            return None
        return base + name if name in present else None

    return MeteorCard(mid, day, str(doc.get("camera", "")), t0, len(frames), dur, url("crop"), url("frame"),
                      doc if keep_doc else {})


def night_meteors(paths: StationPaths, day: str) -> list[MeteorCard]:
    """The day's meteors that are in the archive (a rejected one is not), in time order."""
    archive = paths.archive_meteor(day, "x").parent
    folder = paths.meteors_dir(day)
    present = _names(folder)
    ids = sorted(n[:-5] for n in _names(archive) if n.endswith(".json"))
    out = []
    for mid in ids:
        doc = None
        for where in ((folder,) if f"{mid}.json" in present else ()) + (archive,):
            try:
                with open(os.path.join(where, f"{mid}.json"), "rb") as f:
                    doc = json.loads(f.read())
                break
            except (OSError, ValueError):
                continue
        card = _card(paths, day, doc, present, keep_doc=False) if isinstance(doc, dict) else None
        if card is not None:
            out.append(card)
    return sorted(out, key=lambda c: (c.start_utc, c.meteor_id))


def card_of(paths: StationPaths, day: str, doc: dict[str, Any]) -> MeteorCard | None:
    return _card(paths, day, doc)


def minute_stacks(paths: StationPaths, day: str, cameras: list[str]) -> dict[str, list[tuple[str, str]]]:
    """camera -> [(HH:MM, thumbnail URL)] of the day's minute stacks, in time order."""
    folder = paths.images_dir(day)
    out: dict[str, list[tuple[str, str]]] = {c: [] for c in cameras}
    for p in sorted(folder.glob("*-stacked-tn.jpg")) if folder.is_dir() else []:
        stem = p.name[: -len("-stacked-tn.jpg")]
        cam = stem.rsplit("_", 1)[-1]
        if cam in out:
            out[cam].append((f"{stem[11:13]}:{stem[14:16]}", url_of(paths.root, p)))
    return out


class StampCache:
    """Values computed from folders' contents, kept until one of the folders changes (a file added, renamed
    or removed changes its folder's mtime): a page looked at again costs a few stats, not a re-read.
    Called from worker threads; each get is one dict read and one dict write."""

    def __init__(self, max_entries: int = 64) -> None:
        self.max_entries = max_entries
        self._kept: dict[Any, tuple[tuple[int, ...], Any]] = {}

    def get(self, key: Any, folders: tuple[Path, ...], compute: Callable[[], T]) -> tuple[tuple[int, ...], T]:
        """(the folders' stamp, the value): the stamp lets a caller key what it derives from the value."""
        stamp = tuple(f.stat().st_mtime_ns if f.is_dir() else 0 for f in folders)
        hit = self._kept.get(key)
        if hit is not None and hit[0] == stamp:
            return hit
        got = (stamp, compute())
        if len(self._kept) >= self.max_entries:
            self._kept.clear()
        self._kept[key] = got
        return got


def day_bases(paths: StationPaths) -> tuple[Path, Path]:
    """The folders whose day sub-folders make a day 'with data' (minutes, meteors)."""
    return paths.proc2, paths.root / "meteors"


def days_with_data(paths: StationPaths, limit: int = 60) -> list[str]:
    """The newest days that have minutes or meteors (for the day pickers)."""
    days: set[str] = set()
    for base in day_bases(paths):
        if base.is_dir():
            days.update(p.name for p in base.iterdir() if len(p.name) == 10 and p.name[4] == "_")
    return sorted(days, reverse=True)[:limit]


def events_of_meteor(paths: StationPaths, station: str, day: str, meteor_id: str) -> list[str]:
    """Ids of the local events this meteor is a member of. An event's folder is the day of its earliest
    member, which is this meteor's day or (a partner saw it first, just before midnight) the day before;
    both are looked at."""
    from datetime import date, timedelta

    y, m, d = map(int, day.split("_"))
    before = (date(y, m, d) - timedelta(days=1)).strftime("%Y_%m_%d")
    return [ev.event_id for folder in (before, day) for ev in local_events(paths, folder)
            if (station, meteor_id) in ev.member_keys]


def event_days(paths: StationPaths, limit: int = 30) -> list[str]:
    root = events_root(paths)
    days = [p.name for p in root.glob("*/*") if p.is_dir()] if root.is_dir() else []
    return sorted(days, reverse=True)[:limit]


def read_json(path: Path, max_bytes: int = 4 * 1024 * 1024) -> dict[str, Any] | None:
    try:
        if path.stat().st_size > max_bytes:
            return None
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def event_files(paths: StationPaths, day: str, event_id: str) -> tuple[dict[str, Any] | None, list[str]]:
    """(solution.json, URLs of the plots in the event folder)."""
    folder = paths.events_dir(day) / event_id
    plots = [url_of(paths.root, p) for p in sorted(folder.glob("*.png"))] if folder.is_dir() else []
    return read_json(folder / "solution.json"), plots


def partner_previews(paths: StationPaths, day: str, event_id: str) -> list[str]:
    """The event's members' previews as the Syncer fetched them (``previews/<STATION>/<name>.jpg``)."""
    folder = paths.events_dir(day) / event_id / "previews"
    return [url_of(paths.root, p) for p in sorted(folder.glob("*/*.jpg"))] if folder.is_dir() else []
