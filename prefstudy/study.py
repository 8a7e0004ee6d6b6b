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
from prefstudy.transfer import TransferRequest
from prefstudy.workspace import Workspace

DONE, TODO, WAITING, BLOCKED = "done", "todo", "waiting", "blocked"


@dataclass
class SyncReport:
    added_datasets: list[str] = field(default_factory=list)
    simulated: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what could not be set up, and why


@dataclass(frozen=True)
class PlannedRun:
    subject: str
    run: RunSpec
    status: str  # done, todo, waiting or blocked
    run_id: str | None = None  # the finished run, when done
    source_run: str | None = None  # the run a transfer starts from
    reason: str | None = None  # why it waits or is blocked

    @property
    def dataset(self) -> str:
        return self.run.dataset

    @property
    def settings(self) -> TrainSettings:
        return self.run.settings


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


@dataclass(frozen=True)
class _Finished:
    run_id: str
    subject: str
    dataset: str
    settings: dict[str, Any]
    digest: str
    parent_run: str | None
    transfer: dict[str, Any] | None


def _finished_runs(ws: Workspace) -> list[_Finished]:
    with ws.connect() as con:
        rows = con.execute(
            "SELECT id, subject, dataset, config, labels_digest, parent_run FROM runs WHERE status = ? "
            "ORDER BY created_at, id",
            [FINISHED],
        ).fetchall()
    out = []
    for run_id, subject, dataset, config_json, digest, parent in rows:
        config = json.loads(config_json)
        out.append(_Finished(run_id, subject, dataset, config["settings"], digest, parent, config.get("transfer")))
    return out


def _source_run(finished: list[_Finished], subject: str, run: RunSpec) -> str | None:
    """The subject's latest finished from-scratch run on the transfer's source dataset, same backbone."""
    assert run.transfer is not None
    found = [
        f.run_id
        for f in finished
        if (f.subject, f.dataset, f.parent_run) == (subject, run.transfer.source_dataset, None)
        and f.settings["backbone"] == run.settings.backbone
        and f.settings["protocol"] == run.source_protocol
        and f.settings.get("train_size") is None
    ]
    return found[-1] if found else None


def _is_done(f: _Finished, subject: str, run: RunSpec, digest: str, source: str | None) -> bool:
    if (f.subject, f.dataset, f.digest) != (subject, run.dataset, digest) or f.settings != run.settings.to_dict():
        return False
    if run.transfer is None:
        return f.parent_run is None
    return (
        f.parent_run == source
        and f.transfer is not None
        and (f.transfer["mode"], f.transfer["adapt"]) == (run.transfer.mode, run.transfer.adapt)
    )


def plan(ws: Workspace, epochs: int | None = None) -> list[PlannedRun]:
    """Every declared run for every subject with labels on its dataset, and whether it is done.

    A transfer run starts from the subject's finished run on its source dataset; a new source run
    makes it due again. ``epochs`` overrides every declared run's epochs (e.g. 1 for a quick pass).
    """
    spec = ws.spec()
    finished = _finished_runs(ws)
    with ws.connect() as con:
        labelled = con.execute("SELECT DISTINCT subject, dataset FROM labels ORDER BY subject").fetchall()
    planned = []
    for declared in spec.runs:
        run = RunSpec(declared.dataset, declared.settings.replace(epochs=epochs), declared.transfer)
        for subject in sorted({s for s, d in labelled if d == run.dataset}):
            source = _source_run(finished, subject, run) if run.transfer else None
            digest = usable_labels(ws, subject, run.dataset).digest
            done = [f.run_id for f in finished if _is_done(f, subject, run, digest, source)]
            if done:
                planned.append(PlannedRun(subject, run, DONE, run_id=done[-1], source_run=source))
            elif run.transfer is not None and source is None:
                why = (
                    f"waits for a finished {run.source_protocol} run on {run.transfer.source_dataset!r} "
                    f"with {run.settings.backbone}"
                )
                planned.append(PlannedRun(subject, run, WAITING, reason=why))
            else:
                try:
                    prepare(ws, subject, run.dataset, run.settings)
                    planned.append(PlannedRun(subject, run, TODO, source_run=source))
                except PrefstudyError as error:
                    planned.append(PlannedRun(subject, run, BLOCKED, reason=str(error)))
    return planned


def run_study(
    ws: Workspace, device: str = "auto", report: Reporter | None = None, epochs: int | None = None
) -> list[dict[str, Any]]:
    """Make every planned run that is not done yet, transfer runs after their sources; returns their results."""
    report = report or SilentReporter()
    results: list[dict[str, Any]] = []
    made: set[tuple[str, RunSpec, str | None]] = set()
    while True:  # a pass can finish the sources that transfer runs wait for
        todo = [item for item in plan(ws, epochs) if item.status == TODO]
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
            report.note(f"run: {what})")
            results.append(start_run(ws, RunRequest(item.subject, run.dataset, run.settings, device, transfer), report))
