"""A run's `--json` object, which its ``result.json`` holds: one shape, built here only (torch-free)."""

from __future__ import annotations

from typing import Any

from prefstudy.config import FP32
from prefstudy.metrics import Confusion, RankScore
from prefstudy.runs.status import FAILED
from prefstudy.splits import TEST, TRAIN, VALIDATION

SPLIT_ORDER = (TRAIN, VALIDATION, TEST)
# --- the --json object of a run ----------------------------------------------------------------

HISTORY_FIELDS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds")


def described(config: dict[str, Any]) -> dict[str, Any]:
    """What a run's config says of it, as its row and its result name it."""
    settings, transfer = config["settings"], config.get("transfer") or {}
    return {
        "run_id": config["run_id"],
        "subject": config["subject"],
        "dataset": config["dataset"],
        "backbone": settings["backbone"],
        "protocol": settings["protocol"],
        "parent_run": transfer.get("source_run"),
        "seed": settings["seed"],
        # a zero-shot run trains no epoch, nor does a head on features
        "epochs": 0 if transfer.get("mode") == "zero-shot" or settings.get("head") else settings["epochs"],
        "processes": config.get("processes", 1),
        "n_labels": config["n_labels"],
    }


def _metrics_object(metrics: dict[str, Confusion], ranks: dict[str, RankScore]) -> dict[str, dict[str, Any]]:
    out = {}
    for split in SPLIT_ORDER:
        if (c := metrics.get(split)) is None:
            continue
        out[split] = {"tp": c.tp, "fp": c.fp, "fn": c.fn, "tn": c.tn, "n": c.n, "accuracy": c.accuracy}
        if (r := ranks.get(split)) is not None:  # a rated subject: rho over every item of the split, ties too
            out[split] |= {"spearman": None if r.spearman != r.spearman else r.spearman, "n_rated": r.n_rated}
    return out


def result_object(
    config: dict[str, Any],
    *,
    status: str,
    device: str | None,
    precision: str | None,
    best_epoch: int | None,
    duration_s: float | None,
    train_images_per_s: float | None,
    metrics: dict[str, Confusion],
    history: list[dict[str, Any]],
    ranks: dict[str, RankScore] | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """The `prefstudy run --json` object, which ``result.json`` also holds: one shape, built here only.

    A failed run's object (written by a worker, or by the driver that gave up on it) holds its ``error``.
    """
    about = described(config)
    failed = {"error": error} if error is not None else {}
    return {
        **{key: about[key] for key in ("run_id", "subject", "dataset", "backbone", "protocol", "seed", "epochs")},
        # how the rate moved and the run's length was set; runs from before schedules trained the paper's way
        "schedule": config["settings"].get("schedule", "paper"),
        # a head on an extractor's features (backbone then names the extractor), and what it learned; else null
        "head": config["settings"].get("head"),
        "target": config["settings"].get("target", "answers") if config["settings"].get("head") else None,
        "best_epoch": best_epoch,
        "status": status,
        "device": device,
        "precision": precision or FP32,  # runs from before precisions were recorded were fp32
        "processes": about["processes"],
        "n_labels": about["n_labels"],
        "duration_s": duration_s,
        "train_images_per_s": train_images_per_s,
        "metrics": _metrics_object(metrics, ranks or {}),
        "history": [{key: h[key] for key in HISTORY_FIELDS} for h in history],
        **failed,
    }


def failed_result(config: dict[str, Any], error: str, duration_s: float | None = None) -> dict[str, Any]:
    """The result object of a run that failed (written by its worker, or by the driver that gave up on it)."""
    return result_object(
        config,
        status=FAILED,
        device=None,
        precision=config.get("precision"),
        best_epoch=None,
        duration_s=duration_s,
        train_images_per_s=None,
        metrics={},
        history=[],
        error=error,
    )
