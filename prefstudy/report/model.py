"""What a report holds, collected from the study database: finished runs with their confusion tables.

Renderers (:mod:`prefstudy.report.render`) only format this; statistics and HTML extend it.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field

from prefstudy.metrics import Confusion
from prefstudy.report.agreement import AgreementRow, collect_agreement
from prefstudy.report.population import (
    PopulationSummary,
    RaterComparison,
    collect_comparisons,
    summarize_comparisons,
)
from prefstudy.report.transfer import GainSummary, TransferPair, collect_pairs, summarize_gains
from prefstudy.runs.record import SPLIT_ORDER as SPLITS
from prefstudy.runs.record import RunRow, finished_runs, run_metrics
from prefstudy.splits import TEST, TRAIN
from prefstudy.workspace import Workspace


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

    def to_dict(self) -> dict:
        data = asdict(self)
        data["metrics"] = {split: c.to_dict() for split, c in self.metrics.items()}
        return data


@dataclass(frozen=True)
class GroupSummary:
    """Test accuracy across subjects for one (dataset, backbone, protocol, transfer, train size)."""

    dataset: str
    backbone: str
    protocol: str
    transfer: str | None
    train_size: int | None
    n_subjects: int
    mean_test_accuracy: float
    sd_test_accuracy: float | None
    min_test_accuracy: float
    max_test_accuracy: float


@dataclass
class Report:
    study: str
    runs: list[RunSummary] = field(default_factory=list)
    groups: list[GroupSummary] = field(default_factory=list)
    transfer_pairs: list[TransferPair] = field(default_factory=list)
    agreement: list[AgreementRow] = field(default_factory=list)
    comparisons: list[RaterComparison] = field(default_factory=list)  # personal vs population, per rater

    @property
    def transfer_gains(self) -> list[GainSummary]:
        return summarize_gains(self.transfer_pairs)

    @property
    def population(self) -> list[PopulationSummary]:
        return summarize_comparisons(self.comparisons)

    def to_dict(self) -> dict:
        return {
            "study": self.study,
            "runs": [r.to_dict() for r in self.runs],
            "groups": [asdict(g) for g in self.groups],
            "transfer_pairs": [asdict(p) for p in self.transfer_pairs],
            "transfer_gains": [asdict(g) for g in self.transfer_gains],
            "agreement": [asdict(a) for a in self.agreement],
            "personal_vs_population": [
                {**asdict(c), "accuracy_gain": c.accuracy_gain, "rho_gain": c.rho_gain} for c in self.comparisons
            ],
            "personal_vs_population_summary": [asdict(p) for p in self.population],
        }


GroupKey = tuple[str, str, str, str | None, int | None]


def _group_key(run: RunSummary) -> GroupKey:
    return (run.dataset, run.backbone, run.protocol, run.transfer, run.train_size)


def _latest_per_subject(runs: list[RunSummary]) -> dict[GroupKey, dict[str, RunSummary]]:
    groups: dict[GroupKey, dict[str, RunSummary]] = {}
    for run in runs:  # runs come oldest first, so the latest run of a subject wins
        groups.setdefault(_group_key(run), {})[run.subject] = run
    return groups


def summarize_groups(runs: list[RunSummary]) -> list[GroupSummary]:
    """Per (dataset, backbone, protocol, transfer, train size): test accuracy over subjects' latest runs."""
    out = []
    by_key = _latest_per_subject(runs)
    for key in sorted(by_key, key=lambda k: tuple("" if v is None else str(v).zfill(9) for v in k)):
        accs = [r.metrics[TEST].accuracy for r in by_key[key].values() if TEST in r.metrics]
        if not accs:
            continue
        out.append(
            GroupSummary(
                *key,
                len(accs),
                statistics.fmean(accs),
                statistics.stdev(accs) if len(accs) > 1 else None,
                min(accs),
                max(accs),
            )
        )
    return out


def summarize_run(row: RunRow, metrics: dict[str, Confusion]) -> RunSummary:
    """A finished run as the report shows it."""
    transfer = row.transfer
    return RunSummary(
        run_id=row.id,
        subject=row.subject,
        dataset=row.dataset,
        backbone=row.backbone,
        protocol=row.protocol,
        seed=row.seed,
        epochs=row.epochs,
        best_epoch=row.best_epoch,
        parent_run=row.parent_run,
        n_labels=row.config["n_labels"],
        n_train=row.config["split_sizes"][TRAIN],
        train_size=row.settings.get("train_size"),
        transfer=f"{transfer['mode']} from {transfer['source_dataset']}" if transfer else None,
        duration_s=row.duration_s,
        metrics={s: metrics[s] for s in SPLITS if s in metrics},
    )


def collect(ws: Workspace, subject: str | None = None, dataset: str | None = None) -> Report:
    """The finished runs of the study (optionally of one subject or dataset), oldest first."""
    with ws.connect():  # one connection for every read
        rows = finished_runs(ws, subject=subject, dataset=dataset)
        metrics = run_metrics(ws, [r.id for r in rows])
        runs = [summarize_run(row, metrics.get(row.id, {})) for row in rows]
        pairs = collect_pairs(ws, rows)
        agreement = collect_agreement(ws, {r.run_id for r in runs})
        # The population's runs are not the subject's: compare over every run, then keep the subject's.
        comparisons = collect_comparisons(ws, rows if subject is None else finished_runs(ws, dataset=dataset))
        comparisons = [c for c in comparisons if subject is None or c.subject == subject]
    return Report(
        study=ws.spec().name,
        runs=runs,
        groups=summarize_groups(runs),
        transfer_pairs=pairs,
        agreement=agreement,
        comparisons=comparisons,
    )
