"""Synthetic meteor archives for page tests and the web benchmark: many meteors fast, no video decoding.

Each meteor gets what the Verifier and the preview maker write (design.md §4 and the previews
contract): ``meteors/DAY/<id>.json`` with ``previews``, ``<id>-preview.jpg``, ``<id>-frame.jpg`` and the
archive JSON (valid against METEOR_SCHEMA, calibrated frames so the index can take it). The JPEGs are
rendered once and copied, so a year of 20,000 meteors takes seconds, not an hour.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from ams_actors.store.local_paths import StationPaths
from protocols.pipeline_files import METEOR_FORMAT, format_clip_name


@dataclass(frozen=True, slots=True)
class Jpegs:
    crop: bytes
    frame: bytes
    thumb: bytes


def render_jpegs(seed: int = 1) -> Jpegs:
    """A crop (400×225) with a streak, a full frame (640×360) with a marked track, a minute thumbnail."""
    import cv2

    rng = np.random.default_rng(seed)
    full = (rng.normal(18, 6, (360, 640)).clip(0, 255)).astype(np.uint8)
    for _ in range(120):
        x, y = int(rng.integers(0, 640)), int(rng.integers(0, 360))
        cv2.circle(full, (x, y), 1, int(rng.integers(90, 230)), -1)
    cv2.line(full, (220, 120), (380, 190), 235, 2)
    frame = cv2.cvtColor(full, cv2.COLOR_GRAY2BGR)
    cv2.line(frame, (220, 120), (380, 190), (60, 60, 255), 1)
    crop = cv2.resize(cv2.cvtColor(full[80:230, 200:467], cv2.COLOR_GRAY2BGR), (400, 225))
    thumb = cv2.resize(full, (160, 90))

    def jpg(img: np.ndarray) -> bytes:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
        assert ok
        return bytes(buf)

    return Jpegs(jpg(crop), jpg(frame), jpg(thumb))


def meteor_doc(station: str, camera: str, start: datetime, rng: random.Random) -> dict[str, object]:
    """A calibrated meteor JSON starting at `start` (10–40 frames at 25 fps, a straight track)."""
    clip = format_clip_name(start.replace(second=0, microsecond=0), camera)
    fn0 = int((start - start.replace(second=0, microsecond=0)).total_seconds() * 25)
    n = rng.randint(10, 40)
    x0, y0, vx, vy = rng.uniform(80, 500), rng.uniform(40, 300), rng.uniform(-6, 6), rng.uniform(-4, 4)
    az0, el0 = rng.uniform(0, 360), rng.uniform(20, 70)
    frames = []
    for i in range(n):
        t = start + timedelta(seconds=i / 25)
        frames.append({"fn": fn0 + i, "t_utc": t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z",
                       "x": round(x0 + vx * i, 2), "y": round(y0 + vy * i, 2), "w": 5, "h": 5,
                       "intensity": round(800 * np.sin(np.pi * (i + 0.5) / n) + 50, 1),
                       "az": round((az0 + 0.3 * i) % 360, 4), "el": round(el0 - 0.2 * i, 4)})
    mid = f"{clip[:-4]}-trim-{max(0, fn0 - 25):04d}"
    return {"format": METEOR_FORMAT, "meteor_id": mid, "station": station, "camera": camera, "sd_clip": clip,
            "hd_clip": None, "sd_trim": mid + ".mp4", "hd_trim": None,
            "calibration": {"file": None, "model": "ams-equidistant/radial-odd", "fit_quality": None},
            "frames": frames, "report": {"measured_frames": n, "speed_deg_s_robust": round(rng.uniform(5, 40), 2)},
            "previews": {"crop": f"{mid}-preview.jpg", "frame": f"{mid}-frame.jpg"}}


def write_meteor(paths: StationPaths, doc: dict[str, object], jpegs: Jpegs, trim: bytes | None = None) -> str:
    """Write one meteor's files (plain writes: this is test data, not the station's product)."""
    mid = str(doc["meteor_id"])
    day = mid[:10]
    folder = paths.meteors_dir(day)
    folder.mkdir(parents=True, exist_ok=True)
    body = json.dumps(doc).encode()
    (folder / f"{mid}.json").write_bytes(body)
    (folder / f"{mid}-preview.jpg").write_bytes(jpegs.crop)
    (folder / f"{mid}-frame.jpg").write_bytes(jpegs.frame)
    if trim is not None:
        (folder / f"{mid}.mp4").write_bytes(trim)
    archive = paths.archive_meteor(day, mid)
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(body)
    return mid


def year_of_meteors(paths: StationPaths, cameras: list[str], first_day: datetime, days: int, per_night: int,
                    seed: int = 7) -> list[tuple[str, str]]:
    """`per_night` meteors a night for `days` nights (UTC 20:00–04:00), spread over the cameras, with a
    minute-stack thumbnail for each meteor's minute; returns (day, meteor id) of every meteor."""
    rng = random.Random(seed)
    jpegs = render_jpegs(seed)
    out = []
    for d in range(days):
        dusk = first_day + timedelta(days=d, hours=20)
        for _ in range(per_night):
            start = dusk + timedelta(seconds=rng.uniform(0, 8 * 3600))
            doc = meteor_doc(paths.station_id, rng.choice(cameras), start, rng)
            mid = write_meteor(paths, doc, jpegs)
            clip = str(doc["sd_clip"])[:-4]
            images = paths.images_dir(mid[:10])
            images.mkdir(parents=True, exist_ok=True)
            (images / f"{clip}-stacked-tn.jpg").write_bytes(jpegs.thumb)
            out.append((mid[:10], mid))
    return out


def ledger_rows(cameras: list[str], first_day: datetime, days: int, meteors: list[tuple[str, str]],
                now_utc: str) -> list[tuple[object, ...]]:
    """Ledger clip rows for every night minute (20:00–04:00) of every camera, the meteor minutes verified."""
    with_meteor = {mid.split("-trim-")[0] for _day, mid in meteors}
    rows: list[tuple[object, ...]] = []
    for d in range(days):
        dusk = first_day + timedelta(days=d, hours=20)
        for m in range(8 * 60):
            t = dusk + timedelta(minutes=m)
            for cam in cameras:
                clip = format_clip_name(t, cam)[:-4]
                met = clip in with_meteor
                rows.append((clip, cam, t.strftime("%Y_%m_%d"), "classified", "maybe-meteors" if met else "detect",
                             "meteor" if met else None, int(met), 1, None, now_utc))
    return rows


def thumbnails_for(root: Path, clips: list[str], jpegs: Jpegs) -> None:
    """Minute-stack thumbnails for these clips (so the dashboard shows each camera's last minute)."""
    for clip in clips:
        p = root / "SD" / "proc2" / clip[:10] / "images" / f"{clip}-stacked-tn.jpg"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(jpegs.thumb)
