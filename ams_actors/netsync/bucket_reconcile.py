"""Reconcile what this station has with what the bucket holds, by content hash (issue 16 item 8).

The Syncer's normal cycle trusts the ledger ("uploaded with this hash") and looks at recent days
only, so a bucket that lost or never got an object (an outage of days, a deleted prefix, a ledger
that is wrong) would stay behind for good. At start and daily, for the last ``[sync] reconcile_days``
days, this compares every local file the station publishes with the bucket listing: the listing's
ETag is the MD5 of a single-part upload (ours all are), so one LIST per day answers without a GET;
an ETag that differs (other content, or an ETag that is not the MD5: multipart, SSE-KMS) is settled by
a HEAD and the SHA-256 metadata the Syncer stores. Whatever is missing or different is uploaded; nothing is ever deleted
(an object the station does not know about may be a partner's repair or a newer station's data).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from ams_actors.netsync.sync import HASH_META
from ams_actors.store.outcomes import ObjectInfo, StoreError
from protocols.s3_keys import day_str, index_prefix, meteors_prefix, parse_day, previews_prefix


@dataclass(slots=True)
class ReconcileReport:
    days: tuple[str, ...]
    matching: int = 0  # local files the bucket holds with the same content
    uploaded: list[str] = field(default_factory=list)  # missing or different: uploaded now
    failed: list[str] = field(default_factory=list)  # uploads that failed (the next reconcile retries)

    def summary(self) -> str:
        span = f"{self.days[0]}..{self.days[-1]}" if self.days else "no days"
        return (f"reconciled {span} with the bucket: {self.matching} in place, {len(self.uploaded)} uploaded"
                + (f", {len(self.failed)} failed" if self.failed else ""))


def window(today: date, n_days: int) -> list[str]:
    """The last ``n_days`` days up to ``today`` (``YYYY_MM_DD``, oldest first)."""
    return [day_str(today - timedelta(days=k)) for k in range(n_days - 1, -1, -1)]


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


async def _listing(store: Any, station: str, days: Sequence[str]) -> dict[str, str]:
    """key -> ETag (unquoted) of the station's meteors and previews of ``days`` and of all its index files."""
    prefixes = [p(station, parse_day(d)) for d in days for p in (meteors_prefix, previews_prefix)]
    prefixes.append(index_prefix(station))
    out: dict[str, str] = {}
    for prefix in prefixes:
        async for info in store.list_objects(prefix):
            out[info.key] = info.etag.strip('"')
    return out


async def reconcile(engine: Any, days: Sequence[str]) -> ReconcileReport:
    """Upload every local file of ``days`` that the bucket lacks or holds with other content.

    ``engine`` is the Syncer's ``SyncEngine`` (its ``upload_items``, ``upload`` and concurrency limit).
    StoreError from the listing propagates (the caller retries later); a failed upload is reported.
    """
    report = ReconcileReport(days=tuple(days))
    listing = await _listing(engine.store, engine.station_id, days)
    items: dict[str, Path] = {}
    for day in days:
        for path, key in await asyncio.to_thread(engine.upload_items, day):
            items.setdefault(key, path)  # the yearly roll-up is in every day's items

    async def one(key: str, path: Path) -> None:
        try:
            md5 = await asyncio.to_thread(_md5, path)
        except FileNotFoundError:
            return
        etag = listing.get(key)
        if etag == md5:
            report.matching += 1
            return
        try:
            if etag is not None:  # another content, or an ETag that is not the MD5 (multipart, SSE-KMS):
                # the SHA-256 the Syncer stored in the metadata decides
                head = await engine._limited(engine.store.head(key))
                digest = await asyncio.to_thread(engine._hashes.hash, path)
                if isinstance(head, ObjectInfo) and head.metadata.get(HASH_META) == digest:
                    report.matching += 1
                    return
            await engine._limited(engine.upload(path, key, force=True))
        except (StoreError, OSError) as err:
            report.failed.append(key)
            engine.log.warning("reconcile: upload of %s failed (retried at the next reconcile): %s", key, err)
            return
        report.uploaded.append(key)

    await asyncio.gather(*(one(k, p) for k, p in sorted(items.items())))
    report.uploaded.sort()
    return report
