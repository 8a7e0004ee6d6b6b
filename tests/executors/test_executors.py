"""The real executors on real runs: a local pebble pool, a local Ray cluster, and submitit's LocalExecutor.

One study, built once: 8 small runs on the embedded real Fashion-MNIST (four simulated subjects, model1
and model2: four times the two workers) and one run that always fails (its weights file does not exist).
Each executor must make the 8 once each, survive a worker killed with SIGKILL mid-run (the run is retried
from its checkpoint and recorded once), record the failing run as failed, and give the same splits and
predictions as the in-process path. Threads are pinned to one on both sides: a worker with one thread and
a process with two may round differently. Measured here: predictions equal to the in-process path's within
1e-6 (they came out bit-identical on this machine).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_study

from prefstudy.executors.driver import Driver, DriverOptions
from prefstudy.runs.record import FAILED, FINISHED, list_runs, predictions_by_run
from prefstudy.study.plan import SubjectFilter, study_planner

pytestmark = pytest.mark.slow

TOLERANCE = 1e-6  # |p_preferred| difference allowed between an executor's run and the in-process run
SMALL = 'backbone = "paper-vgg:small"\nbatch_size = 32\nseed = 3'
STUDY = f"""
[study]
name = "scale"

[datasets.fm]
kind = "fashion-mnist-sample"

[[runs]]   # the marathon: long enough to be killed mid-run
dataset = "fm"
subjects = ["m01"]
protocol = "model1"
epochs = 8
{SMALL}

[[runs]]
dataset = "fm"
subjects = ["s*"]
protocol = "model1"
epochs = 2
{SMALL}

[[runs]]
dataset = "fm"
subjects = ["s*"]
protocol = "model2"
epochs = 2
{SMALL}

[[runs]]
dataset = "fm"
subjects = ["m01"]
protocol = "model2"
epochs = 2
{SMALL}
"""
DOOMED = f"""
[[runs]]   # fails in the worker, every time
dataset = "fm"
subjects = ["s01"]
protocol = "model1"
epochs = 1
weights = "/nonexistent/weights.pt"
{SMALL}
"""
N_SMALL = 3  # subjects s01..s03, a model1 and a model2 run each
N_RUNS = 2 * N_SMALL + 2  # and m01's marathon and model2 run: four times the two workers
RULES = ("classes:Sneaker,Bag,Dress", "feature:brightness", "feature:edges@top", "classes:Trouser,Shirt")


@pytest.fixture(scope="module")
def _study(_sample_study, tmp_path_factory) -> Path:
    from prefstudy.subjects.simulate import simulate_subject

    ws = copy_study(_sample_study, tmp_path_factory.mktemp("scale") / "study")
    ws.study_file.write_text(STUDY)
    for i in range(1, N_SMALL + 1):
        simulate_subject(ws, f"s{i:02d}", "fm", RULES[i % len(RULES)], noise=0.05, seed=i, limit=80)
    simulate_subject(ws, "m01", "fm", RULES[0], seed=42, limit=300)
    return ws.root


REFERENCE = SubjectFilter(("s0[123]", "m01"))  # the in-process path makes these runs (all 8), for comparison


@pytest.fixture(scope="module")
def in_process(_study, tmp_path_factory):
    """The reference: the runs made by `study run` on the inline executor (in this process), on one thread."""
    import torch

    from prefstudy.executors.runner import run_orders

    ws = copy_study(_study, tmp_path_factory.mktemp("reference") / "study")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_orders(ws, study_planner(ws, subjects=REFERENCE))
    finally:
        torch.set_num_threads(threads)
    return _by_run(ws)


def _by_run(ws) -> dict[tuple, dict]:
    """(subject, protocol, epochs, failing?) -> the run's status, split and predictions by item."""
    rows = [r for r in list_runs(ws) if r.status == FINISHED]
    made = predictions_by_run(ws, [r.id for r in rows])
    out = {}
    for row in rows:
        key = (row.subject, row.protocol, row.epochs)
        assert key not in out, f"{key} made twice"
        preds = made[row.id]
        out[key] = {
            "items": np.array([p.item_idx for p in preds]),
            "split": np.array([p.split for p in preds]),
            "p": np.array([p.p_preferred for p in preds]),
        }
    return out


def _executor_copy(_study, tmp_path) -> object:
    ws = copy_study(_study, tmp_path / "study")
    with ws.study_file.open("a") as handle:
        handle.write(DOOMED)
    return ws


def _kill_the_marathon(storage: Path, done: threading.Event) -> dict:
    """SIGKILL the worker making m01's long run once its first checkpoint is written; what was killed."""
    while not done.is_set():
        for checkpoint in storage.glob("m01-fm-model1-*/checkpoint.pt"):
            worker = json.loads((checkpoint.parent / "worker.json").read_text())
            os.kill(worker["pid"], signal.SIGKILL)
            return {"run_id": checkpoint.parent.name, **worker}
        time.sleep(0.02)
    return {}


def _drive_killing(ws, executor, storage: Path):
    """Run the driver while another thread kills the marathon's worker; (result, killed)."""
    done = threading.Event()
    killed: dict = {}
    killer = threading.Thread(target=lambda: killed.update(_kill_the_marathon(storage, done)))
    killer.start()
    try:
        result = Driver(ws, executor, DriverOptions(retries=1, storage=storage)).run(study_planner(ws))
    finally:
        done.set()
        killer.join()
    return result, killed


def _check(ws, result, killed, in_process, expected: int) -> None:
    rows = list_runs(ws)
    assert len(rows) == expected + 1 and len({r.id for r in rows}) == len(rows)
    finished = [r for r in rows if r.status == FINISHED]
    assert len(finished) == expected and len(result.finished) == expected
    # the run that always fails: tried twice (retries=1), recorded failed with its error
    failed = [r for r in rows if r.status == FAILED]
    assert len(failed) == 1 and failed[0].subject == "s01" and failed[0].attempts == 2
    assert "weights file /nonexistent/weights.pt not found" in failed[0].error
    made = _by_run(ws)
    assert set(in_process) <= set(made)
    for key, reference in in_process.items():
        run = made[key]
        np.testing.assert_array_equal(run["items"], reference["items"])
        np.testing.assert_array_equal(run["split"], reference["split"])  # the same seeds give the same splits
        if killed and key == ("m01", "model1", 8):
            continue  # resumed from a checkpoint: the same split, its own training path
        assert np.max(np.abs(run["p"] - reference["p"])) <= TOLERANCE, key
    if killed:
        marathon = next(r for r in rows if r.id == killed["run_id"])
        assert marathon.status == FINISHED and marathon.attempts == 2  # killed once, retried, recorded once
        worker = json.loads((ws.run_dir(marathon.id) / "worker.json").read_text())
        assert worker["pid"] != killed["pid"] and worker["attempt"] == 2
        history = [h["epoch"] for h in json.loads((ws.run_dir(marathon.id) / "result.json").read_text())["history"]]
        assert history == list(range(1, 9))  # resumed: every epoch once


def test_a_local_pool_makes_every_run_once_survives_a_killed_worker_and_matches_in_process(
    _study, in_process, tmp_path
):
    from prefstudy.executors.local import LocalPool

    ws = _executor_copy(_study, tmp_path)
    with LocalPool(workers=2, threads_per_run=1) as pool:
        result, killed = _drive_killing(ws, pool, ws.runs_dir)
    assert killed, "the marathon run was never seen mid-run"
    _check(ws, result, killed, in_process, expected=N_RUNS)


def test_ray_makes_every_run_once_survives_a_killed_worker_and_matches_in_process(_study, in_process, tmp_path):
    ray = pytest.importorskip("ray")
    from prefstudy.executors.ray_cluster import RayTasks

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        ws = _executor_copy(_study, tmp_path)
        storage = tmp_path / "shared"  # a directory the workers share: the killed run resumes from it
        with RayTasks(cpus_per_run=1, shared_storage=True) as executor:
            assert executor.call(lambda: os.getpid()) != os.getpid()  # one call in a Ray worker (a dataset's features)
            result, killed = _drive_killing(ws, executor, storage)
            assert killed, "the marathon run was never seen mid-run"
            _check(ws, result, killed, in_process, expected=N_RUNS)
            # without shared storage every run directory comes back through Ray's object store
            bare = copy_study(_study, tmp_path / "bare")
            result = Driver(bare, RayTasks(cpus_per_run=1), DriverOptions(retries=2)).run(
                study_planner(bare, subjects=SubjectFilter(("s01",)))
            )
        landed = [r["run_id"] for r in result.finished]
        assert len(landed) == 2 and not any((storage / run_id).exists() for run_id in landed)
        for key, run in _by_run(bare).items():  # s01's two runs, which the reference made too
            np.testing.assert_array_equal(run["split"], in_process[key]["split"])
            assert np.max(np.abs(run["p"] - in_process[key]["p"])) <= TOLERANCE
    finally:
        ray.shutdown()
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("prefstudy-s01-fm-*"))  # temporary dirs gone


def test_submitit_jobs_make_runs_in_arrays_and_match_in_process(_study, in_process, tmp_path):
    pytest.importorskip("submitit")
    from prefstudy.executors.slurm import SlurmJobs

    ws = _executor_copy(_study, tmp_path)
    jobs = SlurmJobs(ws.cache_dir / "slurm", cluster="local", runs_per_job=2, timeout_min=10)
    with jobs:
        assert jobs.call(lambda: os.getpid()) != os.getpid()  # one call as a job of its own (a dataset's features)
        result = Driver(ws, jobs, DriverOptions(retries=1)).run(study_planner(ws, subjects=SubjectFilter(("s01",))))
    rows = list_runs(ws)
    assert len(result.finished) == 2 and len([r for r in rows if r.status == FINISHED]) == 2
    assert [r.subject for r in rows if r.status == FAILED] == ["s01"]
    # two runs per job: the runs of one job share its job id
    job_ids = [r.job_id for r in rows if r.status == FINISHED]
    assert len(set(job_ids)) == 1 and (ws.cache_dir / "slurm" / job_ids[0]).is_dir()
    for key, run in _by_run(ws).items():
        np.testing.assert_array_equal(run["split"], in_process[key]["split"])
        assert np.max(np.abs(run["p"] - in_process[key]["p"])) <= TOLERANCE


def test_run_makes_a_subjects_folds_on_a_local_pool_as_inline(_study, tmp_path):
    """`prefstudy run --folds 2` on `--executor local --workers 2` (one thread a run) and inline (one thread):
    the same two runs, the same splits, predictions within 1e-6."""
    import torch
    from conftest import Cli

    args = ("run", "--subject", "m01", "--dataset", "fm", "--split-by", "item", "--folds", "2", "--protocol", "model1")
    args += ("--epochs", "1", "--backbone", "paper-vgg:small", "--batch-size", "32", "--precision", "fp32")
    made = {}
    for way, extra in (("inline", ()), ("local", ("--executor", "local", "--workers", "2", "--cpus-per-run", "1"))):
        ws = copy_study(_study, tmp_path / way)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            out = Cli(ws.root).json(*args, *extra)
        finally:
            torch.set_num_threads(threads)
        assert [r["subject"] for r in out["runs"]] == ["m01"] * 2
        assert {r["run_id"]: r["status"] for r in out["runs"]} == {r.id: r.status for r in list_runs(ws)}
        assert {r.executor for r in list_runs(ws)} == {way}
        made[way] = _by_fold(ws)
    assert made["inline"].keys() == made["local"].keys() and len(made["inline"]) == 2
    for key, reference in made["inline"].items():
        np.testing.assert_array_equal(made["local"][key]["split"], reference["split"])
        assert np.max(np.abs(made["local"][key]["p"] - reference["p"])) <= TOLERANCE, key


def _by_fold(ws) -> dict[int, dict]:
    rows = [r for r in list_runs(ws) if r.status == FINISHED]
    made = predictions_by_run(ws, [r.id for r in rows])
    return {
        r.settings["fold"]: {
            "split": np.array([p.split for p in made[r.id]]),
            "p": np.array([p.p_preferred for p in made[r.id]]),
        }
        for r in rows
    }
