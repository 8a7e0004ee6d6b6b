"""The ``features`` table and its files: one home for every cached feature array of the study.

An array is stored content-addressed under ``cache/features/<dataset>/``, named by what made it: the
extractor, a hash of its weights, a hash of the dataset's items (keys and file hashes) and the size
the originals were decoded at. A row records it with the file's own hash, so `study check` can read
the file and vouch for it. Torch-free.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prefstudy.errors import PrefstudyError
from prefstudy.files import atomic_path
from prefstudy.workspace import Workspace

FEATURES_DIR = Path("cache") / "features"


@dataclass(frozen=True)
class FeaturesKey:
    """What identifies cached features: which extractor (and its weights) saw which items at which size."""

    dataset: str
    extractor: str
    weights: str
    items_sha256: str
    image_size: int

    def file(self) -> Path:
        """The array's path relative to the study, named by the key."""
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.extractor)
        name = f"{safe}-{self.weights[:12]}-{self.items_sha256[:12]}-{self.image_size}px.npy"
        return FEATURES_DIR / self.dataset / name


@dataclass(frozen=True)
class StoredFeatures:
    """A cached feature array as its row describes it."""

    key: FeaturesKey
    dim: int
    n_items: int
    file: str  # relative to the study
    file_sha256: str
    counts: dict[str, int]
    seconds: float | None

    def path(self, ws: Workspace) -> Path:
        return ws.root / self.file

    def load(self, ws: Workspace) -> np.ndarray:
        """The (n_items, dim) float32 array, memory-mapped."""
        return np.load(self.path(ws), mmap_mode="r")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


_COLUMNS = "dataset, extractor, weights, items_sha256, image_size, dim, n_items, file, file_sha256, counts, seconds"


def _from_row(row: tuple) -> StoredFeatures:
    key = FeaturesKey(*row[:5])
    return StoredFeatures(key, row[5], row[6], row[7], row[8], json.loads(row[9]), row[10])


def find_features(ws: Workspace, key: FeaturesKey) -> StoredFeatures | None:
    """The features stored under ``key`` whose file is there, or None."""
    with ws.connect() as con:
        row = con.execute(
            f"SELECT {_COLUMNS} FROM features WHERE dataset = ? AND extractor = ? AND weights = ? "
            "AND items_sha256 = ? AND image_size = ?",
            [key.dataset, key.extractor, key.weights, key.items_sha256, key.image_size],
        ).fetchone()
    found = _from_row(row) if row else None
    return found if found is not None and found.path(ws).is_file() else None


def latest_features(ws: Workspace, dataset: str, extractor: str, items_sha256: str) -> StoredFeatures | None:
    """The newest features of ``dataset``'s current items by ``extractor`` (whatever its weights), or None."""
    with ws.connect() as con:
        rows = con.execute(
            f"SELECT {_COLUMNS} FROM features WHERE dataset = ? AND extractor = ? AND items_sha256 = ? "
            "ORDER BY created_at DESC",
            [dataset, extractor, items_sha256],
        ).fetchall()
    return next((f for f in map(_from_row, rows) if f.path(ws).is_file()), None)


def list_features(ws: Workspace) -> list[StoredFeatures]:
    """Every row of the features table, oldest first."""
    with ws.connect() as con:
        rows = con.execute(f"SELECT {_COLUMNS} FROM features ORDER BY created_at").fetchall()
    return [_from_row(row) for row in rows]


def store_features(
    ws: Workspace, key: FeaturesKey, vectors: np.ndarray, counts: dict[str, int], seconds: float
) -> StoredFeatures:
    """Write the array (atomically) and its row; a row for the same key is replaced."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or not np.all(np.isfinite(vectors)):
        raise PrefstudyError(f"{key.extractor} gave features of shape {vectors.shape} that are not all finite")
    relative = key.file()
    target = ws.root / relative
    with atomic_path(target) as tmp, open(tmp, "wb") as handle:
        np.save(handle, vectors, allow_pickle=False)
    stored = StoredFeatures(
        key, vectors.shape[1], vectors.shape[0], relative.as_posix(), file_sha256(target), counts, seconds
    )
    with ws.transaction() as con:
        con.execute(
            "DELETE FROM features WHERE dataset = ? AND extractor = ? AND weights = ? AND items_sha256 = ? "
            "AND image_size = ?",
            [key.dataset, key.extractor, key.weights, key.items_sha256, key.image_size],
        )
        con.execute(
            f"INSERT INTO features ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                key.dataset,
                key.extractor,
                key.weights,
                key.items_sha256,
                key.image_size,
                stored.dim,
                stored.n_items,
                stored.file,
                stored.file_sha256,
                json.dumps(counts),
                seconds,
            ],
        )
    return stored
