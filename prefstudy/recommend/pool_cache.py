"""A pool's per-file cache: what an image file gave once, found again by the sha256 of its bytes.

A dataset's features are cached as one array per (extractor, weights, items, size)
(:mod:`prefstudy.features.store`); a folder to rank is not a dataset, and it changes between calls
(new photographs added, some removed), so its vectors are cached one file each, content-addressed:

    cache/pool-features/<extractor>-<weights>-<size>px/<file sha256>.npy   the extractor's vector
    cache/pool-features/<extractor>-<weights>-<size>px/extractor.json      the extractor's info
    cache/pool-pixels/<size>px-<channels>ch/<file sha256>.txt              the sha256 of its decoded pixels

An entry is written atomically and never changes (the same bytes, extractor, weights and size give the
same vector), so concurrent calls can share the folder and a second call on the same images reads
them all without decoding one or loading the extractor. Torch-free.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from prefstudy.extractors.contract import ExtractorInfo
from prefstudy.files import atomic_path
from prefstudy.workspace import Workspace

FEATURES_DIR = Path("cache") / "pool-features"
PIXELS_DIR = Path("cache") / "pool-pixels"
INFO_FILE = "extractor.json"


class VectorCache:
    """Vectors of files by one extractor (its weights) at one size, each under its file's sha256."""

    def __init__(self, ws: Workspace, extractor: str, weights: str, image_size: int) -> None:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", extractor)
        self.folder = ws.root / FEATURES_DIR / f"{safe}-{weights[:16]}-{image_size}px"

    def get(self, sha256: str) -> np.ndarray | None:
        """The vector cached for the file with this sha256, or None."""
        try:
            return np.load(self.folder / f"{sha256}.npy", allow_pickle=False)
        except (OSError, ValueError):  # not there (or, written by no one here, unreadable): computed again
            return None

    def put(self, sha256: str, vector: np.ndarray) -> None:
        with atomic_path(self.folder / f"{sha256}.npy") as tmp, open(tmp, "wb") as handle:
            np.save(handle, np.ascontiguousarray(vector, dtype=np.float32), allow_pickle=False)

    def info(self) -> dict[str, Any] | None:
        """The extractor's info as the call that computed vectors here wrote it, or None."""
        try:
            return json.loads((self.folder / INFO_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put_info(self, info: ExtractorInfo) -> None:
        with atomic_path(self.folder / INFO_FILE) as tmp:
            tmp.write_text(json.dumps(asdict(info), default=list), encoding="utf-8")


class PixelHashCache:
    """The sha256 of each file's pixels decoded at one size and channel count (how Fashion-MNIST hashes items)."""

    def __init__(self, ws: Workspace, size: int, channels: int) -> None:
        self.folder = ws.root / PIXELS_DIR / f"{size}px-{channels}ch"

    def get(self, sha256: str) -> str | None:
        try:
            return (self.folder / f"{sha256}.txt").read_text(encoding="ascii").strip() or None
        except OSError:
            return None

    def put(self, sha256: str, pixels_sha256: str) -> None:
        with atomic_path(self.folder / f"{sha256}.txt") as tmp:
            tmp.write_text(pixels_sha256, encoding="ascii")
