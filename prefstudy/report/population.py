"""Personal vs population: does a model of *this* person predict them better than a model of everyone,
and better than simply asking everyone else?

For each rated subject's run on a dataset-level item split, its population run is the consensus
subject's run it started from (fine-tuned, head-only or a head's deviation), or, for a personal model
trained from scratch, the consensus's latest run with the same item split and the same model. The
personal model is scored beside every baseline (:mod:`.baselines`: the image population model, the
training majority, the consensus with no model, the consensus plus this rater's deviation) on the
rater's own test items, against the rater's own answers (accuracy, ties left out) and ratings
(Spearman's ρ, ties in). Runs of the k folds of one setting are pooled, so every item is tested once:
accuracy and McNemar's discordant pairs over every test item, ρ within each fold and averaged over
the folds (fold models are calibrated differently: ρ across them would rank one fold's scores
against another's).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from prefstudy.config import SPLIT_BY_ITEM, TrainSettings
from prefstudy.metrics import spearman_columns
from prefstudy.report.baselines import ConsensusScores, training_majority
from prefstudy.report.identity import distinguish, identity
from prefstudy.runs.record import RunRow, prediction_columns
from prefstudy.splits import TEST, TRAIN
from prefstudy.stats import (
    binomial_greater,
    finite_or_none,
    mcnemar_exact,
    wilcoxon_p_rows,
)
from prefstudy.subjects.roster import CONSENSUS, subject_kinds
from prefstudy.workspace import Workspace

SCRATCH = "from scratch"
PERSONAL = "personal"
POPULATION, CONSENSUS_SCORE, MAJORITY, DEVIATION = "population", "consensus", "majority", "deviation"
BASELINES = {
    POPULATION: "image population model",
    MAJORITY: "training majority",
    CONSENSUS_SCORE: "consensus (no model)",
    DEVIATION: "consensus + this rater's deviation",
}


@dataclass(frozen=True)
class Versus:
    """The personal model against one baseline, on the rater's test items."""

    baseline: str
    personal_only: int  # test items only the personal model got right (McNemar's discordant pairs)
    baseline_only: int
    mcnemar_p: float | None  # exact, two-sided
    gain_p: float | None  # exact, one-sided: the personal model is right more often (for prevalence)
    rho_gain: float | None  # the mean over folds of the personal ρ minus the baseline's
    rho_folds_p: float | None  # Wilcoxon's signed-rank test on the folds' ρ differences (few folds: little power)
    rho_fold_differences: tuple[float, ...] = field(default=(), compare=False, repr=False)  # not in JSON


@dataclass(frozen=True)
class RaterComparison:
    """One rater's personal model beside the population's and the baselines, pooled over folds, on the rater's
    test items."""

    subject: str
    dataset: str
    variant: str  # how the personal model was made, with the settings that set it apart
    population: str  # the consensus subject
    folds: int  # runs pooled
    n_test: int  # answered test items (accuracy)
    n_rated: int  # rated test items, ties included (ρ)
    personal_accuracy: float
    population_accuracy: float
    personal_rho: float | None  # the mean of the folds' ρ
    population_rho: float | None
    consensus_accuracy: float | None  # the other raters' mean rating as the predictor (known items)
    consensus_rho: float | None
    majority_accuracy: float | None = None  # the training majority answer (the honest chance)
    deviation_accuracy: float | None = None  # the consensus plus this rater's deviation (known items)
    deviation_rho: float | None = None
    personal_only: int = 0  # against the image population model (as in ``versus``)
    population_only: int = 0
    mcnemar_p: float | None = None
    versus: tuple[Versus, ...] = ()
    consistency: float | None = None  # test-retest agreement on repeated items, where there are repeats
    reliable_accuracy: float | None = None  # the accuracy that consistency allows: (1 + sqrt(2c - 1)) / 2
    # Per answered test item (not in JSON): its index and whether each predictor got it right.
    items: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), compare=False, repr=False)
    right: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    @property
    def accuracy_gain(self) -> float:
        return self.personal_accuracy - self.population_accuracy

    @property
    def rho_gain(self) -> float | None:
        if self.personal_rho is None or self.population_rho is None:
            return None
        return self.personal_rho - self.population_rho

    @property
    def share_recovered(self) -> float | None:
        """(personal - training majority) / (reliable accuracy - training majority): the reliable signal recovered."""
        if self.reliable_accuracy is None or self.majority_accuracy is None:
            return None
        room = self.reliable_accuracy - self.majority_accuracy
        return (self.personal_accuracy - self.majority_accuracy) / room if room > 0 else None

    def against(self, baseline: str) -> Versus | None:
        return next((v for v in self.versus if v.baseline == baseline), None)

    def accuracy_of(self, predictor: str) -> float | None:
        return {
            PERSONAL: self.personal_accuracy,
            POPULATION: self.population_accuracy,
            CONSENSUS_SCORE: self.consensus_accuracy,
            MAJORITY: self.majority_accuracy,
            DEVIATION: self.deviation_accuracy,
        }[predictor]

    def rho_of(self, predictor: str) -> float | None:
        return {
            PERSONAL: self.personal_rho,
            POPULATION: self.population_rho,
            CONSENSUS_SCORE: self.consensus_rho,
            MAJORITY: None,
            DEVIATION: self.deviation_rho,
        }[predictor]

    def to_dict(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if k not in ("items", "right")}
        data["versus"] = [{k: v for k, v in asdict(x).items() if k != "rho_fold_differences"} for x in self.versus]
        return {
            **data,
            "accuracy_gain": self.accuracy_gain,
            "rho_gain": self.rho_gain,
            "share_recovered": self.share_recovered,
        }


def _population_run(run: RunRow, consensus_runs: list[RunRow], made: dict[str, tuple]) -> RunRow | None:
    """The consensus run a personal run is compared with (see the module docstring), or None (``made``: each
    consensus run's split and identity, computed once)."""
    if run.parent_run is not None:
        return next((c for c in consensus_runs if c.id == run.parent_run), None)
    mine = (TrainSettings(**run.settings).split_key, identity(run, {}))
    found = [
        c
        for c in consensus_runs
        if c.dataset == run.dataset
        and c.parent_run is None
        and (c.model, c.protocol) == (run.model, run.protocol)
        and made[c.id] == mine  # the same item split, and the same model made the same way, of everyone
    ]
    return found[-1] if found else None


def variant_of(run: RunRow) -> str:
    """How a personal model was made: from scratch, or from the population's (fine-tuned, frozen features, or a
    head's shrunk deviation); a head run's names its extractor and head."""
    if run.settings.get("head") is None:
        return f"{run.model}, {run.transfer['mode'] if run.transfer else SCRATCH}"
    return f"{run.model}, {'deviation from the population' if run.transfer else SCRATCH}"


def collect_comparisons(
    ws: Workspace, runs: list[RunRow], consistency: dict[tuple[str, str], float] | None = None
) -> list[RaterComparison]:
    """Every rated subject's personal runs on an item split, pooled over folds, beside the population's and the
    baselines (``consistency``: (subject, dataset) -> test-retest agreement, where there were repeats)."""
    kinds = subject_kinds(ws)
    subject_of = {r.id: r.subject for r in runs}
    item_runs = [r for r in runs if r.settings.get("split_by") == SPLIT_BY_ITEM]
    consensus_runs = [r for r in item_runs if kinds.get(r.subject) == CONSENSUS]
    made_as = {c.id: (TrainSettings(**c.settings).split_key, identity(c, {})) for c in consensus_runs}
    groups: dict[tuple, list[tuple[RunRow, RunRow]]] = defaultdict(list)
    settings_of: dict[tuple, tuple] = {}
    for run in item_runs:
        if kinds.get(run.subject) == CONSENSUS:
            continue
        population = _population_run(run, consensus_runs, made_as)
        if population is not None:
            made = identity(run, subject_of)
            key = (run.subject, run.dataset, variant_of(run), population.subject, made)
            groups[key].append((run, population))  # oldest first: the latest fold wins
            settings_of[key[1:]] = made
    if not groups:
        return []
    labels = distinguish({k: (f"{k[0]}\0{k[2]}\0{k[1]}", k[3]) for k in settings_of})  # dataset, population, variant
    needed = {r.id for pairs in groups.values() for pair in pairs for r in pair}
    per_run = _split_by_run(prediction_columns(ws, needed))
    scores = ConsensusScores(ws)
    out = []
    for (subject, dataset, variant, population, made), pairs in sorted(groups.items(), key=lambda kv: str(kv[0])):
        latest_per_fold = {run.settings.get("fold"): (run, pop) for run, pop in pairs}
        label = labels[(dataset, variant, population, made)].split("\0")[-1]
        found = _compare(subject, dataset, label, population, list(latest_per_fold.values()), per_run, scores)
        if found is not None:
            c = (consistency or {}).get((subject, dataset))
            reliable = (1 + np.sqrt(2 * c - 1)) / 2 if c is not None and c >= 0.5 else None
            out.append(_with_reliability(found, c, reliable))
    return _fold_tests(out)


def _with_reliability(c: RaterComparison, consistency: float | None, reliable: float | None) -> RaterComparison:
    return replace(c, consistency=consistency, reliable_accuracy=reliable)


def _split_by_run(columns: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    run_ids = columns["run_id"]
    if not len(run_ids):
        return {}
    starts = np.flatnonzero(np.r_[True, run_ids[1:] != run_ids[:-1]])
    ends = np.r_[starts[1:], len(run_ids)]
    return {str(run_ids[a]): {k: v[a:b] for k, v in columns.items()} for a, b in zip(starts, ends, strict=True)}


def _fold_rho(
    predictions: dict[str, np.ndarray], ratings: np.ndarray, folds: np.ndarray
) -> tuple[dict[str, float | None], dict[str, list[float]]]:
    """Per predictor: the mean over folds of ρ within each fold (rated items), and each fold's ρ (NaN where
    undefined: a constant, or a predictor with no answer in that fold)."""
    names = list(predictions)
    matrix = np.column_stack([predictions[n] for n in names])
    per_fold: dict[str, list[float]] = {n: [] for n in names}
    for fold in np.unique(folds):
        chosen = (folds == fold) & np.isfinite(ratings)
        for name, r in zip(names, spearman_columns(matrix[chosen], ratings[chosen]), strict=True):
            per_fold[name].append(float(r))
    mean = {n: (float(np.mean(f)) if (f := [r for r in per_fold[n] if np.isfinite(r)]) else None) for n in names}
    return mean, per_fold


def _compare(
    subject: str,
    dataset: str,
    variant: str,
    population: str,
    pairs: list[tuple[RunRow, RunRow]],
    per_run: dict[str, dict[str, np.ndarray]],
    consensus: ConsensusScores,
) -> RaterComparison | None:
    columns: dict[str, list] = defaultdict(list)
    for fold, (run, pop) in enumerate(pairs):
        own, theirs = per_run.get(run.id), per_run.get(pop.id)
        if own is None or theirs is None:
            continue
        test, train = own["split"] == TEST, own["split"] == TRAIN
        p_population = dict(zip(theirs["item_idx"].tolist(), theirs["p_preferred"].tolist(), strict=True))
        keep = test & np.array([i in p_population for i in own["item_idx"].tolist()], dtype=bool)
        if not keep.any():
            continue
        items = own["item_idx"][keep]
        columns["item"].append(items)
        columns["fold"].append(np.full(len(items), fold))
        columns["label"].append(own["label"][keep])
        columns["rating"].append(own["rating"][keep])
        columns[PERSONAL].append(own["p_preferred"][keep])
        columns[POPULATION].append(np.array([p_population[i] for i in items.tolist()]))
        columns[MAJORITY].append(np.full(len(items), training_majority(own["label"][train])))
        both = np.concatenate([items, own["item_idx"][train]])
        own_ratings = np.nan_to_num(np.concatenate([own["rating"][keep], own["rating"][train]]))
        found = consensus.scores(population, dataset, subject, both, own_ratings)
        if found is None:
            columns[CONSENSUS_SCORE].append(np.full(len(items), np.nan))
            columns["consensus cut"].append(np.full(len(items), np.nan))
            columns[DEVIATION].append(np.full(len(items), np.nan))
            continue
        others, median = found
        columns[CONSENSUS_SCORE].append(others[: len(items)])
        columns["consensus cut"].append(np.full(len(items), median))
        deviation = consensus.deviation.predict(
            (subject, dataset, population), own["item_idx"][train], others[len(items) :], own["label"][train],
            others[: len(items)],
        )  # fmt: skip
        columns[DEVIATION].append(np.full(len(items), np.nan) if deviation is None else deviation)
    if not columns:
        return None
    c = {k: np.concatenate(v) for k, v in columns.items()}
    answered = np.array([label is not None for label in c["label"]], dtype=bool)
    truth = np.array([bool(label) for label in c["label"]], dtype=bool)
    ratings, folds = c["rating"].astype(np.float64), c["fold"]
    said = {  # each predictor's answer per test item (NaN: it has none there)
        PERSONAL: c[PERSONAL] > 0.5,
        POPULATION: c[POPULATION] > 0.5,
        MAJORITY: c[MAJORITY] > 0.5,
        CONSENSUS_SCORE: c[CONSENSUS_SCORE] > c["consensus cut"],
        DEVIATION: c[DEVIATION] > 0.5,
    }
    has = {name: np.isfinite(c[name]) for name in said}
    has[CONSENSUS_SCORE] &= np.isfinite(c["consensus cut"])
    # 1.0 right, 0.0 wrong, NaN where the predictor has no answer, per answered test item
    right = {name: np.where(has[name], said[name] == truth, np.nan)[answered] for name in said}
    ranked = (PERSONAL, POPULATION, CONSENSUS_SCORE, DEVIATION)
    rho, fold_rho = _fold_rho({n: np.where(has[n], c[n], np.nan) for n in ranked}, ratings, folds)

    def accuracy(name: str) -> float | None:
        usable = np.isfinite(right[name])
        return float(np.mean(right[name])) if usable.all() and usable.any() else None

    versus = tuple(_versus(name, right, rho, fold_rho) for name in BASELINES)
    against_population = versus[0]
    return RaterComparison(
        subject=subject,
        dataset=dataset,
        variant=variant,
        population=population,
        folds=len(pairs),
        n_test=int(answered.sum()),
        n_rated=int(np.isfinite(ratings).sum()),
        personal_accuracy=_or_nan(accuracy(PERSONAL)),
        population_accuracy=_or_nan(accuracy(POPULATION)),
        personal_rho=finite_or_none(rho[PERSONAL]),
        population_rho=finite_or_none(rho[POPULATION]),
        consensus_accuracy=accuracy(CONSENSUS_SCORE),
        consensus_rho=finite_or_none(rho[CONSENSUS_SCORE]),
        majority_accuracy=accuracy(MAJORITY),
        deviation_accuracy=accuracy(DEVIATION),
        deviation_rho=finite_or_none(rho[DEVIATION]),
        personal_only=against_population.personal_only,
        population_only=against_population.baseline_only,
        mcnemar_p=against_population.mcnemar_p,
        versus=versus,
        items=c["item"][answered],
        right=right,
    )


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else value


def _versus(
    baseline: str, right: dict[str, np.ndarray], rho: dict[str, float | None], fold_rho: dict[str, list[float]]
) -> Versus:
    usable = np.isfinite(right[baseline]) & np.isfinite(right[PERSONAL])
    mine, theirs = right[PERSONAL][usable] == 1, right[baseline][usable] == 1
    only_mine, only_theirs = int(np.sum(mine & ~theirs)), int(np.sum(theirs & ~mine))
    test = mcnemar_exact(only_theirs, only_mine)
    rho_gain, diffs = None, ()
    if rho.get(baseline) is not None and rho.get(PERSONAL) is not None:
        folds = np.array(fold_rho[PERSONAL]) - np.array(fold_rho[baseline])
        rho_gain = float(np.nanmean(folds)) if np.isfinite(folds).any() else None
        diffs = tuple(folds[np.isfinite(folds)].tolist())
    return Versus(
        baseline=baseline,
        personal_only=only_mine,
        baseline_only=only_theirs,
        mcnemar_p=test.p_value,
        gain_p=binomial_greater(only_mine, only_mine + only_theirs, 0.5) if only_mine + only_theirs else None,
        rho_gain=rho_gain,
        rho_folds_p=None,  # tested for every rater at once: see _fold_tests
        rho_fold_differences=diffs,
    )


def _fold_tests(comparisons: list[RaterComparison]) -> list[RaterComparison]:
    """``comparisons`` with each baseline's Wilcoxon p over the folds' ρ differences, computed for every rater with
    the same number of folds in one call."""
    by_length: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for i, c in enumerate(comparisons):
        for j, v in enumerate(c.versus):
            if v.rho_fold_differences:
                by_length[len(v.rho_fold_differences)].append((i, j))
    p_values: dict[tuple[int, int], float] = {}
    for where in by_length.values():
        rows = np.array([comparisons[i].versus[j].rho_fold_differences for i, j in where])
        p_values.update(zip(where, wilcoxon_p_rows(rows).tolist(), strict=True))
    out = []
    for i, c in enumerate(comparisons):
        versus = tuple(
            replace(v, rho_folds_p=finite_or_none(p_values[(i, j)])) if (i, j) in p_values else v
            for j, v in enumerate(c.versus)
        )
        out.append(replace(c, versus=versus))
    return out
