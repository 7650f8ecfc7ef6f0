"""The station ledger (`state/ledger.sqlite3`, WAL): per clip and per meteor, what has been done.

The files on disk are the product; the ledger is an index of them, so restarts resume exactly,
`proc_index` is a query, and `rebuild_from_files` can always recreate it from the files alone.
Every write is one short transaction; all of them run on one dedicated thread so the event loop
never waits on SQLite and writes keep their order.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS clips (
    clip        TEXT PRIMARY KEY,          -- SD file name without .mp4
    camera      TEXT NOT NULL,
    day         TEXT NOT NULL,             -- YYYY_MM_DD (UTC)
    state       TEXT NOT NULL,             -- seen | scanned | daytime | bad | classified
    result      TEXT,                      -- detect | maybe-meteors | toomany (after classification)
    verified    TEXT,                      -- NULL until rvms ran: meteor | nometeor
    meteors     INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    updated_utc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS clips_day ON clips(day, state);
CREATE INDEX IF NOT EXISTS clips_camera ON clips(camera, clip);
CREATE TABLE IF NOT EXISTS meteors (
    meteor_id    TEXT PRIMARY KEY,
    clip         TEXT NOT NULL,
    camera       TEXT NOT NULL,
    day          TEXT NOT NULL,
    archive_path TEXT NOT NULL,
    updated_utc  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS meteors_day ON meteors(day);
CREATE TABLE IF NOT EXISTS uploads (
    key          TEXT PRIMARY KEY,         -- bucket key
    content_hash TEXT NOT NULL,            -- sha256 of what we last uploaded
    updated_utc  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS index_days (
    day TEXT PRIMARY KEY,                  -- a day whose archive changed since its index was last rebuilt
    gen INTEGER NOT NULL                   -- bumped by every change: a rebuild clears only what it saw
);
CREATE TABLE IF NOT EXISTS reviews (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    meteor_id   TEXT NOT NULL,
    day         TEXT NOT NULL,
    action      TEXT NOT NULL,             -- confirm | reject | restore | unreview
    who         TEXT NOT NULL,
    at_utc      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reviews_day ON reviews(day, meteor_id);
"""

CLIP_STATES = ("seen", "scanned", "daytime", "bad", "classified")
REVIEW_ACTIONS = ("confirm", "reject", "restore", "unreview")


@dataclass(frozen=True, slots=True)
class ClipRow:
    clip: str
    camera: str
    day: str
    state: str
    result: str | None
    verified: str | None
    meteors: int
    attempts: int
    last_error: str | None


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")
        self._db: sqlite3.Connection | None = None
        self._thread.submit(self._open).result()

    def _open(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=True)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        db.executescript(SCHEMA)
        self._db = db

    def close(self) -> None:
        def _close() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        self._thread.submit(_close).result()
        self._thread.shutdown(wait=True)

    # -- plumbing --------------------------------------------------------------------------------
    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run on the ledger thread and wait (for sync callers: CLI tools, rebuild)."""
        return self._thread.submit(self._with_db, fn).result()

    async def _acall(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.wrap_future(self._thread.submit(self._with_db, fn))

    def _with_db(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        assert self._db is not None, "ledger is closed"
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            out = fn(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return out

    # -- clips -----------------------------------------------------------------------------------
    async def clip_state(
        self,
        clip: str,
        camera: str,
        day: str,
        state: str,
        now_utc: str,
        *,
        result: str | None = None,
        error: str | None = None,
    ) -> None:
        await self._acall(lambda db: _set_clip(db, clip, camera, day, state, now_utc, result, error))

    async def clip_attempt_failed(self, clip: str, camera: str, day: str, error: str, now_utc: str) -> int:
        """Count a failed attempt (the clip stays in its state); returns the attempts so far."""

        def fn(db: sqlite3.Connection) -> int:
            db.execute(
                "INSERT INTO clips(clip, camera, day, state, attempts, last_error, updated_utc)"
                " VALUES(?, ?, ?, 'seen', 1, ?, ?)"
                " ON CONFLICT(clip) DO UPDATE SET attempts = attempts + 1, last_error = excluded.last_error,"
                " updated_utc = excluded.updated_utc",
                (clip, camera, day, error[:500], now_utc),
            )
            row = db.execute("SELECT attempts FROM clips WHERE clip = ?", (clip,)).fetchone()
            return int(row[0])

        return await self._acall(fn)

    async def clip_verified(self, clip: str, verified: str, meteors: int, now_utc: str) -> None:
        await self._acall(
            lambda db: db.execute(
                "UPDATE clips SET verified = ?, meteors = ?, updated_utc = ? WHERE clip = ?",
                (verified, meteors, now_utc, clip),
            )
        )

    async def get_clip(self, clip: str) -> ClipRow | None:
        def fn(db: sqlite3.Connection) -> ClipRow | None:
            row = db.execute(
                "SELECT clip, camera, day, state, result, verified, meteors, attempts, last_error"
                " FROM clips WHERE clip = ?",
                (clip,),
            ).fetchone()
            return ClipRow(*row) if row else None

        return await self._acall(fn)

    async def clips(self, day: str | None = None, state: str | None = None) -> list[ClipRow]:
        return await self._acall(lambda db: _select_clips(db, day, state))

    # -- meteors ---------------------------------------------------------------------------------
    async def meteor(self, meteor_id: str, clip: str, camera: str, day: str, archive_path: str, now_utc: str) -> None:
        await self._acall(
            lambda db: db.execute(
                "INSERT INTO meteors(meteor_id, clip, camera, day, archive_path, updated_utc) VALUES(?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(meteor_id) DO UPDATE SET archive_path = excluded.archive_path,"
                " updated_utc = excluded.updated_utc",
                (meteor_id, clip, camera, day, archive_path, now_utc),
            )
        )

    async def meteors(self, day: str) -> list[tuple[str, str, str]]:
        """(meteor_id, camera, archive_path) of a day, in id order."""
        return await self._acall(
            lambda db: [
                (str(a), str(b), str(c))
                for a, b, c in db.execute(
                    "SELECT meteor_id, camera, archive_path FROM meteors WHERE day = ? ORDER BY meteor_id", (day,)
                )
            ]
        )

    # -- days whose daily index must be rebuilt from the archive ----------------------------------
    async def mark_index_day(self, day: str) -> None:
        """The archive of `day` changes (called before and after the archive write, so a crash in
        between still leaves the day marked, and a rebuild that ran in between is not taken as done)."""
        await self._acall(
            lambda db: db.execute(
                "INSERT INTO index_days(day, gen) VALUES(?, 1) ON CONFLICT(day) DO UPDATE SET gen = gen + 1", (day,)
            )
        )

    async def index_days_marked(self) -> dict[str, int]:
        """day -> generation of every marked day."""
        return await self._acall(lambda db: {str(d): int(g) for d, g in db.execute("SELECT day, gen FROM index_days")})

    async def clear_index_day(self, day: str, gen: int) -> None:
        """Unmark `day` if nothing changed it since generation `gen` was read."""
        await self._acall(lambda db: db.execute("DELETE FROM index_days WHERE day = ? AND gen = ?", (day, gen)))

    # -- uploads ---------------------------------------------------------------------------------
    async def uploaded_hash(self, key: str) -> str | None:
        def fn(db: sqlite3.Connection) -> str | None:
            row = db.execute("SELECT content_hash FROM uploads WHERE key = ?", (key,)).fetchone()
            return str(row[0]) if row else None

        return await self._acall(fn)

    async def set_uploaded(self, key: str, content_hash: str, now_utc: str) -> None:
        await self._acall(
            lambda db: db.execute(
                "INSERT INTO uploads(key, content_hash, updated_utc) VALUES(?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET content_hash = excluded.content_hash,"
                " updated_utc = excluded.updated_utc",
                (key, content_hash, now_utc),
            )
        )

    # -- operator reviews (the web page): who did what when ----------------------------------------
    async def add_review(self, meteor_id: str, day: str, action: str, who: str, now_utc: str) -> None:
        if action not in REVIEW_ACTIONS:
            raise ValueError(f"unknown review action {action!r}")
        await self._acall(
            lambda db: db.execute(
                "INSERT INTO reviews(meteor_id, day, action, who, at_utc) VALUES(?, ?, ?, ?, ?)",
                (meteor_id, day, action, who[:64], now_utc),
            )
        )

    async def review_states(self, day: str) -> dict[str, tuple[str, str, str]]:
        """meteor id -> (last action, who, when) for the reviewed meteors of a day."""
        sql = ("SELECT meteor_id, action, who, at_utc FROM reviews WHERE id IN"
               " (SELECT MAX(id) FROM reviews WHERE day = ? GROUP BY meteor_id)")
        return await self._acall(lambda db: {str(r[0]): (str(r[1]), str(r[2]), str(r[3]))
                                             for r in db.execute(sql, (day,))})

    async def review_log(self, limit: int = 50) -> list[tuple[str, str, str, str, str]]:
        """The newest reviews: (meteor id, day, action, who, when)."""
        sql = "SELECT meteor_id, day, action, who, at_utc FROM reviews ORDER BY id DESC LIMIT ?"
        return await self._acall(lambda db: [tuple(map(str, r)) for r in db.execute(sql, (limit,))])  # type: ignore[misc]

    async def review_counts(self) -> dict[str, int]:
        """How many meteors are now in each review state (their last action)."""
        sql = ("SELECT action, COUNT(*) FROM reviews WHERE id IN (SELECT MAX(id) FROM reviews GROUP BY meteor_id)"
               " GROUP BY action")
        return await self._acall(lambda db: {str(a): int(n) for a, n in db.execute(sql)})

    # -- per camera (the web page, /metrics) -----------------------------------------------------
    async def camera_clip_counts(self, since_day: str = "", before_day: str = "\uffff"
                                 ) -> list[tuple[str, str, str, str, int, int]]:
        """(camera, state, result, verified, clips, meteors) over the days in [since_day, before_day).
        A year of a busy station is ~10^6 rows (a second to count): callers count old days rarely."""
        sql = ("SELECT camera, state, COALESCE(result, ''), COALESCE(verified, ''), COUNT(*), SUM(meteors)"
               " FROM clips WHERE day >= ? AND day < ? GROUP BY camera, state, result, verified")
        return await self._acall(lambda db: [(str(a), str(b), str(c), str(d), int(n), int(k or 0))
                                             for a, b, c, d, n, k in db.execute(sql, (since_day, before_day))])

    async def last_clips(self, cameras: Iterable[str]) -> dict[str, str]:
        """camera -> the newest clip (by name, which is by time) the station has seen, if any."""
        def fn(db: sqlite3.Connection) -> dict[str, str]:
            sql = "SELECT clip FROM clips WHERE camera = ? ORDER BY clip DESC LIMIT 1"  # the index, not a scan
            rows = {c: db.execute(sql, (c,)).fetchone() for c in cameras}
            return {c: str(r[0]) for c, r in rows.items() if r}

        return await self._acall(fn)

    async def clips_since(self, first_clip_prefix: str) -> list[tuple[str, str]]:
        """(camera, clip) of every clip whose name sorts at or after the prefix (a UTC time)."""
        sql = "SELECT camera, clip FROM clips WHERE clip >= ? AND state != 'daytime'"
        return await self._acall(lambda db: [(str(c), str(k)) for c, k in db.execute(sql, (first_clip_prefix,))])

    async def uploaded_keys(self, prefix: str) -> list[str]:
        """Every key under `prefix` the station has uploaded (and not withdrawn)."""
        sql = "SELECT key FROM uploads WHERE key >= ? AND key < ? ORDER BY key"
        return await self._acall(lambda db: [str(r[0]) for r in db.execute(sql, (prefix, prefix + "\uffff"))])

    async def forget_upload(self, key: str) -> None:
        await self._acall(lambda db: db.execute("DELETE FROM uploads WHERE key = ?", (key,)))

    # -- stats and rebuild -----------------------------------------------------------------------
    async def day_stats(self, day: str) -> dict[str, Any]:
        return await self._acall(lambda db: _day_stats(db, day))

    async def days(self) -> list[str]:
        return await self._acall(lambda db: [r[0] for r in db.execute("SELECT DISTINCT day FROM clips ORDER BY day")])

    def replace_all(self, clips: Iterable[tuple[Any, ...]], meteors: Iterable[tuple[Any, ...]]) -> None:
        """Rebuild: swap the whole content in one transaction (readers never see half a ledger)."""

        def fn(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM clips")
            db.execute("DELETE FROM meteors")
            db.executemany(
                "INSERT INTO clips(clip, camera, day, state, result, verified, meteors, attempts, last_error,"
                " updated_utc) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                clips,
            )
            db.executemany(
                "INSERT INTO meteors(meteor_id, clip, camera, day, archive_path, updated_utc) VALUES(?, ?, ?, ?, ?, ?)",
                meteors,
            )

        self._call(fn)


def _set_clip(
    db: sqlite3.Connection,
    clip: str,
    camera: str,
    day: str,
    state: str,
    now_utc: str,
    result: str | None,
    error: str | None,
) -> None:
    if state not in CLIP_STATES:
        raise ValueError(f"unknown clip state {state!r}")
    db.execute(
        "INSERT INTO clips(clip, camera, day, state, result, last_error, updated_utc) VALUES(?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(clip) DO UPDATE SET state = excluded.state, day = excluded.day,"
        " result = COALESCE(excluded.result, result), last_error = excluded.last_error,"
        " updated_utc = excluded.updated_utc",
        (clip, camera, day, state, result, error, now_utc),
    )


def _select_clips(db: sqlite3.Connection, day: str | None, state: str | None) -> list[ClipRow]:
    sql = "SELECT clip, camera, day, state, result, verified, meteors, attempts, last_error FROM clips WHERE 1=1"
    args: list[Any] = []
    if day is not None:
        sql += " AND day = ?"
        args.append(day)
    if state is not None:
        sql += " AND state = ?"
        args.append(state)
    return [ClipRow(*r) for r in db.execute(sql + " ORDER BY clip", args)]


def _day_stats(db: sqlite3.Connection, day: str) -> dict[str, Any]:
    rows = db.execute(
        "SELECT state, result, verified, COUNT(*), SUM(meteors) FROM clips WHERE day = ?"
        " GROUP BY state, result, verified",
        (day,),
    ).fetchall()
    out: dict[str, Any] = {
        "clips_seen": 0,
        "scanned": 0,
        "bad": 0,
        "daytime": 0,
        "detect": 0,
        "maybe_meteors": 0,
        "toomany": 0,
        "meteors_verified": 0,
        "clips_rejected": 0,
        "pending_scan": 0,
        "pending_detect": 0,
        "pending_verify": 0,
    }
    for state, result, verified, count, meteors in rows:
        out["clips_seen"] += count
        if state in ("scanned", "classified"):
            out["scanned"] += count
        if state == "bad":
            out["bad"] += count
        if state == "daytime":
            out["daytime"] += count
        if state == "seen":
            out["pending_scan"] += count
        if state == "scanned":
            out["pending_detect"] += count
        if state == "classified":
            key = {"detect": "detect", "maybe-meteors": "maybe_meteors", "toomany": "toomany"}.get(result or "")
            if key:
                out[key] += count
            if result == "maybe-meteors":
                if verified is None:
                    out["pending_verify"] += count
                elif verified == "nometeor":
                    out["clips_rejected"] += count
                out["meteors_verified"] += int(meteors or 0)
    return out
