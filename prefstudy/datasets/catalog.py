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

from prefstudy.datasets.kinds import get_reader
from prefstudy.datasets.readers.decoded import Decoded, SourceOptions
from prefstudy.errors import PrefstudyError
from prefstudy.files import atomic_path
from prefstudy.progress import Reporter, SilentReporter
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

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W): the cached images' shape, as a model takes them."""
        return (self.channels, self.height, self.width)


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
    return _content_hash(decoded.keys, decoded.sha256, tuple(decoded.images.shape[1:]))


def _content_hash(keys: list[str], hashes: list[str], image_shape: tuple[int, int, int]) -> str:
    digest = hashlib.sha256()
    for key, item_hash in zip(keys, hashes, strict=True):
        digest.update(f"{key}\0{item_hash}\n".encode())
    digest.update(str(image_shape).encode())
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
    read = get_reader(spec.kind)  # an unknown kind is refused before anything is read
    if dataset_exists(ws, spec.name):
        raise PrefstudyError(f"dataset {spec.name!r} already exists in this study; choose another name")
    options = SourceOptions(
        path=Path(spec.path).expanduser() if spec.path else None,
        limit=spec.limit,
        seed=spec.seed,
        size=spec.size,
        channels=spec.channels,
    )
    decoded = read(options, report)
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
    taken = False  # by another process, which then owns the cache file too: keep it
    try:
        with ws.transaction() as con:
            if dataset_exists(ws, spec.name):  # added by another process while this one decoded
                taken = True
                raise PrefstudyError(f"dataset {spec.name!r} already exists in this study; choose another name")
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
        if not taken:
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


def load_item_keys(ws: Workspace, name: str) -> np.ndarray:
    """Every item's key, by item index."""
    with ws.connect() as con:
        get_dataset(ws, name)  # an unknown dataset is one clear error
        rows = con.execute("SELECT key FROM items WHERE dataset = ? ORDER BY idx", [name]).fetchall()
    return np.array([key for (key,) in rows], dtype=object)


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


def item_hashes(ws: Workspace, name: str) -> np.ndarray:
    """Each item's sha256 (of its file's bytes, or of Fashion-MNIST's pixels), by item index."""
    with ws.connect() as con:
        rows = con.execute("SELECT sha256 FROM items WHERE dataset = ? ORDER BY idx", [name]).fetchall()
    return np.array([sha for (sha,) in rows], dtype=object)


def cache_problem(ws: Workspace, name: str) -> str | None:
    """What is wrong with a dataset's image cache and its record, or None.

    The recorded content hash is over the items' keys and hashes (see :func:`content_sha256`),
    not over the cache's bytes: this checks that the items still hash to it, that the cache file
    is the one named by it, and that the file is a whole uint8 array of the recorded shape.
    """
    with ws.connect() as con:
        cache_file, recorded, *shape = first_row(
            con,
            "SELECT cache_file, content_sha256, n_items, height, width, channels FROM datasets WHERE name = ?",
            [name],
        )
        items = con.execute("SELECT key, sha256 FROM items WHERE dataset = ? ORDER BY idx", [name]).fetchall()
    if len(items) != shape[0]:
        return f"{len(items)} items are recorded, its record says {shape[0]}"
    if _content_hash([k for k, _ in items], [h for _, h in items], tuple(shape[1:])) != recorded:
        return "its items no longer hash to its recorded content hash"
    cache = ws.root / cache_file
    if recorded[:16] not in cache.name:
        return f"its cache file {cache_file} is not the one its content hash names"
    try:
        with open(cache, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            found, _, dtype = read_header(handle)
            size = handle.tell() + int(np.prod(found)) * dtype.itemsize
            actual = handle.seek(0, 2)
    except FileNotFoundError:
        return f"its image cache {cache_file} is missing"
    except (OSError, ValueError) as error:
        return f"its image cache {cache_file} is not a NumPy array file ({error})"
    if dtype != np.uint8 or tuple(found) != tuple(shape):
        return f"its image cache {cache_file} holds {tuple(found)} {dtype}, its record says {tuple(shape)} uint8"
    if actual != size:
        return f"its image cache {cache_file} is {actual} bytes, a whole array is {size}"
    return None
