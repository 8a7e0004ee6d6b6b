"""The scale-out driver's logic, with an executor that makes runs in this process without torch: runs are
queued, handed out, landed once through the import path, retried when lost, recorded failed when they fail
every time, cancelled on Ctrl-C, and waited for (never submitted twice) when an earlier driver left them out."""

from __future__ import annotations

import json

import pytest
from conftest import copy_study, one_duckdb
from scripted_executor import ScriptedExecutor

from prefstudy.errors import PrefstudyError
from prefstudy.executors.base import Submitted
from prefstudy.executors.driver import Driver, DriverOptions
from prefstudy.runs.record import FAILED, FINISHED, INTERRUPTED, QUEUED, RUNNING, check_resumable, get_run, list_runs
from prefstudy.study.plan import ACTIVE, DONE, TODO, plan, study_planner
from prefstudy.studyfile import DatasetSpec
from prefstudy.subjects.simulate import simulate_subject

SUBJECTS = ("s1", "s2", "s3", "s4")


class Notes:
    def __init__(self):
        self.lines: list[str] = []

    def start(self, total, description):
        pass

    def advance(self, n=1):
        pass

    def note(self, message):
        self.lines.append(message)

    def describe(self, description):
        self.last = description

    def set_completed(self, n):
        self.completed = n


@pytest.fixture(scope="module")
def _study(_sample_study, tmp_path_factory):
    """Built once: four simulated subjects on the sample Fashion-MNIST, one model1 run each declared."""
    ws = copy_study(_sample_study, tmp_path_factory.mktemp("driver") / "study")
    ws.declare_dataset(DatasetSpec(name="fm", kind="fashion-mnist-sample"))
    with one_duckdb(ws):
        for i, name in enumerate(SUBJECTS):
            simulate_subject(ws, name, "fm", "feature:brightness", seed=i, limit=60)
    with ws.study_file.open("a") as handle:
        handle.write('\n[[runs]]\ndataset = "fm"\nprotocol = "model1"\nepochs = 1\n')
    return ws.root


@pytest.fixture
def study(_study, tmp_path):
    """A private copy, held open for the test (see `one_duckdb`): the scripted executor works in this process."""
    ws = copy_study(_study, tmp_path / "study")
    with one_duckdb(ws):
        yield ws


def _drive(ws, executor, retries=2):
    notes = Notes()
    result = Driver(ws, executor, DriverOptions(retries=retries), notes).run(study_planner(ws))
    return result, notes


def test_every_due_run_is_handed_out_once_and_landed_once(study):
    executor = ScriptedExecutor(slots=2)
    result, notes = _drive(study, executor)
    rows = list_runs(study)
    assert sorted(r.subject for r in rows) == list(SUBJECTS)  # one row per planned run
    assert {r.status for r in rows} == {FINISHED} and {r.executor for r in rows} == {"local"}
    assert {r.attempts for r in rows} == {1} and all(r.job_id.startswith("job-") for r in rows)
    assert sorted(r["subject"] for r in result.finished) == list(SUBJECTS)
    assert all(r["metrics"]["test"]["accuracy"] == 1.0 for r in result.finished)  # the scripted model's answers
    assert [p.status for p in plan(study)] == [DONE] * 4
    assert notes.last == "local: 4 done, 0 running, 0 queued, 0 failed" and notes.completed == 4
    # the worker's config (with its input plan) replaced the driver's on landing
    assert all(r.config["input"] == {"images": [1, 28, 28], "model": [1, 28, 28]} for r in rows)
    again, _ = _drive(study, ScriptedExecutor())
    assert again.finished == [] and len(list_runs(study)) == 4  # nothing left to make


def test_a_lost_run_is_tried_again_from_its_checkpoint_and_recorded_once(study):
    result, notes = _drive(study, ScriptedExecutor(slots=1, lose={"s2": 2}))
    rows = {r.subject: r for r in list_runs(study)}
    assert len(rows) == 4 and {r.status for r in rows.values()} == {FINISHED}
    assert rows["s2"].attempts == 3 and rows["s1"].attempts == 1
    assert result.retried == 2
    lost = [line for line in notes.lines if "failed (worker process ended (killed))" in line]
    assert len(lost) == 2 and all(line.endswith("it resumes from its last checkpoint") for line in lost)


def test_a_run_that_fails_every_try_is_recorded_failed_and_the_others_finish(study):
    result, _ = _drive(study, ScriptedExecutor(fail={"s3": 99}), retries=1)
    rows = {r.subject: r for r in list_runs(study)}
    assert rows["s3"].status == FAILED and rows["s3"].error == "ValueError: scripted failure"
    assert rows["s3"].attempts == 2  # the first try and one retry
    assert {rows[s].status for s in ("s1", "s2", "s4")} == {FINISHED}
    assert [f["error"] for f in result.failed] == ["ValueError: scripted failure"]
    failed_dir = study.run_dir(rows["s3"].id)
    assert json.loads((failed_dir / "result.json").read_text())["error"] == "ValueError: scripted failure"
    # the failed run is due again: a later `study run` tries it anew (it failed; it is not resumed)
    assert sorted((p.subject, p.status) for p in plan(study) if p.status != DONE) == [("s3", TODO)]


def test_a_lost_run_with_no_retries_left_is_recorded_failed_by_the_driver(study):
    result, _ = _drive(study, ScriptedExecutor(lose={"s1": 5}), retries=0)
    row = next(r for r in list_runs(study) if r.subject == "s1")
    assert row.status == FAILED
    assert row.error == "worker process ended (killed) (after 1 attempts)"
    assert (study.run_dir(row.id) / "config.json").is_file()  # a complete failed run directory
    assert len(result.finished) == 3


def test_ctrl_c_cancels_what_is_out_and_queued_and_the_next_run_makes_exactly_the_rest(study):
    executor = ScriptedExecutor(slots=1, stop_after=2)
    with pytest.raises(KeyboardInterrupt):
        _drive(study, executor)
    rows = list_runs(study)
    statuses = sorted(r.status for r in rows)
    assert statuses == [FINISHED, FINISHED, INTERRUPTED, INTERRUPTED]  # two made, one out, one never handed out
    assert len(executor.cancelled) == 1
    interrupted = {r.id for r in rows if r.status == INTERRUPTED}
    assert all("Ctrl-C" in r.error for r in rows if r.status == INTERRUPTED)
    _, _ = _drive(study, ScriptedExecutor())
    after = list_runs(study)
    assert len(after) == 4 and {r.status for r in after} == {FINISHED}  # the interrupted runs were resumed, by id
    assert {r.id for r in after} >= interrupted


def test_jobs_an_earlier_driver_left_running_are_waited_for_not_submitted_again(study):
    first = ScriptedExecutor(slots=2, crash_after=0, outlives_driver=True)  # as a Slurm driver that died
    with pytest.raises(ConnectionError):
        _drive(study, first)
    rows = list_runs(study)
    out = {r.id: r for r in rows if r.job_id is not None}
    assert len(out) == 2 and {r.status for r in out.values()} <= {QUEUED, RUNNING}
    assert all(r.owner is None for r in out.values())
    assert sorted(r.status for r in rows if r.job_id is None) == [INTERRUPTED, INTERRUPTED]
    # the plan sees them in progress, so no `study run` makes them a second time
    active = {p.run_id: p for p in plan(study) if p.status == ACTIVE}
    assert set(active) == set(out) and all("in local job job-" in p.reason for p in active.values())
    with pytest.raises(PrefstudyError, match="in local job job-"):  # nor resumes it by hand
        check_resumable(get_run(study, next(iter(out))))

    alive, gone = sorted(out)
    second = ScriptedExecutor(outlives_driver=True)
    task = next(t for t in first.submitted if t.run_id == alive)
    second.attached = {out[alive].job_id: Submitted([task], out[alive].job_id, None)}
    result, _ = _drive(study, second)
    assert result.reattached == 1
    submitted_again = {t.run_id for t in second.submitted}
    assert alive not in submitted_again  # waited for, never submitted twice
    assert gone in submitted_again  # its job was gone: resumed under its id
    final = list_runs(study)
    assert len(final) == 4 and {r.status for r in final} == {FINISHED}


def test_ctrl_c_that_lands_inside_a_database_query_still_cancels_the_jobs(study, monkeypatch):
    # DuckDB turns a SIGINT during a query into RuntimeError("Query interrupted"); it is still Ctrl-C.
    executor = ScriptedExecutor(slots=2, outlives_driver=True)

    def interrupted_query(submitted, timeout):
        raise RuntimeError("Query interrupted")

    monkeypatch.setattr(executor, "wait", interrupted_query)
    with pytest.raises(KeyboardInterrupt):
        _drive(study, executor)
    assert len(executor.cancelled) == 2  # the Slurm-like jobs out were cancelled, not left running
    assert {r.status for r in list_runs(study)} == {INTERRUPTED}


def test_head_runs_go_out_many_to_a_batch_and_networks_as_the_executor_takes_them():
    from types import SimpleNamespace

    from prefstudy.executors.driver import _batches

    def task(head):
        return SimpleNamespace(settings=SimpleNamespace(head=head))

    pending = [task(None), task(None), *(task("linear") for _ in range(64 + 3)), task(None)]
    batches = _batches(pending, count=10, size=1, head_size=64)
    assert [len(b) for b in batches] == [1, 1, 64, 3, 1]
    assert all(len({t.settings.head is None for t in b}) == 1 for b in batches)  # never mixed
    assert [len(b) for b in _batches(pending, count=3, size=2, head_size=64)] == [2, 64, 3]  # only `count`
    assert [len(b) for b in _batches(pending, count=1, size=2, head_size=64)] == [2]
