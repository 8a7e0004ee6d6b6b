"""The ``rating_rules`` table: how a rated subject's ratings become preferred / not preferred.

A rating is stored as it was given. The rule, chosen at import and recorded per subject and
dataset, turns it into an answer:

- ``median`` (default): above the subject's own median is preferred, below is not;
- ``threshold T``: above T is preferred, below is not.

A rating on the cut is a *tie*: neither answer, left out of training and of the confusion
table, but scored by rank metrics (Spearman's rho). Rated subjects have their own minimums
(:data:`MIN_RATED_LABELS`, :data:`MIN_RATED_PER_ANSWER`), checked before a run.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np

from prefstudy.errors import PrefstudyError
from prefstudy.store import first_row
from prefstudy.subjects.labels import median_ratings, set_answers_from_cuts
from prefstudy.workspace import Workspace

MEDIAN, THRESHOLD = "median", "threshold"
MIN_RATED_LABELS = 20
"""Usable (non-tie) labels a rated subject needs for a run."""
MIN_RATED_PER_ANSWER = 8
"""Labels of each answer a rated subject needs. With item-level k-fold (K up to 5) every training
fold then holds both answers, and each test fold expects at least one of each. On the London
faces this keeps 2,040 of 2,513 raters (20 / 4, the minimums of labelled subjects, would keep 2,077,
but then folds of a rater with 4 of one answer can train on one answer only)."""


@dataclass(frozen=True)
class RatingRule:
    """``median`` (each subject's own) or ``threshold`` with its cut."""

    rule: str = MEDIAN
    threshold: float | None = None

    def __post_init__(self) -> None:
        if self.rule not in (MEDIAN, THRESHOLD):
            raise PrefstudyError(f"unknown rating rule {self.rule!r}; use median or a threshold")
        if (self.rule == THRESHOLD) != (self.threshold is not None):
            raise PrefstudyError("a threshold rule needs its threshold, and only it")

    @classmethod
    def from_threshold(cls, threshold: float | None) -> RatingRule:
        return cls(MEDIAN) if threshold is None else cls(THRESHOLD, float(threshold))

    def describe(self) -> str:
        return "above / below the rater's own median" if self.rule == MEDIAN else f"above / below {self.threshold:g}"


def recorded_rules(con: duckdb.DuckDBPyConnection, dataset: str, subjects: list[str]) -> dict[str, RatingRule]:
    """subject -> the rule recorded for them on ``dataset`` (subjects without one are absent)."""
    rows = con.execute(
        "SELECT subject, rule, threshold FROM rating_rules WHERE dataset = ? AND subject IN (SELECT unnest(?))",
        [dataset, subjects],
    ).fetchall()
    return {subject: RatingRule(rule, threshold) for subject, rule, threshold in rows}


def record_rules(
    con: duckdb.DuckDBPyConnection, dataset: str, subjects: list[str], rule: RatingRule, source: str
) -> None:
    """Record ``rule`` for each subject on ``dataset`` (replacing what was recorded)."""
    con.execute("DELETE FROM rating_rules WHERE dataset = ? AND subject IN (SELECT unnest(?))", [dataset, subjects])
    con.register(
        "new_rules",
        {
            "subject": np.array(subjects, dtype=object),
            "dataset": np.full(len(subjects), dataset, dtype=object),
            "rule": np.full(len(subjects), rule.rule, dtype=object),
            "threshold": np.full(len(subjects), np.nan if rule.threshold is None else rule.threshold),
            "source": np.full(len(subjects), source, dtype=object),
        },
    )
    try:
        con.execute(
            "INSERT INTO rating_rules (subject, dataset, rule, threshold, source) "
            "SELECT subject, dataset, rule, CASE WHEN isnan(threshold) THEN NULL ELSE threshold END, source "
            "FROM new_rules"
        )
    finally:
        con.unregister("new_rules")


def apply_rule(con: duckdb.DuckDBPyConnection, dataset: str, subjects: list[str], rule: RatingRule) -> None:
    """Set every rated label of ``subjects`` on ``dataset`` to the answer (or tie) ``rule`` gives it."""
    if not subjects:
        return
    if rule.rule == MEDIAN:
        cuts = median_ratings(con, dataset, subjects)
    else:
        cuts = dict.fromkeys(subjects, float(rule.threshold))
    set_answers_from_cuts(con, dataset, cuts)


def rule_of(ws: Workspace, subject: str, dataset: str) -> RatingRule | None:
    """The rule of a rated subject on ``dataset``; None for a subject without ratings there."""
    with ws.connect() as con:
        row = first_row(
            con, "SELECT rule, threshold FROM rating_rules WHERE subject = ? AND dataset = ?", [subject, dataset]
        )
    return RatingRule(*row) if row else None


def rated_subjects(ws: Workspace, dataset: str | None = None) -> set[str]:
    """The subjects with a rating rule (on ``dataset``, if given)."""
    where, params = ("WHERE dataset = ?", [dataset]) if dataset else ("", [])
    with ws.connect() as con:
        return {s for (s,) in con.execute(f"SELECT DISTINCT subject FROM rating_rules {where}", params).fetchall()}


def check_rated_counts(n_preferred: int, n_not: int) -> str | None:
    """Why a rated subject with these answer counts cannot have a run; None when they can."""
    if n_preferred + n_not < MIN_RATED_LABELS:
        return f"{n_preferred + n_not} usable label(s), fewer than {MIN_RATED_LABELS}"
    if min(n_preferred, n_not) < MIN_RATED_PER_ANSWER:
        answer = "preferred" if n_preferred < n_not else "not preferred"
        return f"{min(n_preferred, n_not)} '{answer}' label(s), fewer than {MIN_RATED_PER_ANSWER}"
    return None
