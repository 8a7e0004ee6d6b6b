"""What the driver hands a worker, and what comes back: plain, picklable, torch-free data.

A worker reads nothing but its task: the subject's labels and split (prepared by the driver from
the database), the dataset's images (a cache file on shared storage, or an object in Ray's store),
and a transfer's source model (a ``model.pt`` on shared storage, or its bytes in Ray's store).
"""

from __future__ import annotations

import io
import socket
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from prefstudy.config import TrainSettings
from prefstudy.datasets.catalog import DatasetInfo, ImageSet
from prefstudy.errors import PrefstudyError
from prefstudy.runs.prepare import Prepared


def _from_store(ref: Any) -> Any:
    import ray  # only a Ray worker holds a reference into Ray's object store

    return ray.get(ref)


@dataclass(frozen=True)
class ImagesSource:
    """A dataset's images for a worker: files on shared storage, or one object in Ray's store.

    Only what a run reads travels: the pixels and the item keys (its predictions name items by key).
    """

    key: str  # the cache file's name, which holds the content hash: what a worker keeps them under
    info: DatasetInfo
    pixels_path: str | None = None  # the dataset's image cache (.npy)
    keys_path: str | None = None  # its item keys (.npy), written beside it by the driver
    ref: Any = None  # a Ray ObjectRef of (pixels, keys)

    def load(self) -> ImageSet:
        if self.ref is not None:
            pixels, keys = _from_store(self.ref)
        else:
            pixels, keys = np.load(_on_worker(self.pixels_path)), np.load(_on_worker(self.keys_path))
        info = self.info
        if pixels.shape != (info.n_items, info.height, info.width, info.channels) or len(keys) != info.n_items:
            raise PrefstudyError(f"the image cache of dataset {info.name!r} does not match its record")
        empty = np.zeros(0, dtype=object)
        return ImageSet(info, pixels, keys.astype(object), classes=empty, splits=empty, sha256=empty)


def _on_worker(path: str | None) -> Path:
    found = Path(path or "")
    if not found.is_file():
        raise PrefstudyError(f"{found} is not on this worker; put the study on a file system the workers share")
    return found


@dataclass(frozen=True)
class FeaturesSource:
    """A dataset's cached features for a head run: their file on shared storage, or one object in Ray's store."""

    key: str  # the file's name, which holds the extractor, its weights and the items' hash
    path: str | None = None
    ref: Any = None  # a Ray ObjectRef of the array

    def load(self) -> np.ndarray:
        if self.ref is not None:
            return _from_store(self.ref)
        return np.load(_on_worker(self.path), mmap_mode="r")


@dataclass(frozen=True)
class SourceModelRef:
    """A transfer's source model for a worker: its ``model.pt`` (a head run's ``head.npz``) on shared storage, or
    its bytes in Ray's store."""

    run_id: str
    subject: str
    dataset: str
    backbone: str
    path: str | None = None
    ref: Any = None

    def open(self) -> io.BytesIO | Path:
        if self.ref is not None:
            return io.BytesIO(_from_store(self.ref))
        return _on_worker(self.path)


@dataclass(frozen=True)
class RunTask:
    """One run to make, complete: a worker reads nothing else."""

    config: dict[str, Any]  # config.json as the driver knows it: no ``input`` yet
    prepared: Prepared
    settings: TrainSettings
    images: ImagesSource | None  # None for a head run, which reads features instead
    source: SourceModelRef | None = None
    features: FeaturesSource | None = None  # a head run's extractor features
    directory: str | None = None  # where to make the run on shared storage; None: a temporary one, shipped back
    resume: bool = False  # continue from the directory's checkpoint, if it has one
    continues: bool = False  # it continues an interrupted run (that run's id, config and directory)
    threads: int | None = None  # torch threads for this run (None: leave the worker's)
    attempt: int = 1

    @property
    def run_id(self) -> str:
        return self.config["run_id"]

    def again(self, resume: bool) -> RunTask:
        """The same run, tried once more (from its checkpoint when ``resume``)."""
        return replace(self, resume=resume, attempt=self.attempt + 1)


@dataclass(frozen=True)
class Outcome:
    """What a worker returns for a run: where its directory is (or the directory itself), and how it went."""

    run_id: str
    status: str  # finished or failed
    error: str | None = None
    directory: str | None = None  # the run directory, on shared storage
    packed: bytes | None = None  # the run directory as a tar archive, when there is no shared storage
    resumed: bool = False  # whether it continued from a checkpoint
    host: str = field(default_factory=socket.gethostname)
    pid: int = 0
    seconds: float = 0.0
