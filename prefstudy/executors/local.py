"""`--executor local`: a pool of worker processes on this machine (pebble).

Python's ProcessPoolExecutor, and loky under joblib, fail every pending future when one worker is
killed; pebble's pool fails only that worker's batch (``ProcessExpired``) and starts a new worker,
so the others keep their runs and their warm caches. Workers are spawned, not forked, so none
inherits the driver's threads or open database handle.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import multiprocessing
from collections.abc import Callable, Sequence
from typing import Any

from prefstudy.executors import entry
from prefstudy.executors.base import Executor, Returned, Submitted, T, WorkerLost
from prefstudy.executors.tasks import RunTask


class LocalPool(Executor):
    name = "local"
    shared_storage = True  # the same machine

    def __init__(self, workers: int, threads_per_run: int | None = None):
        from pebble import ProcessPool

        self.slots = workers
        self.threads_per_run = threads_per_run
        self._pool = ProcessPool(max_workers=workers, context=multiprocessing.get_context("spawn"))
        self._numbers = itertools.count(1)

    def submit(self, batches: Sequence[list[RunTask]]) -> list[Submitted]:
        return [
            Submitted(batch, f"local-{next(self._numbers)}", self._pool.schedule(entry.make_runs, args=(batch,)))
            for batch in batches
        ]

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        return self._pool.schedule(fn, args=args).result()

    def wait(self, submitted: Sequence[Submitted], timeout: float) -> list[tuple[Submitted, Returned]]:
        by_future = {s.handle: s for s in submitted}
        done, _ = concurrent.futures.wait(by_future, timeout=timeout, return_when=concurrent.futures.FIRST_COMPLETED)
        out: list[tuple[Submitted, Returned]] = []
        for future in done:
            error = future.exception()
            if error is None:
                out.append((by_future[future], future.result()))
            elif type(error).__name__ == "ProcessExpired":  # the worker died: pebble replaced it
                out.append((by_future[future], WorkerLost(f"worker process ended ({error})")))
            else:
                out.append((by_future[future], error))
        return out

    def started(self, submitted: Submitted) -> bool:
        return submitted.handle.running() or submitted.handle.done()

    def cancel(self, submitted: Sequence[Submitted]) -> None:
        for s in submitted:
            s.handle.cancel()
        self._pool.stop()  # stops the workers now, runs half-made included
        self._pool.join()

    def close(self) -> None:
        self._pool.close()
        self._pool.join()
