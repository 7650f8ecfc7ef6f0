"""Which files the page may serve: only regular files inside the data root, in the folders it shows.

A URL names a file relative to the data root. It is refused (None) when it is absolute, has a `..` or
empty part, has a suffix the page never serves, lies outside the allowed folders, or resolves (after
symlinks) anywhere outside the data root: a symlink planted in `meteors/` cannot publish /etc/passwd.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

# the folders the page shows files from (relative to the data root), and the kinds of file it serves
SERVED_TOP = ("SD", "meteors", "meteor_archive", "cal", "trash")
SERVED_SUFFIXES = {".jpg", ".jpeg", ".png", ".mp4", ".webm", ".json", ".svg"}


def served_file(root: Path, rel: str) -> Path | None:
    """The file `rel` names under `root`, or None when the page must not serve it."""
    if not rel or "\x00" in rel or "\\" in rel:
        return None
    pure = PurePosixPath(rel)
    if pure.is_absolute() or any(p in ("", ".", "..") for p in rel.split("/")):
        return None
    if pure.parts[0] not in SERVED_TOP or pure.suffix.lower() not in SERVED_SUFFIXES:
        return None
    base = root.resolve()
    try:
        real = (base / pure).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not real.is_relative_to(base) or not real.is_file():
        return None
    return real


def url_of(root: Path, path: Path) -> str:
    """`/files/<path relative to the data root>` (the route `served_file` answers)."""
    return "/files/" + path.relative_to(root).as_posix()
