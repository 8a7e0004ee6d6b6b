"""Turning run orders into the tasks an executor hands to workers, for the driver.

A task carries its run's config and prepared labels and what the worker computes from: the dataset's
images, an extractor's cached features, a transfer's source model, each made ready once per driver
(through the executor: a path for a pool, an object in Ray's store). Transfers are checked here: a
head starts from a head, a network from a network, and a source on the same dataset never trained
on the new run's test items. Never loads torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from prefstudy.datasets.catalog import get_dataset, load_item_keys
from prefstudy.datasets.originals import items_digest
from prefstudy.errors import PrefstudyError
from prefstudy.executors.base import Executor
from prefstudy.executors.tasks import FeaturesSource, ImagesSource, RunTask, SourceModelRef
from prefstudy.features.store import latest_features
from prefstudy.files import atomic_path
from prefstudy.runs.heads import PRECISION as HEAD_PRECISION
from prefstudy.runs.orders import RunOrder
from prefstudy.runs.prepare import Preparer, run_config, test_items
from prefstudy.runs.record import FINISHED, RunRow, get_run, new_run_id, run_dir
from prefstudy.runs.transfer_sources import check_no_leak, learned_items
from prefstudy.workspace import Workspace


class TaskMaker:
    """Makes the driver's tasks; keeps what many tasks share (a dataset's images, a population run)."""

    def __init__(
        self, ws: Workspace, executor: Executor, computes: dict[str, Any], processes: int, storage: Path | None
    ):
        """``computes``: the device, precision and compile of a new network run; ``processes``: torchrun's."""
        self.ws, self.executor, self.storage = ws, executor, storage
        self.computes, self.processes = computes, processes
        self._images: dict[str, ImagesSource] = {}
        self._sources: dict[str, SourceModelRef] = {}
        self._source_rows: dict[str, RunRow] = {}  # finished runs others start from: they change no more
        self._learned: dict[str, frozenset[int]] = {}  # the items each source trained on
        self._features: dict[tuple[str, str], tuple[FeaturesSource, dict[str, Any]]] = {}

    def task(self, order: RunOrder, preparer: Preparer) -> RunTask:
        """The task of ``order``: its labels checked and split drawn (``preparer``), its run's config written
        out, what it computes from (images, features, a source model) made ready for the executor."""
        settings, transfer, source = order.settings, None, None
        if order.transfer is not None:
            row = self._source_row(order.transfer.source_run)
            if row.status != FINISHED or run_dir(self.ws, row.id).missing():
                raise PrefstudyError(f"run {row.id} is {row.status}, not finished; it has no trained model yet")
            _check_start(settings, row, order.transfer.mode)
            settings = settings.replace(backbone=row.backbone)  # a transfer run keeps its source's backbone
            transfer = {
                "source_run": row.id,
                "source_dataset": row.dataset,
                "mode": order.transfer.mode,
                "adapt": order.transfer.adapt,
            }
            source = self._source(row)
        prepared = preparer(order.subject, order.dataset, settings)
        if source is not None and source.dataset == order.dataset:
            if source.run_id not in self._learned:
                self._learned[source.run_id] = learned_items(self.ws, source.run_id)
            check_no_leak(self.ws, source.run_id, order.dataset, test_items(prepared), self._learned[source.run_id])
        run_id = order.resumes or new_run_id(order.subject, order.dataset, settings.protocol)
        computes = self.computes
        if settings.head is not None:  # scikit-learn, on the CPU, in float64
            computes = {"device": "cpu", "precision": HEAD_PRECISION, "compile": False}
        elif order.resumes is not None:
            computes = self._resumed(order, prepared.digest)
        config = run_config(run_id, prepared, settings, processes=self.processes, transfer=transfer, **computes)
        features = None
        if settings.head is not None:
            features, config["features"] = self._features_of(order.dataset, settings.backbone)
        return RunTask(
            config=config,
            prepared=prepared,
            settings=settings,
            images=self._images_of(order.dataset),
            source=source,
            features=features,
            directory=str(self.storage / run_id) if self.storage else None,
            # On shared storage a run always continues from a checkpoint it finds: one left by an
            # interrupted run, or by a Slurm job that was requeued (preempted) and starts again.
            resume=self.storage is not None,
            continues=order.resumes is not None,
            threads=self.executor.threads_per_run,
        )

    def _source_row(self, run_id: str) -> RunRow:
        """A transfer's source run (read once while finished: many personal runs start from one population run)."""
        if run_id in self._source_rows:
            return self._source_rows[run_id]
        row = get_run(self.ws, run_id)
        if row.status == FINISHED:
            self._source_rows[run_id] = row
        return row

    def _resumed(self, order: RunOrder, digest: str) -> dict[str, Any]:
        """How an interrupted run computed (it continues so), once its labels are checked unchanged."""
        row = get_run(self.ws, order.resumes)
        if digest != row.labels_digest:
            raise PrefstudyError(
                f"the labels of {row.subject!r} on {row.dataset!r} changed since run {row.id} started; start a new run"
            )
        # Runs from before precisions were recorded were fp32.
        return {
            "device": row.config.get("device", "auto"),
            "precision": row.config.get("precision", "fp32"),
            "compile": row.config.get("compile", False),
        }

    def _images_of(self, dataset: str) -> ImagesSource:
        if dataset not in self._images:
            info = get_dataset(self.ws, dataset)
            pixels = self.ws.root / info.cache_file
            keys = pixels.with_name(pixels.stem + ".keys.npy")  # named by the cache's content hash: written once
            if not keys.is_file():
                with atomic_path(keys) as tmp, open(tmp, "wb") as handle:
                    np.save(handle, load_item_keys(self.ws, dataset).astype(str), allow_pickle=False)
            source = ImagesSource(info.cache_file, info, str(pixels), str(keys))
            self._images[dataset] = self.executor.images(source, source.load)
        return self._images[dataset]

    def _features_of(self, dataset: str, extractor: str) -> tuple[FeaturesSource, dict[str, Any]]:
        """The dataset's cached features by ``extractor`` for workers, and what a run records of them."""
        if (dataset, extractor) not in self._features:
            stored = latest_features(self.ws, dataset, extractor, items_digest(self.ws, dataset))
            if stored is None:
                raise PrefstudyError(
                    f"no features of {dataset!r} by {extractor!r} in this study; `prefstudy run` and `study run` "
                    "compute them before their runs"
                )
            source = FeaturesSource(Path(stored.file).name, str(stored.path(self.ws)))
            recorded = {
                "extractor": extractor,
                "weights": stored.key.weights,
                "image_size": stored.key.image_size,
                "dim": stored.dim,
                "file": stored.file,
                "file_sha256": stored.file_sha256,
                "counts": stored.counts,
            }
            self._features[(dataset, extractor)] = (
                self.executor.features(source, lambda: stored.load(self.ws)),
                recorded,
            )
        return self._features[(dataset, extractor)]

    def _source(self, row) -> SourceModelRef:
        if row.id not in self._sources:
            directory = run_dir(self.ws, row.id)
            path = directory.head if row.settings.get("head") else directory.model
            ref = SourceModelRef(row.id, row.subject, row.dataset, row.backbone, str(path))
            self._sources[row.id] = self.executor.model(ref)
        return self._sources[row.id]


def _check_start(settings, source: RunRow, mode: str) -> None:
    """A head starts from a head (the population's), a network from a network."""
    source_head = source.settings.get("head")
    if settings.head is None and source_head is not None:
        raise PrefstudyError(
            f"run {source.id} is a {source_head} head on {source.backbone}; a network cannot start from it"
        )
    if settings.head is not None:
        if source_head is None:
            raise PrefstudyError(
                f"a {settings.head} head starts from another head run (a population's), not from network run "
                f"{source.id}"
            )
        if mode != "finetune":
            raise PrefstudyError(f"a head from a population head is its deviation from it; --{mode} does not apply")
