"""Benchmark: a real station killed again and again while it works (issue 16, "Measured").

What runs for real: `ams run` processes (this checkout's code) on one data root, on rendered SD minutes
with meteors (several cameras, two nights, fed in batches as a camera would write them), against the
embedded S3 (moto, atomic conditional writes) holding a partner's bucket data that includes corrupt
files. The process is killed with SIGKILL at random moments (start-up included), and stopped a few
times the way systemd does (SIGTERM to the whole process group) and with SIGHUP; each time it is
started again. At the end one last run works until the station is idle (every clip done, every day's
index equal to the archive and uploaded), then stops with a group SIGTERM.

Checked, for every day: the archive's meteors == the daily index's == the bucket's daily index; every
clip is in exactly one place with exactly one detection result; no temp file anywhere; no traceback
in any log; every graceful stop exited 0.

Run: ``python scripts/bench/chaos.py [--quick] [--kills 30] [--seed 1]``. The last line is
``BENCH {json}`` with kills, restarts, bad_partner_files, meteors_archive, meteors_index,
meteors_bucket, lost, duplicated, tracebacks, wall_s (and more).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from ams_actors.runtime.admin import request  # noqa: E402
from ams_actors.sim.render import render_clip  # noqa: E402
from ams_actors.sim.scene import Meteor, Scene  # noqa: E402
from ams_actors.store.embedded.server import EmbeddedS3  # noqa: E402
from protocols.meteor_index import decode_index  # noqa: E402
from protocols.pipeline_files import DETECT_SUFFIX, VERIFY_SUFFIX  # noqa: E402

STATION, PARTNER, BUCKET = "AMS1", "AMS2", "ams-chaos"
DAYS = ("2026_07_12", "2026_07_13")


@dataclass
class Tally:
    kills: int = 0
    sigterms: int = 0
    sighups: int = 0
    restarts: int = 0
    bad_exits: list[str] = field(default_factory=list)


def config_text(root: Path, endpoint: str, cameras: int) -> str:
    cams = "".join(f'[[cameras]]\nid = "{10001 + i:06d}"\n' for i in range(cameras))
    return f"""
[station]
id = "{STATION}"
lat = 51.5
lon = -0.1
alt_m = 20.0
data_root = "{root}"
{cams}
[store]
endpoint = "{endpoint}"
bucket = "{BUCKET}"
timeout_s = 5.0
[network]
partners = ["{PARTNER}"]
[schedule]
scan_interval_s = 0.5
clip_settle_s = 0.5
sync_interval_s = 2.0
index_interval_s = 2.0
[claims]
lease_s = 10.0
skew_margin_s = 2.0
renew_margin_s = 2.0
[runtime]
workers = 2
"""


def render_minutes(folder: Path, cameras: int, minutes: int) -> list[str]:
    """SD minutes of every camera on both nights; a meteor in every other minute. Returns names in order."""
    names = []
    for day in DAYS:
        for minute in range(minutes):
            for cam in range(cameras):
                n = len(names)
                meteors = (
                    (Meteor(t0=1.0, duration=0.9, x0=100.0 + 37 * (n % 9), y0=80.0 + 11 * cam, vx=200.0, vy=90.0,
                            amp=110.0),)
                    if minute % 2 == 0 else ()
                )
                name = f"{day}_23_{10 + minute:02d}_00_000_{10001 + cam:06d}.mp4"
                render_clip(Scene(duration=3.0, seed=1000 + n, meteors=meteors), folder / name)
                names.append(name)
    return names


def bad_partner_files(s3: Any) -> int:
    """A partner's bucket data that is corrupt in the ways a real one can be; each must be logged and skipped."""
    bad = {
        f"stations/{PARTNER}/index/2026/{DAYS[0]}.json.gz": b"this is not gzip",
        f"stations/{PARTNER}/index/2026/{DAYS[1]}.json.gz": gzip.compress(b'{"station": 5, "meteors": "x"}'),
        f"stations/{PARTNER}/meteors/2026/07/12/{PARTNER}_broken.json": b"\xff\xfe{",
        "events/2026/2026_07_12/20260712_231200_000/event.json": b'{"event_id": "20260712_231200_000", "memb',
        "events/2026/2026_07_13/20260713_231000_000/event.json": json.dumps(
            {"event_id": "20260713_231000_000", "revision": "one", "members": [{"station": STATION}]}).encode(),
    }
    for key, body in bad.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return len(bad)


def start(cfg: Path, log: Any) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "ams_actors", "run", "-c", str(cfg)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)


def stop_gracefully(proc: subprocess.Popen[bytes], how: str, tally: Tally) -> None:
    if how == "group-SIGTERM":
        os.killpg(proc.pid, signal.SIGTERM)
        tally.sigterms += 1
    else:
        proc.send_signal(signal.SIGHUP)
        tally.sighups += 1
    try:
        rc = proc.wait(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        rc = proc.wait(timeout=30)
    if rc != 0:
        tally.bad_exits.append(f"{how}: exit {rc}")


def admin_up(sock: Path) -> bool:
    try:
        return bool(sock.exists() and request(sock, {"cmd": "status"}, timeout_s=5)["ok"])
    except OSError:
        return False


def day_sets(root: Path, s3: Any, day: str) -> tuple[list[str], list[str], list[str]]:
    """Meteor ids of one day: archive files, local daily index, bucket daily index (lists: duplicates count)."""
    y, m, d = day.split("_")
    archive = sorted(p.stem for p in (root / "meteor_archive" / STATION / "METEOR" / y / m / d).glob("*.json"))
    local = root / "meteor_archive" / STATION / "DETECTS" / "MI" / y / f"{day}-meteor_index.json.gz"
    index = [e.meteor_id for e in decode_index(local.read_bytes(), str(local)).meteors] if local.exists() else []
    try:
        body = s3.get_object(Bucket=BUCKET, Key=f"stations/{STATION}/index/{y}/{day}.json.gz")["Body"].read()
        bucket = [e.meteor_id for e in decode_index(body, "bucket").meteors]
    except s3.exceptions.NoSuchKey:
        bucket = []
    return archive, sorted(index), sorted(bucket)


def clip_places(root: Path, name: str) -> tuple[int, int]:
    """(places the clip is in, detection results it has)."""
    day = name[:10]
    spots = [root / "SD" / name, root / "SD" / "proc2" / day / name, root / "SD" / "proc2" / day / "bad" / name]
    data = root / "SD" / "proc2" / day / "data"
    results = sum((data / f"{name[:-4]}{s}").exists() for s in DETECT_SUFFIX.values())
    return sum(p.exists() for p in spots), results


def idle(root: Path, s3: Any, fed: list[str]) -> bool:
    for name in fed:
        places, results = clip_places(root, name)
        if places != 1 or (root / "SD" / name).exists():
            return False
        stem, day = name[:-4], name[:10]
        data = root / "SD" / "proc2" / day / "data"
        if results != 1 and not (root / "SD" / "proc2" / day / "bad" / name).exists():
            return False
        if (data / f"{stem}{DETECT_SUFFIX['maybe-meteors']}").exists() and not any(
            (data / f"{stem}{s}").exists() for s in VERIFY_SUFFIX.values()
        ):
            return False
    for day in DAYS:
        archive, index, bucket = day_sets(root, s3, day)
        if not (archive == index == bucket):
            return False
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few kills, a small backlog (minutes, not an hour)")
    ap.add_argument("--kills", type=int, default=None, help="SIGKILLs (default 30; 6 with --quick)")
    ap.add_argument("--cameras", type=int, default=None)
    ap.add_argument("--minutes", type=int, default=None, help="SD minutes per camera and night")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the work folder (its path is printed)")
    args = ap.parse_args()
    kills = args.kills if args.kills is not None else (6 if args.quick else 30)
    cameras = args.cameras or (2 if args.quick else 3)
    minutes = args.minutes or (3 if args.quick else 8)
    rng = random.Random(args.seed)
    import boto3

    t0 = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="ams-chaos-"))
    root = work / "data"
    staging = work / "staging"
    staging.mkdir()
    (root / "SD").mkdir(parents=True)
    print(f"rendering {cameras} cameras x {minutes} minutes x {len(DAYS)} nights into {work}", flush=True)
    names = render_minutes(staging, cameras, minutes)
    tally = Tally()
    logs: list[Path] = []
    graceful = {rng.randrange(2, kills + 4): "group-SIGTERM" for _ in range(3)}
    graceful.update({rng.randrange(2, kills + 4): "SIGHUP" for _ in range(2)})
    with EmbeddedS3() as server:
        s3 = boto3.client("s3", endpoint_url=server.url, region_name="us-east-1",
                          aws_access_key_id=os.environ["AMS_S3_ACCESS_KEY_ID"],
                          aws_secret_access_key=os.environ["AMS_S3_SECRET_ACCESS_KEY"])
        s3.create_bucket(Bucket=BUCKET)
        n_bad = bad_partner_files(s3)
        cfg = work / "station.toml"
        cfg.write_text(config_text(root, server.url, cameras))
        sock = root / "state" / "admin.sock"
        batch = max(1, len(names) // (kills + len(graceful)))
        fed: list[str] = []
        run = 0
        while tally.kills < kills or len(fed) < len(names):
            run += 1
            for name in names[len(fed):len(fed) + batch]:  # the camera writes its next minutes
                shutil.copy(staging / name, root / "SD" / name)
                fed.append(name)
            logs.append(work / f"run{run:03d}.log")
            with logs[-1].open("w") as log:
                proc = start(cfg, log)
                tally.restarts += run > 1
                how = graceful.get(run)
                if how:
                    deadline = time.monotonic() + 120
                    while not admin_up(sock) and proc.poll() is None and time.monotonic() < deadline:
                        time.sleep(0.1)
                    time.sleep(rng.uniform(0.5, 4.0))
                    stop_gracefully(proc, how, tally)
                else:
                    time.sleep(rng.uniform(0.3, 6.0))
                    if proc.poll() is None:
                        proc.send_signal(signal.SIGKILL)
                        tally.kills += 1
                    proc.wait(timeout=60)
            print(f"run {run}: {how or 'SIGKILL'}; {len(fed)}/{len(names)} minutes fed", flush=True)
        # the last run: until idle, then a systemd-style stop
        logs.append(work / "final.log")
        with logs[-1].open("w") as log:
            proc = start(cfg, log)
            tally.restarts += 1
            deadline = time.monotonic() + (300 if args.quick else 900)
            while time.monotonic() < deadline and not (admin_up(sock) and idle(root, s3, fed)):
                time.sleep(1.0)
            became_idle = idle(root, s3, fed)
            stop_gracefully(proc, "group-SIGTERM", tally)
        result = verify(root, s3, names, logs)
    result.update(
        kills=tally.kills, restarts=tally.restarts, group_sigterms=tally.sigterms, sighups=tally.sighups,
        bad_graceful_exits=tally.bad_exits, bad_partner_files=n_bad, clips=len(names), idle=became_idle,
        wall_s=round(time.monotonic() - t0, 1),
    )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print("BENCH " + json.dumps(result, sort_keys=True))
    ok = result["lost"] == result["duplicated"] == result["tracebacks"] == 0 and not tally.bad_exits and became_idle
    return 0 if ok else 1


def verify(root: Path, s3: Any, names: list[str], logs: list[Path]) -> dict[str, Any]:
    lost = duplicated = 0
    per_day: dict[str, Any] = {}
    totals = {"meteors_archive": 0, "meteors_index": 0, "meteors_bucket": 0}
    for day in DAYS:
        archive, index, bucket = day_sets(root, s3, day)
        lost += len(set(archive) - set(index)) + len(set(archive) - set(bucket)) + len(set(index) - set(archive))
        duplicated += (len(index) - len(set(index))) + (len(bucket) - len(set(bucket)))
        totals["meteors_archive"] += len(archive)
        totals["meteors_index"] += len(index)
        totals["meteors_bucket"] += len(bucket)
        per_day[day] = {"archive": len(archive), "index": len(index), "bucket": len(bucket)}
        clips_of_meteors = [json.loads(p.read_text()).get("sd_clip") for p in (root / "meteors" / day).glob("*.json")]
        duplicated += len(clips_of_meteors) - len(set(clips_of_meteors))
    lost_clips = dup_results = 0
    for name in names:
        places, results = clip_places(root, name)
        lost_clips += places != 1
        dup_results += results > 1
    temp_files = [str(p) for p in root.rglob("*") if p.is_file() and (p.name.endswith(".tmp") or
                  p.name.startswith(".trim-") or p.name.startswith(".write-probe"))]
    texts = [p.read_text(errors="replace") for p in logs if p.exists()]
    tracebacks = sum(t.count("Traceback") for t in texts)
    noticed = {line.split("skipped partner file ", 1)[1].split(":", 1)[0]
               for t in texts for line in t.splitlines() if "skipped partner file " in line}
    return {
        **totals, "per_day": per_day, "lost": lost + lost_clips, "duplicated": duplicated + dup_results,
        "lost_clips": lost_clips, "temp_files": len(temp_files), "tracebacks": tracebacks,
        "bad_partner_files_read": len(noticed),
    }


if __name__ == "__main__":
    raise SystemExit(main())
