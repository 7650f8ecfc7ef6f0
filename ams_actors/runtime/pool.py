"""The station's process pool: video decoding, detection and solving run here, never on the loop.

Workers start with the `forkserver` method: forking a process that runs an event loop, aiohttp
sessions and (in the simulator) a server thread copies their state half-made; a fork server is a
clean single-threaded parent. Each worker pins OpenCV to one thread — two processes with one decode
thread each beat one process with two threads (design.md §10).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def _init_worker() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover - opencv is a dependency; keep workers alive regardless
        pass


def make_pool(workers: int) -> ProcessPoolExecutor:
    ctx = multiprocessing.get_context("forkserver")
    return ProcessPoolExecutor(max_workers=max(1, workers), mp_context=ctx, initializer=_init_worker)


async def run_cpu(executor: Executor | None, fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(*args)` in the pool (or a thread when none is given, e.g. in small tools)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, fn, *args)
