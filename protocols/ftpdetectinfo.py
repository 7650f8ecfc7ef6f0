"""RMS/CAMS FTPdetectinfo files: the per-frame meteor measurements of the Global Meteor Network.

We read them so GMN stations' detections can be correlated and solved with ours. The format is a
fixed text layout with no checksums, so the reader is strict: a block whose shape or numbers do not
parse is reported (file and line) and skipped, never repaired by guessing — a half-read meteor would
silently bend a trajectory.

Layout (RMS ≥ 2018 and CAMS)::

    Meteor Count = 000011
    -----------------------------------------------------
    ... free header lines ...
    -------------------------------------------------------
    FF_UK009M_20260712_221457_634_0116736.fits            <- FF file name (start time of the 256-frame block)
    Recalibrated with RMS on: 2026-07-13 03:13:42 UTC     <- calibration line (free text)
    UK009M 0001 0026 0025.00 000.0 000.0  00.0   5.5 0302.3 0012.3
                 Cam# Meteor# #Segments fps hnr mle bin Pix/fm Rho Phi
    0224.2246 0905.22 0161.68 339.285854 +60.603360 047.357253 +50.301608 000000365 +03.00 [Bcknd SNR NSatPx]
    ...
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from protocols.errors import InputError

__all__ = ["RmsFrame", "RmsMeteor", "find_ftpdetectinfo", "parse_ff_name", "read_ftpdetectinfo"]

# FF_UK009M_20260712_221457_634_0116736.fits, FF453_20140819_003718_000_0000000.bin (CAMS/old RMS)
_FF_RE = re.compile(
    r"^FF_?(?P<station>[A-Za-z0-9]+)_(?P<date>\d{8})_(?P<time>\d{6})_(?P<ms>\d{3})_(?P<counter>\d+)"
    r"\.(?:fits|bin)$"
)
_SEPARATOR_RE = re.compile(r"^-{10,}\s*$")
_COUNT_RE = re.compile(r"^\s*Meteor Count\s*=\s*(\d+)\s*$")
# Derived/intermediate files RMS writes beside the final one; reading them would duplicate meteors.
_EXCLUDED_SUFFIXES = ("_uncalibrated", "_unfiltered", "_pre-confirmation", "_original", "_backup")


@dataclass(frozen=True, slots=True)
class RmsFrame:
    """One measured point of a meteor, as RMS wrote it (RA/Dec J2000, az/el apparent per RMS)."""

    frame: float
    col: float
    row: float
    ra_deg: float
    dec_deg: float
    azim_deg: float
    elev_deg: float
    intensity: float
    mag: float


@dataclass(frozen=True, slots=True)
class RmsMeteor:
    """One meteor block of an FTPdetectinfo file."""

    station_id: str
    ff_name: str
    cam_code: str
    meteor_no: int
    fps: float
    ff_start_utc: datetime
    frames: tuple[RmsFrame, ...]

    def frame_utc(self, frame: float) -> datetime:
        """UTC time of a (fractional) frame number: the FF block start plus frame/fps."""
        return self.ff_start_utc + timedelta(seconds=frame / self.fps)

    @property
    def times_utc(self) -> tuple[datetime, ...]:
        """UTC time of every frame in ``frames``, same order."""
        return tuple(self.frame_utc(f.frame) for f in self.frames)

    @property
    def times_s(self) -> tuple[float, ...]:
        """Seconds of every frame after ``ff_start_utc`` (convenient for numpy work)."""
        return tuple(f.frame / self.fps for f in self.frames)


def parse_ff_name(name: str) -> tuple[str, datetime]:
    """(station id, UTC start) from an FF file name; InputError if it is not one."""
    m = _FF_RE.match(name.strip())
    if m is None:
        raise InputError(name, "FF name", "not an FF file name (FF_<station>_YYYYMMDD_HHMMSS_mmm_<n>.fits)")
    try:
        t = datetime.strptime(m["date"] + m["time"], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError as err:
        raise InputError(name, "FF name", f"bad date/time: {err}") from None
    return m["station"], t + timedelta(milliseconds=int(m["ms"]))


def _finite(tokens: list[str], what: str) -> list[float]:
    out = []
    for tok in tokens:
        v = float(tok)  # ValueError propagates to the block parser
        if not math.isfinite(v):
            raise ValueError(f"non-finite {what} value {tok!r}")
        out.append(v)
    return out


def _parse_block(lines: list[tuple[int, str]]) -> RmsMeteor:
    """One block (lines between separators, with 1-based line numbers). Raises ValueError(lineno, msg)."""
    if len(lines) < 3:
        raise _BlockError(lines[0][0] if lines else 0, "block too short (need FF name, calibration, header)")
    ff_lineno, ff_line = lines[0]
    ff_name = ff_line.strip()
    try:
        station, t0 = parse_ff_name(ff_name)
    except InputError as err:
        raise _BlockError(ff_lineno, err.problem) from None
    # line 2 is the calibration line (free text); line 3 is the meteor header
    h_lineno, h_line = lines[2]
    head = h_line.split()
    if len(head) < 4:
        raise _BlockError(h_lineno, f"meteor header has {len(head)} fields, expected ≥ 4")
    cam_code = head[0]
    try:
        meteor_no = int(head[1])
        n_seg = int(head[2])
        fps = float(head[3])
    except ValueError:
        raise _BlockError(h_lineno, "meteor header: Meteor#, #Segments or fps is not a number") from None
    if not (math.isfinite(fps) and fps > 0):
        raise _BlockError(h_lineno, f"fps must be > 0, got {head[3]}")
    body = [(n, s) for n, s in lines[3:] if s.strip()]
    if len(body) != n_seg:
        raise _BlockError(h_lineno, f"header says {n_seg} frames, block has {len(body)} lines")
    if n_seg < 1:
        raise _BlockError(h_lineno, "meteor with no frames")
    frames = []
    for n, s in body:
        tok = s.split()
        if len(tok) < 9:
            raise _BlockError(n, f"frame line has {len(tok)} fields, expected ≥ 9")
        try:
            v = _finite(tok[:9], "frame")
        except ValueError as err:
            raise _BlockError(n, f"frame line: {err}") from None
        if not (0.0 <= v[3] <= 360.0 and -90.0 <= v[4] <= 90.0 and -90.0 <= v[6] <= 90.0):
            raise _BlockError(n, "frame line: RA/Dec/Elev out of range")
        frames.append(RmsFrame(*v))
    return RmsMeteor(
        station_id=station,
        ff_name=ff_name,
        cam_code=cam_code,
        meteor_no=meteor_no,
        fps=fps,
        ff_start_utc=t0,
        frames=tuple(frames),
    )


class _BlockError(Exception):
    def __init__(self, lineno: int, msg: str) -> None:
        super().__init__(msg)
        self.lineno = lineno
        self.msg = msg


def read_ftpdetectinfo(path: Path) -> tuple[list[RmsMeteor], list[str]]:
    """All meteors of one FTPdetectinfo file, plus one problem line per skipped block.

    A file that cannot be read or does not start with ``Meteor Count`` raises InputError (it is not an
    FTPdetectinfo at all); anything wrong inside a meteor block only costs that block.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(str(path), None, f"cannot read: {err}") from None
    raw = text.splitlines()
    first = next(((i, s) for i, s in enumerate(raw) if s.strip()), None)
    if first is None:
        raise InputError(str(path), None, "empty file")
    m = _COUNT_RE.match(first[1])
    if m is None:
        raise InputError(str(path), "line 1", "not an FTPdetectinfo file (no 'Meteor Count = N')")
    declared = int(m.group(1))

    # split into separator-delimited sections; meteor blocks are the sections starting with an FF name
    sections: list[list[tuple[int, str]]] = []
    cur: list[tuple[int, str]] = []
    for i, s in enumerate(raw[first[0] + 1 :], start=first[0] + 2):
        if _SEPARATOR_RE.match(s):
            sections.append(cur)
            cur = []
        else:
            cur.append((i, s))
    sections.append(cur)

    # the column-legend section ("Cam# Meteor# ...") ends the free header; every later section is a
    # meteor block, so a block with a garbled FF line is reported instead of passing for header text
    legend = next((k for k, sec in enumerate(sections) if any(s.lstrip().startswith("Cam#") for _, s in sec)), None)
    meteors: list[RmsMeteor] = []
    problems: list[str] = []
    n_blocks = 0
    for k, sec in enumerate(sections):
        content = [(n, s) for n, s in sec if s.strip()]
        if not content:
            continue
        if legend is not None and k <= legend:
            continue
        if legend is None and not _FF_RE.match(content[0][1].strip()):
            continue  # no legend: only sections opening with an FF name are blocks
        n_blocks += 1
        try:
            meteors.append(_parse_block(content))
        except _BlockError as err:
            problems.append(f"{path}:{err.lineno}: {err.msg}; meteor block skipped")
    if n_blocks != declared:
        problems.append(f"{path}:{first[0] + 1}: Meteor Count says {declared}, file has {n_blocks} blocks")
    return meteors, problems


def find_ftpdetectinfo(root: Path) -> list[Path]:
    """Final FTPdetectinfo files under ``root`` (recursive, sorted), without RMS's intermediate copies."""
    root = Path(root)
    if root.is_file():
        return [root]
    out = []
    for p in root.rglob("FTPdetectinfo_*.txt"):
        if p.is_file() and not p.stem.endswith(_EXCLUDED_SUFFIXES):
            out.append(p)
    return sorted(out)
