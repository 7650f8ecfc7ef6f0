"""Synthetic verified meteors: the archive JSON (METEOR_SCHEMA) a station would write for a straight
3D meteor, for tests and the network-mode simulator.

Why it lives here and not in a test: the network path (Indexer → Syncer → Correlator → EVENTS) must
be exercised with meteors whose geometry is right — several stations seeing one trajectory — and
without decoding video; both the tests and ``ams sim --mode network`` need exactly that.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ams_actors.kernels import geo
from protocols.pipeline_files import METEOR_FORMAT, format_clip_name, iso_ms

Float = NDArray[np.float64]


def straight_trajectory(
    lat: float, lon: float, h_begin_km: float, h_end_km: float, heading_deg: float, entry_deg: float
) -> tuple[Float, Float]:
    """Begin and end points (ECEF, m) of a straight meteor starting above (lat, lon), flying towards
    ``heading_deg`` (from north through east) and descending at ``entry_deg`` below the horizontal."""
    b = geo.geodetic_to_ecef(lat, lon, h_begin_km * 1000.0)
    entry, head = math.radians(entry_deg), math.radians(heading_deg)
    d_enu = np.array([math.cos(entry) * math.sin(head), math.cos(entry) * math.cos(head), -math.sin(entry)])
    d = d_enu @ geo.enu_basis(lat, lon)
    length = (h_begin_km - h_end_km) * 1000.0 / math.sin(entry)
    return b, b + length * d


def meteor_archive_doc(
    *,
    station_id: str,
    camera_id: str,
    site: tuple[float, float, float],
    begin: Float,
    end: Float,
    t_begin: datetime,
    speed_km_s: float,
    part: tuple[float, float] = (0.0, 1.0),
    fps: float = 25.0,
) -> dict[str, Any]:
    """The archive JSON of what a station at ``site`` (lat, lon, alt_m) records of the meteor from
    ``begin`` to ``end`` (ECEF m) that passes ``begin`` at ``t_begin`` (tz-aware UTC): the ``part`` of
    the trail it sees, one frame per 1/fps s, with az/el per frame (true, geometric)."""
    lat, lon, alt = site
    length_km = float(np.linalg.norm(end - begin)) / 1000.0
    t0 = part[0] * length_km / speed_km_s
    t1 = part[1] * length_km / speed_km_s
    n = max(3, int((t1 - t0) * fps) + 1)
    t = t0 + np.arange(n) / fps
    pts = begin + (t * speed_km_s / length_km)[:, None] * (end - begin)
    az, el, _ = geo.look_azel(geo.geodetic_to_ecef(lat, lon, alt), pts, lat, lon)
    first = t_begin + timedelta(seconds=float(t[0]))
    minute = first.replace(second=0, microsecond=0)
    clip = format_clip_name(minute, camera_id)
    fn0 = int(round((first - minute).total_seconds() * fps))
    meteor_id = f"{clip[:-4]}-trim-{fn0:04d}"
    frames = []
    for k in range(n):
        frames.append(
            {
                "fn": fn0 + k,
                "t_utc": iso_ms(t_begin + timedelta(seconds=float(t[k]))),
                "x": 100.0 + 4.0 * k,
                "y": 80.0 + 2.0 * k,
                "w": 4.0,
                "h": 4.0,
                "intensity": 500.0 + 100.0 * math.sin(math.pi * k / max(1, n - 1)),
                "az": float(az[k]),
                "el": float(el[k]),
            }
        )
    return {
        "format": METEOR_FORMAT,
        "meteor_id": meteor_id,
        "station": station_id,
        "camera": camera_id,
        "sd_clip": clip,
        "hd_clip": None,
        "sd_trim": f"{meteor_id}.mp4",
        "hd_trim": None,
        "calibration": {"file": None, "model": "synthetic", "fit_quality": 60.0, "res_arcsec": 60.0, "stars": 30},
        "frames": frames,
        "report": {"source": "synthetic"},
    }
