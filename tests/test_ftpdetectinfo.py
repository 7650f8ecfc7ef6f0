"""FTPdetectinfo reader: the real GMN UK files, and strictness on damaged blocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from protocols.errors import InputError
from protocols.ftpdetectinfo import RmsMeteor, find_ftpdetectinfo, parse_ff_name, read_ftpdetectinfo

SHARED = Path(__file__).resolve().parents[2] / "shared"
if not SHARED.exists():  # CI clones main with shared/ beside the clone
    SHARED = Path(__file__).resolve().parents[1].parent / "shared"
GMN_UK = SHARED / "data" / "gmn-uk-2026-07-12"

needs_data = pytest.mark.skipif(not GMN_UK.exists(), reason="shared GMN data not present")

HEADER = """Meteor Count = 000002
-----------------------------------------------------
Processed with RMS 1.0 on 2026-07-13 03:13:42.330114 UTC
-----------------------------------------------------
FF  folder = /x
CAL folder = /x
-----------------------------------------------------
FF  file processed
CAL file processed
Cam# Meteor# #Segments fps hnr mle bin Pix/fm Rho Phi
Per segment:  Frame# Col Row RA Dec Azim Elev Inten Mag Bcknd SNR NSatPx
-------------------------------------------------------
"""
BLOCK1 = """FF_UK009M_20260712_221457_634_0116736.fits
Recalibrated with RMS on: 2026-07-13 03:13:42.247260 UTC
UK009M 0001 0002 0025.00 000.0 000.0  00.0   5.5 0302.3 0012.3
0224.2246 0905.22 0161.68 339.285854 +60.603360 047.357253 +50.301608 000000365 +03.00 000064 11.04 000000
0225.2306 0906.74 0166.06 339.849527 +60.494872 047.351831 +50.004085 000000894 +02.03 000064 17.09 000000
"""
BLOCK2 = """FF_UK009M_20260712_222502_782_0131840.fits
Recalibrated with RMS on: 2026-07-13 03:13:42.247260 UTC
UK009M 0002 0002 0025.00 000.0 000.0  00.0   1.7 0386.1 -051.3
0153.7132 1066.01 0513.48 011.744957 +43.251692 051.371091 +25.554091 000000205 +03.30
0154.7111 1066.48 0512.00 011.613579 +43.275219 051.433109 +25.635339 000000109 +03.99
"""
SEP = "-------------------------------------------------------\n"


def _write(tmp_path: Path, text: str, name: str = "FTPdetectinfo_UK009M_20260712_205646_232499.txt") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_parses_synthetic_file_and_times(tmp_path: Path) -> None:
    meteors, problems = read_ftpdetectinfo(_write(tmp_path, HEADER + BLOCK1 + SEP + BLOCK2))
    assert problems == []
    assert len(meteors) == 2
    m = meteors[0]
    assert isinstance(m, RmsMeteor)
    assert (m.station_id, m.cam_code, m.meteor_no, m.fps) == ("UK009M", "UK009M", 1, 25.0)
    assert m.ff_start_utc == datetime(2026, 7, 12, 22, 14, 57, 634000, tzinfo=UTC)
    assert m.frames[0].col == pytest.approx(905.22) and m.frames[1].mag == pytest.approx(2.03)
    assert m.frame_utc(25.0) == m.ff_start_utc + timedelta(seconds=1)
    assert m.times_utc[0] == m.ff_start_utc + timedelta(seconds=224.2246 / 25.0)
    # the 9-column (older RMS / CAMS) frame layout is accepted as well
    assert meteors[1].frames[1].dec_deg == pytest.approx(43.275219)


@pytest.mark.parametrize(
    "bad_block, expect",
    [
        (BLOCK1.replace("0001 0002", "0001 0003"), "header says 3 frames"),
        (BLOCK1.replace("339.849527", "33x.849527"), "frame line"),
        (BLOCK1.replace("FF_UK009M_20260712_221457", "XX_UK009M_20260712_221457"), "not an FF file name"),
        (BLOCK1.replace("20260712_221457", "20261332_221457"), "bad date"),
        (BLOCK1.replace(" 000000894 +02.03 000064 17.09 000000", ""), "fields"),
        (BLOCK1.replace("0025.00", "0000.00"), "fps"),
        (BLOCK1.replace("+60.494872", "+99.494872"), "out of range"),
    ],
)
def test_malformed_block_is_reported_and_skipped(tmp_path: Path, bad_block: str, expect: str) -> None:
    path = _write(tmp_path, HEADER + bad_block + SEP + BLOCK2)
    meteors, problems = read_ftpdetectinfo(path)
    assert [m.meteor_no for m in meteors] == [2]  # the good block survives, the bad one is not guessed
    assert len(problems) == 1
    assert str(path) in problems[0] and expect in problems[0]
    lineno = int(problems[0].split(":")[1])
    assert 13 <= lineno <= 17  # points into the damaged block


def test_count_mismatch_is_reported(tmp_path: Path) -> None:
    _, problems = read_ftpdetectinfo(_write(tmp_path, HEADER + BLOCK1))
    assert len(problems) == 1 and "Meteor Count says 2" in problems[0]


def test_not_an_ftpdetectinfo_raises(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        read_ftpdetectinfo(_write(tmp_path, "hello\n"))
    with pytest.raises(InputError):
        read_ftpdetectinfo(tmp_path / "missing.txt")


def test_parse_ff_name_variants() -> None:
    st, t = parse_ff_name("FF453_20140819_003718_250_0000000.bin")
    assert st == "453" and t == datetime(2014, 8, 19, 0, 37, 18, 250000, tzinfo=UTC)
    with pytest.raises(InputError):
        parse_ff_name("FF_UK009M_2026_bad.fits")


def test_find_skips_intermediate_copies(tmp_path: Path) -> None:
    d = tmp_path / "a" / "b"
    d.mkdir(parents=True)
    for suffix in ("", "_uncalibrated", "_unfiltered"):
        name = f"FTPdetectinfo_X_1{suffix}.txt"
        (d / name).write_text("Meteor Count = 000000\n")
    assert [p.name for p in find_ftpdetectinfo(tmp_path)] == ["FTPdetectinfo_X_1.txt"]


@needs_data
def test_real_gmn_uk_files() -> None:
    files = find_ftpdetectinfo(GMN_UK)
    counts = {}
    for f in files:
        meteors, problems = read_ftpdetectinfo(f)
        assert problems == []
        counts[meteors[0].station_id] = len(meteors)
        for m in meteors:
            assert m.frames and all(b.frame > a.frame for a, b in zip(m.frames, m.frames[1:], strict=False))
            night = (datetime(2026, 7, 12, 20, tzinfo=UTC), datetime(2026, 7, 13, 6, tzinfo=UTC))
            assert night[0] < m.times_utc[0] < night[1]
    assert counts == {"UK002F": 56, "UK008F": 30, "UK009M": 11, "UK00A4": 25}
