"""The ``consensus`` table: the population as a subject.

A consensus subject's rating of an item is the mean rating of the raters it is made of; the
median rule turns those means into preferred / not preferred (and ties), as for any rated
subject. Its labels are derived (``source = 'consensus'``) and the table records from whom,
so a personal model can be compared with, and started from, a model of everyone.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import numpy as np

from prefstudy.datasets.catalog import get_dataset
from prefstudy.errors import PrefstudyError
from prefstudy.store import first_row
from prefstudy.subjects.labels import (
    answer_counts,
    delete_labels,
    insert_labels,
    new_session,
    rated_labels,
    rating_totals,
)
from prefstudy.subjects.ratings import MEDIAN, RatingRule, apply_rule, record_rules
from prefstudy.subjects.roster import CONSENSUS, ensure_subject, subject_kinds
from prefstudy.workspace import Workspace, check_name

SOURCE = "consensus"


@dataclass(frozen=True)
class ConsensusSummary:
    subject: str
    dataset: str
    raters: int  # whose ratings the means are of
    excluded: int
    items: int  # items with a mean rating (rated by at least min_raters)
    left_out: int  # items rated by fewer than min_raters
    preferred: int
    not_preferred: int
    ties: int
    changed: bool  # False when the same consensus existed already


def _chosen_raters(ws: Workspace, dataset: str, raters: str, exclude: list[str]) -> tuple[list[str], list[str]]:
    """(raters, excluded): the subjects with ratings on ``dataset`` matching ``raters`` and none of ``exclude``."""
    kinds = subject_kinds(ws)
    with ws.connect() as con:
        rated = sorted(set(rated_labels(con, dataset, sorted(kinds))["subject"].tolist()))
    candidates = [s for s in rated if kinds.get(s) != CONSENSUS and fnmatch.fnmatchcase(s, raters)]
    excluded = [s for s in candidates if any(fnmatch.fnmatchcase(s, pattern) for pattern in exclude)]
    return [s for s in candidates if s not in excluded], excluded


def make_consensus(
    ws: Workspace,
    name: str,
    dataset: str,
    *,
    raters: str = "*",
    exclude: list[str] | None = None,
    min_raters: int = 1,
    replace: bool = False,
) -> ConsensusSummary:
    """Create (or, with ``replace``, remake) the consensus subject ``name`` on ``dataset``.

    ``raters`` is a name pattern (``lon-*``); ``exclude`` patterns leave raters out; items rated
    by fewer than ``min_raters`` of them get no consensus label. Making the same consensus
    again changes nothing.
    """
    check_name("subject", name)
    get_dataset(ws, dataset)
    chosen, excluded = _chosen_raters(ws, dataset, raters, exclude or [])
    if not chosen:
        raise PrefstudyError(
            f"no rater with ratings on {dataset!r} matches {raters!r} "
            "(import them with `prefstudy label import-ratings`)"
        )
    if name in chosen:
        raise PrefstudyError(f"{name!r} is one of the raters; give the consensus another name")
    with ws.transaction() as con:
        totals = rating_totals(con, dataset, chosen)
        keep = np.asarray(totals["n"]) >= min_raters
        items = np.asarray(totals["item_idx"], dtype=np.int32)[keep]
        rating = (np.asarray(totals["total"], dtype=np.float64) / np.asarray(totals["n"]))[keep]
        if not len(items):
            raise PrefstudyError(
                f"no item of {dataset!r} was rated by {min_raters} or more of the {len(chosen)} raters"
            )
        kind = subject_kinds(ws).get(name)
        if kind is not None and kind != CONSENSUS:
            raise PrefstudyError(f"subject {name!r} exists and is {kind}, not a consensus; use another name")
        recorded = first_row(
            con, "SELECT raters, min_raters FROM consensus WHERE subject = ? AND dataset = ?", [name, dataset]
        )
        stored = rated_labels(con, dataset, [name])
        same = (
            recorded is not None
            and (sorted(recorded[0]), recorded[1]) == (chosen, min_raters)
            and np.array_equal(np.asarray(stored["item_idx"]), items)
            and np.allclose(np.asarray(stored["rating"], dtype=np.float64), rating)
        )
        if recorded is not None and not same and not replace:
            raise PrefstudyError(
                f"consensus {name!r} on {dataset!r} exists with other raters or ratings; "
                "give --replace to make it again"
            )
        if not same:
            ensure_subject(con, name, CONSENSUS)
            delete_labels(con, name, dataset)
            con.execute("DELETE FROM consensus WHERE subject = ? AND dataset = ?", [name, dataset])
            con.execute(
                "INSERT INTO consensus (subject, dataset, method, min_raters, raters, excluded) "
                "VALUES (?, ?, 'mean', ?, ?, ?)",
                [name, dataset, min_raters, chosen, excluded],
            )
            n = len(items)
            insert_labels(
                con,
                {
                    "subject": np.full(n, name, dtype=object),
                    "dataset": np.full(n, dataset, dtype=object),
                    "item_idx": items,
                    "rating": rating,
                    "session": np.full(n, new_session(SOURCE), dtype=object),
                    "trial": np.arange(1, n + 1, dtype=np.int32),
                    "source": np.full(n, SOURCE, dtype=object),
                },
            )
            rule = RatingRule(MEDIAN)
            record_rules(con, dataset, [name], rule, source=f"consensus of {len(chosen)} raters")
            apply_rule(con, dataset, [name], rule)
    return _summary(ws, name, dataset, len(chosen), len(excluded), int((~keep).sum()), changed=not same)


def _summary(
    ws: Workspace, name: str, dataset: str, n_raters: int, n_excluded: int, left_out: int, changed: bool
) -> ConsensusSummary:
    with ws.connect() as con:
        n_preferred, n_not, n_tie = answer_counts(con, dataset, [name]).get(name, (0, 0, 0))
    return ConsensusSummary(
        subject=name,
        dataset=dataset,
        raters=n_raters,
        excluded=n_excluded,
        items=n_preferred + n_not + n_tie,
        left_out=left_out,
        preferred=n_preferred,
        not_preferred=n_not,
        ties=n_tie,
        changed=changed,
    )


def consensus_of(ws: Workspace, subject: str, dataset: str) -> list[str] | None:
    """The raters a consensus subject is made of on ``dataset``; None for a subject that is not one."""
    with ws.connect() as con:
        row = first_row(con, "SELECT raters FROM consensus WHERE subject = ? AND dataset = ?", [subject, dataset])
    return list(row[0]) if row else None
