"""Datasets of a study: add one (decode once, cache as uint8, record items with their sha256), list, load.

This module is the one home of the ``datasets`` and ``items`` tables.

The cache is ``cache/<dataset>/<H>x<W>x<C>-<content hash>.npy``; training reads it, never the
original files. Adding is all-or-nothing: the cache file is written first, the rows in one
transaction, and a failure removes the cache file again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from prefstudy.errors import PrefstudyError
from prefstudy.files import atomic_path
from prefstudy.progress import Reporter, SilentReporter
from prefstudy.sources import get_source
from prefstudy.sources.base import Decoded, SourceOptions
from prefstudy.store import first_row, scalar
from prefstudy.studyfile import DatasetSpec
from prefstudy.workspace import Workspace, check_name


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset's row in the study database."""

    name: str
    kind: str
    path: str | None
    n_items: int
    height: int
    width: int
    channels: int
    class_names: list[str]
    config: dict
    cache_file: str


@dataclass
class ImageSet:
    """A dataset loaded for training: its uint8 images and per-item keys, classes and official splits."""

    info: DatasetInfo
    images: np.ndarray  # (N, H, W, C) uint8, row i = item idx i
    keys: np.ndarray
    classes: np.ndarray
    splits: np.ndarray
    sha256: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class AddResult:
    info: DatasetInfo
    skipped: list[tuple[str, str]]


def content_sha256(decoded: Decoded) -> str:
    """A hash of every item's content and key, in order: the cache's identity."""
    digest = hashlib.sha256()
    for key, item_hash in zip(decoded.keys, decoded.sha256, strict=True):
        digest.update(f"{key}\0{item_hash}\n".encode())
    digest.update(str(decoded.images.shape[1:]).encode())
    return digest.hexdigest()


def _save_atomically(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, array)


def dataset_exists(ws: Workspace, name: str) -> bool:
    with ws.connect() as con:
        return scalar(con, "SELECT count(*) FROM datasets WHERE name = ?", [name]) > 0


def add_dataset(ws: Workspace, spec: DatasetSpec, report: Reporter | None = None) -> AddResult:
    """Decode ``spec``'s images once, cache them, and record the dataset and its items."""
    report = report or SilentReporter()
    check_name("dataset", spec.name)
    source = get_source(spec.kind)
    if dataset_exists(ws, spec.name):
        raise PrefstudyError(f"dataset {spec.name!r} already exists in this study; choose another name")
    for key in ("limit", "size", "channels"):
        value = getattr(spec, key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise PrefstudyError(f"dataset {spec.name!r}: {key} must be a positive integer, got {value!r}")
    options = SourceOptions(
        path=Path(spec.path).expanduser() if spec.path else None,
        limit=spec.limit,
        seed=spec.seed,
        size=spec.size,
        channels=spec.channels,
    )
    decoded = source.load(options, report)
    n, height, width, channels = decoded.images.shape
    content = content_sha256(decoded)
    cache_rel = Path("cache") / spec.name / f"{height}x{width}x{channels}-{content[:16]}.npy"
    config = {
        "limit": spec.limit,
        "seed": spec.seed,
        "size": height,
        "channels": channels,
        **decoded.details,
        "skipped": [list(s) for s in decoded.skipped],
    }
    _save_atomically(ws.root / cache_rel, decoded.images)
    try:
        with ws.transaction() as con:
            con.execute(
                "INSERT INTO datasets (name, kind, path, config, classes, n_items, height, width, channels, "
                "cache_file, content_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    spec.name,
                    spec.kind,
                    decoded.path,
                    json.dumps(config),
                    json.dumps(decoded.class_names),
                    n,
                    height,
                    width,
                    channels,
                    cache_rel.as_posix(),
                    content,
                ],
            )
            items = {
                "dataset": np.full(n, spec.name, dtype=object),
                "idx": np.arange(n, dtype=np.int32),
                "key": np.array(decoded.keys, dtype=object),
                "split": np.array(decoded.splits, dtype=object),
                "class": np.array(decoded.classes, dtype=object),
                "sha256": np.array(decoded.sha256, dtype=object),
            }
            con.register("new_items", items)
            con.execute("INSERT INTO items SELECT dataset, idx, key, split, class, sha256 FROM new_items")
            con.unregister("new_items")
    except BaseException:
        (ws.root / cache_rel).unlink(missing_ok=True)
        raise
    return AddResult(info=get_dataset(ws, spec.name), skipped=decoded.skipped)


def _info_from_row(row: tuple) -> DatasetInfo:
    name, kind, path, config, classes, n, h, w, c, cache_file = row
    return DatasetInfo(name, kind, path, n, h, w, c, json.loads(classes), json.loads(config), cache_file)


_INFO_COLUMNS = "name, kind, path, config, classes, n_items, height, width, channels, cache_file"


def get_dataset(ws: Workspace, name: str) -> DatasetInfo:
    """A dataset's record; an unknown name fails with the datasets the study has."""
    with ws.connect() as con:
        row = first_row(con, f"SELECT {_INFO_COLUMNS} FROM datasets WHERE name = ?", [name])
        if row is None:
            known = [r[0] for r in con.execute("SELECT name FROM datasets ORDER BY name").fetchall()]
    if row is None:
        hint = f"known: {', '.join(known)}" if known else "add one with `prefstudy data add`"
        raise PrefstudyError(f"no dataset {name!r} in this study ({hint})")
    return _info_from_row(row)


def list_datasets(ws: Workspace) -> list[DatasetInfo]:
    """Every dataset of the study, by name."""
    with ws.connect() as con:
        rows = con.execute(f"SELECT {_INFO_COLUMNS} FROM datasets ORDER BY name").fetchall()
    return [_info_from_row(r) for r in rows]


def load_images(ws: Workspace, name: str) -> ImageSet:
    """Load a dataset's cached images and item table into memory."""
    with ws.connect() as con:  # one connection for the record and the items
        info = get_dataset(ws, name)
        items = con.execute(
            "SELECT key, class, split, sha256 FROM items WHERE dataset = ? ORDER BY idx", [name]
        ).fetchnumpy()
    cache = ws.root / info.cache_file
    if not cache.is_file():
        raise PrefstudyError(f"the image cache of dataset {name!r} ({cache}) is missing; add the dataset again")
    images = np.load(cache)
    if images.shape != (info.n_items, info.height, info.width, info.channels):
        raise PrefstudyError(f"the image cache of dataset {name!r} ({cache}) does not match its record; add it again")
    return ImageSet(
        info=info,
        images=images,
        keys=np.asarray(items["key"], dtype=object),
        classes=np.asarray(items["class"], dtype=object),
        splits=np.asarray(items["split"], dtype=object),
        sha256=np.asarray(items["sha256"], dtype=object),
    )


def key_index(ws: Workspace, name: str) -> dict[str, int]:
    """Item key -> item index, for every item of the dataset."""
    with ws.connect() as con:
        return dict(con.execute("SELECT key, idx FROM items WHERE dataset = ?", [name]).fetchall())


def official_splits(ws: Workspace, name: str) -> np.ndarray:
    """Each item's official split ('train', 'test' or None), by item index."""
    with ws.connect() as con:
        get_dataset(ws, name)  # an unknown dataset is one clear error
        rows = con.execute("SELECT split FROM items WHERE dataset = ? ORDER BY idx", [name]).fetchall()
    return np.array([split for (split,) in rows], dtype=object)
