"""A dataset's images decoded again from its original files, at a size other than its cache's.

A feature extractor sees images at its own size (dlib's face detector wants the 256-px photograph,
not a run's 32-px cache). The dataset's reader decodes its files again with the options it was
added with (the same seeded ``--limit``), at the size asked for; the items must be the very ones
the study holds, key by key and file hash by file hash, or nothing is returned. Datasets whose
originals are small (Fashion-MNIST's 28x28 grayscale) are read as they are and resized.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from prefstudy.datasets.catalog import get_dataset, item_hashes, load_item_keys
from prefstudy.datasets.kinds import read_dataset
from prefstudy.datasets.readers.decoded import SourceOptions
from prefstudy.errors import PrefstudyError
from prefstudy.progress import Reporter, SilentReporter
from prefstudy.workspace import Workspace

FIXED_SIZE_KINDS = {"fashion-mnist": 28, "fashion-mnist-sample": 28}  # read at their own size, then resized


def items_digest(ws: Workspace, dataset: str) -> str:
    """A hash of the dataset's items, key and file hash, in index order: what features of it are keyed by."""
    digest = hashlib.sha256()
    for key, sha in zip(load_item_keys(ws, dataset), item_hashes(ws, dataset), strict=True):
        digest.update(f"{key}\0{sha}\n".encode())
    return digest.hexdigest()[:16]


def _source_path(ws: Workspace, recorded: str | None) -> Path | None:
    """The dataset's recorded path: as given (absolute, or from where prefstudy runs), else beside the study."""
    if recorded is None:
        return None
    path = Path(recorded).expanduser()
    if path.is_absolute() or path.exists():
        return path
    beside = ws.root / path
    return beside if beside.exists() else path


@dataclass(frozen=True)
class Originals:
    """How to decode a dataset's original files again, and what they must be: no database needed to read them.

    A worker that computes features is handed this: it decodes the files, checks that they are the
    study's items key by key and hash by hash, and resizes them.
    """

    dataset: str
    kind: str
    options: SourceOptions
    size: int
    channels: int
    keys: tuple[str, ...]
    sha256: tuple[str, ...]

    def read(self, report: Reporter | None = None) -> np.ndarray:
        """Every item as (n_items, size, size, channels) uint8."""
        decoded = read_dataset(self.kind, self.options, report or SilentReporter())
        if decoded.keys != list(self.keys) or decoded.sha256 != list(self.sha256):
            raise PrefstudyError(
                f"the original files of dataset {self.dataset!r} ({self.options.path}) are not the ones it was "
                "added from (items differ by name or content); add it again under a new name"
            )
        images = decoded.images
        if self.kind in FIXED_SIZE_KINDS:
            images = np.stack([_resized(image, self.size, self.channels) for image in images])
        return images


def originals_of(ws: Workspace, dataset: str, size: int, channels: int) -> Originals:
    """What decoding ``dataset``'s originals at ``size`` takes, read from the study."""
    info = get_dataset(ws, dataset)
    config = info.config
    native = FIXED_SIZE_KINDS.get(info.kind)
    options = SourceOptions(
        path=_source_path(ws, info.path),
        limit=config.get("limit"),
        seed=config.get("seed", 0),
        size=native or size,
        channels=None if native else channels,
    )
    keys, hashes = load_item_keys(ws, dataset), item_hashes(ws, dataset)
    return Originals(dataset, info.kind, options, size, channels, tuple(map(str, keys)), tuple(map(str, hashes)))


def read_originals(ws: Workspace, dataset: str, size: int, channels: int, report: Reporter) -> np.ndarray:
    """Every item of ``dataset`` as (n_items, size, size, channels) uint8, decoded from its original files."""
    return originals_of(ws, dataset, size, channels).read(report)


def _resized(image: np.ndarray, size: int, channels: int) -> np.ndarray:
    picture = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
    picture = picture.convert("L" if channels == 1 else "RGB").resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(picture, dtype=np.uint8).reshape(size, size, channels)
