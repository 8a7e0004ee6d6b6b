"""End-to-end check that submitit drives the local Slurm cluster of ``slurm_one_node.sh``.

Run it after ``benchmarks/slurm_one_node.sh`` (it exits nonzero on the first failure)::

    .venv/bin/python benchmarks/slurm_smoke.py [--folder DIR]

What it checks, each with its time:

1. ``AutoExecutor`` picks Slurm; one job returning 42, submit to ``result()``;
2. a job array of 4 through ``executor.batch()`` and one through ``map_array``, all results back;
3. ``job.cancel()`` on a running job: sacct reports ``CANCELLED`` and ``done()`` turns true, so
   ``wait()`` does not hang on a job that will never write a result;
4. reattaching after the driver restarts: a NEW Python process rebuilds jobs from nothing but the
   folder and the job id (``submitit.SlurmJob(folder, job_id)``, ``"<array id>_<index>"`` for an
   array task) and reads ``.state``, ``.done()`` and ``.result()`` for a finished job, an array
   task, the cancelled job, and a job still running (then waits for it to finish).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import submitit

# How long one check may wait for Slurm before it counts as a failure.
DEADLINE_S = 120


def answer() -> int:
    return 42


def square(x: int) -> int:
    return x * x


def sleep_then(seconds: float, value: int) -> int:
    time.sleep(seconds)
    return value


class Failure(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Failure(message)


def wait_for(predicate, what: str, timeout_s: float = DEADLINE_S, poll_s: float = 0.25):
    """Polls ``predicate`` until it returns something truthy (returned) or the timeout passes."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        value = predicate()
        if value:
            return value
        time.sleep(poll_s)
    raise Failure(f"timed out after {timeout_s:.0f}s waiting for {what}")


def sacct_state(job_id: str) -> str:
    """The state straight from sacct, bypassing submitit's cache (e.g. "CANCELLED by 0")."""
    out = subprocess.run(
        ["sacct", "-n", "-X", "-P", "-o", "State", "-j", job_id], capture_output=True, text=True, check=False
    )
    return out.stdout.strip()


def make_executor(folder: Path) -> submitit.AutoExecutor:
    executor = submitit.AutoExecutor(folder=folder)
    check(executor.cluster == "slurm", f"AutoExecutor picked {executor.cluster!r}, not slurm (is srun on PATH?)")
    executor.update_parameters(slurm_partition="debug", cpus_per_task=1, timeout_min=5)
    return executor


# Runs in a fresh interpreter: nothing of this process' submitit state (watcher cache, Job objects) exists
# there, only what the folder and Slurm know, as after a driver restart.
REATTACH_CODE = textwrap.dedent(
    """
    import json, sys, time
    import submitit

    folder, wanted = sys.argv[1], json.loads(sys.argv[2])
    out = {}
    for name, (job_id, want_result) in wanted.items():
        job = submitit.SlurmJob(folder=folder, job_id=job_id)
        row = {"state": job.state, "done": job.done(force_check=True)}
        if want_result:
            t0 = time.monotonic()
            row["result"] = job.result()  # waits if it is still running
            row["waited_s"] = round(time.monotonic() - t0, 2)
            # The result pickle comes a moment before Slurm marks the job COMPLETED.
            for _ in range(120):
                row["state_after"] = job.watcher.get_state(job_id, mode="force")
                if row["state_after"] not in ("RUNNING", "COMPLETING"):
                    break
                time.sleep(0.25)
        elif row["done"]:
            exc = job.exception()  # returns (after ~15s of looking for a result pickle), does not hang
            row["exception"] = type(exc).__name__ if exc else None
        out[name] = row
    print(json.dumps(out))
    """
)


def reattach(folder: Path, wanted: dict[str, tuple[str, bool]]) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", REATTACH_CODE, str(folder), json.dumps(wanted)],
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
    )
    check(proc.returncode == 0, f"the reattaching process failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, help="submitit folder (default: a new temporary directory)")
    args = parser.parse_args()
    folder = (args.folder or Path(tempfile.mkdtemp(prefix="slurm-smoke-"))).resolve()
    print(f"submitit {submitit.__version__}, folder {folder}")
    executor = make_executor(folder)
    timings: dict[str, float] = {}

    # 1. One job.
    t0 = time.monotonic()
    job = executor.submit(answer)
    check(job.result() == 42, "job did not return 42")
    timings["one job, submit to result"] = time.monotonic() - t0
    # The result pickle comes a moment before Slurm marks the job COMPLETED.
    t0 = time.monotonic()
    wait_for(lambda: job.watcher.get_state(job.job_id, mode="force") not in {"RUNNING", "COMPLETING"}, "job end")
    timings["result() to sacct COMPLETED"] = time.monotonic() - t0
    check(job.state == "COMPLETED", f"finished job state {job.state!r} (sacct: {sacct_state(job.job_id)!r})")
    print(f"ok  single job {job.job_id}: 42, state {job.state}")

    # 2. Job arrays: batch() and map_array, 4 tasks each.
    t0 = time.monotonic()
    with executor.batch():
        batch_jobs = [executor.submit(square, i) for i in range(4)]
    check([j.result() for j in batch_jobs] == [0, 1, 4, 9], "batch() results wrong")
    timings["array of 4 via batch(), submit to results"] = time.monotonic() - t0
    check(len({j.job_id.split("_")[0] for j in batch_jobs}) == 1, "batch() did not make one array")
    print(f"ok  batch() array {[j.job_id for j in batch_jobs]}: {[j.result() for j in batch_jobs]}")
    t0 = time.monotonic()
    map_jobs = executor.map_array(square, range(4, 8))
    check([j.result() for j in map_jobs] == [16, 25, 36, 49], "map_array results wrong")
    timings["array of 4 via map_array, submit to results"] = time.monotonic() - t0
    states = [
        wait_for(
            lambda j=j: (s := j.watcher.get_state(j.job_id, mode="force")) not in {"RUNNING", "COMPLETING"} and s,
            "array task end",
        )
        for j in map_jobs
    ]
    check(all(s == "COMPLETED" for s in states), f"array task states {states}")
    print(f"ok  map_array {[j.job_id for j in map_jobs]}: {[j.result() for j in map_jobs]}, states {states}")

    # 3. Cancel a running job.
    to_cancel = executor.submit(sleep_then, 300, 0)
    wait_for(lambda: to_cancel.watcher.get_state(to_cancel.job_id, mode="force") == "RUNNING", "the job to run")
    t0 = time.monotonic()
    to_cancel.cancel()
    # done() would stay false forever if sacct could not report the state (no result pickle ever comes).
    wait_for(lambda: to_cancel.done(force_check=True), "done() of the cancelled job")
    timings["cancel to done()"] = time.monotonic() - t0
    check(to_cancel.state.startswith("CANCELLED"), f"cancelled job state {to_cancel.state!r}")
    # exception() (and result(), which raises it) first waits up to 15s for a result pickle that will not come.
    t0 = time.monotonic()
    exc = to_cancel.exception()
    timings["exception() of the cancelled job"] = time.monotonic() - t0
    check(isinstance(exc, submitit.core.utils.UncompletedJobError), f"cancelled job exception {exc!r}")
    print(f"ok  cancelled job {to_cancel.job_id}: state {to_cancel.state!r}, done(), {type(exc).__name__}")

    # 4. Reattach from a new process, to finished jobs and to one still running.
    still_running = executor.submit(sleep_then, 10, 7)
    wait_for(lambda: still_running.watcher.get_state(still_running.job_id, mode="force") == "RUNNING", "the job to run")
    t0 = time.monotonic()
    seen = reattach(
        folder,
        {
            "running": (still_running.job_id, True),  # first: the others take a while (see exception())
            "finished": (job.job_id, True),
            "array_task": (map_jobs[2].job_id, True),
            "cancelled": (to_cancel.job_id, False),
        },
    )
    timings["reattach process (incl. waiting for the running job)"] = time.monotonic() - t0
    print(f"    reattached: {json.dumps(seen)}")
    f, a, c, r = seen["finished"], seen["array_task"], seen["cancelled"], seen["running"]
    check(f["state"] == "COMPLETED" and f["done"] and f["result"] == 42, f"reattached finished job: {f}")
    check(a["state"] == "COMPLETED" and a["done"] and a["result"] == 36, f"reattached array task: {a}")
    check(c["state"].startswith("CANCELLED") and c["done"], f"reattached cancelled job: {c}")
    check(c["exception"] == "UncompletedJobError", f"reattached cancelled job: {c}")
    check(r["state"] in {"PENDING", "RUNNING"} and not r["done"], f"reattached running job, before: {r}")
    check(r["result"] == 7 and r["state_after"] == "COMPLETED", f"reattached running job, after: {r}")
    print("ok  reattached from a new process: finished, array task, cancelled and running jobs")

    for what, seconds in timings.items():
        print(f"    {what}: {seconds:.2f}s")
    print("PASS")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as failure:
        print(f"FAIL: {failure}", file=sys.stderr)
        sys.exit(1)
