"""A label refit, in its own process: ``python -m prefstudy.active.refit TASK.json``.

The labelling server stays torch-free and never waits: for ``label --order uncertainty`` (and ``diverse``) it
starts this process with a task (:mod:`.refit_task`), niced, on one thread, and reads what it leaves when it
has left it. The process is handed files only (the labels, the dataset's image cache, the start's
``model.pt``) and never opens the study database. It fits the subject's model on their training labels from
the start (:class:`~prefstudy.active.fitting.LabelFitter`), writes P(preferred) of the candidate items, or
clusters their features (the start model's, else simple image features), then ``result.json``; a failure
is written there too, with its reason, and the exit status is non-zero.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from prefstudy.active.image_features import simple_features
from prefstudy.active.refit_task import RefitDir, RefitResult, RefitTask, read_task, write_array
from prefstudy.active.selection import kmeans
from prefstudy.datasets.catalog import DatasetInfo, ImageSet
from prefstudy.env import REFIT_GATE_ENV
from prefstudy.files import atomic_path
from prefstudy.store.connection import forbid_databases

GATE_WAIT_S = 300.0


def main(argv: list[str] | None = None) -> int:
    """Run the task named by the one argument; 0 when its outputs and result are written."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m prefstudy.active.refit TASK.json", file=sys.stderr)
        return 2
    with contextlib.suppress(OSError):
        os.nice(10)  # labelling first: the page must not wait for a refit
    forbid_databases("a label refit is handed files only")
    path = Path(args[0])
    task = read_task(path)
    out = RefitDir(path.parent)
    began = time.monotonic()
    try:
        result = refit(task, out, began)
    except Exception as error:
        traceback.print_exc()
        reason = f"{type(error).__name__}: {error}".strip()
        out.write_result(RefitResult(task.seq, task.answers, 0, time.monotonic() - began, error=reason[:500]))
        return 1
    out.write_result(result)
    return 0


def refit(task: RefitTask, out: RefitDir, began: float) -> RefitResult:
    """Compute and write the task's outputs (scores.npy and/or clusters.npz); the result to record."""
    info = DatasetInfo(**task.info)
    try:
        pixels = np.load(task.images)
    except (OSError, ValueError) as error:
        raise ValueError(f"the image cache {task.images} does not read: {error}") from None
    if pixels.shape != (info.n_items, info.height, info.width, info.channels):
        raise ValueError(f"the image cache {task.images} does not match dataset {info.name!r}")
    pool = np.load(task.pool).astype(np.int64)
    items = preferred = np.zeros(0, np.int64)
    if task.labels is not None:
        with np.load(task.labels) as saved:
            items, preferred = saved["items"].astype(np.int64), saved["preferred"].astype(bool)
    scores = features = None
    fitted = 0
    if task.scores or (task.clusters and task.start):
        model, fitted = _model(task, ImageSet(info, pixels, *[np.zeros(0, object)] * 4), items, preferred)
        if task.scores:
            if not fitted and (task.start or {}).get("kind") != "population":
                raise ValueError("nothing to score with: no labels to fit on and no population model")
            scores = np.full(info.n_items, np.nan, dtype=np.float32)
            scores[pool] = model.predict(pool)
        if task.clusters and task.start:
            features = model.features(pool)
    if task.clusters and features is None:
        features = _simple_features(task, pixels)[pool]
    clusters = _cluster(features, pool, info.n_items, task.clusters, task.seed) if task.clusters else None
    _wait_for_gate()
    if scores is not None:
        write_array(out.scores, scores)
    if clusters is not None:
        with atomic_path(out.clusters) as tmp, open(tmp, "wb") as f:
            np.savez(f, assignment=clusters[0], distance=clusters[1])
    return RefitResult(
        task.seq,
        task.answers,
        fitted,
        time.monotonic() - began,
        scores=scores is not None,
        clusters=clusters is not None,
    )


def _model(task: RefitTask, images: ImageSet, items: np.ndarray, preferred: np.ndarray):
    """The subject's model: fitted on the labels from the start (the start alone with under 2 labels)."""
    import torch  # here, not at the top: clustering simple features needs no torch

    from prefstudy.active.fitting import FitOptions, LabelFitter
    from prefstudy.engine.precision import resolve_precision
    from prefstudy.engine.saved_model import load_saved_model

    torch.set_num_threads(1)
    start = task.start
    source = None
    if start is not None:
        source = load_saved_model(
            Path(start["model"]), start["run_id"], start["subject"], start["dataset"], start["backbone"]
        )
    device = torch.device("cpu")
    fitter = LabelFitter(
        images,
        source,
        FitOptions(**task.fit),
        resolve_precision("auto", device),
        device,
        start_kind=start["kind"] if start else None,
    )
    if len(items) >= 2:
        return fitter.fit(items, preferred, task.seed), len(items)
    return fitter.start(task.seed), 0


def _simple_features(task: RefitTask, pixels: np.ndarray) -> np.ndarray:
    """Simple image features of every image, computed once per image cache and kept beside the others."""
    cache = Path(task.features_cache) if task.features_cache else None
    if cache is not None and cache.is_file():
        features = np.load(cache)
        if len(features) == len(pixels):
            return features
    features = simple_features(pixels)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_array(cache, features)
    return features


def _cluster(features: np.ndarray, pool: np.ndarray, n_items: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(assignment, distance) per item of the dataset: the pool's k-means clusters, -1 / inf elsewhere."""
    found = kmeans(features, k, seed)
    assignment = np.full(n_items, -1, dtype=np.int64)
    distance = np.full(n_items, np.inf, dtype=np.float32)
    assignment[pool], distance[pool] = found.assignment, found.distance
    return assignment, distance


def _wait_for_gate() -> None:
    """Tests only (``$PREFSTUDY_TEST_REFIT_GATE``): hold the result back until the named file exists."""
    gate = os.environ.get(REFIT_GATE_ENV)
    if not gate:
        return
    deadline = time.monotonic() + GATE_WAIT_S
    while not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
