"""Finished runs written through ``runs/record.py`` with chosen predictions, no training: for reports whose
right answer is known, and for reports at thousands of subjects. Shared by tests and benchmarks."""

from __future__ import annotations

import numpy as np

from prefstudy.metrics import confusion_by_split
from prefstudy.runs.record import FINISHED, RunDir, result_object, run_dir


def scored_run(
    ws,
    run_id: str,
    subject: str,
    dataset: str,
    label: np.ndarray,
    p_preferred: np.ndarray,
    split: np.ndarray,
    *,
    item_idx: np.ndarray | None = None,
    transfer: dict | None = None,
    epochs: int = 2,
    settings: dict | None = None,
) -> RunDir:
    """A finished run directory of ``subject`` whose model said ``p_preferred`` for items answered ``label``."""
    n = len(label)
    item_idx = np.arange(n) if item_idx is None else np.asarray(item_idx)
    config = {
        "run_id": run_id,
        "subject": subject,
        "dataset": dataset,
        "settings": {"backbone": "paper-vgg", "protocol": "model2", "epochs": epochs, "seed": 0, **(settings or {})},
        "device": "cpu",
        "precision": "fp32",
        "processes": 1,
        "input": {"images": [1, 28, 28], "model": [1, 28, 28]},
        "transfer": transfer,  # its "source_run" is the run's parent
        "split_sizes": {s: int(np.sum(split == s)) for s in ("train", "validation", "test")},
        "labels_digest": "generated",
        "n_labels": n,
        "versions": {"prefstudy": "test"},
    }
    directory = run_dir(ws, run_id)
    directory.path.mkdir(parents=True)
    directory.write_config(config)
    label = np.asarray(label, dtype=bool)
    directory.write_predictions(
        item_idx, np.array([f"i{i}" for i in item_idx], dtype=object), split, label, p_preferred
    )
    directory.model.write_bytes(b"not a model")
    history = [
        {"epoch": e, "train_loss": 1 / e, "train_accuracy": 0.5 + e / 10, "val_loss": 0.7, "val_accuracy": 0.5 + e / 20}
        | {"seconds": 1.0}
        for e in range(1, epochs + 1)
    ]
    metrics = confusion_by_split(split, label, p_preferred)
    directory.write_result(
        result_object(
            config,
            status=FINISHED,
            device="cpu",
            precision="fp32",
            best_epoch=epochs,
            duration_s=1.0,
            train_images_per_s=100.0,
            metrics=metrics,
            history=history,
        )
    )
    return directory


def answered_with(label: np.ndarray, correct: int, rng: np.random.Generator) -> np.ndarray:
    """p(preferred) that gets exactly ``correct`` of ``label`` right (which ones: seeded)."""
    right = np.zeros(len(label), dtype=bool)
    right[rng.choice(len(label), size=correct, replace=False)] = True
    said = np.where(right, label, ~label)
    return np.where(said, 0.9, 0.1)
