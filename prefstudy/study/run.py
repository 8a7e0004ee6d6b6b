"""Making the study's due runs, transfer runs after the runs they start from."""

from __future__ import annotations

from typing import Any

from prefstudy.config import TransferRequest
from prefstudy.errors import PrefstudyError
from prefstudy.progress import Reporter, SilentReporter
from prefstudy.runs.execute import RunRequest, resume_run, start_run
from prefstudy.runs.warm import WarmCache
from prefstudy.study.plan import TODO, SubjectFilter, plan
from prefstudy.studyfile import RunSpec
from prefstudy.workspace import Workspace


def run_study(
    ws: Workspace,
    device: str = "auto",
    report: Reporter | None = None,
    epochs: int | None = None,
    precision: str = "auto",
    subjects: SubjectFilter | None = None,
) -> list[dict[str, Any]]:
    """Make every planned run that is not done yet, transfer runs after their sources; returns their results.

    A run that an interrupted run already began resumes it, from its last checkpoint.

    ``precision`` says how to compute (see :mod:`prefstudy.engine.precision`); it is not a setting, so it
    does not change which runs are done. ``subjects`` limits the subjects runs are made for.
    """
    report = report or SilentReporter()
    warm = WarmCache()  # image caches, transfer sources and frozen features, once for every run
    results: list[dict[str, Any]] = []
    made: set[tuple[str, RunSpec, str | None]] = set()
    while True:  # a pass can finish the sources that transfer runs wait for
        todo = [item for item in plan(ws, epochs, subjects) if item.status == TODO]
        if not todo:
            return results
        for item in todo:
            key = (item.subject, item.run, item.source_run)
            if key in made:  # never loop on a run that does not count as done once made
                raise PrefstudyError(f"{item.subject} on {item.dataset} is still due after it was made")
            made.add(key)
            run = item.run
            what = f"{item.subject} on {run.dataset} ({run.settings.backbone}, {run.settings.protocol}"
            transfer = None
            if run.transfer is not None:
                transfer = TransferRequest(item.source_run, run.transfer.mode, run.transfer.adapt)
                what += f", {run.transfer.mode} from {item.source_run}"
            if item.resumes is not None:
                report.note(f"run: {what}): resuming interrupted run {item.resumes}")
                results.append(resume_run(ws, item.resumes, report, warm))
                continue
            report.note(f"run: {what})")
            request = RunRequest(item.subject, run.dataset, run.settings, device, transfer, precision=precision)
            results.append(start_run(ws, request, report, warm))
