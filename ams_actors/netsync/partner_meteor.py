"""A partner's meteor JSON as read from the bucket, checked before the solver input is built from it.

Another station wrote it (or a broken one did): bounded, JSON without NaN/Infinity, valid against the
meteor schema, about the station and meteor its key names, and convertible to an observation. Any
problem is one :class:`~protocols.errors.InputError` naming the key and the field, which the
EventBroker logs once and answers by leaving that member out (design.md §5).
"""

from __future__ import annotations

import math
from typing import Any

from protocols.errors import InputError
from protocols.meteor_index import read_bounded_json
from protocols.observation_build import Site, StationObservation, observation_from_meteor
from protocols.pipeline_files import validate
from protocols.s3_keys import InvalidId, validate_id

#: The same limit as the local archive's: a meteor JSON is a few kB to a few hundred kB.
MAX_METEOR_BYTES = 4 * 1024 * 1024


def _no_nan(x: Any, key: str, where: str = "") -> None:
    """JSON numbers must be finite (Python's parser accepts NaN and Infinity, the solver would not)."""
    if isinstance(x, float) and not math.isfinite(x):
        raise InputError(key, where or None, f"{x} is not a finite number")
    if isinstance(x, dict):
        for k, v in x.items():
            _no_nan(v, key, f"{where}/{k}" if where else str(k))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            _no_nan(v, key, f"{where}/{i}" if where else str(i))


def check_meteor(data: bytes, key: str, station: str, meteor_id: str, site: Site) -> StationObservation:
    """The observation of a member meteor stored at ``key``; InputError naming the problem if it is bad."""
    doc = read_bounded_json(data, key, max_compressed=MAX_METEOR_BYTES, max_decompressed=MAX_METEOR_BYTES)
    _no_nan(doc, key)
    validate("meteor", doc, key)
    for field, want in (("station", station), ("meteor_id", meteor_id)):
        try:
            validate_id(str(doc[field]), field)
        except InvalidId as err:
            raise InputError(key, field, str(err)) from None
        if doc[field] != want:
            raise InputError(key, field, f"{doc[field]!r}, but the event names {want!r}")
    try:
        return observation_from_meteor(doc, site, key)
    except (ValueError, TypeError, KeyError, OverflowError) as err:  # content the schema leaves open
        raise InputError(key, None, f"cannot use: {type(err).__name__}: {err}") from None
