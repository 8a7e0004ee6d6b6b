"""A scale-out worker: make the runs it is given, each in a run directory, and never open the study database.

A worker process lives for many runs (a pool process, a Ray worker, a Slurm job given several),
so it keeps one :class:`~prefstudy.runs.warm.WarmCache`: each dataset's images and each transfer
source are loaded once.
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

from prefstudy.config import TransferRequest
from prefstudy.engine.build import build_model
from prefstudy.engine.device import resolve_device
from prefstudy.engine.precision import Precision, resolve_precision
from prefstudy.engine.saved_model import SavedModel, load_saved_model
from prefstudy.engine.surgery import describe as describe_transfer
from prefstudy.errors import PrefstudyError
from prefstudy.executors.packing import pack
from prefstudy.executors.tasks import Outcome, RunTask, SourceModelRef
from prefstudy.files import write_json_atomically
from prefstudy.runs.execute import RunJob, Speed, execute, versions
from prefstudy.runs.record import FAILED, FINISHED, RunDir
from prefstudy.runs.result import failed_result
from prefstudy.runs.warm import WarmCache
from prefstudy.store.connection import forbid_databases

WARM = WarmCache()  # one per worker process, for every run it makes


def make_runs(tasks: list[RunTask]) -> list[Outcome]:
    """Make each run in turn; a run that fails is returned as failed and the next one is made."""
    # The driver is the study database's one writer; a worker that opened it would be a bug, so it fails loudly.
    forbid_databases("a scale-out worker writes run directories only")
    return [make_run(task) for task in tasks]


def make_run(task: RunTask) -> Outcome:
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
        if not resumed:  # a fresh start: nothing of an earlier attempt may be mistaken for this one's
            shutil.rmtree(directory.path, ignore_errors=True)
        directory.path.mkdir(parents=True, exist_ok=True)
        write_json_atomically(
            directory.worker_file,
            {"host": socket.gethostname(), "pid": os.getpid(), "attempt": task.attempt, "started": time.time()},
        )
        job = _job(task, directory, config, resumed)
        config = job.config
        directory.write_config({**config, "versions": versions()})
        execute(job)
        status, error = FINISHED, None
    except Exception as failure:  # the run fails, the worker goes on with the next
        status, error = FAILED, _describe(failure)
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


def _finished_already(directory: RunDir, run_id: str) -> bool:
    if directory.missing():
        return False
    try:
        result = directory.read_result()
    except PrefstudyError:
        return False
    return result.get("status") == FINISHED and result.get("run_id") == run_id


def _job(task: RunTask, directory: RunDir, config: dict, resumed: bool) -> RunJob:
    images = WARM.images_keyed(task.images.key, task.images.load)
    recorded = config.get("transfer")
    transfer = TransferRequest(recorded["source_run"], recorded["mode"], recorded["adapt"]) if recorded else None
    source = _source(task.source) if task.source is not None else None
    backbone, plan = build_model(images.info.shape, task.settings, source, transfer)
    device = resolve_device(config["device"])
    if resumed:  # a run continues on the numeric path it started on
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
        device=device,
        speed=Speed(precision),
        resume=resumed,
        warm=WARM,
    )


def _source(ref: SourceModelRef) -> SavedModel:
    return WARM.source_keyed(
        ref.run_id, lambda: load_saved_model(ref.open(), ref.run_id, ref.subject, ref.dataset, ref.backbone)
    )


def _describe(failure: Exception) -> str:
    if isinstance(failure, PrefstudyError):
        return str(failure)
    where = traceback.extract_tb(failure.__traceback__)[-1:]
    at = f" (at {where[0].filename}:{where[0].lineno})" if where else ""
    return f"{type(failure).__name__}: {failure}{at}"
