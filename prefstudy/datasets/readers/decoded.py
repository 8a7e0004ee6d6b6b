"""What every dataset reader produces: decoded images with their keys, splits, classes and hashes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from prefstudy.errors import PrefstudyError
from prefstudy.progress import Reporter, SilentReporter

__all__ = ["Decoded", "Reporter", "SilentReporter", "SourceOptions", "required_path", "seeded_order", "sha256_hex"]


@dataclass(frozen=True)
class SourceOptions:
    """What `data add` asks a reader for."""

    path: Path | None = None
    limit: int | None = None
    seed: int = 0
    size: int | None = None  # square side of the cached images; None = the reader's default
    channels: int | None = None  # 1 (grayscale) or 3 (RGB); None = the reader's default


@dataclass
class Decoded:
    """A dataset decoded into memory, in item order; what `data add` caches and records."""

    images: np.ndarray  # (N, H, W, C) uint8
    keys: list[str]
    splits: list[str | None]  # the official split of each item, when the dataset has one
    classes: list[str | None]
    class_names: list[str]
    sha256: list[str]
    path: str | None = None
    details: dict[str, object] = field(default_factory=dict)  # e.g. {"variant": "deep-funneled"}
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (key, why) of unreadable files

    def __post_init__(self) -> None:
        n = len(self.keys)
        if self.images.ndim != 4 or self.images.dtype != np.uint8 or self.images.shape[0] != n:
            raise ValueError(
                f"images must be (N, H, W, C) uint8 with N={n}, got {self.images.shape} {self.images.dtype}"
            )
        if not (len(self.splits) == len(self.classes) == len(self.sha256) == n):
            raise ValueError("keys, splits, classes and sha256 must have one entry per image")


def required_path(options: SourceOptions, kind: str, what: str) -> Path:
    """The existing ``--path`` a reader needs; one clear error naming ``what`` to give otherwise."""
    if options.path is None:
        raise PrefstudyError(f"the {kind} dataset needs --path: {what}")
    path = Path(options.path).expanduser()
    if not path.exists():
        raise PrefstudyError(f"{path} does not exist; give {what}")
    return path


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def seeded_order(n: int, seed: int) -> np.ndarray:
    """The reproducible order in which `--limit N --seed S` draws items from ``n`` candidates."""
    return np.random.default_rng(seed).permutation(n)
