"""Test accuracy across subjects, per group of runs made with the same settings (:mod:`.identity`).

Each subject counts once, by their latest finished run of the group; the runs of k item folds are
pooled (the latest run of each fold, their test confusion counts summed), so every item is tested
once; ρ is computed within each fold and averaged over the folds (never across fold models, which
are calibrated differently), and chance is the folds' training majority, weighted by their test
items. The distribution (median, IQR, mean with a t-interval), how many subjects are above their own
chance after Holm's correction, and whether the group as a whole is above chance: a one-sample t-test
(and Wilcoxon's signed-rank test) on per-subject accuracy minus chance.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field, replace

from prefstudy.metrics import Confusion
from prefstudy.report.identity import Identity, distinguish
from prefstudy.report.paired import ALPHA, Reach, reach
from prefstudy.report.run_summary import RunSummary
from prefstudy.report.scores import Score, score_of
from prefstudy.splits import TEST
from prefstudy.stats import (
    MeanInterval,
    Spread,
    TTest,
    Wilcoxon,
    binomial_greater,
    holm,
    one_sample_t,
    spread,
    t_interval,
    wilcoxon,
)
from prefstudy.stats.power import DetectableEffect, minimum_detectable_accuracy

GroupKey = tuple[str, str, str, str | None, int | None, Identity]


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
    accuracy: Spread  # median and IQR
    mean_interval: MeanInterval  # the mean with a 95 % t-interval
    mean_chance: float
    above_chance: int  # subjects above their own chance after Holm (exact binomial, one-sided)
    reach: Reach
    excess: TTest  # accuracy minus chance across subjects, two-sided one-sample t-test against 0
    excess_interval: MeanInterval
    excess_wilcoxon: Wilcoxon
    folds: int = 1  # the most fold runs pooled for one subject
    variant: str = ""  # how the model was made, with the settings that set it apart from groups that read alike
    # The smallest true accuracy a subject's exact binomial test detects (power 0.8, alpha 0.05) at the group's median
    # number of test items and mean chance: what a per-subject test could find at this size.
    detectable: DetectableEffect | None = None
    settings: dict = field(default_factory=dict)  # every setting that made the group's models
    # Each subject's (pooled) test score, for the figures; not part of the JSON (the runs carry theirs).
    subject_scores: dict[str, Score] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict:
        data = asdict(replace(self, subject_scores={}))
        data.pop("subject_scores")
        return data


def group_key(run: RunSummary) -> GroupKey:
    return (run.dataset, run.backbone, run.protocol, run.transfer, run.train_size, run.identity)


def _sort_key(key: GroupKey) -> tuple:
    return tuple("" if v is None else str(v).zfill(9) for v in key)


def variant(transfer: str | None, train_size: int | None) -> str:
    """How a model was made, in words: from scratch or its transfer, and a train-size limit."""
    parts = [transfer or "from scratch"]
    if train_size is not None:
        parts.append(f"{train_size} train labels")
    return ", ".join(parts)


def group_labels(keys: list[GroupKey]) -> dict[GroupKey, str]:
    """Each group's variant, naming the settings that set it apart from groups of the same model that read alike."""
    named = distinguish({k: (f"{k[0]}\0{k[1]}\0{k[2]}\0{variant(k[3], k[4])}", k[5]) for k in keys})
    return {k: label.rsplit("\0", 1)[-1] for k, label in named.items()}  # the dataset and model are named apart


def latest_per_subject(runs: list[RunSummary]) -> dict[GroupKey, dict[str, list[RunSummary]]]:
    """Per group, each subject's latest run of each fold (``runs`` come oldest first, so the latest wins)."""
    groups: dict[GroupKey, dict[str, dict[int | None, RunSummary]]] = {}
    for run in runs:
        groups.setdefault(group_key(run), {}).setdefault(run.subject, {})[run.fold] = run
    return {key: {s: list(folds.values()) for s, folds in by.items()} for key, by in groups.items()}


def pooled_score(runs: list[RunSummary]) -> Score | None:
    """One subject's test score over their fold runs (a single run's own score, rho included)."""
    tested = [r for r in runs if TEST in r.metrics]
    if len(tested) == 1:
        return tested[0].score
    if not tested:
        return None
    counts = [sum(getattr(r.metrics[TEST], k) for r in tested) for k in ("tp", "fp", "fn", "tn")]
    pooled = score_of(Confusion(*counts))
    n = sum(r.metrics[TEST].n for r in tested)
    chance = sum(r.score.chance * r.metrics[TEST].n for r in tested if r.score and r.score.chance is not None) / n
    rhos = [r.score.rho for r in tested if r.score is not None and r.score.rho is not None]
    return replace(
        pooled,
        chance=chance,
        p_above_chance=binomial_greater(pooled.correct, pooled.n, chance),
        attainable_p=chance**pooled.n,
        rho=statistics.fmean(rhos) if rhos else None,  # the mean of the folds' ρ
        rho_low=None,
        rho_high=None,
        n_rated=sum(r.score.n_rated or 0 for r in tested if r.score is not None) or None,
    )


def summarize_groups(runs: list[RunSummary]) -> tuple[list[GroupSummary], list[RunSummary]]:
    """The groups' summaries, and ``runs`` with ``score.above_chance`` set on each group's latest runs."""
    out, marked = [], {}
    by_key = latest_per_subject(runs)
    labels = group_labels(list(by_key))
    for key in sorted(by_key, key=_sort_key):
        pooled = {s: pooled_score(folds) for s, folds in by_key[key].items()}
        scores = {s: score for s, score in pooled.items() if score is not None and score.accuracy is not None}
        if not scores:
            continue
        accs = [s.accuracy for s in scores.values()]
        chances = [s.chance for s in scores.values()]
        excess = [a - c for a, c in zip(accs, chances, strict=True)]
        rejected = dict(zip(scores, holm([s.p_above_chance for s in scores.values()], alpha=ALPHA), strict=True))
        for subject, above in rejected.items():
            scores[subject] = replace(scores[subject], above_chance=above)
            for run in by_key[key][subject]:
                if run.score is not None:
                    marked[run.run_id] = replace(run, score=replace(run.score, above_chance=above))
        out.append(
            GroupSummary(
                *key[:5],
                n_subjects=len(accs),
                mean_test_accuracy=statistics.fmean(accs),
                sd_test_accuracy=statistics.stdev(accs) if len(accs) > 1 else None,
                min_test_accuracy=min(accs),
                max_test_accuracy=max(accs),
                accuracy=spread(accs),
                mean_interval=t_interval(accs),
                mean_chance=statistics.fmean(chances),
                above_chance=sum(rejected.values()),
                reach=reach([s.attainable_p for s in scores.values()]),
                excess=one_sample_t(excess),
                excess_interval=t_interval(excess),
                excess_wilcoxon=wilcoxon(excess),
                folds=max(len(folds) for folds in by_key[key].values()),
                subject_scores=scores,
                variant=labels[key],
                detectable=minimum_detectable_accuracy(
                    int(statistics.median(s.n for s in scores.values())), statistics.fmean(chances)
                ),
                settings=dict(key[5]),
            )
        )
    return out, [marked.get(r.run_id, r) for r in runs]
