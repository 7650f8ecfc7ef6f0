"""GMN's trajectory summary file ("traj_summary"): the catalogue format meteor scientists already read.

The columns, their two header lines and their widths are GMN's own, copied from a real GMN monthly
summary (``shared/data/meteor-showers/traj_summary_monthly_201812.txt``), so a reader written for
GMN's files reads ours: fields separated by ``;``, 86 of them, unknown values written ``None`` as GMN
writes them, a sporadic meteor as IAU number -1 and code ``...``. The CSV holds the same columns with
one header row of the column keys, plus our quality verdict. Formatting only: the numbers come from
the caller.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from datetime import datetime

__all__ = ["COLUMNS", "CSV_EXTRA", "KEYS", "UNKNOWN", "format_csv", "format_row", "format_summary"]

#: (key, first header line, second header line, field width, format spec)
COLUMNS: tuple[tuple[str, str, str, int, str], ...] = (
    ('id', '#  Unique trajectory', '#      identifier   ', 20, 's'),
    ('jd', '      Beginning      ', '     Julian date     ', 21, '.12f'),
    ('utc', '        Beginning          ', '         UTC Time          ', 27, 's'),
    ('iau_no', '   IAU', '    No', 6, 'd'),
    ('iau_code', '  IAU', ' code', 5, 's'),
    ('sol_lon', '   Sol lon ', '     deg   ', 11, '.6f'),
    ('app_lst', '   App LST ', '     deg   ', 11, '.6f'),
    ('ra_geo', '   RAgeo  ', '    deg   ', 10, '.5f'),
    ('ra_geo_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('dec_geo', '   DECgeo ', '    deg   ', 10, '+.5f'),
    ('dec_geo_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('lam_geo', '  LAMgeo  ', '    deg   ', 10, '.5f'),
    ('lam_geo_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('bet_geo', '   BETgeo ', '     deg  ', 10, '+.5f'),
    ('bet_geo_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('v_geo', '    Vgeo  ', '    km/s  ', 10, '.5f'),
    ('v_geo_sd', '    +/- ', '   sigma', 8, '.4f'),
    ('lam_hel', '  LAMhel  ', '    deg   ', 10, '.5f'),
    ('lam_hel_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('bet_hel', '   BEThel ', '     deg  ', 10, '+.5f'),
    ('bet_hel_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('v_hel', '    Vhel  ', '    km/s  ', 10, '.5f'),
    ('v_hel_sd', '    +/- ', '   sigma', 8, '.4f'),
    ('a', '       a    ', '      AU    ', 12, '.6f'),
    ('a_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('e', '      e    ', '           ', 11, '.6f'),
    ('e_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('i', '      i    ', '    deg    ', 11, '.6f'),
    ('i_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('peri', '    peri   ', '     deg   ', 11, '.6f'),
    ('peri_sd', '    +/-  ', '   sigma ', 9, '.4f'),
    ('node', '    node   ', '     deg   ', 11, '.6f'),
    ('node_sd', '    +/-  ', '   sigma ', 9, '.4f'),
    ('pi', '     Pi    ', '    deg    ', 11, '.6f'),
    ('pi_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('b', '      b    ', '    deg    ', 11, '.6f'),
    ('b_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('q', '      q    ', '     AU    ', 11, '.6f'),
    ('q_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('f', '      f    ', '    deg    ', 11, '.6f'),
    ('f_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('m', '      M    ', '     deg   ', 11, '.6f'),
    ('m_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('q_aph', '       Q    ', '      AU    ', 12, '.6f'),
    ('q_aph_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('n', '      n    ', '   deg/day ', 11, '.6f'),
    ('n_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('t', '      T    ', '    years  ', 11, '.6f'),
    ('t_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('tj', ' TisserandJ', '           ', 11, '.6f'),
    ('tj_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('ra_app', '   RAapp  ', '    deg   ', 10, '.5f'),
    ('ra_app_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('dec_app', '   DECapp ', '    deg   ', 10, '+.5f'),
    ('dec_app_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('azim', '  Azim +E ', ' of N  deg', 10, '.5f'),
    ('azim_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('elev', '    Elev  ', '     deg  ', 10, '.5f'),
    ('elev_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('v_init', '   Vinit  ', '    km/s  ', 10, '.5f'),
    ('v_init_sd', '    +/- ', '   sigma', 8, '.4f'),
    ('v_avg', '    Vavg  ', '    km/s  ', 10, '.5f'),
    ('v_avg_sd', '    +/- ', '   sigma', 8, '.4f'),
    ('lat_beg', '    LatBeg   ', '    +N deg   ', 13, '.6f'),
    ('lat_beg_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('lon_beg', '    LonBeg   ', '    +E deg   ', 13, '.6f'),
    ('lon_beg_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('ht_beg', '   HtBeg ', '     km  ', 9, '.4f'),
    ('ht_beg_sd', '   +/-  ', '  sigma ', 8, '.2f'),
    ('lat_end', '    LatEnd   ', '    +N deg   ', 13, '.6f'),
    ('lat_end_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('lon_end', '    LonEnd   ', '    +E deg   ', 13, '.6f'),
    ('lon_end_sd', '   +/-  ', '  sigma ', 8, '.4f'),
    ('ht_end', '   HtEnd ', '     km  ', 9, '.4f'),
    ('ht_end_sd', '   +/-  ', '  sigma ', 8, '.2f'),
    ('duration', ' Duration', '   sec   ', 9, '.2f'),
    ('peak_mag', '  Peak ', ' AbsMag', 7, '+.2f'),
    ('peak_ht', '  Peak Ht', '     km  ', 9, '.4f'),
    ('f_param', '   F  ', ' param', 6, '.3f'),
    ('mass_kg', '  Mass kg', ' tau=0.7%', 9, '.2e'),
    ('qc', '   Qc ', '  deg ', 6, '.2f'),
    ('median_fit_err', ' MedianFitErr', '    arcsec   ', 13, '.2f'),
    ('beg_in_fov', ' Beg in', '   FOV ', 7, 's'),
    ('end_in_fov', ' End in', '   FOV ', 7, 's'),
    ('num', '  Num', ' stat', 5, 'd'),
    ('stations', '      Participating', '         stations', 23, 's'),
)
KEYS: tuple[str, ...] = tuple(c[0] for c in COLUMNS)
UNKNOWN = "None"


def _cell(value: object, spec: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return UNKNOWN
    if isinstance(value, bool):
        return str(value)
    if spec == "d":
        return str(int(value))  # type: ignore[call-overload]
    if spec == "s":
        return str(value)
    return format(float(value), spec)  # type: ignore[arg-type]


def format_row(row: Mapping[str, object]) -> str:
    """One data line; keys missing from ``row`` are unknown."""
    cells = []
    for k, (key, _, _, width, spec) in enumerate(COLUMNS):
        text = _cell(row.get(key), spec)
        cells.append(" " + text if k == len(COLUMNS) - 1 else text.rjust(width))
    return ";".join(cells)


def format_summary(rows: Iterable[Mapping[str, object]], generated: datetime) -> str:
    """The whole file: GMN's four header lines, then one line per trajectory."""
    head = [
        f"# Summary generated on {generated.strftime('%Y-%m-%d %H:%M:%S.%f')} UTC",
        ";".join(c[1] for c in COLUMNS),
        ";".join(c[2] for c in COLUMNS),
        ";".join(("# " if k == 0 else " ") + "-" * (c[3] - (2 if k == 0 else 1)) for k, c in enumerate(COLUMNS)),
    ]
    return "\n".join([*head, *(format_row(r) for r in rows)]) + "\n"


#: the CSV's columns after GMN's: our verdict on each row (the text file lists only the good ones)
CSV_EXTRA = ("quality_ok", "quality_reasons")


def format_csv(rows: Iterable[Mapping[str, object]]) -> str:
    """The same columns as CSV (a header of column keys, empty cells for unknowns) plus CSV_EXTRA."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow((*KEYS, *CSV_EXTRA))
    for r in rows:
        cells = ["" if _cell(r.get(k), s) == UNKNOWN else _cell(r.get(k), s).strip() for k, _, _, _, s in COLUMNS]
        w.writerow([*cells, *("" if r.get(k) is None else str(r.get(k)) for k in CSV_EXTRA)])
    return out.getvalue()
