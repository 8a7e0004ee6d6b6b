"""What consecutive runs in one process share: image caches, transfer sources, and frozen features.

A study of 2,513 raters makes thousands of small runs. Each would read its dataset's image cache,
load its transfer source's weights and, under ``frozen`` transfer, push every image through the
same frozen feature layers. A :class:`WarmCache` keeps each of these once per process, keyed by
what identifies it (a cache file's content hash, a finished run's id), so results do not change.
A scale-out worker keeps one for the runs it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from prefstudy.backbones import Backbone
from prefstudy.datasets.catalog import ImageSet, get_dataset, load_images
from prefstudy.engine.inputs import InputAdapter
from prefstudy.engine.precision import Precision
from prefstudy.engine.saved_model import SavedModel
from prefstudy.engine.train import frozen_features, image_tensor
from prefstudy.runs.trained import read_saved_model
from prefstudy.workspace import Workspace

MAX_FEATURE_BYTES = 512 * 2**20
"""Frozen features of one source and dataset are kept up to this size; beyond, each run computes its own."""


@dataclass
class _Features:
    values: torch.Tensor | None = None  # (n_items, ...) once the first batch is known
    done: np.ndarray | None = None  # which items hold features


@dataclass
class WarmCache:
    """Image caches, transfer sources and frozen features, each loaded or computed once."""

    images_loaded: dict[tuple[str, ...], ImageSet] = field(default_factory=dict)
    sources_loaded: dict[tuple[str, str], SavedModel] = field(default_factory=dict)
    features_kept: dict[tuple[Any, ...], _Features] = field(default_factory=dict)

    def images(self, ws: Workspace, dataset: str) -> ImageSet:
        """The dataset's images; read again only when its cache file changes (its name holds the content hash)."""
        key = (str(ws.root), dataset, get_dataset(ws, dataset).cache_file)
        if key not in self.images_loaded:
            self.images_loaded[key] = load_images(ws, dataset)
        return self.images_loaded[key]

    def images_keyed(self, key: str, load: Callable[[], ImageSet]) -> ImageSet:
        """Images loaded by ``load`` once per ``key`` (a worker's: a cache file's name, which holds its hash)."""
        if ("keyed", key) not in self.images_loaded:
            self.images_loaded[("keyed", key)] = load()
        return self.images_loaded[("keyed", key)]

    def source_keyed(self, run_id: str, load: Callable[[], SavedModel]) -> SavedModel:
        """A finished run's model loaded by ``load`` once (a scale-out worker's, read from its model file)."""
        if ("keyed", run_id) not in self.sources_loaded:
            self.sources_loaded[("keyed", run_id)] = load()
        return self.sources_loaded[("keyed", run_id)]

    def source(self, ws: Workspace, run_id: str) -> SavedModel:
        """A finished run's model (finished runs do not change)."""
        key = (str(ws.root), run_id)
        if key not in self.sources_loaded:
            self.sources_loaded[key] = read_saved_model(ws, run_id)
        return self.sources_loaded[key]

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
