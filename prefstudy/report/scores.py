"""A run's test score with its uncertainty: accuracy with a Wilson interval, its chance level and exact
binomial test, and, for a rated subject, Spearman's rho with a Fisher-z interval.

Chance is the training majority: the share of the commoner answer among the subject's *training*
labels, the rate a model that always gave that answer is expected to reach, and which it could know
(the test labels' majority, which no model could know, runs higher). Without training labels the test
labels' majority stands in. The test is one-sided (is the model above chance?), exact, per subject.
"""

from __future__ import annotations

from dataclasses import dataclass

from prefstudy.metrics import Confusion, RankScore
from prefstudy.stats import binomial_greater, spearman_interval, wilson


@dataclass(frozen=True)
class Score:
    n: int
    correct: int
    accuracy: float | None
    accuracy_low: float | None  # 95 % Wilson interval
    accuracy_high: float | None
    chance: float | None
    p_above_chance: float | None  # exact binomial, one-sided, against ``chance``
    attainable_p: float | None  # the p of a perfect score: no subject with these items can do better
    above_chance: bool | None = None  # after Holm over its group's subjects; None outside a group's latest runs
    rho: float | None = None  # Spearman's rho, p(preferred) against the ratings (rated subjects)
    rho_low: float | None = None  # Fisher z with the Bonett-Wright standard error, 95 %
    rho_high: float | None = None
    n_rated: int | None = None


def majority_share(c: Confusion) -> float | None:
    """The share of the commoner true answer in ``c``'s items."""
    return max(c.tp + c.fn, c.fp + c.tn) / c.n if c.n else None


def score_of(c: Confusion, rank: RankScore | None = None, train: Confusion | None = None) -> Score:
    """The score of one run's test confusion counts (and rank score, if the subject has ratings); chance is the
    majority share of ``train``, the run's training labels (the test labels' without them)."""
    n, correct = c.n, c.tp + c.tn
    interval = wilson(correct, n)
    chance = majority_share(train) if train is not None and train.n else majority_share(c)
    chance = chance if n else None
    rho = rho_low = rho_high = n_rated = None
    if rank is not None:
        n_rated = rank.n_rated
        rho = None if rank.spearman != rank.spearman else rank.spearman
        rho_ci = spearman_interval(rho, n_rated)
        rho_low, rho_high = rho_ci.low, rho_ci.high
    return Score(
        n=n,
        correct=correct,
        accuracy=interval.estimate,
        accuracy_low=interval.low,
        accuracy_high=interval.high,
        chance=chance,
        p_above_chance=None if chance is None else binomial_greater(correct, n, chance),
        attainable_p=None if chance is None else chance**n,
        rho=rho,
        rho_low=rho_low,
        rho_high=rho_high,
        n_rated=n_rated,
    )
