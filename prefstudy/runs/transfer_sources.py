"""Which run a transfer starts from, and the check that it never trained on the new run's test items.

``--transfer-from`` names a run by id, or a subject: ``subject:NAME`` is NAME's latest finished run
on the run's own dataset, ``subject:NAME@DATASET`` on another. On the same dataset the source must
share the run's item split (``--split-by item``, same seed, test fraction and fold), so a personal
model started from the population's never meets a test item the population model trained on.
"""

from __future__ import annotations

from prefstudy.config import SPLIT_BY_ITEM, TrainSettings
from prefstudy.errors import PrefstudyError
from prefstudy.runs.record import RunRow, finished_runs, predictions
from prefstudy.splits import TEST, UNUSED
from prefstudy.workspace import Workspace

SUBJECT_PREFIX = "subject:"


def parse_subject_source(text: str, dataset: str) -> tuple[str, str] | None:
    """(subject, source dataset) for ``subject:NAME[@DATASET]``; None for a run id."""
    if not text.startswith(SUBJECT_PREFIX):
        return None
    name, _, source_dataset = text.removeprefix(SUBJECT_PREFIX).partition("@")
    if not name:
        raise PrefstudyError(f"--transfer-from {text!r}: give subject:NAME or subject:NAME@DATASET")
    return name, source_dataset or dataset


def same_item_split(row: RunRow, settings: TrainSettings) -> bool:
    """Whether a run tests exactly the items a run with ``settings`` tests (a dataset-level item split)."""
    source = TrainSettings(**row.settings)
    return settings.split_by == SPLIT_BY_ITEM and source.split_key == settings.split_key


def latest_source(
    runs: list[RunRow], subject: str, source_dataset: str, dataset: str, settings: TrainSettings
) -> RunRow | None:
    """The latest of ``runs`` (oldest first) that subject-sourced transfer may start from, or None."""
    found = [r for r in runs if (r.subject, r.dataset) == (subject, source_dataset)]
    if source_dataset == dataset:
        found = [r for r in found if same_item_split(r, settings)]
    return found[-1] if found else None


def resolve_source(ws: Workspace, text: str, dataset: str, settings: TrainSettings) -> str:
    """The run id ``--transfer-from`` means for a run on ``dataset`` with ``settings``."""
    parsed = parse_subject_source(text, dataset)
    if parsed is None:
        return text
    subject, source_dataset = parsed
    found = latest_source(finished_runs(ws, subject=subject), subject, source_dataset, dataset, settings)
    if found is not None:
        return found.id
    if source_dataset == dataset:
        if settings.split_by != SPLIT_BY_ITEM:
            raise PrefstudyError(
                f"--transfer-from {text} on the same dataset needs --split-by item: a split per subject "
                "would test this subject on items the source model trained on"
            )
        fold = f", fold {settings.fold} of {settings.folds}" if settings.folds else ""
        raise PrefstudyError(
            f"subject {subject!r} has no finished run on {dataset!r} with this item split "
            f"(seed {settings.seed}, test fraction {settings.test_fraction}{fold}); make that run first"
        )
    raise PrefstudyError(f"subject {subject!r} has no finished run on {source_dataset!r}; make that run first")


def check_no_leak(
    ws: Workspace, source_run: str, dataset: str, test_items: set[int], learned: frozenset[int] | None = None
) -> None:
    """Refuse a transfer whose source run, on the same dataset, trained or validated on one of ``test_items``.

    ``learned`` is :func:`learned_items` of the source, where the caller read it already (one source, many runs).
    """
    learned = learned_items(ws, source_run) if learned is None else learned
    leaked = sorted(learned & test_items)
    if leaked:
        raise PrefstudyError(
            f"run {source_run} learned from {len(leaked)} of this run's test items on {dataset!r} "
            f"(first: item {leaked[0]}); start both runs with --split-by item and the same seed and folds"
        )


def learned_items(ws: Workspace, source_run: str) -> frozenset[int]:
    """The items a run trained or validated on (answered, neither tested nor unused)."""
    return frozenset(
        p.item_idx for p in predictions(ws, source_run) if p.label is not None and p.split not in (TEST, UNUSED)
    )
