"""Features of a dataset by an extractor, computed once: the originals decoded at its size, in batches.

:func:`ensure_features` returns what the study has stored under the key (extractor, weights,
items, size) and computes it only when it is not there. The computing is a :class:`FeaturesJob`,
which needs no database: in this process, with a progress bar, or handed to a worker by ``elsewhere``
(an executor's :meth:`~prefstudy.executors.base.Executor.call`), which returns the array for this
process to store. Every run, fold, curve and recommendation of the dataset then reads the same array.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from prefstudy.datasets.originals import Originals, items_digest, originals_of
from prefstudy.extractors.contract import Extractor
from prefstudy.features.named import ExtractorSpec, extractor_spec
from prefstudy.features.store import FeaturesKey, StoredFeatures, find_features, store_features
from prefstudy.progress import Reporter, SilentReporter
from prefstudy.workspace import Workspace

BATCH = 32  # images decoded features are extracted from at once (dlib and a CNN both run in batches)


@dataclass(frozen=True)
class FeaturesJob:
    """Everything computing a dataset's features takes, without the study's database (picklable)."""

    extractor: ExtractorSpec
    originals: Originals


@dataclass
class ComputedFeatures:
    vectors: np.ndarray  # (n_items, dim) float32, in item order
    counts: dict[str, int]  # what the extractor said about the items, e.g. {"no face detected": 3}
    seconds: float


def compute_features(
    job: FeaturesJob, report: Reporter | None = None, model: Extractor | None = None
) -> ComputedFeatures:
    """Decode the originals and run the extractor over them in batches (in a worker, or here, with ``model``)."""
    report = report or SilentReporter()
    began = time.perf_counter()
    model = model or job.extractor.build()
    images = job.originals.read(report)
    report.start(len(images), f"features: {job.extractor.name} on {job.originals.dataset}")
    vectors, counts = [], Counter()
    for start in range(0, len(images), BATCH):
        out = model.extract(images[start : start + BATCH])
        vectors.append(out.vectors)
        counts.update(out.counts)
        report.advance(len(out.vectors))
    stacked = np.concatenate(vectors) if vectors else np.zeros((0, model.info.dim), dtype=np.float32)
    return ComputedFeatures(stacked, dict(counts), time.perf_counter() - began)


Elsewhere = Callable[[Callable, FeaturesJob], ComputedFeatures]  # runs compute_features(job) in a worker


def ensure_features(
    ws: Workspace, dataset: str, extractor: str, report: Reporter | None = None, elsewhere: Elsewhere | None = None
) -> StoredFeatures:
    """The features of every item of ``dataset`` by ``extractor``: stored ones, or computed and stored now.

    ``elsewhere`` computes them in a worker (an executor's ``call``); without it they are computed here.
    """
    report = report or SilentReporter()
    spec = extractor_spec(ws, extractor)
    model = spec.build()  # its info names the weights the features are keyed by
    info = model.info
    key = FeaturesKey(dataset, extractor, info.weights, items_digest(ws, dataset), info.image_size)
    found = find_features(ws, key)
    if found is not None:
        return found
    job = FeaturesJob(spec, originals_of(ws, dataset, info.image_size, info.channels))
    if elsewhere is None:
        computed = compute_features(job, report, model)
    else:
        del model  # the worker loads its own
        report.note(f"features: {extractor} on {dataset}, computed in a worker")
        computed = elsewhere(compute_features, job)
    if computed.vectors.shape != (len(job.originals.keys), info.dim):
        raise RuntimeError(f"{extractor} gave features of shape {computed.vectors.shape} for {dataset!r}")
    stored = store_features(ws, key, computed.vectors, computed.counts, computed.seconds)
    missed = "; ".join(f"{n} {what}" for what, n in computed.counts.items())
    report.note(
        f"features: {extractor} on {dataset}, {stored.n_items} items x {info.dim} in {computed.seconds:.1f} s"
        + (f" ({missed})" if missed else "")
    )
    return stored
