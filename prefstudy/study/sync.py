"""Adding what ``study.toml`` declares and the workspace lacks: datasets, simulated subjects' labels,
imported raters' ratings, and the consensus subjects derived from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from prefstudy.datasets.catalog import add_dataset, dataset_exists
from prefstudy.errors import PrefstudyError
from prefstudy.progress import Reporter, SilentReporter
from prefstudy.subjects.labels import label_count
from prefstudy.subjects.simulate import simulate_subject
from prefstudy.workspace import Workspace


@dataclass
class SyncReport:
    added_datasets: list[str] = field(default_factory=list)
    simulated: list[str] = field(default_factory=list)
    imported: list[str] = field(default_factory=list)  # "<n> ratings of <file>", when a file added ratings
    derived: list[str] = field(default_factory=list)  # consensus subjects made or made again
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
    _sync_ratings(ws, spec, outcome)
    return outcome


def _sync_ratings(ws: Workspace, spec, outcome: SyncReport) -> None:
    """Import the declared ratings files (importing one again changes nothing), then make the consensus subjects."""
    from prefstudy.subjects.consensus import make_consensus
    from prefstudy.subjects.rating_files import RatingTable, import_ratings

    for entry in spec.ratings:
        if not dataset_exists(ws, entry.dataset):
            continue
        table = RatingTable(
            layout=entry.layout,
            rater=entry.rater,
            item=entry.item,
            rating=entry.rating,
            subject_columns=entry.subject_columns,
            subject_table=Path(entry.subject_table).expanduser() if entry.subject_table else None,
            prefix=entry.prefix,
            **({"item_columns": entry.item_columns} if entry.item_columns else {}),
        )
        try:
            result = import_ratings(
                ws,
                Path(entry.file).expanduser(),
                entry.dataset,
                table,
                entry.threshold,
                skip_unknown=entry.skip_unknown,
            )
            if result.added:
                outcome.imported.append(f"{result.added} ratings of {result.raters} raters from {entry.file}")
        except PrefstudyError as error:
            outcome.problems.append(f"ratings {entry.file} not imported: {error}")
    for entry in spec.consensus:
        if not dataset_exists(ws, entry.dataset):
            continue
        try:  # the study file is the truth: a consensus whose raters changed is made again
            made = make_consensus(
                ws,
                entry.name,
                entry.dataset,
                raters=entry.raters,
                exclude=list(entry.exclude),
                min_raters=entry.min_raters,
                replace=True,
            )
            if made.changed:
                outcome.derived.append(f"{entry.name}@{entry.dataset} ({made.raters} raters)")
        except PrefstudyError as error:
            outcome.problems.append(f"consensus {entry.name!r} not made on {entry.dataset!r}: {error}")
