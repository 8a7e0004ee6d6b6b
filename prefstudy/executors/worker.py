"""A worker: make the runs it is given, each in a run directory, and never open the study database.

A worker process lives for many runs (a pool process, a Ray worker, a Slurm job given several, or
the command's own process under the inline executor), so it keeps one
:class:`~prefstudy.runs.warm.WarmCache`: each dataset's images and each transfer source are loaded
once. Under torchrun every process makes the same run (:mod:`prefstudy.engine.distributed`); only
the main one writes its directory.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
import traceback
from pathlib import Path

import torch

from prefstudy.backbones.registry import load_factory, split_name
from prefstudy.config import transfer_of
from prefstudy.engine.build import build_model
from prefstudy.engine.device import resolve_device
from prefstudy.engine.distributed import World
from prefstudy.engine.heads import load_head
from prefstudy.engine.precision import Precision, resolve_precision
from prefstudy.engine.saved_model import SavedModel, load_saved_model
from prefstudy.engine.surgery import check_weights
from prefstudy.engine.surgery import describe as describe_transfer
from prefstudy.engine.train import Compute
from prefstudy.errors import PrefstudyError
from prefstudy.executors.packing import pack
from prefstudy.executors.tasks import Outcome, RunTask, SourceModelRef
from prefstudy.files import write_json_atomically
from prefstudy.progress import Reporter, SilentReporter
from prefstudy.runs.execute import RunJob, execute, versions
from prefstudy.runs.heads import HeadJob, execute_head
from prefstudy.runs.record import FAILED, FINISHED, RunDir
from prefstudy.runs.result import failed_result
from prefstudy.runs.warm import WarmCache
from prefstudy.store.connection import forbidding_databases

WARM = WarmCache()  # one per worker process, for every run it makes


def make_runs(tasks: list[RunTask], report: Reporter | None = None, world: World | None = None) -> list[Outcome]:
    """Make each run in turn; a run that fails is returned as failed and the next one is made."""
    # The driver is the study database's one writer; a worker that opened it would be a bug, so it fails loudly.
    with forbidding_databases("a worker writes run directories only"):
        return [make_run(task, report or SilentReporter(), world or World()) for task in tasks]


def make_run(task: RunTask, report: Reporter, world: World) -> Outcome:
    """Make one run in its directory (on shared storage, or a temporary one that is returned packed)."""
    began = time.perf_counter()
    if task.threads:
        torch.set_num_threads(task.threads)
    shipped = task.directory is None
    directory = RunDir(Path(tempfile.mkdtemp(prefix=f"prefstudy-{task.run_id}-")) if shipped else Path(task.directory))
    config = dict(task.config)
    resumed = False
    if task.resume and _finished_already(directory, task.run_id):  # e.g. a requeued job's run made before
        return Outcome(task.run_id, FINISHED, directory=str(directory.path), resumed=True, pid=os.getpid())
    try:
        resumed = task.resume and (directory.checkpoint.is_file() or directory.previous_checkpoint.is_file())
        if world.main:
            _prepare_directory(directory, task, resumed)
        if task.settings.head is not None:
            _make_head_run(task, directory, config, report)
        else:
            job = _job(task, directory, config, resumed, world)
            config = job.config
            if world.main:
                directory.write_config({**config, "versions": versions()})
                _announce(task, job, report)
            execute(job, report)
        status, error = FINISHED, None
    except Exception as failure:  # the run fails, the worker goes on with the next
        status, error = FAILED, _describe(failure)
        if world.main:
            directory.path.mkdir(parents=True, exist_ok=True)
            if not directory.config_file.is_file():
                directory.write_config({**config, "versions": versions()})
            directory.write_result(failed_result(config, error, time.perf_counter() - began))
    packed = None
    if shipped:
        packed = pack(directory.path)
        shutil.rmtree(directory.path, ignore_errors=True)
    return Outcome(
        task.run_id,
        status,
        error,
        directory=None if shipped else str(directory.path),
        packed=packed,
        resumed=resumed,
        pid=os.getpid(),
        seconds=time.perf_counter() - began,
    )


def check_task(task: RunTask, world: World | None = None) -> None:
    """What a run computes with exists here: its device, its backbone and its weights file (each checked once).

    A head run computes with scikit-learn on features the driver found: nothing to check.
    """
    settings, device = task.settings, task.config["device"]
    if settings.head is not None:
        return
    for key, check in (
        (("device", device), lambda: (world or World()).device(resolve_device(device))),
        (("backbone", settings.backbone), lambda: load_factory(split_name(settings.backbone)[0])),
        (("weights", settings.weights), lambda: settings.weights and check_weights(settings.weights_path())),
    ):
        if key not in _CHECKED:
            check()
            _CHECKED.add(key)


_CHECKED: set[tuple] = set()


def _prepare_directory(directory: RunDir, task: RunTask, resumed: bool) -> None:
    if not resumed:  # a fresh start: nothing of an earlier attempt may be mistaken for this one's
        shutil.rmtree(directory.path, ignore_errors=True)
    directory.path.mkdir(parents=True, exist_ok=True)
    write_json_atomically(
        directory.worker_file,
        {"host": socket.gethostname(), "pid": os.getpid(), "attempt": task.attempt, "started": time.time()},
    )


def _announce(task: RunTask, job: RunJob, report: Reporter) -> None:
    """The run's first lines (shown by an executor that shows runs, e.g. inline, where a user watches them)."""
    run_id, config = task.run_id, job.config
    what = f"{config['subject']} on {config['dataset']} ({job.settings.backbone}, {job.settings.protocol})"
    if task.continues:
        report.note(f"run {run_id}: resuming interrupted run {run_id}, {what}")
    else:
        report.note(f"run {run_id} started: {what}; if it stops, continue with `prefstudy run --resume {run_id}`")
    if job.transfer is not None:
        report.note(f"transfer ({job.transfer.mode}) from run {job.transfer.source_run}: input {job.plan.describe()}")


def _finished_already(directory: RunDir, run_id: str) -> bool:
    if directory.missing():
        return False
    try:
        result = directory.read_result()
    except PrefstudyError:
        return False
    return result.get("status") == FINISHED and result.get("run_id") == run_id


def _job(task: RunTask, directory: RunDir, config: dict, resumed: bool, world: World) -> RunJob:
    images = WARM.images(task.images.key, task.images.load)
    transfer = transfer_of(config)
    source = _source(task.source) if task.source is not None else None
    backbone, plan = build_model(images.info.shape, task.settings, source, transfer)
    device = world.device(resolve_device(config["device"]))
    if resumed and directory.config_file.is_file():  # a run continues on the numeric path it started on
        precision = Precision(directory.read_config().get("precision", config["precision"]), device.type)
    else:
        precision = resolve_precision(config["precision"], device)
    config = {
        **config,
        "precision": precision.name,
        "input": plan.to_dict(),
        "transfer": describe_transfer(source, transfer) if source is not None and transfer is not None else None,
    }
    return RunJob(
        run_dir=directory,
        config=config,
        prepared=task.prepared,
        images=images,
        settings=task.settings,
        transfer=transfer,
        backbone=backbone,
        plan=plan,
        compute=Compute(device, precision, bool(config.get("compile")), world),
        resume=resumed,
        warm=WARM,
    )


def _make_head_run(task: RunTask, directory: RunDir, config: dict, report: Reporter) -> None:
    """A head on the dataset's cached features (no torch in it): fitted, predicted, written."""
    features = WARM.extracted(task.features.key, task.features.load)
    population = WARM.head(task.source.run_id, lambda: load_head(task.source.open())) if task.source else None
    job = HeadJob(
        run_dir=directory,
        config=config,
        prepared=task.prepared,
        features=features,
        keys=WARM.images(task.images.key, task.images.load).keys,
        settings=task.settings,
        population=population,
    )
    directory.write_config({**config, "versions": versions()})
    execute_head(job)  # milliseconds, thousands at a time: the driver's bar shows them, not a line each


def _source(ref: SourceModelRef) -> SavedModel:
    return WARM.source(
        ref.run_id, lambda: load_saved_model(ref.open(), ref.run_id, ref.subject, ref.dataset, ref.backbone)
    )


def _describe(failure: Exception) -> str:
    if isinstance(failure, PrefstudyError):
        return str(failure)
    where = traceback.extract_tb(failure.__traceback__)[-1:]
    at = f" (at {where[0].filename}:{where[0].lineno})" if where else ""
    return f"{type(failure).__name__}: {failure}{at}"
