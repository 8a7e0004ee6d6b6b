"""A study's main job: bring the workspace in line with ``study.toml`` and make every planned run.

``sync`` adds each declared dataset that is not added yet (when its files are there) and
simulates each declared simulated subject that has no labels yet. ``plan`` lists, for every
declared run and every subject with labels on its dataset, whether a finished run with the same
settings and the same labels exists. ``run_study`` makes the ones that do not, so it can be run
again as labels come in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from prefstudy.config import TrainSettings
from prefstudy.datasets import add_dataset, dataset_exists
from prefstudy.errors import PrefstudyError
from prefstudy.progress import Reporter, SilentReporter
from prefstudy.runs import FINISHED, RunRequest, prepare, start_run
from prefstudy.studyfile import RunSpec
from prefstudy.subjects.labels import label_count, usable_labels
from prefstudy.subjects.simulate import simulate_subject
from prefstudy.workspace import Workspace

DONE, TODO, BLOCKED = "done", "todo", "blocked"


@dataclass
class SyncReport:
    added_datasets: list[str] = field(default_factory=list)
    simulated: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what could not be set up, and why


@dataclass(frozen=True)
class PlannedRun:
    subject: str
    dataset: str
    settings: TrainSettings
    status: str  # done, todo or blocked
    run_id: str | None = None  # the finished run, when done
    reason: str | None = None  # why it is blocked


def sync(ws: Workspace, report: Reporter | None = None) -> SyncReport:
    """Add the declared datasets and simulated subjects the workspace lacks; never fails on one of them."""
    report = report or SilentReporter()
    spec = ws.spec()
    outcome = SyncReport()
    for dataset in spec.datasets.values():
        if dataset_exists(ws, dataset.name):
            continue
        try:
            add_dataset(ws, dataset, report)
            outcome.added_datasets.append(dataset.name)
        except PrefstudyError as error:
            outcome.problems.append(f"dataset {dataset.name!r} not added: {error}")
    for subject in spec.subjects:
        if not dataset_exists(ws, subject.dataset):
            continue
        if label_count(ws, subject.name, subject.dataset):
            continue
        try:
            simulate_subject(
                ws,
                subject.name,
                subject.dataset,
                subject.rule,
                noise=subject.noise,
                repeat=subject.repeat,
                seed=subject.seed,
                limit=subject.limit,
            )
            outcome.simulated.append(f"{subject.name}@{subject.dataset}")
        except PrefstudyError as error:
            outcome.problems.append(f"subject {subject.name!r} not simulated on {subject.dataset!r}: {error}")
    return outcome


def _finished_runs(ws: Workspace) -> list[tuple[str, str, str, dict[str, Any], str]]:
    with ws.connect() as con:
        rows = con.execute(
            "SELECT id, subject, dataset, config, labels_digest FROM runs WHERE status = ? ORDER BY created_at",
            [FINISHED],
        ).fetchall()
    return [
        (run_id, subject, dataset, json.loads(config)["settings"], digest)
        for run_id, subject, dataset, config, digest in rows
    ]


def plan(ws: Workspace, epochs: int | None = None) -> list[PlannedRun]:
    """Every declared run for every subject with labels on its dataset, and whether it is done.

    ``epochs`` overrides every declared run's epochs (e.g. 1 for a quick pass over a study).
    """
    spec = ws.spec()
    finished = _finished_runs(ws)
    with ws.connect() as con:
        labelled = con.execute("SELECT DISTINCT subject, dataset FROM labels ORDER BY subject").fetchall()
    planned = []
    for declared in spec.runs:
        run = RunSpec(declared.dataset, declared.settings.replace(epochs=epochs))
        for subject in sorted({s for s, d in labelled if d == run.dataset}):
            digest = usable_labels(ws, subject, run.dataset).digest
            done = [
                rid
                for rid, s, d, settings, dg in finished
                if (s, d, dg) == (subject, run.dataset, digest) and settings == run.settings.to_dict()
            ]
            if done:
                planned.append(PlannedRun(subject, run.dataset, run.settings, DONE, run_id=done[-1]))
                continue
            try:
                prepare(ws, subject, run.dataset, run.settings)
                planned.append(PlannedRun(subject, run.dataset, run.settings, TODO))
            except PrefstudyError as error:
                planned.append(PlannedRun(subject, run.dataset, run.settings, BLOCKED, reason=str(error)))
    return planned


def run_study(
    ws: Workspace, device: str = "auto", report: Reporter | None = None, epochs: int | None = None
) -> list[dict[str, Any]]:
    """Make every planned run that is not done yet; returns their results."""
    report = report or SilentReporter()
    results = []
    for item in plan(ws, epochs):
        if item.status != TODO:
            continue
        report.note(f"run: {item.subject} on {item.dataset} ({item.settings.backbone}, {item.settings.protocol})")
        results.append(start_run(ws, RunRequest(item.subject, item.dataset, item.settings, device), report))
    return results
