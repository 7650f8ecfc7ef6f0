"""A one-line progress bar on stderr, for long one-shot commands (`ams sim`, `ams run_detects --year`)."""

from __future__ import annotations

import sys
from collections.abc import Callable


def progress_bar(label: str = "") -> Callable[[float], None]:
    """``show(fraction)`` redraws ``label [####....]  42.0%`` in place; a newline once it reaches 1."""

    def show(fraction: float) -> None:
        n = int(fraction * 40)
        sys.stderr.write(f"\r{label}[{'#' * n}{'.' * (40 - n)}] {fraction * 100:5.1f}%")
        if fraction >= 1.0:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show
