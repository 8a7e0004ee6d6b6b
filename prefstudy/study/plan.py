"""Which declared runs are due: for every ``[[runs]]`` entry and every subject with labels on its dataset.

A run is done when a finished run with the same settings *and the same labels* exists, so the
plan changes as labels come in. A transfer run starts from the subject's finished run on its
source dataset, or from another subject's (``transfer_from = "subject:crowd"``, e.g. the
population's consensus, on the same item split): it waits until there is one, and is due again
when a newer one is made. A due run that an interrupted run already began (same settings, same
labels) resumes that run; one that is queued or running (in another process, or in an executor's
job that outlives its driver) is *active* and is not made a second time.

A study of real people has thousands of subjects, so the plan reads each dataset's labels in
one query and finds finished runs through an index, never subject by subject.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from prefstudy.config import TrainSettings, TransferRequest
from prefstudy.datasets.catalog import official_splits
from prefstudy.errors import PrefstudyError
from prefstudy.runs.orders import RunOrder
from prefstudy.runs.prepare import DatasetSplit, labels_digest, prepare_labels
from prefstudy.runs.record import INTERRUPTED, QUEUED, RUNNING, RunRow, finished_runs, list_runs
from prefstudy.runs.transfer_sources import latest_source
from prefstudy.studyfile import RunSpec
from prefstudy.subjects.labels import NO_LABELS, Ratings, UsableLabels, ratings_by_subject, usable_labels_by_subject
from prefstudy.subjects.ratings import rated_subjects
from prefstudy.subjects.roster import CONSENSUS, subject_kinds
from prefstudy.workspace import Workspace

DONE, TODO, WAITING, BLOCKED, ACTIVE = "done", "todo", "waiting", "blocked", "active"


@dataclass(frozen=True)
class PlannedRun:
    subject: str
    run: RunSpec
    status: str  # done, todo, waiting, blocked, or active (queued or running now)
    run_id: str | None = None  # the finished run, when done; the queued or running one, when active
    source_run: str | None = None  # the run a transfer starts from
    reason: str | None = None  # why it waits or is blocked
    resumes: str | None = None  # the interrupted run that making this one continues

    @property
    def dataset(self) -> str:
        return self.run.dataset

    @property
    def settings(self) -> TrainSettings:
        return self.run.settings

    def order(self) -> RunOrder:
        """The run to make for this planned run (due: ``todo``), from its source run when it transfers."""
        declared = self.run.transfer
        transfer = None
        if declared is not None:
            assert self.source_run is not None, "a transfer run is due only once its source is finished"
            transfer = TransferRequest(self.source_run, declared.mode, declared.adapt)
        return RunOrder(self.subject, self.dataset, self.settings, transfer, self.resumes)


@dataclass(frozen=True)
class SubjectFilter:
    """Which subjects a plan covers: names matching ``patterns`` (any), then a seeded ``limit`` of them.

    Consensus subjects are always kept: the runs of the others start from theirs.
    """

    patterns: tuple[str, ...] = ()
    limit: int | None = None
    seed: int = 0

    def apply(self, subjects: list[str], kinds: dict[str, str]) -> list[str]:
        kept = [s for s in subjects if kinds.get(s) == CONSENSUS]
        chosen = [
            s
            for s in subjects
            if kinds.get(s) != CONSENSUS
            and (not self.patterns or any(fnmatch.fnmatchcase(s, p) for p in self.patterns))
        ]
        if self.limit is not None and len(chosen) > self.limit:
            picked = np.random.default_rng(self.seed).choice(len(chosen), self.limit, replace=False)
            chosen = [chosen[i] for i in sorted(picked)]
        return sorted(kept + chosen)


@dataclass
class _Finished:
    """The finished runs, found by (subject, dataset, labels digest) instead of a scan."""

    rows: list[RunRow]
    by_labels: dict[tuple[str, str, str], list[RunRow]] = field(default_factory=lambda: defaultdict(list))
    by_subject: dict[str, list[RunRow]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        for row in self.rows:  # oldest first, so each list ends with the latest
            self.by_labels[(row.subject, row.dataset, row.labels_digest)].append(row)
            self.by_subject[row.subject].append(row)


def _own_source(runs: list[RunRow], subject: str, run: RunSpec) -> str | None:
    """The subject's latest finished from-scratch run on the transfer's source dataset, same backbone."""
    assert run.transfer is not None
    found = [
        f.id
        for f in runs
        if (f.subject, f.dataset, f.parent_run) == (subject, run.transfer.source_dataset, None)
        and f.settings["backbone"] == run.settings.backbone
        and f.settings.get("head") == run.settings.head
        and f.settings["protocol"] == run.source_protocol
        and f.settings.get("train_size") is None
    ]
    return found[-1] if found else None


def _source_run(finished: _Finished, subject: str, run: RunSpec) -> str | None:
    transfer = run.transfer
    assert transfer is not None
    if transfer.source_subject is None:
        return _own_source(finished.by_subject.get(subject, []), subject, run)
    candidates = [
        f
        for f in finished.by_subject.get(transfer.source_subject, [])
        if f.settings["backbone"] == run.settings.backbone
        and f.settings.get("head") == run.settings.head
        and f.settings["protocol"] == run.source_protocol
    ]
    found = latest_source(candidates, transfer.source_subject, transfer.source_dataset, run.dataset, run.settings)
    return found.id if found else None


def _made_for(f: RunRow, run: RunSpec, source: str | None) -> bool:
    """Whether run ``f`` (same subject, dataset and labels) was made for declared ``run``, from this source."""
    if f.settings != run.settings.to_dict():
        return False
    if run.transfer is None:
        return f.parent_run is None
    return (
        f.parent_run == source
        and f.transfer is not None
        and (f.transfer["mode"], f.transfer["adapt"]) == (run.transfer.mode, run.transfer.adapt)
    )


def _waiting_reason(run: RunSpec) -> str:
    transfer = run.transfer
    assert transfer is not None
    whose = f"{transfer.source_subject}'s " if transfer.source_subject else "a "
    split = " with the same item split" if transfer.source_subject and transfer.source_dataset == run.dataset else ""
    return (
        f"waits for {whose}finished {run.source_protocol} run on {transfer.source_dataset!r} "
        f"with {run.settings.backbone}{split}"
    )


def _where(row: RunRow) -> str:
    if row.job_id is not None:
        return f"{row.status} in {row.executor} job {row.job_id}"
    return f"{row.status} ({row.owner.describe()})" if row.owner else row.status


def plan(ws: Workspace, epochs: int | None = None, subjects: SubjectFilter | None = None) -> list[PlannedRun]:
    """Every declared run for every subject with labels on its dataset, and whether it is done.

    ``epochs`` overrides every declared run's epochs (e.g. 1 for a quick pass); ``subjects``
    limits the subjects planned for.
    """
    spec = ws.spec()
    with ws.connect():  # one connection for every read of the plan
        return _plan(ws, spec.runs, epochs, subjects or SubjectFilter())


def _plan(
    ws: Workspace, declared_runs: tuple[RunSpec, ...], epochs: int | None, chosen: SubjectFilter
) -> list[PlannedRun]:
    finished = _Finished(finished_runs(ws))
    unfinished = list_runs(ws, [INTERRUPTED, QUEUED, RUNNING])  # marks runs whose process has gone first
    interrupted = _Finished([r for r in unfinished if r.status == INTERRUPTED])
    active = _Finished([r for r in unfinished if r.status != INTERRUPTED])
    kinds = subject_kinds(ws)
    per_dataset: dict[str, tuple] = {}
    checked: dict[tuple, str | None] = {}  # why a subject's run with these settings cannot be made, or None
    planned = []
    for declared in declared_runs:
        run = RunSpec(declared.dataset, declared.settings.replace(epochs=epochs), declared.transfer, declared.subjects)
        if run.dataset not in per_dataset:
            labels = usable_labels_by_subject(ws, run.dataset)
            rated = rated_subjects(ws, run.dataset)
            ratings = ratings_by_subject(ws, run.dataset) if rated else {}
            items = DatasetSplit(official_splits(ws, run.dataset)) if labels or ratings else None
            # A rater whose every rating ties with their cut has no usable label: planned, and blocked.
            subjects = chosen.apply(sorted(set(labels) | set(ratings)), kinds)
            per_dataset[run.dataset] = (labels, ratings, rated, items, subjects)
        labels, ratings, rated, items, subjects = per_dataset[run.dataset]
        source_subject = run.transfer.source_subject if run.transfer else None
        for subject in subjects:
            if subject == source_subject or not run.covers(subject):  # the population does not start from itself
                continue
            rating = ratings.get(subject) if subject in rated else None
            own = labels.get(subject, NO_LABELS)
            planned.append(_plan_one(subject, run, own, rating, items, finished, interrupted, active, checked))
    return planned


def _plan_one(
    subject: str,
    run: RunSpec,
    labels: UsableLabels,
    ratings: Ratings | None,
    items: DatasetSplit,
    finished: _Finished,
    interrupted: _Finished,
    active: _Finished,
    checked: dict[tuple, str | None],
) -> PlannedRun:
    source = _source_run(finished, subject, run) if run.transfer else None
    key = (subject, run.dataset, labels_digest(labels, ratings))
    done = [f.id for f in finished.by_labels.get(key, []) if _made_for(f, run, source)]
    if done:
        return PlannedRun(subject, run, DONE, run_id=done[-1], source_run=source)
    busy = [f for f in active.by_labels.get(key, []) if _made_for(f, run, source)]
    if busy:
        return PlannedRun(subject, run, ACTIVE, run_id=busy[-1].id, source_run=source, reason=_where(busy[-1]))
    why = checked.get((subject, run.dataset, run.settings), "")
    if why == "":  # entries that differ only by transfer share the check
        try:
            prepare_labels(subject, run.dataset, labels, run.settings, items, ratings)
            why = None
        except PrefstudyError as error:
            why = str(error)
        checked[(subject, run.dataset, run.settings)] = why
    if why is not None:
        return PlannedRun(subject, run, BLOCKED, reason=why)
    if run.transfer is not None and source is None:
        return PlannedRun(subject, run, WAITING, reason=_waiting_reason(run))
    begun = [f.id for f in interrupted.by_labels.get(key, []) if _made_for(f, run, source)]
    return PlannedRun(subject, run, TODO, source_run=source, resumes=begun[-1] if begun else None)


def study_planner(
    ws: Workspace, epochs: int | None = None, subjects: SubjectFilter | None = None
) -> Callable[[], list[RunOrder]]:
    """What `study run` hands the runner: each time it is called, the planned runs that are due now (so the
    transfer runs whose sources one wave made are due in the next)."""
    return lambda: [p.order() for p in plan(ws, epochs, subjects) if p.status == TODO]
