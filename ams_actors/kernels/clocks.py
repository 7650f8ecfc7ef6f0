"""Each station's clock error from a night of solved events (issue 13 item 7).

The solver fits one clock offset per station in every multi-station event (to ~0.1 s), but relative
to whichever station it took as reference. Over a night, the events that are confident (three or
more stations, a good-quality solve) are put on a common footing by taking each event's median
station as right — most clocks are — and a station's error is the median over its events. The
correlator then compares starts with these errors taken off, so a station whose clock is seconds
off still joins its meteors; and operators learn that their clock is wrong.

Sign: ``error_s`` is how far the station's timestamps are ahead of the network (stamped - true);
the solver's ``timing_offsets_s`` are what it *adds* to a station's times, i.e. minus the error.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MIN_STATIONS = 3


@dataclass(frozen=True, slots=True)
class ClockEstimate:
    error_s: float  # median over the station's confident events
    n_events: int
    spread_s: float  # median absolute deviation of those events' values (0 with one event)


def is_confident(solution: Mapping[str, Any]) -> bool:
    """Solved, judged good, with at least MIN_STATIONS stations used."""
    quality = solution.get("quality")
    return (
        solution.get("status") == "solved"
        and isinstance(quality, Mapping)
        and quality.get("ok") is True
        and len(solution.get("stations") or ()) >= MIN_STATIONS
    )


def event_clock_errors(solution: Mapping[str, Any]) -> dict[str, float]:
    """Each used station's clock error in one event, relative to the event's median station.

    A solve that chose no clock offsets (the data did not need them) says every clock agrees.
    """
    stations = [str(s) for s in solution.get("stations") or ()]
    offsets = solution.get("timing_offsets_s") or {}
    errors = {s: -float(offsets.get(s) or 0.0) for s in stations}
    if not errors:
        return {}
    mid = statistics.median(errors.values())
    return {s: e - mid for s, e in errors.items()}


def estimate_clock_errors(solutions: Iterable[Mapping[str, Any]]) -> dict[str, ClockEstimate]:
    """Per station, from the confident solutions only; stations in none of them are absent."""
    per: dict[str, list[float]] = {}
    for sol in solutions:
        if not is_confident(sol):
            continue
        for station, err in event_clock_errors(sol).items():
            per.setdefault(station, []).append(err)
    out: dict[str, ClockEstimate] = {}
    for station, values in sorted(per.items()):
        med = statistics.median(values)
        mad = statistics.median(abs(v - med) for v in values)
        out[station] = ClockEstimate(round(med, 3), len(values), round(mad, 3))
    return out
