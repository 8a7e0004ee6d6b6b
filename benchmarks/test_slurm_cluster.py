"""`prefstudy study run --executor slurm` on a real Slurm cluster: the real CLI, real jobs, real runs.

Needs Slurm (``sbatch`` on PATH and a node in ``sinfo``), e.g. the one-node cluster of
``benchmarks/slurm_one_node.sh``; skipped otherwise. Never part of CI (CI runs only ``tests/``)::

    benchmarks/slurm_one_node.sh start
    .venv/bin/python -m pytest benchmarks/test_slurm_cluster.py -s

The study is tests/executors/test_executors.py's (imported, not copied): ten simulated subjects on the
embedded real Fashion-MNIST sample, 20 runs that finish and one that always fails (its weights file
does not exist). Each scenario drives `prefstudy study run --executor slurm --max-parallel 2
--retries 1` as a subprocess on a fresh copy of it and checks what Slurm and the study database show:

1. all 20 runs made once each in their own array tasks, the failing run recorded failed after two
   attempts, and predictions equal to the in-process path's (`study run` without an executor);
2. the driver SIGKILLed once its jobs are out: they go on, `study plan` calls them active, and a new
   driver waits for them ("handed out by an earlier driver") without submitting them again;
3. Ctrl-C (SIGINT) on the driver: it exits without a traceback, its jobs are cancelled, the runs are
   recorded interrupted, and `study run` again makes exactly what is still due;
4. a running array task requeued by Slurm (``scontrol requeue``, as a preemption does): the job
   starts again, the run resumes from its checkpoint on shared storage and is recorded once.

Each scenario prints its timings (run with ``-s``).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest


def _no_cluster() -> str | None:
    """Why this machine has no Slurm cluster to run on, or None."""
    if shutil.which("sbatch") is None:
        return "no Slurm here: sbatch is not on PATH (benchmarks/slurm_one_node.sh start makes a one-node cluster)"
    try:
        nodes = subprocess.run(["sinfo", "-h", "-o", "%N %T"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"sinfo failed: {error}"
    if nodes.returncode != 0 or not nodes.stdout.strip():
        return f"sinfo shows no Slurm node ({(nodes.stderr or nodes.stdout).strip()[:200] or 'empty'})"
    if not {line.split()[-1] for line in nodes.stdout.splitlines()} & {"idle", "mixed", "allocated", "completing"}:
        return f"no Slurm node takes jobs (sinfo: {' '.join(nodes.stdout.split())[:200]})"
    return None


if (_why := _no_cluster()) is not None:
    pytest.skip(_why, allow_module_level=True)

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "executors"))
# the study, its reference runs made in-process, and test_executors' checks of an executor's runs
from conftest import load_tests_conftest  # noqa: E402
from test_executors import _check, _executor_copy, _study, in_process  # noqa: E402, F401

from prefstudy.runs.record import FAILED, FINISHED, INTERRUPTED, QUEUED, RUNNING, list_runs  # noqa: E402
from prefstudy.workspace import Workspace  # noqa: E402

_sample_study = load_tests_conftest()._sample_study  # the session fixture `_study` starts from

pytestmark = pytest.mark.slow

PREFSTUDY = Path(sys.executable).parent / "prefstudy"
PARTITION = os.environ.get("PREFSTUDY_SLURM_PARTITION", "debug")
RUN = ("study", "run", "--executor", "slurm", "--partition", PARTITION, "--max-parallel", "2", "--retries", "1")
PLANNED = 21  # 20 runs that finish and the one that always fails
DEADLINE_S = 1800  # one `study run` of the whole study, at most
WEIGHTS_ERROR = "weights file /nonexistent/weights.pt not found"

# --- driving the CLI and reading Slurm -------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFSTUDY_")}
    return {**env, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}


def _cli(study: Path, *args: str, timeout: float = 120, ok: bool = True) -> subprocess.CompletedProcess:
    """`prefstudy ARGS --study STUDY`, run to its end, from the study's parent (where Slurm jobs are submitted from)."""
    done = subprocess.run(
        [str(PREFSTUDY), *args, "--study", str(study)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=study.parent,
        env=_env(),
    )
    if ok:
        assert done.returncode == 0, f"prefstudy {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done


def _json(study: Path, *args: str) -> dict:
    return json.loads(_cli(study, *args, "--json").stdout)


def _start_driver(study: Path, log: Path, *more: str) -> subprocess.Popen:
    """`study run --executor slurm` in the background (its own session: signals reach it alone)."""
    return subprocess.Popen(
        [str(PREFSTUDY), *RUN, *more, "--json", "--study", str(study)],
        stdout=open(log.with_suffix(".out"), "w"),
        stderr=open(log.with_suffix(".err"), "w"),
        cwd=study.parent,
        env=_env(),
        start_new_session=True,
    )


def _wait_for(what: str, probe, timeout: float = 300, every: float = 0.5):
    """Polls ``probe`` until it returns something truthy, which is returned."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _status(study: Path) -> dict | None:
    """`study status --json`, or None while the driver holds the database for longer than a few seconds."""
    try:
        done = subprocess.run(
            [str(PREFSTUDY), "study", "status", "--json", "--study", str(study)],
            capture_output=True,
            text=True,
            timeout=20,
            env={**_env(), "PREFSTUDY_LOCK_TIMEOUT": "10"},
        )
    except subprocess.TimeoutExpired:
        return None
    return json.loads(done.stdout) if done.returncode == 0 else None


def _queue(workdir: Path) -> dict[str, str]:
    """Job id -> state of the jobs in ``squeue`` submitted from ``workdir``, one line per array task."""
    out = subprocess.run(
        ["squeue", "-h", "-r", "-o", "%i|%T|%Z"], capture_output=True, text=True, check=True, timeout=30
    )
    jobs = {}
    for line in out.stdout.splitlines():
        job_id, state, where = line.split("|", 2)
        if Path(where) == workdir:
            jobs[job_id] = state
    return jobs


def _accounted(ws: Workspace) -> list[tuple[str, str]]:
    """(job id, state) from ``sacct`` of every job submitted for the study (see ``_submitted``), once per start.

    Asked by array id: a time window (``-S``) leaves out array tasks cancelled before they started.
    """
    arrays = sorted({job.split("_")[0] for job in _submitted(ws)})
    out = subprocess.run(
        ["sacct", "-n", "-X", "-P", "-D", "-j", ",".join(arrays), "-o", "JobID,State"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    records = [line.split("|", 1) for line in out.stdout.splitlines()]
    jobs = [(job, state) for job, state in records if not job.endswith("]")]
    started = {job for job, _ in jobs}
    for folded, state in [r for r in records if r[0].endswith("]")]:  # tasks that never started, folded in one line
        jobs += [(task, state) for task in _array_tasks(folded) if task not in started]
    return jobs


def _ended(ws: Workspace, timeout: float = 90) -> list[tuple[str, str]]:
    """``_accounted`` once sacct shows every job ended: slurmdbd hears of an end a moment after squeue."""
    going = {"PENDING", "RUNNING", "COMPLETING", "SUSPENDED", "CONFIGURING"}
    return _wait_for(
        "sacct to show the jobs ended",
        lambda: (jobs := _accounted(ws)) and not any(state in going for _, state in jobs) and jobs,
        timeout=timeout,
        every=1,
    )


def _array_tasks(job_id: str) -> list[str]:
    """The tasks of a folded sacct line: 67_[3-5,9%2] -> 67_3, 67_4, 67_5, 67_9."""
    array, _, tasks = job_id[:-1].partition("_[")
    out = []
    for part in tasks.split("%")[0].split(","):
        first, _, last = part.partition("-")
        out += [f"{array}_{i}" for i in range(int(first), int(last or first) + 1)]
    return out


def _submitted(ws: Workspace) -> list[str]:
    """The jobs submitit submitted for the study: a folder under cache/slurm with the job's pickled call each."""
    return sorted(p.parent.name for p in (ws.cache_dir / "slurm").glob("*/*_submitted.pkl"))


def _plan(study: Path) -> list[dict]:
    return _json(study, "study", "plan")["runs"]


def _key(row) -> tuple:
    """A run's plan entry in this study: subject, protocol, epochs and whether it is the one that always fails."""
    return (row.subject, row.protocol, row.epochs, bool(row.settings.get("weights")))


def _finished_once(ws: Workspace, plan: list[dict]) -> list:
    """Every plan entry but the failing one is done by exactly one finished run, and no other row is left open."""
    rows = list_runs(ws)
    finished = [r for r in rows if r.status == FINISHED]
    assert len(finished) == PLANNED - 1, [(r.id, r.status) for r in rows]
    assert len({_key(r) for r in finished}) == len(finished), "a plan entry was made twice"
    assert not [r for r in rows if r.status in (QUEUED, RUNNING, INTERRUPTED)], "a run was left open"
    assert all(r.status in (FINISHED, FAILED) for r in rows)
    assert {r.id for r in finished} == {p["run_id"] for p in plan if p["status"] == "done"}
    todo = [p for p in plan if p["status"] != "done"]
    assert len(plan) == PLANNED and len(todo) == 1 and todo[0]["weights"] == "/nonexistent/weights.pt"
    assert todo[0]["status"] == "todo"  # a failed run is made again by the next `study run`
    return rows


def _report(title: str, timings: dict[str, float]) -> None:
    print(f"\n{title}")
    for what, seconds in timings.items():
        print(f"    {what:<58} {seconds:8.1f} s")


@pytest.fixture
def ws(_study, tmp_path) -> Workspace:  # noqa: F811 (the fixture imported above)
    """A fresh copy of the study, with the run that always fails."""
    return _executor_copy(_study, tmp_path)


# --- the scenarios -------------------------------------------------------------------------------------


def test_slurm_makes_the_20_runs_once_each_in_array_tasks_and_matches_in_process(ws, in_process):  # noqa: F811
    began = time.monotonic()
    done = _cli(ws.root, *RUN, "--json", timeout=DEADLINE_S)
    wall = time.monotonic() - began
    out = json.loads(done.stdout)
    assert len(out["made"]) == PLANNED - 1 and out["already_done"] == 0
    assert len(out["failed"]) == 1 and WEIGHTS_ERROR in out["failed"][0]["error"]
    # the rows, the failing run (two attempts, its error) and the predictions, as test_executors checks them
    _check(ws, SimpleNamespace(finished=out["made"]), {}, in_process, expected=PLANNED - 1)
    rows = _finished_once(ws, _plan(ws.root))
    assert all(r.executor == "slurm" and r.attempts == 1 for r in rows if r.status == FINISHED)
    # one array task per run, and a second one for the failing run's retry
    finished_jobs = [r.job_id for r in rows if r.status == FINISHED]
    assert len(set(finished_jobs)) == len(finished_jobs)
    assert all(j.split("_")[0].isdigit() and j.split("_")[1].isdigit() for j in finished_jobs), finished_jobs
    submitted = _submitted(ws)
    assert len(submitted) == PLANNED + 1 and set(finished_jobs) <= set(submitted)
    accounted = _ended(ws)
    assert sorted(j for j, _ in accounted) == submitted and all(s == "COMPLETED" for _, s in accounted), accounted
    _report(
        "slurm: 20 runs + 1 failing (--max-parallel 2, one CPU per job)",
        {"`study run --executor slurm`, wall": wall},
    )


def _handed_out(study: Path) -> dict | None:
    """`study status --json` once the driver has recorded job ids for its runs, else None."""
    status = _status(study)
    return status if status and any(r["job_id"] for r in status["runs"]) else None


def _exited(driver: subprocess.Popen, log: Path, timeout: float = 120) -> tuple[int, str]:
    """The driver's exit status and stderr, once it has exited."""
    code = driver.wait(timeout=timeout)
    return code, log.with_suffix(".err").read_text()


def test_a_new_driver_waits_for_the_jobs_of_a_killed_driver_and_submits_none_of_them_again(ws, tmp_path):
    timings, workdir = {}, ws.root.parent
    began = time.monotonic()
    driver = _start_driver(ws.root, tmp_path / "first")
    _wait_for("job ids in the study database", lambda: _handed_out(ws.root))
    timings["driver start to job ids recorded"] = time.monotonic() - began
    _wait_for("a job running", lambda: "RUNNING" in _queue(workdir).values())
    timings["driver start to a job running"] = time.monotonic() - began
    driver.send_signal(signal.SIGKILL)
    assert driver.wait(timeout=30) == -signal.SIGKILL
    killed = time.monotonic()

    # the jobs go on without a driver; their runs stay queued/running, and the plan calls them active
    status = _wait_for("study status", lambda: _status(ws.root), timeout=60)
    out = {r["run_id"]: r for r in status["runs"]}
    assert len(out) == PLANNED and status["counts"]["finished"] == 0
    assert all(r["status"] in (QUEUED, RUNNING) and r["job_id"] and r["executor"] == "slurm" for r in out.values())
    jobs = {run_id: r["job_id"] for run_id, r in out.items()}
    assert len(set(jobs.values())) == PLANNED
    queued, accounted = _queue(workdir), dict(_accounted(ws))
    for job in jobs.values():  # on the cluster still, or finished there since: none cancelled with the driver
        assert job in queued or accounted.get(job) in ("RUNNING", "COMPLETING", "COMPLETED"), (job, queued, accounted)
    plan = {p["run_id"]: p for p in _plan(ws.root) if p["status"] == "active"}
    assert set(plan) == set(jobs) and all(jobs[r] in p["reason"] for r, p in plan.items())
    before = _submitted(ws)
    assert sorted(before) == sorted(jobs.values())
    timings["SIGKILL to the checks of what was left"] = time.monotonic() - killed

    # a new driver waits for those jobs: none is submitted again
    began = time.monotonic()
    done = _cli(ws.root, *RUN, "--json", timeout=DEADLINE_S)
    timings["second driver, start to end (waits for the first's jobs)"] = time.monotonic() - began
    made = json.loads(done.stdout)["made"]
    assert len(made) == PLANNED - 1
    for job in jobs.values():
        assert f"waiting for job {job} (1 run(s)), handed out by an earlier driver" in done.stderr
    rows = _finished_once(ws, _plan(ws.root))
    for row in rows:
        if row.id in jobs and row.status == FINISHED:
            assert row.job_id == jobs[row.id] and row.attempts == 1, row
    finished = {r.id for r in rows if r.status == FINISHED}
    assert finished <= set(jobs)  # every finished run is one the first driver handed out
    # The failing run failed in its job, was landed failed, and, being due again, was made once more (with a
    # retry): the only jobs the second driver submitted. Each of the others ran once, in its first job.
    failing = [r for r in rows if r.status == FAILED]
    assert [r.id in jobs for r in failing] == [True, False] and failing[1].attempts == 2
    resubmitted = sorted(set(_submitted(ws)) - set(before))
    assert len(resubmitted) == 2 and failing[1].job_id in resubmitted
    starts = [j for j, _ in _ended(ws)]
    assert all(starts.count(jobs[r]) == 1 for r in finished)
    _report("slurm: driver SIGKILLed, a second driver reattaches", timings)


def test_ctrl_c_cancels_the_jobs_records_them_interrupted_and_the_next_run_makes_what_is_due(ws, tmp_path):
    timings, workdir = {}, ws.root.parent
    began = time.monotonic()
    driver = _start_driver(ws.root, tmp_path / "driver")
    _wait_for("job ids in the study database", lambda: _handed_out(ws.root))
    # some runs landed and a job running: Ctrl-C then leaves finished, running and queued runs
    _wait_for(
        "two runs finished and a job running",
        lambda: (s := _status(ws.root)) and s["counts"]["finished"] >= 2 and "RUNNING" in _queue(workdir).values(),
    )
    timings["driver start to 2 runs finished and a job running"] = time.monotonic() - began
    interrupted_at = time.monotonic()
    driver.send_signal(signal.SIGINT)
    code, stderr = _exited(driver, tmp_path / "driver")
    timings["SIGINT to driver exit"] = time.monotonic() - interrupted_at
    assert code != 0 and "Traceback" not in stderr, stderr
    _wait_for("the driver's jobs to leave squeue", lambda: not _queue(workdir), timeout=120)
    timings["SIGINT to squeue empty of its jobs"] = time.monotonic() - interrupted_at

    rows = list_runs(ws)
    assert len({_key(r) for r in rows}) == len(rows) == PLANNED  # one row per plan entry, none made twice
    finished = {r.id for r in rows if r.status == FINISHED}
    cancelled = [r for r in rows if r.status == INTERRUPTED]
    assert len(finished) >= 2 and cancelled and {r.status for r in rows} <= {FINISHED, INTERRUPTED, FAILED}
    assert all("Ctrl-C" in r.error for r in cancelled), [r.error for r in cancelled]
    # every job of a cancelled run was cancelled (one that finished as it was, COMPLETED, lands next time)
    states = dict(_ended(ws))
    cut = [states.get(r.job_id, "not in sacct") for r in cancelled]
    assert all(s.startswith("CANCELLED") or s == "COMPLETED" for s in cut) and cut.count("COMPLETED") <= 2, states
    plan = {p["resumes"]: p for p in _plan(ws.root) if p["resumes"]}
    assert set(plan) == {r.id for r in cancelled} and all(p["status"] == "todo" for p in plan.values())

    began = time.monotonic()
    done = _cli(ws.root, *RUN, "--json", timeout=DEADLINE_S)
    timings["`study run` again, start to end"] = time.monotonic() - began
    again = json.loads(done.stdout)
    assert again["already_done"] == len(finished)
    assert len(again["made"]) == PLANNED - 1 - len(finished)
    rows = _finished_once(ws, _plan(ws.root))
    # the interrupted runs continued under their own ids: still one row per plan entry
    assert {r.id for r in cancelled} <= {r.id for r in rows} and len(rows) <= PLANNED + 1
    print(f"\n    at Ctrl-C: {len(finished)} finished, {len(cancelled)} interrupted")
    _report("slurm: Ctrl-C on the driver, then `study run` again", timings)


# m01's two runs at 100 epochs (about 80 s here). A requeue sends SIGTERM, which submitit's job ignores, and
# SIGKILL only after KillWait (30 s): the run must be far from its end then, or it finishes in that grace time.
MARATHON_EPOCHS = "100"


def test_a_requeued_array_task_resumes_its_run_from_the_checkpoint_and_it_is_recorded_once(ws, tmp_path):
    timings, workdir = {}, ws.root.parent
    began = time.monotonic()
    driver = _start_driver(ws.root, tmp_path / "driver", "--subjects", "m01", "--epochs", MARATHON_EPOCHS)
    checkpoint = _wait_for(
        "the marathon's first checkpoint", lambda: next(ws.runs_dir.glob("m01-fm-model1-*/checkpoint.pt"), None)
    )
    run_id = checkpoint.parent.name
    timings["driver start to the marathon's first checkpoint"] = time.monotonic() - began
    status = _wait_for("study status", lambda: _status(ws.root), timeout=60)
    job = next(r["job_id"] for r in status["runs"] if r["run_id"] == run_id)
    first = json.loads((checkpoint.parent / "worker.json").read_text())
    requeued = time.monotonic()
    subprocess.run(["scontrol", "requeue", job], check=True, timeout=30)
    # Slurm holds a requeued job back (BeginTime) for about two minutes: let it start at once
    _wait_for("the job pending again", lambda: _queue(workdir).get(job) == "PENDING", timeout=120)
    timings["requeue to the job pending again (SIGTERM, KillWait)"] = time.monotonic() - requeued
    subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], check=False, timeout=30)
    _wait_for("the job running again", lambda: _queue(workdir).get(job) == "RUNNING", timeout=240)
    timings["requeue to the job running again"] = time.monotonic() - requeued
    code, stderr = _exited(driver, tmp_path / "driver", timeout=DEADLINE_S)
    timings["requeue to the driver's end"] = time.monotonic() - requeued
    assert code == 0, stderr
    assert len(json.loads((tmp_path / "driver.out").read_text())["made"]) == 2

    rows = list_runs(ws)
    assert len(rows) == 2 and all(r.status == FINISHED for r in rows)
    marathon = next(r for r in rows if r.id == run_id)
    assert marathon.job_id == job and marathon.attempts == 1  # Slurm started it again, not the driver
    assert [s for j, s in _ended(ws) if j == job] == ["REQUEUED", "COMPLETED"]  # one job, started twice
    assert len(_submitted(ws)) == 2
    # the job started again and continued the run from its checkpoint, every epoch once
    second = json.loads((checkpoint.parent / "worker.json").read_text())
    assert second["pid"] != first["pid"], "the run finished in the requeue's grace time: give it more epochs"

    with open(ws.cache_dir / "slurm" / job / f"{job}_0_result.pkl", "rb") as handle:
        state, outcomes = pickle.load(handle)
    assert state == "success" and [(o.run_id, o.resumed) for o in outcomes] == [(run_id, True)]
    history = [h["epoch"] for h in json.loads((checkpoint.parent / "result.json").read_text())["history"]]
    assert history == list(range(1, int(MARATHON_EPOCHS) + 1))
    _report("slurm: a running array task requeued (as on preemption)", timings)
