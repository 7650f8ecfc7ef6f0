"""A station's day folders as files: which clips a day has and which outputs exist for each.

The files are the truth and the ledger their index. The Housekeeper (resume, fix_days), the Detector
and Verifier (their re-runs), `ams proc_index --rebuild` and the simulator all read a day the same way,
so this lives below the actors, next to the paths it reads.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ams_actors.store.ledger import Ledger
from ams_actors.store.local_paths import StationPaths
from protocols.errors import InputError
from protocols.pipeline_files import DETECT_SUFFIX, VERIFY_SUFFIX, parse_clip_name

DAY_RE = re.compile(r"^\d{4}_\d{2}_\d{2}$")


@dataclass(frozen=True, slots=True)
class ClipFiles:
    """What exists on disk for one scanned clip."""

    stem: str
    camera: str
    day: str
    clip_path: Path
    has_vals: bool
    has_stack: bool
    result: str | None  # classification from the file present
    verdict: str | None  # meteor | nometeor

    @property
    def state(self) -> str:
        return "classified" if self.result else "scanned" if self.has_vals else "seen"


def day_files_state(paths: StationPaths, day: str) -> list[ClipFiles]:
    """Every clip in `proc2/DAY/` with the outputs that exist for it (one directory listing per folder)."""
    day_dir, data_dir, img_dir = paths.day_dir(day), paths.data_dir(day), paths.images_dir(day)
    data = {p.name for p in data_dir.iterdir()} if data_dir.is_dir() else set()
    images = {p.name for p in img_dir.iterdir()} if img_dir.is_dir() else set()
    out: list[ClipFiles] = []
    for clip in sorted(day_dir.glob("*.mp4")) if day_dir.is_dir() else []:
        try:
            name = parse_clip_name(clip.name)
        except InputError:
            continue
        stem = name.stem
        result = next((k for k, suf in DETECT_SUFFIX.items() if stem + suf in data), None)
        verdict = next((k for k, suf in VERIFY_SUFFIX.items() if stem + suf in data), None)
        out.append(
            ClipFiles(
                stem=stem,
                camera=name.camera,
                day=day,
                clip_path=clip,
                has_vals=f"{stem}-vals.json" in data,
                has_stack=f"{stem}-stacked.png" in images,
                result=result,
                verdict=verdict,
            )
        )
    return out


def remove_stale_temp_files(paths: StationPaths) -> int:
    """Temp files of atomic writes cut short by a crash (`.<name>.*.tmp`, `.trim-*.mp4`).

    Only hidden files with our temp-name patterns are removed: a final name is never half-written, so
    nothing else can be a leftover. Runs at start, when no write of ours is in flight.
    """
    n = 0
    for top in (paths.proc2, paths.root / "meteors", paths.archive):
        if not top.is_dir():
            continue
        for pattern in (".*.tmp", ".trim-*.mp4"):
            for f in top.rglob(pattern):
                f.unlink(missing_ok=True)
                n += 1
    return n


def days_on_disk(paths: StationPaths) -> list[str]:
    if not paths.proc2.is_dir():
        return []
    return sorted(p.name for p in paths.proc2.iterdir() if p.is_dir() and DAY_RE.match(p.name))


def rebuild_ledger_from_files(paths: StationPaths, ledger: Ledger | None, now_iso: str) -> tuple[int, int]:
    """Recreate the ledger from the files alone (`ams proc_index --rebuild`): (clips, meteors) found."""
    clips: list[tuple[Any, ...]] = []
    meteors: list[tuple[Any, ...]] = []
    for day in days_on_disk(paths):
        for cf in day_files_state(paths, day):
            n_met = 0
            if cf.verdict == "meteor":
                try:
                    doc = json.loads((paths.data_dir(day) / f"{cf.stem}-meteor.json").read_text())
                    n_met = len(doc.get("meteors", []))
                except (OSError, ValueError):
                    n_met = 0
            clips.append((cf.stem, cf.camera, day, cf.state, cf.result, cf.verdict, n_met, 0, None, now_iso))
        bad = paths.bad_dir(day)
        for clip in sorted(bad.glob("*.mp4")) if bad.is_dir() else []:
            reason_file = clip.with_name(clip.name + ".reason")
            reason = reason_file.read_text().strip() if reason_file.exists() else None
            clips.append((clip.stem, clip.stem[-6:], day, "bad", None, None, 0, 1, reason, now_iso))
    for clip in sorted(paths.daytime_dir.glob("*.mp4")) if paths.daytime_dir.is_dir() else []:
        try:
            name = parse_clip_name(clip.name)
        except InputError:
            continue
        clips.append((name.stem, name.camera, name.day, "daytime", None, None, 0, 0, None, now_iso))
    archive = paths.archive / "METEOR"
    for f in sorted(archive.rglob("*.json")) if archive.is_dir() else []:
        try:
            doc = json.loads(f.read_text())
            sd_clip = str(doc.get("sd_clip", ""))
            name = parse_clip_name(sd_clip)
            meteors.append((str(doc["meteor_id"]), name.stem, name.camera, name.day, str(f), now_iso))
        except (OSError, ValueError, KeyError, InputError):
            continue
    if ledger is not None:
        ledger.replace_all(clips, meteors)
    return len(clips), len(meteors)
