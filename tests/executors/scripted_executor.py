"""An executor that makes runs in the test process without torch, with scripted losses and failures.

Its "worker" writes a complete run directory whose model predicts the subject's own labels (so the
real landing path checks it), and a subject's runs can be lost (as when a worker is killed) or
fail a given number of times. It exercises the driver's logic; the real backends are tested in
test_executors.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from prefstudy.executors.base import Executor, Submitted, WorkerLost
from prefstudy.executors.tasks import Outcome, RunTask
from prefstudy.metrics import confusion_by_split
from prefstudy.runs.record import FAILED, FINISHED, RunDir, result_object


class ScriptedExecutor(Executor):
    name = "local"
    shared_storage = True

    def __init__(
        self,
        slots: int = 2,
        lose: dict | None = None,
        fail: dict | None = None,
        stop_after: int | None = None,
        crash_after: int | None = None,
        outlives_driver: bool = False,
    ):
        self.slots = slots
        self.outlives_driver = outlives_driver
        self.crash_after = crash_after  # the driver dies of an error (its jobs go on) after this many waits
        self.lose = Counter(lose or {})  # subject -> how many of its attempts are lost
        self.fail = Counter(fail or {})  # subject -> how many of its attempts fail
        self.stop_after = stop_after  # raise KeyboardInterrupt (Ctrl-C) after this many waits
        self.submitted: list[RunTask] = []
        self.cancelled: list[str] = []
        self.attached: dict[str, Submitted] = {}  # job id -> what reattach returns
        self.waits = 0
        self._n = 0

    def submit(self, batches: Sequence[list[RunTask]]) -> list[Submitted]:
        out = []
        for batch in batches:
            self._n += 1
            self.submitted.extend(batch)
            out.append(Submitted(batch, f"job-{self._n}", None))
        return out

    def wait(self, submitted: Sequence[Submitted], timeout: float) -> list[tuple[Submitted, object]]:
        self.waits += 1
        if self.stop_after is not None and self.waits > self.stop_after:
            raise KeyboardInterrupt
        if self.crash_after is not None and self.waits > self.crash_after:
            raise ConnectionError("the driver lost its cluster")
        first = submitted[0]
        if not first.tasks:  # a reattached job whose runs this driver does not hold: the job is gone
            return [(first, WorkerLost("job ended without a result"))]
        subject = first.tasks[0].prepared.subject
        if self.lose[subject] > 0:
            self.lose[subject] -= 1
            return [(first, WorkerLost("worker process ended (killed)"))]
        return [(first, [self._make(task) for task in first.tasks])]

    def _make(self, task: RunTask) -> Outcome:
        directory = RunDir(Path(task.directory))
        directory.path.mkdir(parents=True, exist_ok=True)
        subject = task.prepared.subject
        if self.fail[subject] > 0:
            self.fail[subject] -= 1
            directory.write_config(task.config)
            directory.write_result(_result(task.config, FAILED, error="ValueError: scripted failure"))
            return Outcome(task.run_id, FAILED, "ValueError: scripted failure", directory=str(directory.path))
        return made(directory, task)

    def cancel(self, submitted: Sequence[Submitted]) -> None:
        self.cancelled.extend(r for s in submitted for r in s.run_ids)

    def reattach(self, job_id: str, run_ids: Sequence[str]) -> Submitted | None:
        return self.attached.get(job_id)


def made(directory: RunDir, task: RunTask) -> Outcome:
    """A finished run directory whose model predicts the subject's labels."""
    prepared = task.prepared
    labels = prepared.labels
    keys = task.images.load().keys
    config = {**task.config, "input": {"images": [1, 28, 28], "model": [1, 28, 28]}}
    directory.write_config(config)
    p = labels.preferred.astype(float)
    directory.write_predictions(labels.item_idx, keys[labels.item_idx], prepared.split, labels.preferred, p)
    directory.model.write_bytes(b"scripted")
    metrics = confusion_by_split(prepared.split, labels.preferred, p)
    directory.write_result(_result(config, FINISHED, metrics=metrics))
    return Outcome(task.run_id, FINISHED, directory=str(directory.path))


def _result(config: dict, status: str, metrics: dict | None = None, error: str | None = None) -> dict:
    return result_object(
        config,
        status=status,
        device="cpu",
        precision="fp32",
        best_epoch=1 if status == FINISHED else None,
        duration_s=0.1,
        train_images_per_s=None,
        metrics=metrics or {},
        history=[],
        error=error,
    )
