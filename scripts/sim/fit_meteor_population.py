"""Fit the simulated meteor population (angular speed, duration, peak magnitude) to real GMN detections.

Reads every final FTPdetectinfo file under the given folders (default: the two GMN UK nights in
/work/shared/data) and prints log-normal fits of the angular speed (°/s, great-circle distance between
the first and last measured RA/Dec over their time span) and of the duration (s), and the mean/std of
the peak (brightest) magnitude. The printed numbers are pasted into ams_actors/sim/population.py.

    python3 scripts/sim/fit_meteor_population.py [DIR ...]
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

from protocols.ftpdetectinfo import find_ftpdetectinfo, read_ftpdetectinfo

DEFAULT_DIRS = ["/work/shared/data/gmn-uk-2026-07-12", "/work/shared/data/gmn-uk-2023-02-18"]


def _sep_deg(ra1: float, de1: float, ra2: float, de2: float) -> float:
    r1, d1, r2, d2 = map(math.radians, (ra1, de1, ra2, de2))
    c = math.sin(d1) * math.sin(d2) + math.cos(d1) * math.cos(d2) * math.cos(r1 - r2)
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def main() -> None:
    dirs = sys.argv[1:] or DEFAULT_DIRS
    speeds, durs, mags = [], [], []
    n_files = 0
    for d in dirs:
        for path in find_ftpdetectinfo(Path(d)):
            n_files += 1
            meteors, _ = read_ftpdetectinfo(path)
            for m in meteors:
                if len(m.frames) < 4:
                    continue
                a, b = m.frames[0], m.frames[-1]
                dt = (b.frame - a.frame) / m.fps
                if dt <= 0:
                    continue
                speeds.append(_sep_deg(a.ra_deg, a.dec_deg, b.ra_deg, b.dec_deg) / dt)
                durs.append(dt)
                mags.append(min(f.mag for f in m.frames))
    sp, du, mg = np.log(speeds), np.log(durs), np.array(mags)
    fit = {
        "files": n_files, "meteors": len(speeds),
        "speed_deg_s_lognormal": [round(float(sp.mean()), 3), round(float(sp.std()), 3)],
        "speed_deg_s_percentiles_5_50_95": [round(float(v), 1) for v in np.percentile(speeds, [5, 50, 95])],
        "duration_s_lognormal": [round(float(du.mean()), 3), round(float(du.std()), 3)],
        "duration_s_percentiles_5_50_95": [round(float(v), 2) for v in np.percentile(durs, [5, 50, 95])],
        "peak_mag_normal": [round(float(mg.mean()), 2), round(float(mg.std()), 2)],
        "peak_mag_percentiles_5_50_95": [round(float(v), 2) for v in np.percentile(mg, [5, 50, 95])],
    }
    print(json.dumps(fit, indent=1))


if __name__ == "__main__":
    main()
