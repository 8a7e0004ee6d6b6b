"""Adding what ``study.toml`` declares and the workspace lacks: datasets, and simulated subjects' labels."""

from __future__ import annotations

from dataclasses import dataclass, field

from prefstudy.datasets import add_dataset, dataset_exists
from prefstudy.errors import PrefstudyError
from prefstudy.progress import Reporter, SilentReporter
from prefstudy.subjects.labels import label_count
from prefstudy.subjects.simulate import simulate_subject
from prefstudy.workspace import Workspace


@dataclass
class SyncReport:
    added_datasets: list[str] = field(default_factory=list)
    simulated: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what could not be set up, and why


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
