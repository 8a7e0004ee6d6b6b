"""A finished run as the report shows it: its confusion tables and its test score."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from prefstudy.metrics import Confusion, RankScore
from prefstudy.report.identity import Identity, identity
from prefstudy.report.scores import Score, score_of
from prefstudy.runs.record import SPLIT_ORDER as SPLITS
from prefstudy.runs.record import RunRow
from prefstudy.splits import TEST, TRAIN


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    subject: str
    dataset: str
    backbone: str
    protocol: str
    seed: int
    epochs: int
    best_epoch: int | None
    parent_run: str | None
    n_labels: int
    n_train: int  # training labels actually used (a train-size limit lowers it)
    train_size: int | None
    transfer: str | None  # e.g. "finetune from fm"; None for a model trained from scratch
    duration_s: float | None
    metrics: dict[str, Confusion]
    score: Score | None = None  # the test split's accuracy with its interval, chance and test
    fold: int | None = None  # of k item folds (runs of one setting's folds are pooled across subjects)
    identity: Identity = ()  # every setting that made the model (see prefstudy.report.identity)

    def to_dict(self) -> dict:
        # Field by field, not asdict's deep recursion: a report of real people holds tens of thousands of runs.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["metrics"] = {split: {**vars(c), "accuracy": c.accuracy} for split, c in self.metrics.items()}
        data["score"] = None if self.score is None else dict(vars(self.score))
        data["settings"] = dict(data.pop("identity"))
        return data


def summarize_run(
    row: RunRow,
    metrics: dict[str, Confusion],
    ranks: dict[str, RankScore] | None = None,
    subject_of: Mapping[str, str] | None = None,
) -> RunSummary:
    """A finished run as the report shows it (``subject_of``: run id -> subject, naming a transfer's source)."""
    return RunSummary(
        run_id=row.id,
        subject=row.subject,
        dataset=row.dataset,
        backbone=row.model,
        protocol=row.protocol,
        seed=row.seed,
        epochs=row.epochs,
        best_epoch=row.best_epoch,
        parent_run=row.parent_run,
        n_labels=row.config["n_labels"],
        n_train=row.config["split_sizes"][TRAIN],
        train_size=row.settings.get("train_size"),
        transfer=_transfer(row),
        duration_s=row.duration_s,
        metrics={s: metrics[s] for s in SPLITS if s in metrics},
        score=score_of(metrics[TEST], (ranks or {}).get(TEST), metrics.get(TRAIN)) if TEST in metrics else None,
        fold=row.settings.get("fold"),
        identity=identity(row, subject_of or {}),
    )


def _transfer(row: RunRow) -> str | None:
    """How the run started: e.g. "finetune from fm"; a head from a population head deviates from it."""
    transfer = row.transfer
    if transfer is None:
        return None
    if row.settings.get("head"):  # named as the personal-vs-population table names it
        return "deviation from the population"
    return f"{transfer['mode']} from {transfer['source_dataset']}"
