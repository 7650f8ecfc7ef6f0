"""Atomic file writes: temp file in the same folder, fsync, rename, fsync the folder.

Operators and other tools read our files while we run, and the station can lose power at any time:
a reader sees the old file or the new one, never half of one. Actors use the ``*_async`` forms: an
fsync can take tens of milliseconds on an SD card or a busy disk, and the event loop every actor
shares (heartbeats of held claims included) must not wait for it.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(path.parent)


def atomic_write_json(path: Path, obj: Any, indent: int | None = 1) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=indent, sort_keys=False) + "\n").encode())


async def atomic_write_bytes_async(path: Path, data: bytes, mode: int = 0o644) -> None:
    await asyncio.to_thread(atomic_write_bytes, path, data, mode)


async def atomic_write_json_async(path: Path, obj: Any, indent: int | None = 1) -> None:
    await asyncio.to_thread(atomic_write_json, path, obj, indent)


async def atomic_move_async(src: Path, dst: Path) -> None:
    await asyncio.to_thread(atomic_move, src, dst)


def atomic_move(src: Path, dst: Path) -> None:
    """Move within one filesystem so the clip is in exactly one place at every instant."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dst)
    fsync_dir(dst.parent)
    if src.parent != dst.parent:
        fsync_dir(src.parent)


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC/EDQUOT from a write, or SQLite's own words for it (the ledger): wait for space, not a bug."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc)
