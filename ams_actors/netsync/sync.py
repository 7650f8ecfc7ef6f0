"""One Syncer cycle: upload what changed, download partner data and the station's events.

Uploads (``stations/<STATION>/…``, design.md §5), per day: the day's meteor archive JSONs, their preview
JPEGs (``previews/YYYY/MM/DD/``), the daily index and the year's roll-up. An object is sent only when its
content changed: its SHA-256 is compared with the ledger's ``uploaded_hash`` (no request at all when
equal); when the ledger does not know it (first run, ledger rebuilt) a HEAD compares the object's
``sha256`` metadata, so a restart or a lost ledger never re-uploads a day. Requests run
``store.max_concurrency`` at a time; transient failures are retried inside the store client, and what
still fails stays pending for the next cycle.

Downloads, per day:
- each partner's daily index (``network.partners``), validated and re-encoded into
  ``meteor_archive/<PARTNER>/DETECTS/MI/YYYY/YYYY_MM_DD-meteor_index.json.gz``;
- the station's own ``network/ms_detects/…/<STATION>.json.gz``, and for every event in it that is
  new here or has a higher revision, its ``event.json`` → the local EVENTS tree (``events_tree``), with
  the partners' preview JPEGs of its members → ``<EVENT_ID>/previews/<STATION>/`` (netsync/previews.py).

Every downloaded file is validated first; a bad one is logged in one line naming the key and the
problem, remembered by ETag (so it is reported once per version, not every cycle) and skipped.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ams_actors.netsync.downloads import check_event, check_ms_detects, checked, get_bounded, reencode_index
from ams_actors.netsync.previews import MAX_PREVIEW_BYTES, check_jpeg, member_previews, preview_items
from ams_actors.runtime.files import atomic_write_bytes
from ams_actors.runtime.pool import run_cpu
from ams_actors.store import events_tree
from ams_actors.store.index_files import archive_day_dir, write_if_changed, yearly_index_path
from ams_actors.store.local_paths import StationPaths
from ams_actors.store.outcomes import AccessDenied, NotFound, ObjectInfo, StoreError
from protocols.errors import InputError
from protocols.events import MAX_EVENT_BYTES, Event
from protocols.meteor_index import MAX_COMPRESSED_BYTES as MAX_INDEX_BYTES
from protocols.ms_detects import MAX_COMPRESSED_BYTES as MAX_MS_DETECTS_BYTES
from protocols.s3_keys import (
    InvalidId,
    InvalidKey,
    daily_index_key,
    event_key,
    local_path,
    meteor_key,
    meteors_prefix,
    ms_detects_key,
    parse_day,
    validate_id,
    yearly_index_key,
)

log = logging.getLogger("ams.network.sync")
T = TypeVar("T")

HASH_META = "sha256"
CONTENT_TYPES = {".gz": "application/gzip", ".json": "application/json", ".jpg": "image/jpeg"}


@dataclass(slots=True)
class SyncReport:
    """What one cycle did (the Syncer turns it into a TaskResult and EventsChanged messages)."""

    days: tuple[str, ...]
    uploaded: list[str] = field(default_factory=list)
    unchanged: int = 0
    failed: list[str] = field(default_factory=list)  # keys/operations that failed (retried next cycle)
    failed_days: set[str] = field(default_factory=set)
    partner_indexes: list[str] = field(default_factory=list)  # partner index files updated locally
    events_changed: dict[str, list[str]] = field(default_factory=dict)  # folder day -> new/revised ids
    events_written: list[str] = field(default_factory=list)  # every local event.json rewritten
    skipped: list[str] = field(default_factory=list)  # bad bucket files (one line each)

    def summary(self) -> str:
        n_ev = sum(len(v) for v in self.events_changed.values())
        return (
            f"days {', '.join(self.days)}: uploaded {len(self.uploaded)}, {self.unchanged} unchanged, "
            f"{len(self.failed)} failed; {len(self.partner_indexes)} partner index(es) updated; "
            f"{n_ev} event(s) new or revised" + (f"; {len(self.skipped)} bad file(s) skipped" if self.skipped else "")
        )


class _Hashes:
    """Content hashes of local files, cached by (mtime, size) so an unchanged file is not re-read."""

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[int, int, str]] = {}

    def hash(self, path: Path) -> str:
        st = path.stat()
        hit = self._cache.get(path)
        if hit is not None and hit[:2] == (st.st_mtime_ns, st.st_size):
            return hit[2]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        self._cache[path] = (st.st_mtime_ns, st.st_size, digest)
        return digest


class SyncEngine:
    """Holds what survives between cycles in memory (hash cache, ETags seen); the ledger holds the rest."""

    def __init__(
        self,
        paths: StationPaths,
        store: Any,
        *,
        partners: Iterable[str] = (),
        ledger: Any = None,
        now_utc: Callable[[], str] = lambda: "",
        concurrency: int = 8,
        executor: Executor | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.paths = paths
        self.executor = executor  # validation of downloads (schema checks) runs in the station's pool
        self.station_id = paths.station_id
        self.store = store
        self.partners = tuple(partners)
        self.ledger = ledger
        self.now_utc = now_utc
        self.log = logger or log
        self._sem = asyncio.Semaphore(max(1, concurrency))
        self._hashes = _Hashes()
        self._memory_ledger: dict[str, str] = {}  # when the station runs without a ledger (tools, tests)
        self._seen_etag: dict[str, str] = {}  # downloads fully handled at this ETag

    # -- ledger ----------------------------------------------------------------------------------
    async def _uploaded_hash(self, key: str) -> str | None:
        if self.ledger is None:
            return self._memory_ledger.get(key)
        got = await self.ledger.uploaded_hash(key)
        return None if got is None else str(got)

    async def _set_uploaded(self, key: str, digest: str) -> None:
        if self.ledger is None:
            self._memory_ledger[key] = digest
        else:
            await self.ledger.set_uploaded(key, digest, self.now_utc())

    async def _limited(self, aw: Awaitable[T]) -> T:
        async with self._sem:
            return await aw

    def _skip(self, report: SyncReport, line: str) -> None:
        report.skipped.append(line)
        self.log.warning("%s", line)

    # -- uploads ---------------------------------------------------------------------------------
    def upload_items(self, day: str) -> list[tuple[Path, str]]:
        """(local file, bucket key) of everything of ``day`` this station publishes."""
        d = parse_day(day)
        items: list[tuple[Path, str]] = []
        folder = archive_day_dir(self.paths, day)
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                items.append((path, meteor_key(self.station_id, d, validate_id(path.stem, "meteor id"))))
            except InvalidId as err:
                self.log.warning("not uploading %s: %s", path, err)
        items += preview_items(self.paths, day, self.log)
        index = self.paths.meteor_index(day)
        if index.exists():
            items.append((index, daily_index_key(self.station_id, d)))
        yearly = yearly_index_path(self.paths, d.year)
        if yearly.exists():
            items.append((yearly, yearly_index_key(self.station_id, d.year)))
        return items

    async def upload(self, path: Path, key: str, force: bool = False) -> bool:
        """Upload one file if its content is not in the bucket yet (``force``: the caller checked the
        bucket itself and found it missing or different); True when a PUT was made."""
        try:
            digest = await asyncio.to_thread(self._hashes.hash, path)
        except FileNotFoundError:
            return False
        if not force and await self._uploaded_hash(key) == digest:
            return False
        head = None if force else await self.store.head(key)
        if isinstance(head, ObjectInfo) and head.metadata.get(HASH_META) == digest:
            await self._set_uploaded(key, digest)
            return False
        data = await asyncio.to_thread(path.read_bytes)
        digest = hashlib.sha256(data).hexdigest()  # what is sent, even if the file changed meanwhile
        ctype = CONTENT_TYPES.get(Path(key).suffix, "application/json")
        await self.store.put(key, data, metadata={HASH_META: digest}, content_type=ctype)
        await self._set_uploaded(key, digest)
        return True

    async def upload_day(self, day: str, report: SyncReport, *, previews_only: bool = False) -> None:
        """``previews_only``: just the day's preview JPEGs (`ams sa`)."""
        if previews_only:
            items = await asyncio.to_thread(preview_items, self.paths, day, self.log)
        else:
            items = await asyncio.to_thread(self.upload_items, day)

        async def one(path: Path, key: str) -> None:
            try:
                sent = await self._limited(self.upload(path, key))
            except AccessDenied:
                # the store logged it once; a policy does not change by retrying (the day is not re-queued)
                report.failed.append(key)
                return
            except (StoreError, OSError) as err:
                report.failed.append(key)
                report.failed_days.add(day)
                self.log.warning("upload %s failed (retried next cycle): %s", key, err)
                return
            if sent:
                report.uploaded.append(key)
            else:
                report.unchanged += 1

        await asyncio.gather(*(one(p, k) for p, k in items))
        await self.withdraw_meteors(day, {k for _p, k in items}, report)

    async def withdraw_meteors(self, day: str, local_keys: set[str], report: SyncReport) -> None:
        """Delete from the bucket the meteors this station uploaded for ``day`` that are no longer in its
        archive (an operator rejected them on the web page): the day's index no longer lists them, and
        no partner should fetch them. Only keys the ledger says we uploaded are touched."""
        prefix = meteors_prefix(self.station_id, parse_day(day))
        if self.ledger is None:
            uploaded = [k for k in self._memory_ledger if k.startswith(prefix)]
        else:
            uploaded = await self.ledger.uploaded_keys(prefix)
        for key in uploaded:
            if key in local_keys:
                continue
            try:
                await self._limited(self.store.delete(key))
            except StoreError as err:
                report.failed.append(key)
                report.failed_days.add(day)
                self.log.warning("delete %s failed (retried next cycle): %s", key, err)
                continue
            if self.ledger is None:
                self._memory_ledger.pop(key, None)
            else:
                await self.ledger.forget_upload(key)
            report.uploaded.append(f"deleted {key}")

    async def pending_days_on_disk(self) -> list[str]:
        """Days whose local daily index differs from what the ledger says was uploaded (resume after a
        restart or an outage: older days are otherwise only synced when an IndexUpdated names them)."""
        mi = self.paths.archive / "DETECTS" / "MI"
        files = await asyncio.to_thread(lambda: sorted(mi.glob("????/????_??_??-meteor_index.json.gz")))
        out = []
        for path in files:
            day = path.name[: len("YYYY_MM_DD")]
            try:
                key = daily_index_key(self.station_id, parse_day(day))
                digest = await asyncio.to_thread(self._hashes.hash, path)
            except (InvalidKey, OSError):
                continue
            if await self._uploaded_hash(key) != digest:
                out.append(day)
        return out

    # -- downloads -------------------------------------------------------------------------------
    async def _changed(self, key: str) -> ObjectInfo | None:
        """The object's info when it exists and was not fully handled at its current ETag."""
        head = await self._limited(self.store.head(key))
        if isinstance(head, NotFound) or self._seen_etag.get(key) == head.etag:
            return None
        return head

    async def partner_index(self, partner: str, day: str, report: SyncReport) -> None:
        key = daily_index_key(partner, parse_day(day))
        head = await self._changed(key)
        if head is None:
            return
        try:
            got = await self._limited(get_bounded(self.store, key, MAX_INDEX_BYTES))
            if got is None:
                return
            body, problem = await run_cpu(self.executor, checked, reencode_index, got.body, key, partner, day)
            if body is None:
                raise InputError(key, None, problem.removeprefix(f"{key}: "))
            rel = f"meteor_archive/{partner}/DETECTS/MI/{day[:4]}/{day}-meteor_index.json.gz"
            target = local_path(self.paths.root, rel)
        except (InputError, InvalidKey) as err:
            self._seen_etag[key] = head.etag
            self._skip(report, f"skipped partner file {err}")
            return
        if await asyncio.to_thread(write_if_changed, target, body):
            report.partner_indexes.append(key)
        self._seen_etag[key] = got.etag

    async def own_events(self, day: str, report: SyncReport) -> None:
        """This station's ms_detects of ``day`` → the events it is in → the local EVENTS tree."""
        key = ms_detects_key(parse_day(day), self.station_id)
        head = await self._changed(key)
        if head is None:
            return
        try:
            got = await self._limited(get_bounded(self.store, key, MAX_MS_DETECTS_BYTES))
            if got is None:
                return
            ms, problem = await run_cpu(self.executor, checked, check_ms_detects, got.body, key, self.station_id, day)
            if ms is None:
                raise InputError(key, None, problem.removeprefix(f"{key}: "))
        except InputError as err:
            self._seen_etag[key] = head.etag
            self._skip(report, f"skipped {err}")
            return

        async def one(event_id: str, revision: int) -> bool:
            """True when handled (written, unchanged, or bad and skipped); False to retry next cycle."""
            local = await asyncio.to_thread(events_tree.read_local_event, self.paths, event_id)
            if local is not None and local.revision >= revision:
                await self.member_previews(local, report)  # another chance for those not there last time
                return True
            ekey = event_key(event_id)
            try:
                found = await self._limited(get_bounded(self.store, ekey, MAX_EVENT_BYTES))
                if found is None:
                    self.log.info("%s lists %s, which is not in the bucket (yet)", key, ekey)
                    return False
                ev, problem = await run_cpu(self.executor, checked, check_event, found.body, ekey, event_id)
                if ev is None:
                    raise InputError(ekey, None, problem.removeprefix(f"{ekey}: "))
            except InputError as err:
                self._skip(report, f"skipped {err}")
                return True
            if self.station_id not in ev.stations:
                self._skip(report, f"skipped {ekey}: {self.station_id} is not a member, although {key} lists it")
                return True
            if local is not None and ev.revision <= local.revision:
                return True  # ms_detects ran ahead of a stale read; never take the local copy back
            if await asyncio.to_thread(events_tree.write_local_event, self.paths, ev):
                report.events_written.append(ev.event_id)
                await self.member_previews(ev, report)
                if ev.superseded_by is None:
                    report.events_changed.setdefault(events_tree.event_folder_day(ev.event_id), []).append(ev.event_id)
            return True

        results = await asyncio.gather(*(one(d.event_id, d.revision) for d in ms.detects), return_exceptions=True)
        ok = True
        for d, res in zip(ms.detects, results, strict=True):
            if isinstance(res, BaseException):
                if not isinstance(res, StoreError | OSError):
                    raise res
                self.log.warning("event %s of %s: %s (retried next cycle)", d.event_id, key, res)
                ok = False
            elif not res:
                ok = False
        if ok:
            self._seen_etag[key] = got.etag

    async def member_previews(self, ev: Event, report: SyncReport) -> None:
        """The partners' previews of ``ev``'s members → ``<EVENT_ID>/previews/<STATION>/`` (a missing one
        is skipped quietly: the event is complete without it)."""
        wanted, bad = await asyncio.to_thread(member_previews, self.paths, ev)
        for line in bad:
            self._skip(report, line)

        async def one(key: str, target: Path) -> None:
            try:
                got = await self._limited(get_bounded(self.store, key, MAX_PREVIEW_BYTES))
                if got is not None:
                    await asyncio.to_thread(atomic_write_bytes, target, check_jpeg(got.body, key))
            except InputError as err:
                self._skip(report, f"skipped {err}")

        await asyncio.gather(*(one(key, target) for key, target in wanted))

    async def download_day(self, day: str, report: SyncReport) -> None:
        jobs = [self.partner_index(p, day, report) for p in self.partners] + [self.own_events(day, report)]
        for res in await asyncio.gather(*jobs, return_exceptions=True):
            if isinstance(res, AccessDenied):  # logged once by the store; retrying would not change it
                report.failed.append(f"download {day}: {res}")
            elif isinstance(res, StoreError | OSError):
                report.failed.append(f"download {day}: {res}")
                report.failed_days.add(day)
                self.log.warning("download for %s failed (retried next cycle): %s", day, res)
            elif isinstance(res, BaseException):
                raise res

    # -- the cycle -------------------------------------------------------------------------------
    async def run(self, days: Iterable[str]) -> SyncReport:
        """Upload then download each day (uploads first: the correlator should see our newest index)."""
        report = SyncReport(days=tuple(sorted(set(days))))
        for day in report.days:
            await self.upload_day(day, report)
        for day in report.days:
            await self.download_day(day, report)
        for ids in report.events_changed.values():
            ids.sort()
        return report
