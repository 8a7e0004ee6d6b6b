"""Features of a dataset by an extractor, computed once: the originals decoded at its size, in batches.

:func:`ensure_features` returns what the study has stored under the key (extractor, weights,
items, size) and computes it only when it is not there, with a progress bar. Every run, fold,
curve and recommendation of the dataset then reads the same array.
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np

from prefstudy.datasets.originals import items_digest, read_originals
from prefstudy.features.named import extractor_named
from prefstudy.features.store import FeaturesKey, StoredFeatures, find_features, store_features
from prefstudy.progress import Reporter, SilentReporter
from prefstudy.workspace import Workspace

BATCH = 32  # images decoded features are extracted from at once (dlib and a CNN both run in batches)


def ensure_features(ws: Workspace, dataset: str, extractor: str, report: Reporter | None = None) -> StoredFeatures:
    """The features of every item of ``dataset`` by ``extractor``: stored ones, or computed and stored now."""
    report = report or SilentReporter()
    model = extractor_named(ws, extractor)
    info = model.info
    key = FeaturesKey(dataset, extractor, info.weights, items_digest(ws, dataset), info.image_size)
    found = find_features(ws, key)
    if found is not None:
        return found
    began = time.perf_counter()
    images = read_originals(ws, dataset, info.image_size, info.channels, report)
    report.start(len(images), f"features: {extractor} on {dataset}")
    vectors, counts = [], Counter()
    for start in range(0, len(images), BATCH):
        out = model.extract(images[start : start + BATCH])
        vectors.append(out.vectors)
        counts.update(out.counts)
        report.advance(len(out.vectors))
    stacked = np.concatenate(vectors) if vectors else np.zeros((0, info.dim), dtype=np.float32)
    seconds = time.perf_counter() - began
    stored = store_features(ws, key, stacked, dict(counts), seconds)
    missed = "; ".join(f"{n} {what}" for what, n in counts.items())
    report.note(
        f"features: {extractor} on {dataset}, {len(stacked)} items x {info.dim} in {seconds:.1f} s"
        + (f" ({missed})" if missed else "")
    )
    return stored
