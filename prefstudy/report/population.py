"""Personal vs population: does a model of *this* person predict them better than a model of everyone?

For each rated subject's run on a dataset-level item split, its population run is the consensus
subject's run it started from (fine-tuned or head-only), or, for a personal model trained from
scratch, the consensus's latest run with the same item split. Both are scored on the rater's own
test items against the rater's own answers (accuracy, ties left out) and ratings (Spearman's rho,
ties in). Runs of the k folds of one setting are pooled, so every item is tested once. The ceiling
is the consensus itself with no model: the mean rating of the *other* raters of the consensus.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass

import numpy as np

from prefstudy.config import SPLIT_BY_ITEM, TrainSettings
from prefstudy.metrics import spearman
from prefstudy.report.paired import PairedSummary, mcnemar_attainable, summarize_paired
from prefstudy.runs.record import RunRow, prediction_columns
from prefstudy.splits import TEST
from prefstudy.stats import (
    MeanInterval,
    SignTest,
    Spread,
    Wilcoxon,
    finite_or_none,
    mcnemar_exact,
    sign_test,
    spread,
    t_interval,
    wilcoxon,
)
from prefstudy.subjects.consensus import consensus_of
from prefstudy.subjects.labels import rating_totals
from prefstudy.subjects.roster import CONSENSUS, subject_kinds
from prefstudy.workspace import Workspace

SCRATCH = "from scratch"


@dataclass(frozen=True)
class RaterComparison:
    """One rater's personal model beside the population's, pooled over folds, on the rater's test items."""

    subject: str
    dataset: str
    variant: str  # finetune / frozen from the consensus, or from scratch
    population: str  # the consensus subject
    folds: int  # runs pooled
    n_test: int  # answered test items (accuracy)
    n_rated: int  # rated test items, ties included (rho)
    personal_accuracy: float
    population_accuracy: float
    personal_rho: float | None
    population_rho: float | None
    ceiling_accuracy: float | None  # the other raters' mean rating as the predictor
    ceiling_rho: float | None
    personal_only: int = 0  # test items only the personal model got right (McNemar's discordant pairs)
    population_only: int = 0
    mcnemar_p: float | None = None  # exact McNemar test, personal vs population, on the rater's test items

    @property
    def accuracy_gain(self) -> float:
        return self.personal_accuracy - self.population_accuracy

    @property
    def rho_gain(self) -> float | None:
        if self.personal_rho is None or self.population_rho is None:
            return None
        return self.personal_rho - self.population_rho


@dataclass(frozen=True)
class PopulationSummary:
    """Across raters, for one dataset and variant: spreads, how many the personal model beats, paired tests."""

    dataset: str
    variant: str
    population: str
    raters: int
    personal_accuracy: Spread
    population_accuracy: Spread
    personal_rho: Spread
    population_rho: Spread
    ceiling_rho: Spread
    ceiling_accuracy: Spread
    accuracy_wins: int  # raters whose personal accuracy is higher (ties: neither)
    accuracy_losses: int
    rho_wins: int
    rho_losses: int
    accuracy_test: Wilcoxon  # paired, personal minus population, across raters
    rho_test: Wilcoxon
    accuracy_paired: PairedSummary | None = None  # the gain's mean with a CI, sign test, Holm over McNemar tests
    rho_gain: MeanInterval | None = None
    rho_sign: SignTest | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["accuracy_paired"] = None if self.accuracy_paired is None else self.accuracy_paired.to_dict()
        return data


def _population_run(run: RunRow, consensus_runs: list[RunRow]) -> RunRow | None:
    """The consensus run a personal run is compared with (see the module docstring), or None."""
    if run.parent_run is not None:
        return next((c for c in consensus_runs if c.id == run.parent_run), None)
    settings = TrainSettings(**run.settings)
    found = [
        c
        for c in consensus_runs
        if c.dataset == run.dataset
        and c.parent_run is None
        and TrainSettings(**c.settings).split_key == settings.split_key
        and (c.model, c.protocol) == (run.model, run.protocol)
    ]
    return found[-1] if found else None


def _group_key(run: RunRow, population: RunRow) -> tuple:
    """Runs that differ only by fold are pooled."""
    settings = {k: v for k, v in run.settings.items() if k != "fold"}
    return (run.subject, run.dataset, variant_of(run), population.subject, tuple(sorted(settings.items(), key=str)))


def variant_of(run: RunRow) -> str:
    """How a personal model was made: from scratch, or from the population's (fine-tuned, frozen features, or a
    head's shrunk deviation); a head run's names its extractor and head."""
    if run.settings.get("head") is None:
        return run.transfer["mode"] if run.transfer else SCRATCH
    return f"{run.model}, {'deviation from the population' if run.transfer else SCRATCH}"


def collect_comparisons(ws: Workspace, runs: list[RunRow]) -> list[RaterComparison]:
    """Every rated subject's personal runs on an item split, pooled over folds, beside the population's."""
    kinds = subject_kinds(ws)
    item_runs = [r for r in runs if r.settings.get("split_by") == SPLIT_BY_ITEM]
    consensus_runs = [r for r in item_runs if kinds.get(r.subject) == CONSENSUS]
    groups: dict[tuple, list[tuple[RunRow, RunRow]]] = defaultdict(list)
    for run in item_runs:
        if kinds.get(run.subject) == CONSENSUS:
            continue
        population = _population_run(run, consensus_runs)
        if population is not None:
            groups[_group_key(run, population)].append((run, population))  # oldest first: the latest fold wins
    if not groups:
        return []
    needed = {r.id for pairs in groups.values() for pair in pairs for r in pair}
    columns = prediction_columns(ws, needed)
    per_run = _split_by_run(columns)
    ceilings = _Ceilings(ws)
    out = []
    for (subject, dataset, variant, population, _), pairs in sorted(groups.items(), key=lambda kv: kv[0][:4]):
        latest_per_fold = {run.settings.get("fold"): (run, pop) for run, pop in pairs}
        out.append(_compare(subject, dataset, variant, population, list(latest_per_fold.values()), per_run, ceilings))
    return [c for c in out if c is not None]


def _split_by_run(columns: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    run_ids = columns["run_id"]
    if not len(run_ids):
        return {}
    starts = np.flatnonzero(np.r_[True, run_ids[1:] != run_ids[:-1]])
    ends = np.r_[starts[1:], len(run_ids)]
    return {str(run_ids[a]): {k: v[a:b] for k, v in columns.items()} for a, b in zip(starts, ends, strict=True)}


class _Ceilings:
    """The consensus as a predictor: per item, the mean rating of its raters other than the one scored."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.made: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, set[str]]] = {}

    def predictor(
        self, population: str, dataset: str, subject: str, items: np.ndarray, own: np.ndarray
    ) -> tuple[np.ndarray, float] | None:
        """(others' mean rating, their median over the dataset's items) at ``items``; None without a consensus."""
        key = (population, dataset)
        if key not in self.made:
            raters = consensus_of(self.ws, population, dataset) or []
            with self.ws.connect() as con:
                sums = rating_totals(con, dataset, raters)
            n_items = int(np.max(sums["item_idx"])) + 1 if len(sums["item_idx"]) else 0
            total, count = np.zeros(n_items), np.zeros(n_items)
            total[sums["item_idx"]], count[sums["item_idx"]] = sums["total"], sums["n"]
            self.made[key] = (total, count, set(raters))
        total, count, raters = self.made[key]
        if not len(count) or items.max() >= len(count):
            return None
        mine = subject in raters
        with np.errstate(invalid="ignore", divide="ignore"):
            everyone = total / count
            others = (total[items] - (own if mine else 0)) / (count[items] - (1 if mine else 0))
        return others, float(np.nanmedian(everyone[count > 0]))


def _compare(
    subject: str,
    dataset: str,
    variant: str,
    population: str,
    pairs: list[tuple[RunRow, RunRow]],
    per_run: dict[str, dict[str, np.ndarray]],
    ceilings: _Ceilings,
) -> RaterComparison | None:
    labels, ratings, personal, pooled_population, items = [], [], [], [], []
    for run, pop in pairs:
        own = per_run.get(run.id)
        theirs = per_run.get(pop.id)
        if own is None or theirs is None:
            continue
        test = own["split"] == TEST
        p_population = dict(zip(theirs["item_idx"].tolist(), theirs["p_preferred"].tolist(), strict=True))
        for item, label, rating, p in zip(
            own["item_idx"][test], own["label"][test], own["rating"][test], own["p_preferred"][test], strict=True
        ):
            if item in p_population:
                items.append(item)
                labels.append(label)
                ratings.append(rating)
                personal.append(p)
                pooled_population.append(p_population[item])
    if not items:
        return None
    items_a, ratings_a = np.asarray(items), np.asarray(ratings, dtype=np.float64)
    answered = np.array([label is not None for label in labels])
    truth = np.array([bool(label) for label in labels])
    personal_a, population_a = np.asarray(personal), np.asarray(pooled_population)

    def accuracy(p: np.ndarray) -> float:
        return float(np.mean((p[answered] > 0.5) == truth[answered])) if answered.any() else float("nan")

    personal_right = (personal_a[answered] > 0.5) == truth[answered]
    population_right = (population_a[answered] > 0.5) == truth[answered]
    test = mcnemar_exact(
        int(np.sum(population_right & ~personal_right)), int(np.sum(personal_right & ~population_right))
    )

    rated = np.isfinite(ratings_a)
    ceiling_accuracy = ceiling_rho = None
    predicted = ceilings.predictor(population, dataset, subject, items_a, np.nan_to_num(ratings_a))
    if predicted is not None:
        others, median = predicted
        ceiling_accuracy = finite_or_none(accuracy(np.where(others > median, 1.0, 0.0)))
        ceiling_rho = finite_or_none(spearman(others[rated], ratings_a[rated]))
    return RaterComparison(
        subject=subject,
        dataset=dataset,
        variant=variant,
        population=population,
        folds=len(pairs),
        n_test=int(answered.sum()),
        n_rated=int(rated.sum()),
        personal_accuracy=accuracy(personal_a),
        population_accuracy=accuracy(population_a),
        personal_rho=finite_or_none(spearman(personal_a[rated], ratings_a[rated])),
        population_rho=finite_or_none(spearman(population_a[rated], ratings_a[rated])),
        ceiling_accuracy=ceiling_accuracy,
        ceiling_rho=ceiling_rho,
        personal_only=test.c,
        population_only=test.b,
        mcnemar_p=test.p_value,
    )


def summarize_comparisons(comparisons: list[RaterComparison]) -> list[PopulationSummary]:
    """Per (dataset, variant, population): the spread across raters, wins, and Wilcoxon's paired tests."""
    groups: dict[tuple[str, str, str], list[RaterComparison]] = defaultdict(list)
    for c in comparisons:
        groups[(c.dataset, c.variant, c.population)].append(c)
    out = []
    for (dataset, variant, population), items in sorted(groups.items()):
        acc_gain = np.array([c.accuracy_gain for c in items])
        rho_gain = np.array([np.nan if c.rho_gain is None else c.rho_gain for c in items])

        def values(name: str, chosen: list[RaterComparison] = items) -> list[float]:
            return [np.nan if getattr(c, name) is None else getattr(c, name) for c in chosen]

        out.append(
            PopulationSummary(
                dataset=dataset,
                variant=variant,
                population=population,
                raters=len(items),
                personal_accuracy=spread(values("personal_accuracy")),
                population_accuracy=spread(values("population_accuracy")),
                personal_rho=spread(values("personal_rho")),
                population_rho=spread(values("population_rho")),
                ceiling_rho=spread(values("ceiling_rho")),
                ceiling_accuracy=spread(values("ceiling_accuracy")),
                accuracy_wins=int(np.sum(acc_gain > 0)),
                accuracy_losses=int(np.sum(acc_gain < 0)),
                rho_wins=int(np.nansum(rho_gain > 0)),
                rho_losses=int(np.nansum(rho_gain < 0)),
                accuracy_test=wilcoxon(acc_gain),
                rho_test=wilcoxon(rho_gain),
                accuracy_paired=summarize_paired(
                    acc_gain.tolist(), [c.mcnemar_p for c in items], [mcnemar_attainable(c.n_test) for c in items]
                ),
                rho_gain=t_interval(rho_gain),
                rho_sign=sign_test(rho_gain),
            )
        )
    return out
