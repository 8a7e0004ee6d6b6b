"""Making a run: one subject's model on one dataset, from labels to metrics and predictions in DuckDB.

A run directory ``runs/<id>/`` is self-contained: ``config.json``, ``checkpoint.pt`` (every
epoch, for ``--resume``), ``model.pt`` (the selected weights), ``result.json`` (metrics and
history) and ``predictions.parquet``.
"""

from __future__ import annotations

import json
import platform
import time
import uuid
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import torch

from prefstudy import __version__
from prefstudy.backbones import Backbone, create_backbone
from prefstudy.config import TrainSettings
from prefstudy.datasets import ImageSet, load_images
from prefstudy.device import resolve_device
from prefstudy.distributed import World, current_world
from prefstudy.errors import PrefstudyError
from prefstudy.inputs import InputAdapter, InputPlan
from prefstudy.metrics import confusion
from prefstudy.precision import FP32, Precision, resolve_precision
from prefstudy.progress import Reporter, SilentReporter
from prefstudy.splits import TEST, TRAIN, VALIDATION, assign_splits, limit_train
from prefstudy.subjects.labels import UsableLabels, usable_labels
from prefstudy.subjects.registry import require_subject
from prefstudy.train import FitResult, as_train_data, fit, predict_proba
from prefstudy.transfer import SourceModel, TransferRequest, load_source, transfer_backbone, transfer_of
from prefstudy.transfer import describe as describe_transfer
from prefstudy.workspace import Workspace

MIN_LABELS = 20
MIN_PER_ANSWER = 4
FINISHED, RUNNING, FAILED, INTERRUPTED = "finished", "running", "failed", "interrupted"


@dataclass(frozen=True)
class RunRequest:
    """What `prefstudy run` was asked for."""

    subject: str
    dataset: str
    settings: TrainSettings
    device: str = "auto"
    transfer: TransferRequest | None = None
    precision: str = "auto"  # auto | fp32 | bf16: how to compute, not what to learn
    compile: bool = False


def _versions() -> dict[str, str]:
    found = {"prefstudy": __version__, "python": platform.python_version()}
    for package in ("torch", "torchvision", "numpy", "duckdb", "timm", "captum"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "absent"
    return found


def _check_labels(labels: UsableLabels, subject: str, dataset: str) -> None:
    n = len(labels.item_idx)
    if n < MIN_LABELS:
        raise PrefstudyError(
            f"subject {subject!r} has {n} usable label(s) on {dataset!r}; a run needs at least {MIN_LABELS} "
            "(label more images, or import them with `prefstudy label import`)"
        )
    n_preferred = int(labels.preferred.sum())
    if n_preferred in (0, n):
        answer = "preferred" if n_preferred else "not preferred"
        raise PrefstudyError(
            f"all {n} labels of subject {subject!r} on {dataset!r} are '{answer}'; a model needs both answers"
        )
    if min(n_preferred, n - n_preferred) < MIN_PER_ANSWER:
        raise PrefstudyError(
            f"subject {subject!r} has only {min(n_preferred, n - n_preferred)} label(s) of one answer on "
            f"{dataset!r}; a run needs at least {MIN_PER_ANSWER} of each"
        )


def _check_splits(split: np.ndarray, preferred: np.ndarray, protocol: str) -> None:
    needed = (TRAIN, VALIDATION, TEST) if protocol == "model2" else (TRAIN, TEST)
    for name in needed:
        if not np.any(split == name):
            raise PrefstudyError(f"the {name} split is empty; label more images or change the split fractions")
    train_answers = preferred[split == TRAIN]
    if train_answers.all() or not train_answers.any():
        raise PrefstudyError("the training split holds one answer only; label more images of the other answer")


@dataclass
class Prepared:
    labels: UsableLabels
    images: ImageSet
    split: np.ndarray


def prepare(ws: Workspace, subject: str, dataset: str, settings: TrainSettings) -> Prepared:
    """Check the subject's labels and draw the split, before anything is written."""
    require_subject(ws, subject)
    images = load_images(ws, dataset)
    labels = usable_labels(ws, subject, dataset)
    _check_labels(labels, subject, dataset)
    split = assign_splits(
        images.splits[labels.item_idx],
        labels.preferred,
        protocol=settings.protocol,
        seed=settings.seed,
        test_fraction=settings.test_fraction,
        validation_fraction=settings.validation_fraction,
    )
    if settings.train_size is not None:
        split = limit_train(split, labels.preferred, settings.train_size, settings.seed)
    _check_splits(split, labels.preferred, settings.protocol)
    return Prepared(labels, images, split)


def build_model(
    ws: Workspace, prepared: Prepared, settings: TrainSettings, transfer: TransferRequest | None
) -> tuple[Backbone, InputPlan, SourceModel | None]:
    """The run's backbone and input plan: a new model, or one started from a transfer source."""
    info = prepared.images.info
    images = (info.channels, info.height, info.width)
    torch.manual_seed(settings.seed)  # the same seed gives the same initial weights (and new head)
    if transfer is None:
        weights = Path(settings.weights).expanduser() if settings.weights else None
        backbone = create_backbone(settings.backbone, in_chans=info.channels, input_size=images[1:], weights=weights)
        return backbone, InputPlan(images=images, model=tuple(backbone.input_size)), None
    source = load_source(ws, transfer.source_run)
    backbone, plan = transfer_backbone(source, images, transfer)
    return backbone, plan, source


def new_run_id(subject: str, dataset: str, protocol: str) -> str:
    return f"{subject}-{dataset}-{protocol}-{uuid.uuid4().hex[:6]}"


def start_run(ws: Workspace, request: RunRequest, report: Reporter | None = None) -> dict[str, Any]:
    """Make a new run; returns its result (the `--json` object)."""
    report = report or SilentReporter()
    world = current_world()
    device = world.device(resolve_device(request.device))
    precision = resolve_precision(request.precision, device)
    settings = request.settings
    if request.transfer is not None:  # a transfer run keeps its source's backbone
        settings = settings.replace(backbone=get_run_row(ws, request.transfer.source_run)["backbone"])
    prepared = prepare(ws, request.subject, request.dataset, settings)
    _, plan, source = build_model(ws, prepared, settings, request.transfer)
    run_id = world.broadcast(new_run_id(request.subject, request.dataset, settings.protocol))
    config = {
        "run_id": run_id,
        "subject": request.subject,
        "dataset": request.dataset,
        "settings": settings.to_dict(),
        "device": request.device,
        "precision": precision.name,
        "compile": request.compile,
        "processes": world.size,
        "input": plan.to_dict(),
        "transfer": describe_transfer(source, request.transfer) if source else None,
        "split_sizes": {name: int(np.sum(prepared.split == name)) for name in (TRAIN, VALIDATION, TEST)},
        "labels_digest": prepared.labels.digest,
        "n_labels": len(prepared.labels.item_idx),
    }
    zero_shot = request.transfer is not None and request.transfer.mode == "zero-shot"
    if source is not None:
        report.note(f"transfer ({request.transfer.mode}) from run {source.run_id}: input {plan.describe()}")
    speed = Speed(precision, request.compile, world)
    if not world.main:  # the main process records the run; the others only train
        return _execute(ws, run_id, prepared, settings, request.transfer, device, report, speed, resume=False)
    versions = _versions()
    run_dir = ws.run_dir(run_id)
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({**config, "versions": versions}, indent=2) + "\n")
    with ws.transaction() as con:
        con.execute(
            "INSERT INTO runs (id, subject, dataset, backbone, protocol, parent_run, seed, epochs, config, "
            "labels_digest, status, device, versions, precision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                request.subject,
                request.dataset,
                settings.backbone,
                settings.protocol,
                source.run_id if source else None,
                settings.seed,
                0 if zero_shot else settings.epochs,
                json.dumps(config),
                prepared.labels.digest,
                RUNNING,
                str(device),
                json.dumps(versions),
                precision.name,
            ],
        )
    return _execute(ws, run_id, prepared, settings, request.transfer, device, report, speed, resume=False)


def resume_run(ws: Workspace, run_id: str, report: Reporter | None = None) -> dict[str, Any]:
    """Continue an unfinished run from its last checkpoint, with its recorded settings."""
    report = report or SilentReporter()
    row = get_run_row(ws, run_id)
    if row["status"] == FINISHED:
        raise PrefstudyError(f"run {run_id} is already finished; start a new run instead")
    config = json.loads(row["config"])
    settings = TrainSettings(**config["settings"])
    prepared = prepare(ws, row["subject"], row["dataset"], settings)
    if prepared.labels.digest != row["labels_digest"]:
        raise PrefstudyError(
            f"the labels of {row['subject']!r} on {row['dataset']!r} changed since run {run_id} started; "
            "start a new run"
        )
    world = current_world()
    device = world.device(resolve_device(config["device"]))
    # A run resumes on the path it started on; runs from before precisions were recorded were fp32.
    speed = Speed(Precision(config.get("precision", FP32), device.type), config.get("compile", False), world)
    if world.main:
        with ws.transaction() as con:
            con.execute("UPDATE runs SET status = ?, error = NULL WHERE id = ?", [RUNNING, run_id])
    transfer = transfer_of(row["config"])
    return _execute(ws, run_id, prepared, settings, transfer, device, report, speed, resume=True)


@dataclass(frozen=True)
class Speed:
    """How a run computes: its numeric path, whether it is compiled, and the processes sharing it."""

    precision: Precision
    compile: bool = False
    world: World = field(default_factory=World)


def _execute(
    ws: Workspace,
    run_id: str,
    prepared: Prepared,
    settings: TrainSettings,
    transfer: TransferRequest | None,
    device: torch.device,
    report: Reporter,
    speed: Speed,
    *,
    resume: bool,
) -> dict[str, Any]:
    """Train (unless zero-shot), predict every labelled item and record it all; other processes only train."""
    main = speed.world.main
    run_dir = ws.run_dir(run_id)
    began = time.perf_counter()
    try:
        backbone, plan, _ = build_model(ws, prepared, settings, transfer)
        adapter = InputAdapter(plan, backbone)
        labels = prepared.labels
        data = as_train_data(prepared.images.images[labels.item_idx], labels.preferred, prepared.split)
        if transfer is not None and transfer.mode == "zero-shot":
            result = FitResult(best_epoch=None, history=[], state=backbone.module.state_dict())
        else:
            freeze = transfer is not None and transfer.mode == "frozen"
            result = fit(
                backbone,
                adapter,
                data,
                settings,
                device,
                run_dir / "checkpoint.pt",
                report,
                resume=resume,
                freeze_features=freeze,
                precision=speed.precision,
                compile=speed.compile,
                world=speed.world,
            )
            if not main:
                return {"run_id": run_id, "rank": speed.world.rank}
            backbone.module.load_state_dict(result.state)
        backbone.module.to(device)
        report.start(1, "predicting")
        everything = torch.arange(len(data.labels))
        p = predict_proba(backbone.module, adapter.to(device), data.images, everything, precision=speed.precision)
        p = p.numpy()
        report.advance()
    except KeyboardInterrupt:
        if main:
            _mark(ws, run_id, INTERRUPTED, "interrupted; continue with `prefstudy run --resume " + run_id + "`")
        raise
    except Exception as error:
        if main:
            _mark(ws, run_id, FAILED, f"{type(error).__name__}: {error}")
        raise
    torch.save(
        {
            "backbone": settings.backbone,
            "input_size": list(backbone.input_size),
            "input": plan.to_dict(),
            "state_dict": {k: v.detach().cpu() for k, v in result.state.items()},
        },
        run_dir / "model.pt",
    )
    duration = time.perf_counter() - began
    _record(ws, run_id, prepared, p, result, duration)
    outcome = run_result(ws, run_id)
    (run_dir / "result.json").write_text(json.dumps(outcome, indent=2) + "\n")
    return outcome


def _mark(ws: Workspace, run_id: str, status: str, error: str | None) -> None:
    with ws.transaction() as con:
        con.execute("UPDATE runs SET status = ?, error = ? WHERE id = ?", [status, error, run_id])


def _record(ws: Workspace, run_id: str, prepared: Prepared, p: np.ndarray, result: Any, duration: float) -> None:
    labels, split = prepared.labels, prepared.split
    n = len(p)
    predictions = {
        "run_id": np.full(n, run_id, dtype=object),
        "dataset": np.full(n, prepared.images.info.name, dtype=object),
        "item_idx": labels.item_idx.astype(np.int32),
        "split": split.astype(object),
        "label": labels.preferred,
        "p_preferred": p.astype(np.float64),
    }
    with ws.transaction() as con:
        # A resumed run may have recorded partial results before; replace them.
        for table in ("metrics", "predictions", "epochs"):
            con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
        for name in (TRAIN, VALIDATION, TEST):
            mask = split == name
            if not mask.any():
                continue
            c = confusion(labels.preferred[mask], p[mask] > 0.5)
            con.execute(
                "INSERT INTO metrics (run_id, split, tp, fp, fn, tn, n, accuracy) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, name, c.tp, c.fp, c.fn, c.tn, c.n, c.accuracy],
            )
        con.register("new_predictions", predictions)
        con.execute("INSERT INTO predictions SELECT * FROM new_predictions")
        con.unregister("new_predictions")
        for h in result.history:
            con.execute(
                "INSERT INTO epochs VALUES (?, ?, ?, ?, ?, ?, ?)",
                [run_id, h.epoch, h.train_loss, h.train_accuracy, h.val_loss, h.val_accuracy, h.seconds],
            )
        con.execute(
            "UPDATE runs SET status = ?, best_epoch = ?, finished_at = current_timestamp, duration_s = ?, "
            "train_images_per_s = ?, error = NULL WHERE id = ?",
            [FINISHED, result.best_epoch, duration, result.train_images_per_s, run_id],
        )
        con.execute(
            f"COPY (SELECT p.item_idx, i.key, p.split, p.label, p.p_preferred FROM predictions p "
            f"JOIN items i ON i.dataset = p.dataset AND i.idx = p.item_idx WHERE p.run_id = ? ORDER BY p.item_idx) "
            f"TO '{_sql_path(ws.run_dir(run_id) / 'predictions.parquet')}' (FORMAT parquet)",
            [run_id],
        )


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def get_run_row(ws: Workspace, run_id: str) -> dict[str, Any]:
    """A run's row as a dict; an unknown id fails with a hint."""
    with ws.connect() as con:
        cursor = con.execute("SELECT * FROM runs WHERE id = ?", [run_id])
        rows = cursor.fetchall()
        columns = [d[0] for d in cursor.description]
    row = rows[0] if rows else None
    if row is None:
        raise PrefstudyError(f"no run {run_id!r} in this study; see `prefstudy report`")
    return dict(zip(columns, row, strict=True))


def run_result(ws: Workspace, run_id: str) -> dict[str, Any]:
    """The `prefstudy run --json` object of a run."""
    row = get_run_row(ws, run_id)
    with ws.connect() as con:
        metrics = con.execute(
            "SELECT split, tp, fp, fn, tn, n, accuracy FROM metrics WHERE run_id = ?", [run_id]
        ).fetchall()
        history = con.execute(
            "SELECT epoch, train_loss, train_accuracy, val_loss, val_accuracy, seconds FROM epochs "
            "WHERE run_id = ? ORDER BY epoch",
            [run_id],
        ).fetchall()
    config = json.loads(row["config"])
    order = {TRAIN: 0, VALIDATION: 1, TEST: 2}
    return {
        "run_id": run_id,
        "subject": row["subject"],
        "dataset": row["dataset"],
        "backbone": row["backbone"],
        "protocol": row["protocol"],
        "seed": row["seed"],
        "epochs": row["epochs"],
        "best_epoch": row["best_epoch"],
        "status": row["status"],
        "device": row["device"],
        "precision": row["precision"] or FP32,
        "processes": config.get("processes", 1),
        "n_labels": config["n_labels"],
        "duration_s": row["duration_s"],
        "train_images_per_s": row["train_images_per_s"],
        "metrics": {
            split: {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "n": n, "accuracy": accuracy}
            for split, tp, fp, fn, tn, n, accuracy in sorted(metrics, key=lambda m: order[m[0]])
        },
        "history": [
            {"epoch": e, "train_loss": tl, "train_accuracy": ta, "val_loss": vl, "val_accuracy": va, "seconds": s}
            for e, tl, ta, vl, va, s in history
        ],
    }
