"""What consecutive runs in one process share: image caches, transfer sources, and frozen features.

A study of 2,513 raters makes thousands of small runs. Each would read its dataset's image cache,
load its transfer source's weights and, under ``frozen`` transfer, push every image through the
same frozen feature layers. A :class:`WarmCache` keeps each of these once per process, keyed by
what identifies it (a cache file's content hash, a finished run's id), so results do not change.
A worker keeps one for the runs it is given (:mod:`prefstudy.executors.worker`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import torch

from prefstudy.backbones import Backbone
from prefstudy.datasets.catalog import ImageSet
from prefstudy.engine.heads import Head
from prefstudy.engine.inputs import InputAdapter
from prefstudy.engine.precision import Precision
from prefstudy.engine.predict import frozen_features
from prefstudy.engine.saved_model import SavedModel
from prefstudy.engine.train import image_tensor

MAX_FEATURE_BYTES = 512 * 2**20
"""Frozen features of one source and dataset are kept up to this size; beyond, each run computes its own."""


@dataclass
class _Features:
    values: torch.Tensor | None = None  # (n_items, ...) once the first batch is known
    done: np.ndarray | None = None  # which items hold features


T = TypeVar("T")


def _once(kept: dict[str, T], key: str, load: Callable[[], T]) -> T:
    if key not in kept:
        kept[key] = load()
    return kept[key]


@dataclass
class WarmCache:
    """Image caches, transfer sources and frozen features, each loaded or computed once."""

    images_loaded: dict[str, ImageSet] = field(default_factory=dict)
    sources_loaded: dict[str, SavedModel] = field(default_factory=dict)
    features_kept: dict[tuple[Any, ...], _Features] = field(default_factory=dict)
    arrays_loaded: dict[str, np.ndarray] = field(default_factory=dict)  # an extractor's cached features, by file
    heads_loaded: dict[str, Head] = field(default_factory=dict)  # population heads, by run

    def images(self, key: str, load: Callable[[], ImageSet]) -> ImageSet:
        """Images loaded by ``load`` once per ``key``: a cache file's name, which holds its content hash."""
        return _once(self.images_loaded, key, load)

    def source(self, run_id: str, load: Callable[[], SavedModel]) -> SavedModel:
        """A finished run's model loaded by ``load`` once (finished runs do not change)."""
        return _once(self.sources_loaded, run_id, load)

    def extracted(self, key: str, load: Callable[[], np.ndarray]) -> np.ndarray:
        """A dataset's cached extractor features loaded by ``load`` once per ``key`` (their file's name)."""
        return _once(self.arrays_loaded, key, load)

    def head(self, run_id: str, load: Callable[[], Head]) -> Head:
        """A finished head run's head, loaded once."""
        return _once(self.heads_loaded, run_id, load)

    def features(
        self,
        key: tuple[Any, ...],
        backbone: Backbone,
        adapter: InputAdapter,
        images: ImageSet,
        items: np.ndarray,
        precision: Precision,
    ) -> torch.Tensor:
        """The frozen features of ``images`` at ``items``, computing only those not computed before under ``key``."""
        kept = self.features_kept.setdefault(key, _Features())
        missing = items if kept.done is None else items[~kept.done[items]]
        if len(missing):
            fresh = frozen_features(backbone, adapter, image_tensor(images.images[missing]), precision)
            if kept.values is None:
                size = fresh[0].numel() * fresh.element_size() * len(images.images)
                if size > MAX_FEATURE_BYTES:
                    del self.features_kept[key]
                    return frozen_features(backbone, adapter, image_tensor(images.images[items]), precision)
                kept.values = torch.empty((len(images.images), *fresh.shape[1:]), dtype=fresh.dtype)
                kept.done = np.zeros(len(images.images), dtype=bool)
            kept.values[torch.from_numpy(missing)] = fresh.cpu()
            kept.done[missing] = True
        return kept.values[torch.from_numpy(items)]
