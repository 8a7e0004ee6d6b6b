"""What to make: a run order names a subject, a dataset, the settings and the start of one run.

`prefstudy run` turns its options into orders here (subjects x folds, each fold's transfer source
resolved), as `prefstudy study run` turns its plan into orders (:mod:`prefstudy.study.plan`); both
hand them to the same runner (:mod:`prefstudy.executors.driver`). Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass

from prefstudy.config import DEFAULT_ADAPT, DEFAULT_TRANSFER_MODE, TrainSettings, TransferRequest, transfer_of
from prefstudy.errors import PrefstudyError
from prefstudy.runs.record import check_resumable, get_run
from prefstudy.runs.transfer_sources import resolve_source
from prefstudy.subjects.labels import subjects_with_labels
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
