"""Where things live under the data root (design.md §4). One place, so no actor builds paths by hand."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from protocols.errors import InputError

# A full disk is not a reason to refuse to start: the station starts with its intake paused (DiskGuard).
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


@dataclass(frozen=True, slots=True)
class StationPaths:
    root: Path
    station_id: str

    @property
    def sd(self) -> Path:
        return self.root / "SD"

    @property
    def hd(self) -> Path:
        return self.root / "HD"

    @property
    def proc2(self) -> Path:
        return self.sd / "proc2"

    def day_dir(self, day: str) -> Path:
        return self.proc2 / day

    def images_dir(self, day: str) -> Path:
        return self.proc2 / day / "images"

    def data_dir(self, day: str) -> Path:
        return self.proc2 / day / "data"

    def bad_dir(self, day: str) -> Path:
        return self.proc2 / day / "bad"

    @property
    def daytime_dir(self) -> Path:
        return self.proc2 / "daytime"

    @property
    def unknown_dir(self) -> Path:
        """Clips of cameras that are not in the config (the Housekeeper moves them here)."""
        return self.proc2 / "unknown"

    @property
    def proc_stats(self) -> Path:
        return self.proc2 / "json" / "proc_stats.json"

    def meteors_dir(self, day: str) -> Path:
        return self.root / "meteors" / day

    @property
    def archive(self) -> Path:
        return self.root / "meteor_archive" / self.station_id

    def archive_meteor(self, day: str, meteor_id: str) -> Path:
        y, m, d = day.split("_")
        return self.archive / "METEOR" / y / m / d / f"{meteor_id}.json"

    def meteor_index(self, day: str) -> Path:
        return self.archive / "DETECTS" / "MI" / day[:4] / f"{day}-meteor_index.json.gz"

    def events_dir(self, day: str) -> Path:
        return self.archive / "EVENTS" / day[:4] / day

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def lock(self) -> Path:
        return self.state / "ams.lock"

    @property
    def admin_socket(self) -> Path:
        return self.state / "admin.sock"

    @property
    def ledger(self) -> Path:
        return self.state / "ledger.sqlite3"

    def ensure(self) -> None:
        """Create the folders and prove the data root takes writes.

        An SD card that went read-only, or a mount point that is a file, is one line naming the path
        and the problem (InputError: exit 2, which systemd does not restart), never a traceback.
        """
        for p in (self.sd, self.hd, self.proc2, self.state, self.archive):
            try:
                p.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise InputError(str(self.root), "data_root", f"cannot create {p}: {_why(err, p)}") from None
        probe = self.state / f".write-probe.{os.getpid()}"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, b"ok")
                os.fsync(fd)
            finally:
                os.close(fd)
                probe.unlink(missing_ok=True)
        except OSError as err:
            if err.errno in _NO_SPACE:
                return
            raise InputError(str(self.root), "data_root", f"cannot write in {self.state}: {_why(err, probe)}") from None


def _why(err: OSError, path: Path) -> str:
    reason = err.strerror or str(err)
    if err.errno in (errno.ENOTDIR, errno.EEXIST):
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            return f"{reason} ({blocker} is a file, not a folder)"
    return reason
