"""Reject and restore: a rejected meteor's files go to the trash, restorable for `[web] trash_days`.

The archive JSON is the truth the daily index is derived from (store/index_check.py), so moving it out
of ``meteor_archive/<ST>/METEOR/…`` takes the meteor out of the index (the Indexer rebuilds the marked
day), out of the bucket's index at the next sync, and out of every new event (the correlator reads the
indexes). Its ``meteors/DAY/<id>*`` files (trim videos, previews) move with it. Restoring moves
everything back. Every move is a rename inside the data root (one filesystem): a file is in exactly one
place at every instant, and a crash between two moves leaves both halves findable (the trash record
lists what was moved; `restore` puts back whatever is in the trash).

Trash layout: ``trash/YYYY_MM_DD/<meteor id>/{archive/<id>.json, meteors/<id>*, trash.json}``.
These functions do file I/O only (run them off the loop); the ledger and the reindex are the caller's.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ams_actors.runtime.files import atomic_move, atomic_write_json
from ams_actors.store.local_paths import StationPaths
from protocols.s3_keys import ID_RE, InvalidKey, parse_day


class ReviewError(ValueError):
    """A review that cannot be done (unknown meteor, nothing in the trash): the page says why (409/404)."""


@dataclass(frozen=True, slots=True)
class Trashed:
    meteor_id: str
    day: str
    rejected_utc: str
    who: str
    folder: Path


def trash_root(paths: StationPaths) -> Path:
    return paths.root / "trash"


def trash_dir(paths: StationPaths, day: str, meteor_id: str) -> Path:
    return trash_root(paths) / day / meteor_id


def check_ids(day: str, meteor_id: str) -> None:
    """A day and meteor id from a request, before they name any path."""
    try:
        parse_day(day)
    except InvalidKey as err:
        raise ReviewError(f"day must be YYYY_MM_DD, got {day!r}") from err
    if not ID_RE.match(meteor_id) or meteor_id.startswith("."):
        raise ReviewError(f"not a meteor id: {meteor_id!r}")


def _meteor_files(paths: StationPaths, day: str, meteor_id: str) -> list[Path]:
    folder = paths.meteors_dir(day)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and (p.stem == meteor_id or
                                                                  p.name.startswith(meteor_id + "-")))


def reject(paths: StationPaths, day: str, meteor_id: str, who: str, now_utc: str) -> Trashed:
    """Move the meteor's archive JSON and its files into the trash (ReviewError: not in the archive)."""
    check_ids(day, meteor_id)
    archive = paths.archive_meteor(day, meteor_id)
    if not archive.is_file():
        raise ReviewError(f"{meteor_id} is not in the archive of {day} (already rejected?)")
    dest = trash_dir(paths, day, meteor_id)
    atomic_write_json(dest / "trash.json", {"meteor_id": meteor_id, "day": day, "rejected_utc": now_utc, "who": who})
    for f in _meteor_files(paths, day, meteor_id):
        atomic_move(f, dest / "meteors" / f.name)
    atomic_move(archive, dest / "archive" / archive.name)  # last: until now the meteor was still indexed
    return Trashed(meteor_id, day, now_utc, who, dest)


def restore(paths: StationPaths, day: str, meteor_id: str) -> None:
    """Put a trashed meteor back (ReviewError: nothing in the trash, or the archive has it again)."""
    check_ids(day, meteor_id)
    src = trash_dir(paths, day, meteor_id)
    archived = src / "archive" / f"{meteor_id}.json"
    if not archived.is_file():
        raise ReviewError(f"{meteor_id} of {day} is not in the trash")
    target = paths.archive_meteor(day, meteor_id)
    if target.exists():
        raise ReviewError(f"{meteor_id} is in the archive already")
    for f in sorted((src / "meteors").glob("*")) if (src / "meteors").is_dir() else []:
        if not (paths.meteors_dir(day) / f.name).exists():
            atomic_move(f, paths.meteors_dir(day) / f.name)
    atomic_move(archived, target)  # last: the meteor is indexed again only when its files are back
    shutil.rmtree(src, ignore_errors=True)


def trashed(paths: StationPaths, day: str | None = None) -> list[Trashed]:
    """What is in the trash (one day, or all), newest rejection first."""
    root = trash_root(paths)
    folders = (root / day).glob("*/trash.json") if day else root.glob("*/*/trash.json")
    out = []
    for rec in folders:
        try:
            doc = json.loads(rec.read_text())
            out.append(Trashed(str(doc["meteor_id"]), str(doc["day"]), str(doc["rejected_utc"]), str(doc["who"]),
                               rec.parent))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return sorted(out, key=lambda t: t.rejected_utc, reverse=True)


def purge(paths: StationPaths, keep_days: int, now: datetime) -> list[str]:
    """Delete what was rejected more than `keep_days` ago; returns the meteor ids deleted."""
    cutoff = now - timedelta(days=keep_days)
    gone = []
    for t in trashed(paths):
        try:
            when = datetime.fromisoformat(t.rejected_utc)
        except ValueError:
            continue
        if when < cutoff:
            shutil.rmtree(t.folder, ignore_errors=True)
            gone.append(t.meteor_id)
    return gone


def read_meteor(paths: StationPaths, day: str, meteor_id: str) -> dict[str, Any] | None:
    """The meteor's JSON (the meteors/ copy has the previews; the archive is the fallback), or None."""
    check_ids(day, meteor_id)
    for p in (paths.meteors_dir(day) / f"{meteor_id}.json", paths.archive_meteor(day, meteor_id),
              trash_dir(paths, day, meteor_id) / "meteors" / f"{meteor_id}.json"):
        try:
            doc = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict):
            return doc
    return None

