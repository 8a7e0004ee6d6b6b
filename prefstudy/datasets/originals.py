"""A dataset's images decoded again from its original files, at a size other than its cache's.

A feature extractor sees images at its own size (dlib's face detector wants the 256-px photograph,
not a run's 32-px cache). The dataset's reader decodes its files again with the options it was
added with (the same seeded ``--limit``), at the size asked for; the items must be the very ones
the study holds, key by key and file hash by file hash, or nothing is returned. Datasets whose
originals are small (Fashion-MNIST's 28x28 grayscale) are read as they are and resized.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from prefstudy.datasets.catalog import get_dataset, item_hashes, load_item_keys
from prefstudy.datasets.kinds import read_dataset
from prefstudy.datasets.readers.decoded import SourceOptions
from prefstudy.errors import PrefstudyError
from prefstudy.progress import Reporter
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


def read_originals(ws: Workspace, dataset: str, size: int, channels: int, report: Reporter) -> np.ndarray:
    """Every item of ``dataset`` as (n_items, size, size, channels) uint8, decoded from its original files."""
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
    decoded = read_dataset(info.kind, options, report)
    keys, hashes = load_item_keys(ws, dataset), item_hashes(ws, dataset)
    if decoded.keys != list(keys) or decoded.sha256 != list(hashes):
        raise PrefstudyError(
            f"the original files of dataset {dataset!r} ({info.path}) are not the ones it was added from "
            "(items differ by name or content); add it again under a new name"
        )
    images = decoded.images
    if native:
        images = np.stack([_resized(image, size, channels) for image in images])
    return images


def _resized(image: np.ndarray, size: int, channels: int) -> np.ndarray:
    picture = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
    picture = picture.convert("L" if channels == 1 else "RGB").resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(picture, dtype=np.uint8).reshape(size, size, channels)
