"""Meteor shower tables and the GMN trajectory-summary rows they are checked against.

Three text formats, read without numpy (protocols imports nothing of ours):

- the GMN shower look-up table (``gmn_shower_table_*.txt``, WMPL's ``share/``): one line per shower
  every 0.2° of solar longitude — Sol, Sun-centred ecliptic lon/lat of the radiant, Vg, dispersion,
  IAU number and code. Membership (the table header's rule): within 1° of solar longitude of an
  entry, within 10 % of its Vg and within its dispersion;
- the IAU Meteor Data Center stream list (``streamfulldata.csv``), ``|``-separated: each shower's
  radiant, drift and speed at its peak as published, and its name;
- a GMN trajectory summary (``traj_summary_*.txt``), ``;``-separated: we read the columns a shower
  association needs, to check ours against GMN's own codes.

Bad input raises :class:`InputError` naming the file, the line and the field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from protocols.errors import InputError

__all__ = [
    "SPORADIC_CODE",
    "SPORADIC_IAU_NO",
    "IauShower",
    "ShowerRow",
    "SummaryRow",
    "parse_gmn_shower_table",
    "parse_iau_stream_list",
    "parse_traj_summary",
]

#: How a sporadic meteor is written in a Solution's ``shower`` (GMN writes ``...`` and ``-1``).
SPORADIC_CODE = "SPO"
SPORADIC_IAU_NO = -1


@dataclass(frozen=True, slots=True)
class ShowerRow:
    """One line of the GMN table: the shower's radiant at one solar longitude (all degrees, km/s)."""

    sol_deg: float
    sce_lon_deg: float  # geocentric ecliptic longitude minus the solar longitude
    sce_lat_deg: float
    v_g_km_s: float
    disp_deg: float
    iau_no: int
    code: str


@dataclass(frozen=True, slots=True)
class SummaryRow:
    """The shower-relevant columns of one GMN trajectory-summary row."""

    traj_id: str
    iau_no: int
    code: str  # "..." for sporadic, as GMN writes it
    sol_deg: float
    ra_g_deg: float
    dec_g_deg: float
    lam_g_deg: float
    bet_g_deg: float
    v_g_km_s: float


def _float(source: str, where: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(source, where, f"expected a number, got {text.strip()!r}") from None


def _int(source: str, where: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InputError(source, where, f"expected an integer, got {text.strip()!r}") from None


def parse_gmn_shower_table(lines: Iterable[str], source: str = "GMN shower table") -> list[ShowerRow]:
    rows: list[ShowerRow] = []
    for n, line in enumerate(lines, start=1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        parts = s.split()
        where = f"line {n}"
        if len(parts) != 7:
            raise InputError(source, where,
                             f"expected 7 columns (Sol, lon, lat, Vg, Disp, IAU No, code), got {len(parts)}")
        rows.append(ShowerRow(
            sol_deg=_float(source, f"{where} Sol", parts[0]),
            sce_lon_deg=_float(source, f"{where} SCE lon", parts[1]),
            sce_lat_deg=_float(source, f"{where} SCE lat", parts[2]),
            v_g_km_s=_float(source, f"{where} Vg", parts[3]),
            disp_deg=_float(source, f"{where} Disp", parts[4]),
            iau_no=_int(source, f"{where} IAU No", parts[5]),
            code=parts[6],
        ))
    if not rows:
        raise InputError(source, None, "no table rows")
    return rows


@dataclass(frozen=True, slots=True)
class IauShower:
    """One entry of the IAU MDC stream list (several per shower: one per published solution)."""

    iau_no: int
    code: str
    name: str
    status: int  # 1: established (the MDC's own flag)
    sol_deg: float  # solar longitude of the listed radiant (the peak)
    ra_deg: float  # geocentric radiant, J2000
    dec_deg: float
    dra_deg: float  # radiant drift per degree of solar longitude (0 when not listed)
    ddec_deg: float
    v_g_km_s: float


def parse_iau_stream_list(lines: Iterable[str]) -> list[IauShower]:
    """The entries of ``streamfulldata.csv`` that have a radiant and a speed (the others are skipped:
    the list mixes complete solutions with bare mentions)."""
    out: list[IauShower] = []
    for line in lines:
        p = line.split("|")
        if len(p) < 13 or not p[1].strip().isdigit():
            continue
        try:
            sol, ra, dec, vg = float(p[7]), float(p[8]), float(p[9]), float(p[12])
            status = int(p[6])
        except ValueError:
            continue
        drift = [float(x) if x.strip() else 0.0 for x in (p[10], p[11])]
        out.append(IauShower(int(p[1]), p[3].strip(), p[4].strip(), status, sol, ra, dec, drift[0], drift[1], vg))
    return out


#: Column names of the GMN summary that we read (as in its two header lines, joined).
_SUMMARY_COLUMNS = {
    "traj_id": 0, "iau_no": 3, "code": 4, "sol": 5, "ra_g": 7, "dec_g": 9, "lam_g": 11, "bet_g": 13, "v_g": 15,
}


def parse_traj_summary(lines: Iterable[str], source: str = "trajectory summary") -> list[SummaryRow]:
    """Rows of a GMN ``traj_summary`` file (``;``-separated, ``#`` header lines)."""
    rows: list[SummaryRow] = []
    c = _SUMMARY_COLUMNS
    for n, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(";")
        where = f"line {n}"
        if len(parts) < 16:
            raise InputError(source, where, f"expected the GMN summary's ';'-separated columns, got {len(parts)}")
        rows.append(SummaryRow(
            traj_id=parts[c["traj_id"]].strip(),
            iau_no=_int(source, f"{where} IAU No", parts[c["iau_no"]]),
            code=parts[c["code"]].strip(),
            sol_deg=_float(source, f"{where} Sol lon", parts[c["sol"]]),
            ra_g_deg=_float(source, f"{where} RAgeo", parts[c["ra_g"]]),
            dec_g_deg=_float(source, f"{where} DECgeo", parts[c["dec_g"]]),
            lam_g_deg=_float(source, f"{where} LAMgeo", parts[c["lam_g"]]),
            bet_g_deg=_float(source, f"{where} BETgeo", parts[c["bet_g"]]),
            v_g_km_s=_float(source, f"{where} Vgeo", parts[c["v_g"]]),
        ))
    return rows
