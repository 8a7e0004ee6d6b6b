"""`--executor ray`: Ray tasks with a declared resource request per run.

Each run is a Ray task asking for ``cpus_per_run`` CPUs and ``gpus_per_run`` GPUs (a fraction
shares a GPU). Ray reuses worker processes across tasks, so a worker's warm cache (images,
transfer sources) serves the runs it is given; ``max_calls=0`` keeps that so for GPU tasks too
(Ray would otherwise start a fresh process per GPU task). A dataset's pixels and a source's model
file go into Ray's object store once; without ``--storage`` each run directory comes back through
it too (packed), and a retried run restarts. Retries are the driver's (``max_retries=0``), the same
for every executor.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from prefstudy.errors import PrefstudyError
from prefstudy.executors import entry
from prefstudy.executors.base import Executor, Returned, Submitted, T, WorkerLost
from prefstudy.executors.tasks import FeaturesSource, ImagesSource, RunTask, SourceModelRef


def _ray():
    try:
        import ray
    except ImportError:
        raise PrefstudyError("--executor ray needs Ray: pip install 'prefstudy[ray]'") from None
    return ray


class RayTasks(Executor):
    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        cpus_per_run: float = 1.0,
        gpus_per_run: float = 0.0,
        shared_storage: bool = False,
        num_cpus: int | None = None,
    ):
        ray = _ray()
        self._started_here = not ray.is_initialized()
        if self._started_here:
            try:  # no address: a one-node Ray on this machine, for as long as the driver runs
                ray.init(
                    address=address,
                    num_cpus=num_cpus if address is None else None,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                )
            except (ConnectionError, RuntimeError, ValueError) as error:
                raise PrefstudyError(f"cannot reach the Ray cluster at {address or 'this machine'}: {error}") from None
        self.shared_storage = shared_storage
        self.threads_per_run = max(1, math.floor(cpus_per_run))
        resources = ray.cluster_resources()
        slots = resources.get("CPU", 0) / cpus_per_run if cpus_per_run else math.inf
        if gpus_per_run:
            slots = min(slots, resources.get("GPU", 0) / gpus_per_run)
        if slots < 1:
            raise PrefstudyError(
                f"the Ray cluster has {resources.get('CPU', 0):g} CPUs and {resources.get('GPU', 0):g} GPUs; "
                f"a run asks for {cpus_per_run:g} CPUs and {gpus_per_run:g} GPUs"
            )
        self.slots = int(min(slots, 10_000))
        self._remote = ray.remote(num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=0, max_calls=0)(
            entry.make_runs
        )
        self._pid = os.getpid()
        self._request = {"num_cpus": cpus_per_run, "num_gpus": gpus_per_run}

    def images(self, source: ImagesSource, load: Callable) -> ImagesSource:
        ray = _ray()
        images = load()  # pixels and keys, put once; the driver keeps only the reference
        return ImagesSource(source.key, source.info, ref=ray.put((images.images, images.keys.astype(str))))

    def features(self, source: FeaturesSource, load: Callable) -> FeaturesSource:
        return FeaturesSource(source.key, ref=_ray().put(np.asarray(load())))

    def model(self, source: SourceModelRef) -> SourceModelRef:
        with open(source.open(), "rb") as handle:
            data = handle.read()
        return SourceModelRef(source.run_id, source.subject, source.dataset, source.backbone, ref=_ray().put(data))

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        ray = _ray()
        return ray.get(ray.remote(**self._request, max_retries=0)(fn).remote(*args))

    def submit(self, batches: Sequence[list[RunTask]]) -> list[Submitted]:
        out = []
        for batch in batches:
            ref = self._remote.remote(batch)
            out.append(Submitted(batch, f"ray-{ref.hex()[:16]}", ref))
        return out

    def wait(self, submitted: Sequence[Submitted], timeout: float) -> list[tuple[Submitted, Returned]]:
        ray = _ray()
        by_ref = {s.handle: s for s in submitted}
        # Back as soon as one batch is (num_returns=len would hold a free slot idle until every batch
        # out is done or the timeout passes), with every other batch that is back by then.
        ready, rest = ray.wait(list(by_ref), num_returns=1, timeout=timeout, fetch_local=True)
        if ready and rest:
            ready += ray.wait(rest, num_returns=len(rest), timeout=0, fetch_local=True)[0]
        out: list[tuple[Submitted, Returned]] = []
        for ref in ready:
            try:
                out.append((by_ref[ref], ray.get(ref)))
            except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as error:
                out.append((by_ref[ref], WorkerLost(f"Ray worker lost ({type(error).__name__})")))
            except ray.exceptions.RayError as error:
                out.append((by_ref[ref], WorkerLost(f"Ray task failed ({type(error).__name__}: {error})")))
        return out

    def cancel(self, submitted: Sequence[Submitted]) -> None:
        ray = _ray()
        for s in submitted:
            ray.cancel(s.handle, force=True)

    def close(self) -> None:
        if self._started_here and os.getpid() == self._pid:
            _ray().shutdown()
