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
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Any, TypeVar

from ams_actors.runtime.signals import STOP_SIGNALS, ignore_stop_signals

T = TypeVar("T")


def _watch_parent(station_pid: int) -> None:
    """Exit when the station process is gone (SIGKILL, OOM killer): workers must not outlive it.

    A worker's parent is the fork server, not the station, so PR_SET_PDEATHSIG cannot express this;
    a one-second poll costs nothing.
    """
    while True:
        time.sleep(1.0)
        try:
            os.kill(station_pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:  # pid reused by another user's process: ours is gone
            os._exit(0)


def _init_worker(station_pid: int) -> None:
    # A group SIGTERM/SIGINT/SIGHUP (systemd's default stop, Ctrl-C in a terminal) must not kill work in
    # hand: the station drains, then shuts the pool down, and that ends the worker.
    ignore_stop_signals()
    threading.Thread(target=_watch_parent, args=(station_pid,), name="watch-station", daemon=True).start()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover - opencv is a dependency; keep workers alive regardless
        pass


def _start_fork_server() -> None:
    """Start the fork server now, with the stop signals blocked while it starts.

    Between its exec and its preload (which ignores them) a group SIGTERM would kill it, and the pool
    would then fail to start a worker in the middle of the drain (measured: 1 of 5 group stops in the
    chaos benchmark). A blocked signal mask is inherited across exec, as the stdlib's resource tracker
    does it; a signal meant for the station during these milliseconds stays pending, not lost.
    """
    from multiprocessing import forkserver, resource_tracker

    resource_tracker.ensure_running()  # first: starting it unblocks SIGINT/SIGTERM in this thread
    old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        forkserver.ensure_running()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def make_pool(workers: int) -> ProcessPoolExecutor:
    ctx = multiprocessing.get_context("forkserver")
    # the fork server is in the station's process group too: it must outlive a group SIGTERM
    ctx.set_forkserver_preload(["ams_actors.runtime.worker_signals"])
    _start_fork_server()
    return ProcessPoolExecutor(
        max_workers=max(1, workers), mp_context=ctx, initializer=_init_worker, initargs=(os.getpid(),)
    )


async def run_cpu(executor: Executor | None, fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(*args)` in the pool (or a thread when none is given, e.g. in small tools)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, fn, *args)


class InlineExecutor(Executor):
    """Runs each task at submit, in the calling process: for work that is already inside a pool worker
    (a worker cannot submit to its own pool, and a pool per worker would oversubscribe the cores)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:  # delivered through the future, as a pool would
            future.set_exception(err)
        return future
