"""Derive the compact star table shipped in ``ams_actors/data/bsc5_stars.npz`` from the BSC5 binary.

The Yale Bright Star Catalogue (5th rev., J2000, ~9,100 stars to V≈6.5) is all an SD all-sky camera
can see, so the package ships it in a small derived form and never downloads anything at run time.

    python scripts/make_star_table.py [BSC5 path] [output .npz]

Format of BSC5 (little-endian): 28-byte header of seven int32 (star0, star1, starn<0 for J2000,
stnum, mprop, nmag, nbent=32), then starn entries of 32 bytes: float32 catalog number, float64 RA
(rad), float64 Dec (rad), 2-byte spectral type, int16 V×100, float32 RA proper motion (rad/yr, of
RA; VizieR's V/50 convention is μα·cos δ, which Sirius' −0.553″/yr confirms), float32 Dec proper
motion (rad/yr). The table keeps μα·cos δ and μδ in deg/yr (``pm_ra_deg_yr`` is μα·cos δ).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SRC = ROOT.parent / "shared" / "data" / "star-catalogs" / "BSC5"
DEFAULT_OUT = ROOT / "ams_actors" / "data" / "bsc5_stars.npz"

ENTRY = np.dtype(
    [("xno", "<f4"), ("ra", "<f8"), ("dec", "<f8"), ("sp", "S2"), ("mag", "<i2"), ("pmra", "<f4"), ("pmdec", "<f4")]
)


def read_bsc5(path: Path) -> np.ndarray:
    raw = path.read_bytes()
    header = np.frombuffer(raw[:28], dtype="<i4")
    n, nbent = int(header[2]), int(header[6])
    if n >= 0:
        raise SystemExit(f"{path}: positions are not J2000 (starn={n} >= 0)")
    if nbent != ENTRY.itemsize:
        raise SystemExit(f"{path}: entry size {nbent}, expected {ENTRY.itemsize}")
    entries = np.frombuffer(raw[28:], dtype=ENTRY, count=-n)
    return entries


def main(argv: list[str]) -> int:
    src = Path(argv[1]) if len(argv) > 1 else DEFAULT_SRC
    out = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUT
    e = read_bsc5(src)
    # blank entries (removed objects) have RA = Dec = 0
    keep = (e["ra"] != 0.0) | (e["dec"] != 0.0)
    e = e[keep]
    order = np.argsort(e["mag"], kind="stable")
    e = e[order]
    np.savez_compressed(
        out,
        catalog_no=e["xno"].astype(np.int32),
        ra_deg=np.degrees(e["ra"]).astype(np.float64),
        dec_deg=np.degrees(e["dec"]).astype(np.float64),
        vmag=(e["mag"] / 100.0).astype(np.float32),
        pm_ra_deg_yr=np.degrees(e["pmra"].astype(np.float64)).astype(np.float32),
        pm_dec_deg_yr=np.degrees(e["pmdec"].astype(np.float64)).astype(np.float32),
        epoch_jyear=np.array(2000.0),
        source=np.array("Yale Bright Star Catalogue 5th rev. (BSC5), from CroatianMeteorNetwork/RMS"),
    )
    vmin, vmax = e["mag"].min() / 100, e["mag"].max() / 100
    print(f"{out}: {len(e)} stars, V {vmin:.2f}..{vmax:.2f}, {out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
