"""Data files shipped with the package: the derived BSC5 star table (see scripts/make_star_table.py)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np

from ams_actors.kernels.astrometry.catalog import StarTable

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
