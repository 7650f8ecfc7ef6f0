"""Which capture days' station indexes changed in the bucket since the correlator last looked?

The correlator used to run over today and yesterday only, so a partner that came back after days
offline (its Syncer uploads old days, issue 16 item 8) never had those days correlated. One LIST of
each station's ``stations/<S>/index/`` gives every daily index with its ETag; comparing with the ETags
of the last successful run names the days to correlate again. The ETags are kept in a small state
file (``state/correlator_index_etags.json``, written atomically) so a restart does not forget them;
with no state file (first start) the days of the reconcile window count as changed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ams_actors.runtime.files import atomic_write_json
from protocols.s3_keys import DailyIndexKey, InvalidId, InvalidKey, day_str, index_prefix, parse_key, validate_id


class IndexWatch:
    def __init__(self, state_path: Path) -> None:
        self.state_path = state_path
        self.known: dict[str, str] | None = None  # daily index key -> ETag at the last successful run
        self._baseline = False  # no state yet: the first commit takes every ETag listed as known

    def _load(self) -> dict[str, str] | None:
        try:
            doc = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return None  # missing or damaged: a full window is correlated, which rebuilds it
        if not isinstance(doc, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in doc.items()):
            return None
        return doc

    async def listing(self, store: Any) -> dict[str, tuple[str, str]]:
        """daily index key -> (day, ETag) for every station under ``stations/``."""
        out: dict[str, tuple[str, str]] = {}
        for prefix in await store.list_prefixes("stations/"):
            try:
                station = validate_id(prefix[len("stations/"):].rstrip("/"), "station id")
            except InvalidId:
                continue  # the correlator itself reports bad station folders
            async for info in store.list_objects(index_prefix(station)):
                try:
                    parsed = parse_key(info.key)
                except InvalidKey:
                    continue
                if isinstance(parsed, DailyIndexKey):
                    out[info.key] = (day_str(parsed.day), info.etag)
        return out

    def changed_days(self, listing: dict[str, tuple[str, str]], window: list[str]) -> list[str]:
        """Days with an index that is new, changed or gone since the last commit (first time: ``window``)."""
        if self.known is None:
            self.known = self._load()
        if self.known is None:
            self._baseline = True
            return sorted({day for day, _ in listing.values()} & set(window))
        days = {day for key, (day, etag) in listing.items() if self.known.get(key) != etag}
        for key in set(self.known) - set(listing):
            try:
                parsed = parse_key(key)
            except InvalidKey:
                continue
            if isinstance(parsed, DailyIndexKey):
                days.add(day_str(parsed.day))
        return sorted(days)

    def commit(self, listing: dict[str, tuple[str, str]], done: set[str] | None = None) -> None:
        """Remember the ETags of the days correlated (``done``; None: all of them) and save them."""
        known = dict(self.known or {})
        for key, (day, etag) in listing.items():
            if done is None or day in done or self._baseline:
                known[key] = etag
        for key in set(known) - set(listing):
            del known[key]
        self.known, self._baseline = known, False
        atomic_write_json(self.state_path, known, indent=None)

