"""A run as the database holds it (:mod:`.record` reads and writes the rows). Torch-free."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prefstudy.config import DEFAULT_SETTINGS
from prefstudy.errors import PrefstudyError
from prefstudy.runs.status import FINISHED, QUEUED, RUNNING, Owner, owner_alive


@dataclass(frozen=True)
class RunRow:
    """A run as the database holds it."""

    id: str
    subject: str
    dataset: str
    backbone: str
    protocol: str
    parent_run: str | None
    seed: int
    epochs: int
    config: dict[str, Any]
    labels_digest: str
    status: str
    error: str | None
    best_epoch: int | None
    device: str | None
    duration_s: float | None
    train_images_per_s: float | None
    precision: str | None
    owner: Owner | None = None  # the process a running run lives in (none for runs made elsewhere)
    created_at: datetime | None = None
    executor: str | None = None  # local, ray or slurm: what a queued or running run was handed to
    job_id: str | None = None  # that executor's id of its job
    attempts: int | None = None

    @property
    def settings(self) -> dict[str, Any]:
        """Every setting, those added since the run was made at their defaults."""
        return {**DEFAULT_SETTINGS, **self.config["settings"]}

    @property
    def model(self) -> str:
        """What the run's model is, as a report names it: its backbone, or a head run's extractor and head
        (``face+linear``, with its target when it learned ratings)."""
        head = self.settings.get("head")
        if head is None:
            return self.backbone
        target = self.settings.get("target", "answers")
        return f"{self.backbone}+{head}" + ("" if target == "answers" else f" on {target}")

    @property
    def transfer(self) -> dict[str, Any] | None:
        """What a transfer run records about its start (source run and dataset, mode, adapt), else None."""
        return self.config.get("transfer")


def check_resumable(row: RunRow) -> None:
    """Refuse to resume a finished run, or one whose process still runs (here, or on another host)."""
    if row.status == FINISHED:
        raise PrefstudyError(f"run {row.id} is already finished; start a new run instead")
    if row.status in (QUEUED, RUNNING) and row.owner is None and row.job_id is not None:
        raise PrefstudyError(
            f"run {row.id} is {row.status} in {row.executor} job {row.job_id}; `prefstudy study run --executor "
            f"{row.executor}` waits for it, or cancel that job first"
        )
    if row.status in (QUEUED, RUNNING) and row.owner is not None and owner_alive(row.owner) is not False:
        raise PrefstudyError(
            f"run {row.id} is still {row.status} ({row.owner.describe()}); let it finish, or stop that process first"
        )
