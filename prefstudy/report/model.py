"""What a report holds, collected from the study database: finished runs with their scores, and the
statistics across subjects built on them.

Renderers (:mod:`prefstudy.report.render`, :mod:`prefstudy.report.html`) only format this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase
from functools import cached_property

from prefstudy.active.curve_store import StoredCurve
from prefstudy.config import Inference
from prefstudy.datasets.catalog import get_dataset
from prefstudy.errors import PrefstudyError
from prefstudy.report.across_raters import PopulationSummary, summarize_comparisons
from prefstudy.report.curves import LabelsNeeded, collect_curves, curve_dict, summarize_curves, summary_dicts
from prefstudy.report.explanations import AgreementRow, collect_agreement
from prefstudy.report.groups import GroupSummary, summarize_groups
from prefstudy.report.interrater import RaterAgreement, rater_agreement
from prefstudy.report.population import RaterComparison, collect_comparisons
from prefstudy.report.run_summary import RunSummary, summarize_run
from prefstudy.report.subjects import SubjectRow, SubjectsSummary, subject_rows, summarize_subjects
from prefstudy.report.transfer import GainSummary, TransferPair, collect_pairs, summarize_gains
from prefstudy.runs.record import finished_runs, run_metrics, run_rank_scores
from prefstudy.stats.methods import methods_sentences
from prefstudy.subjects.labels import trial_summaries, usable_labels_by_subject
from prefstudy.subjects.roster import CONSENSUS, subject_kinds
from prefstudy.workspace import Workspace

PER_SUBJECT_UP_TO = 50
"""Beyond this many subjects with answers, the readable formats summarise the subjects' *answers* (preferences,
consistency, response times) per dataset instead of a row per subject (JSON keeps them). The tables of runs are
not limited by it: they list every subject with runs."""


@dataclass
class Report:
    study: str
    runs: list[RunSummary] = field(default_factory=list)
    groups: list[GroupSummary] = field(default_factory=list)
    transfer_pairs: list[TransferPair] = field(default_factory=list)
    agreement: list[AgreementRow] = field(default_factory=list)
    comparisons: list[RaterComparison] = field(default_factory=list)  # personal vs population, per rater
    subjects: list[SubjectRow] = field(default_factory=list)  # per subject and dataset
    interrater: list[RaterAgreement] = field(default_factory=list)  # per dataset
    curves: list[StoredCurve] = field(default_factory=list)  # learning curves (`prefstudy curve`): not runs
    filters: dict[str, list[str] | str | None] = field(default_factory=dict)  # {"subjects": [globs], "dataset"}
    inference: Inference = field(default_factory=Inference)  # margins, bootstrap size and seed across raters

    @cached_property
    def transfer_gains(self) -> list[GainSummary]:
        return summarize_gains(self.transfer_pairs)

    @cached_property
    def population(self) -> list[PopulationSummary]:
        return summarize_comparisons(self.comparisons, self.inference)

    @cached_property
    def subjects_summary(self) -> list[SubjectsSummary]:
        return summarize_subjects(self.subjects)

    @cached_property
    def labels_needed(self) -> list[LabelsNeeded]:
        return summarize_curves(self.curves)

    @property
    def n_subjects(self) -> int:
        """Subjects with runs or answers."""
        return len({r.subject for r in self.runs} | {s.subject for s in self.subjects})

    @property
    def n_subjects_with_runs(self) -> int:
        return len({r.subject for r in self.runs})

    @property
    def n_subjects_with_answers(self) -> int:
        return len({s.subject for s in self.subjects})

    def to_dict(self) -> dict:
        return {
            "study": self.study,
            "filters": self.filters,
            "runs": [r.to_dict() for r in self.runs],
            "groups": [g.to_dict() for g in self.groups],
            "transfer_pairs": [asdict(p) for p in self.transfer_pairs],
            "transfer_gains": [g.to_dict() for g in self.transfer_gains],
            "agreement": [asdict(a) for a in self.agreement],
            "inference": asdict(self.inference),
            "personal_vs_population": [c.to_dict() for c in self.comparisons],
            "personal_vs_population_summary": [p.to_dict() for p in self.population],
            "subjects": [asdict(s) for s in self.subjects],
            "subjects_summary": [asdict(s) for s in self.subjects_summary],
            "interrater": [a.to_dict() for a in self.interrater],
            "labels_needed": summary_dicts(self.labels_needed),
            "curves": [curve_dict(c) for c in self.curves],
            "methods": methods_sentences(self.inference.bootstrap_b),
        }


def _latest_accuracy(runs: list[RunSummary]) -> dict[tuple[str, str], tuple[str, float]]:
    latest = {}
    for run in runs:  # oldest first: the latest wins
        if run.score is not None and run.score.accuracy is not None:
            latest[(run.subject, run.dataset)] = (run.run_id, run.score.accuracy)
    return latest


def subject_patterns(subjects: Sequence[str] | str | None) -> tuple[str, ...]:
    """The ``--subjects`` globs as a tuple (one glob, several, or none: every subject)."""
    if subjects is None:
        return ()
    return (subjects,) if isinstance(subjects, str) else tuple(subjects)


def _check_filters(ws: Workspace, patterns: tuple[str, ...], dataset: str | None, names: Sequence[str]) -> None:
    """A filter that can only give an empty report is a mistake: say which, in one line."""
    if dataset is not None:
        get_dataset(ws, dataset)  # an unknown dataset fails with the study's datasets
    for pattern in patterns:
        if not any(fnmatchcase(name, pattern) for name in names):
            raise PrefstudyError(f"no subject of this study matches {pattern!r}; see `prefstudy subject list`")


def collect(
    ws: Workspace,
    subjects: Sequence[str] | str | None = None,
    dataset: str | None = None,
    inference: Inference | None = None,
) -> Report:
    """The finished runs and subjects (matching any of the globs ``subjects``, on ``dataset``), with statistics.

    A glob that matches no subject of the study, or a dataset it does not have, is an error.
    """
    patterns = subject_patterns(subjects)

    def chosen(name: str) -> bool:
        return not patterns or any(fnmatchcase(name, p) for p in patterns)

    with ws.connect():  # one connection for every read
        kinds = subject_kinds(ws)
        every_run = finished_runs(ws, dataset=dataset)
        _check_filters(ws, patterns, dataset, [*kinds, *{r.subject for r in every_run}])
        rows = [r for r in every_run if chosen(r.subject)]
        ids = [r.id for r in rows]
        metrics, ranks = run_metrics(ws, ids), run_rank_scores(ws, ids)
        subject_of = {r.id: r.subject for r in every_run}
        runs = [summarize_run(row, metrics.get(row.id, {}), ranks.get(row.id), subject_of) for row in rows]
        groups, runs = summarize_groups(runs)
        pairs = collect_pairs(ws, rows)
        agreement = collect_agreement(ws, set(ids))
        people = lambda name: chosen(name) and kinds.get(name) != CONSENSUS  # noqa: E731
        trials = [t for t in trial_summaries(ws, dataset) if people(t.subject)]
        consistency = {(t.subject, t.dataset): t.repeats_agreeing / t.repeats for t in trials if t.repeats}
        # The population's runs need not match the filter: compare over every run, then keep the chosen raters.
        comparisons = [c for c in collect_comparisons(ws, every_run, consistency) if chosen(c.subject)]
        interrater = []
        for name in sorted({t.dataset for t in trials}):
            answers = {s: a for s, a in usable_labels_by_subject(ws, name).items() if people(s)}
            found = rater_agreement(name, answers)
            if found is not None:
                interrater.append(found)
        curves = [c for c in collect_curves(ws, None, dataset) if chosen(c.subject)]
    return Report(
        study=ws.spec().name,
        runs=runs,
        groups=groups,
        transfer_pairs=pairs,
        agreement=agreement,
        comparisons=comparisons,
        subjects=subject_rows(trials, _latest_accuracy(runs)),
        interrater=interrater,
        curves=curves,
        filters={"subjects": list(patterns), "dataset": dataset},
        inference=inference or Inference(),
    )
