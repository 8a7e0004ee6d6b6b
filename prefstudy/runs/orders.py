"""What to make: a run order names a subject, a dataset, the settings and the start of one run.

`prefstudy run` turns its options into orders here (subjects x folds, each fold's transfer source
resolved), as `prefstudy study run` turns its plan into orders (:mod:`prefstudy.study.plan`); both
hand them to the same runner (:mod:`prefstudy.executors.driver`). Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass

from prefstudy.config import DEFAULT_ADAPT, DEFAULT_TRANSFER_MODE, TrainSettings, TransferRequest, transfer_of
from prefstudy.errors import PrefstudyError
from prefstudy.runs.prepare import labels_digest
from prefstudy.runs.record import check_resumable, finished_runs, get_run
from prefstudy.runs.row import RunRow
from prefstudy.runs.transfer_sources import resolve_source
from prefstudy.subjects.labels import NO_LABELS, ratings_by_subject, subjects_with_labels, usable_labels_by_subject
from prefstudy.subjects.ratings import rated_subjects
from prefstudy.workspace import Workspace


@dataclass(frozen=True)
class RunOrder:
    """One run to make: ``subject``'s model on ``dataset`` with ``settings``, from scratch or from ``transfer``'s
    source run; or, with ``resumes``, the interrupted run of that id, continued from its last checkpoint."""

    subject: str
    dataset: str
    settings: TrainSettings
    transfer: TransferRequest | None = None
    resumes: str | None = None

    def describe(self) -> str:
        """e.g. ``alice on fm (paper-vgg, model2, fold 2/5, finetune from RUN)``."""
        s = self.settings
        details = [s.backbone, s.protocol]
        if s.folds is not None and s.fold is not None:
            details.append(f"fold {s.fold + 1}/{s.folds}")
        if self.transfer is not None:
            details.append(f"{self.transfer.mode} from {self.transfer.source_run}")
        return f"{self.subject} on {self.dataset} ({', '.join(details)})"


@dataclass(frozen=True)
class Requested:
    """What `prefstudy run` was asked to make: whose models (``subject``, or every subject with labels when
    None), on which dataset, with which settings (``folds`` without ``fold``: one run per fold), started from
    ``transfer_from`` (a run id, or ``subject:NAME[@DATASET]``, resolved per fold)."""

    dataset: str
    settings: TrainSettings
    subject: str | None = None
    transfer_from: str | None = None
    mode: str = DEFAULT_TRANSFER_MODE
    adapt: str = DEFAULT_ADAPT


def requested_orders(ws: Workspace, requested: Requested) -> list[RunOrder]:
    """The runs ``requested`` names, in order: subject by subject, fold by fold."""
    subjects = [requested.subject] if requested.subject is not None else subjects_with_labels(ws, requested.dataset)
    if not subjects:
        raise PrefstudyError(f"no subject has labels on {requested.dataset!r}")
    orders = []
    with ws.connect():  # one connection for every source resolved
        for subject in subjects:
            for settings in requested.settings.per_fold():
                transfer = None
                if requested.transfer_from is not None:
                    source = resolve_source(ws, requested.transfer_from, requested.dataset, settings)
                    transfer = TransferRequest(source, requested.mode, requested.adapt)
                orders.append(RunOrder(subject, requested.dataset, settings, transfer))
    return orders


def resume_order(ws: Workspace, run_id: str) -> RunOrder:
    """The order that continues unfinished run ``run_id`` with its recorded settings and start."""
    row = get_run(ws, run_id)
    check_resumable(row)
    return RunOrder(row.subject, row.dataset, TrainSettings(**row.settings), transfer_of(row.config), resumes=run_id)


def identical_finished(ws: Workspace, orders: list[RunOrder]) -> dict[int, str]:
    """For each order (by index) that a finished run already made, that run's id: the same subject, dataset and
    settings, the same start (source run, mode, adaptation) and the same labels and ratings (their digest, as
    `study plan` judges a declared run done). Making a run always makes a new one; `run` reuses these unless
    asked to make them again."""
    found: dict[int, str] = {}
    by_dataset: dict[str, tuple] = {}
    with ws.connect():
        finished: dict[tuple[str, str], list[RunRow]] = {}
        subjects = {o.subject for o in orders}
        one = next(iter(subjects)) if len(subjects) == 1 else None  # `run --subject`: that subject's runs only
        for dataset in sorted({o.dataset for o in orders}):
            for row in finished_runs(ws, subject=one, dataset=dataset):  # oldest first: the latest identical wins
                finished.setdefault((row.subject, row.dataset), []).append(row)
        for i, order in enumerate(orders):
            candidates = finished.get((order.subject, order.dataset))
            if not candidates or order.resumes is not None:
                continue
            if order.dataset not in by_dataset:
                rated = rated_subjects(ws, order.dataset)
                ratings = ratings_by_subject(ws, order.dataset) if rated else {}
                by_dataset[order.dataset] = (usable_labels_by_subject(ws, order.dataset), ratings, rated)
            labels, ratings, rated = by_dataset[order.dataset]
            digest = labels_digest(
                labels.get(order.subject, NO_LABELS), ratings.get(order.subject) if order.subject in rated else None
            )
            same = [r.id for r in candidates if r.labels_digest == digest and _same_start(r, order)]
            if same:
                found[i] = same[-1]
    return found


def _same_start(row: RunRow, order: RunOrder) -> bool:
    if row.settings != order.settings.to_dict():
        return False
    if order.transfer is None:
        return row.parent_run is None
    recorded = row.transfer or {}
    return (row.parent_run, recorded.get("mode"), recorded.get("adapt")) == (
        order.transfer.source_run,
        order.transfer.mode,
        order.transfer.adapt,
    )
