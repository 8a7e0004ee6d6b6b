"""The ``labels`` table: the one place labels are written and read, whoever gives them.

A label is one trial: a person in the labelling app, a row of an imported file, a simulated
subject's answer, or an imported rating. A rating is kept as given (``rating``); its subject's rule
(:mod:`prefstudy.subjects.ratings`) turns it into an answer, or into a *tie* (``tie``: the rating is
on the rule's cut), which is neither answer and is not a miss.

The labels a model learns from are the *usable* ones: answered in time (not timed out), not a
hidden repeat, not a tie, and the latest such answer when an item was answered more than once.
That rule lives here, once (:data:`USABLE`).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from prefstudy.store import first_row, scalar, sql_path
from prefstudy.subjects.regions import Region
from prefstudy.workspace import Workspace

LABEL_COLUMNS = (
    "subject",
    "dataset",
    "item_idx",
    "preferred",
    "rt_ms",
    "deadline_ms",
    "timed_out",
    "session",
    "block",
    "trial",
    "shown_at",
    "region",
    "repeat_of",
    "source",
    "rating",
    "tie",
    "input",
    "orientation_changed",
    "strategy",
)
USABLE = "NOT timed_out AND repeat_of IS NULL AND preferred IS NOT NULL"
"""The labels a model learns from (of these, the latest per item)."""

_LATEST_USABLE = f"""
    SELECT item_idx, arg_max(preferred, id) AS preferred, arg_max_null(region, id) AS region
    FROM labels
    WHERE subject = ? AND dataset = ? AND {USABLE}
    GROUP BY item_idx ORDER BY item_idx
"""


def new_session(prefix: str) -> str:
    """A new session id, e.g. ``import-3fa9c1d2e4b5``."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# --- writing ---------------------------------------------------------------------------------


def insert_labels(con: duckdb.DuckDBPyConnection, rows: dict[str, np.ndarray]) -> int:
    """Insert labels given as columns (any subset of LABEL_COLUMNS; the rest default). Returns the count."""
    unknown = set(rows) - set(LABEL_COLUMNS)
    if unknown:
        raise ValueError(f"unknown label columns: {sorted(unknown)}")
    columns = list(rows)
    con.register("new_labels", rows)
    try:
        con.execute(f"INSERT INTO labels ({', '.join(columns)}) SELECT {', '.join(columns)} FROM new_labels")
    finally:
        con.unregister("new_labels")
    return len(next(iter(rows.values())))


def insert_repeats(con: duckdb.DuckDBPyConnection, rows: dict[str, np.ndarray]) -> None:
    """Insert second showings of items, each pointing at the first label of its item in the same session."""
    con.register("repeats", rows)
    try:
        con.execute(
            """
            INSERT INTO labels (subject, dataset, item_idx, preferred, session, trial, region, source, repeat_of)
            SELECT r.subject, r.dataset, r.item_idx, r.preferred, r.session, r.trial, r.region, r.source, l.id
            FROM repeats r JOIN labels l
              ON l.session = r.session AND l.item_idx = r.item_idx AND l.repeat_of IS NULL
            """
        )
    finally:
        con.unregister("repeats")


@dataclass(frozen=True)
class StoredTrial:
    """A trial already stored for a (session, trial) pair."""

    label_id: int
    subject: str


def find_trial(con: duckdb.DuckDBPyConnection, session: str, trial: int) -> StoredTrial | None:
    """The label stored for ``(session, trial)``, if any."""
    row = first_row(con, "SELECT id, subject FROM labels WHERE session = ? AND trial = ?", [session, trial])
    return StoredTrial(row[0], row[1]) if row else None


def answer_ids(con: duckdb.DuckDBPyConnection, subject: str, dataset: str, item: int) -> list[int]:
    """Ids of the subject's in-time answers to ``item`` (first showings and repeats), oldest first."""
    rows = con.execute(
        "SELECT id FROM labels WHERE subject = ? AND dataset = ? AND item_idx = ? AND NOT timed_out "
        "AND preferred IS NOT NULL ORDER BY id",
        [subject, dataset, item],
    ).fetchall()
    return [r[0] for r in rows]


def last_miss(con: duckdb.DuckDBPyConnection, subject: str, dataset: str, item: int) -> tuple[int, int] | None:
    """The subject's latest timed-out trial of ``item`` (its label id) and how many of their trials on the dataset
    were stored after it; None if they never missed it."""
    row = first_row(
        con,
        "SELECT id, (SELECT count(*) FROM labels later WHERE later.subject = ? AND later.dataset = ? "
        "AND later.id > missed.id) FROM labels missed WHERE subject = ? AND dataset = ? AND item_idx = ? "
        "AND (timed_out OR preferred IS NULL) ORDER BY id DESC LIMIT 1",
        [subject, dataset, subject, dataset, item],
    )
    return (int(row[0]), int(row[1])) if row else None


def answer_count(con: duckdb.DuckDBPyConnection, subject: str, dataset: str) -> int:
    """How many in-time answers (first showings and repeats, not misses) the subject gave on the dataset."""
    return scalar(
        con,
        "SELECT count(*) FROM labels WHERE subject = ? AND dataset = ? AND NOT timed_out AND preferred IS NOT NULL",
        [subject, dataset],
    )


def insert_trial(con: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> int:
    """Insert one labelling-app trial (keys from LABEL_COLUMNS); returns its label id."""
    columns = [c for c in LABEL_COLUMNS if c in row]
    con.execute(
        f"INSERT INTO labels ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [row[c] for c in columns],
    )
    return first_row(con, "SELECT id FROM labels WHERE session = ? AND trial = ?", [row["session"], row["trial"]])[0]


def set_region(con: duckdb.DuckDBPyConnection, subject: str, session: str, trial: int, region: Region) -> bool:
    """Attach a region (the subject's reason) to their answered trial; False when there is none."""
    row = first_row(
        con,
        "SELECT id FROM labels WHERE session = ? AND trial = ? AND subject = ? AND NOT timed_out",
        [session, trial, subject],
    )
    if row is None:
        return False
    con.execute("UPDATE labels SET region = ? WHERE id = ?", [list(region), row[0]])
    return True


def rated_labels(con: duckdb.DuckDBPyConnection, dataset: str, subjects: list[str]) -> dict[str, np.ndarray]:
    """The stored ratings of ``subjects`` on ``dataset``: columns id, subject, item_idx, rating."""
    return con.execute(
        "SELECT id, subject, item_idx, rating FROM labels WHERE dataset = ? AND rating IS NOT NULL "
        "AND subject IN (SELECT unnest(?)) ORDER BY id",
        [dataset, subjects],
    ).fetchnumpy()


def update_ratings(con: duckdb.DuckDBPyConnection, ids: np.ndarray, ratings: np.ndarray) -> None:
    """Set the rating of the labels with ``ids`` (a replaced rating)."""
    con.register("changed_ratings", {"id": np.asarray(ids, dtype=np.int64), "rating": np.asarray(ratings, float)})
    try:
        con.execute("UPDATE labels SET rating = c.rating FROM changed_ratings c WHERE labels.id = c.id")
    finally:
        con.unregister("changed_ratings")


def median_ratings(con: duckdb.DuckDBPyConnection, dataset: str, subjects: list[str]) -> dict[str, float]:
    """subject -> the median of their ratings on ``dataset`` (the mean of the middle two for an even count)."""
    rows = con.execute(
        "SELECT subject, median(rating) FROM labels WHERE dataset = ? AND rating IS NOT NULL "
        "AND subject IN (SELECT unnest(?)) GROUP BY subject",
        [dataset, subjects],
    ).fetchall()
    return {subject: float(m) for subject, m in rows}


def set_answers_from_cuts(con: duckdb.DuckDBPyConnection, dataset: str, cuts: dict[str, float]) -> None:
    """Turn each subject's ratings into answers: above their cut preferred, below not, on it a tie."""
    con.register("cuts", {"subject": np.array(list(cuts), dtype=object), "cut": np.array(list(cuts.values()), float)})
    try:
        con.execute(
            """
            UPDATE labels SET
                preferred = CASE WHEN labels.rating > c.cut THEN true WHEN labels.rating < c.cut THEN false END,
                tie = labels.rating = c.cut
            FROM cuts c
            WHERE labels.subject = c.subject AND labels.dataset = ? AND labels.rating IS NOT NULL
            """,
            [dataset],
        )
    finally:
        con.unregister("cuts")


def rating_totals(con: duckdb.DuckDBPyConnection, dataset: str, raters: list[str]) -> dict[str, np.ndarray]:
    """Per item, the sum and count of ``raters``' ratings: columns item_idx, total, n (for means, with or
    without one rater)."""
    return con.execute(
        "SELECT item_idx, sum(rating) AS total, count(*) AS n FROM labels WHERE dataset = ? AND rating IS NOT NULL "
        "AND subject IN (SELECT unnest(?)) GROUP BY item_idx ORDER BY item_idx",
        [dataset, raters],
    ).fetchnumpy()


def delete_labels(con: duckdb.DuckDBPyConnection, subject: str, dataset: str) -> None:
    """Remove every label of the subject on the dataset (a derived subject made again)."""
    con.execute("DELETE FROM labels WHERE subject = ? AND dataset = ?", [subject, dataset])


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UsableLabels:
    """The labels a model learns from: one answer per item (the latest usable one)."""

    item_idx: np.ndarray  # int64, sorted
    preferred: np.ndarray  # bool
    digest: str  # identifies exactly this set of answers


def usable_labels(ws: Workspace, subject: str, dataset: str) -> UsableLabels:
    """The subject's usable labels on the dataset, and a digest that changes when any of them does."""
    with ws.connect() as con:
        result = con.execute(f"SELECT item_idx, preferred FROM ({_LATEST_USABLE})", [subject, dataset]).fetchnumpy()
    return _usable(np.asarray(result["item_idx"], dtype=np.int64), np.asarray(result["preferred"], dtype=bool))


def _usable(idx: np.ndarray, preferred: np.ndarray) -> UsableLabels:
    digest = hashlib.sha256(idx.tobytes() + np.packbits(preferred).tobytes()).hexdigest()[:16]
    return UsableLabels(idx, preferred, digest)


NO_LABELS = _usable(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool))
"""The usable labels of a subject who has none (e.g. a rater whose every rating ties)."""


def _by_subject(subjects: np.ndarray) -> list[tuple[str, slice]]:
    """(subject, slice) of each run of equal names in ``subjects``, which is sorted by subject."""
    if not len(subjects):
        return []
    starts = np.flatnonzero(np.r_[True, subjects[1:] != subjects[:-1]])
    ends = np.r_[starts[1:], len(subjects)]
    return [(str(subjects[a]), slice(a, b)) for a, b in zip(starts, ends, strict=True)]


def usable_labels_by_subject(ws: Workspace, dataset: str) -> dict[str, UsableLabels]:
    """Every subject's usable labels on ``dataset``, read in one query (for plans over many subjects)."""
    with ws.connect() as con:
        result = con.execute(
            f"SELECT subject, item_idx, arg_max(preferred, id) AS preferred FROM labels "
            f"WHERE dataset = ? AND {USABLE} GROUP BY subject, item_idx ORDER BY subject, item_idx",
            [dataset],
        ).fetchnumpy()
    subjects = np.asarray(result["subject"], dtype=object)
    idx = np.asarray(result["item_idx"], dtype=np.int64)
    preferred = np.asarray(result["preferred"], dtype=bool)
    return {name: _usable(idx[part], preferred[part]) for name, part in _by_subject(subjects)}


def ratings_by_subject(ws: Workspace, dataset: str, subject: str | None = None) -> dict[str, Ratings]:
    """Every rated subject's (or one subject's) latest rating per item on ``dataset``, read in one query."""
    where, params = ("AND subject = ?", [dataset, subject]) if subject is not None else ("", [dataset])
    with ws.connect() as con:
        result = con.execute(
            "SELECT subject, item_idx, arg_max(rating, id) AS rating, arg_max(tie, id) AS tie FROM labels "
            f"WHERE dataset = ? {where} AND rating IS NOT NULL AND repeat_of IS NULL "
            "GROUP BY subject, item_idx ORDER BY subject, item_idx",
            params,
        ).fetchnumpy()
    subjects = np.asarray(result["subject"], dtype=object)
    idx = np.asarray(result["item_idx"], dtype=np.int64)
    rating = np.asarray(result["rating"], dtype=np.float64)
    tie = np.asarray(result["tie"], dtype=bool)
    return {name: Ratings(idx[part], rating[part], tie[part]) for name, part in _by_subject(subjects)}


def label_regions(ws: Workspace, subject: str, dataset: str) -> dict[int, Region]:
    """The region (the subject's reason) of each item whose usable answer carries one."""
    with ws.connect() as con:
        rows = con.execute(
            f"SELECT item_idx, region FROM ({_LATEST_USABLE}) WHERE region IS NOT NULL", [subject, dataset]
        ).fetchall()
    return {int(i): tuple(region) for i, region in rows}


def _item_counts(ws: Workspace, where: str) -> dict[str, dict[str, int]]:
    """subject -> dataset -> number of items with a label meeting ``where``."""
    with ws.connect() as con:
        rows = con.execute(
            f"SELECT subject, dataset, count(DISTINCT item_idx) FROM labels WHERE {where} "
            "GROUP BY subject, dataset ORDER BY subject, dataset"
        ).fetchall()
    counts: dict[str, dict[str, int]] = {}
    for subject, dataset, n in rows:
        counts.setdefault(subject, {})[dataset] = n
    return counts


def usable_counts(ws: Workspace) -> dict[str, dict[str, int]]:
    """subject -> dataset -> number of items with a usable label."""
    return _item_counts(ws, USABLE)


def rating_counts(ws: Workspace) -> dict[str, dict[str, int]]:
    """subject -> dataset -> number of items with a rating."""
    return _item_counts(ws, "rating IS NOT NULL")


@dataclass(frozen=True)
class Ratings:
    """A rated subject's latest rating per item, ties included: the ground truth of rank metrics."""

    item_idx: np.ndarray  # int64, sorted
    rating: np.ndarray  # float64
    tie: np.ndarray  # bool: on the rule's cut, neither answer


def ratings_of(ws: Workspace, subject: str, dataset: str) -> Ratings:
    """The subject's ratings on the dataset (empty for a subject without ratings)."""
    no_ratings = Ratings(np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(0, bool))
    return ratings_by_subject(ws, dataset, subject).get(subject, no_ratings)


def answer_counts(con: duckdb.DuckDBPyConnection, dataset: str, subjects: list[str]) -> dict[str, tuple[int, int, int]]:
    """subject -> (preferred, not preferred, ties) among their latest answers on ``dataset`` (repeats aside)."""
    rows = con.execute(
        "SELECT subject, count(*) FILTER (preferred), count(*) FILTER (NOT preferred), count(*) FILTER (tie) "
        "FROM (SELECT subject, item_idx, arg_max_null(preferred, id) AS preferred, arg_max(tie, id) AS tie FROM labels "
        "WHERE dataset = ? AND subject IN (SELECT unnest(?)) AND NOT timed_out AND repeat_of IS NULL "
        "GROUP BY subject, item_idx) GROUP BY subject",
        [dataset, subjects],
    ).fetchall()
    return {subject: (n_preferred, n_not, n_tie) for subject, n_preferred, n_not, n_tie in rows}


def label_count(ws: Workspace, subject: str, dataset: str) -> int:
    """How many labels (of any kind) the subject has on the dataset."""
    with ws.connect() as con:
        return scalar(con, "SELECT count(*) FROM labels WHERE subject = ? AND dataset = ?", [subject, dataset])


def labelled_pairs(ws: Workspace) -> list[tuple[str, str]]:
    """Every (subject, dataset) with at least one label, by subject."""
    with ws.connect() as con:
        rows = con.execute("SELECT DISTINCT subject, dataset FROM labels ORDER BY subject, dataset").fetchall()
    return [(s, d) for s, d in rows]


def subjects_with_labels(ws: Workspace, dataset: str) -> list[str]:
    """The subjects with at least one label on ``dataset``, by name."""
    return [s for s, d in labelled_pairs(ws) if d == dataset]


@dataclass(frozen=True)
class TrialRow:
    label_id: int
    item: int
    preferred: bool | None
    timed_out: bool
    repeat_of: int | None


def trial_history(ws: Workspace, subject: str, dataset: str) -> list[TrialRow]:
    """Every trial of the subject on the dataset, in the order they were stored."""
    with ws.connect() as con:
        rows = con.execute(
            "SELECT id, item_idx, preferred, timed_out, repeat_of FROM labels WHERE subject = ? AND dataset = ? "
            "ORDER BY id",
            [subject, dataset],
        ).fetchall()
    return [TrialRow(*row) for row in rows]


def answers_since(ws: Workspace, subject: str, dataset: str, since: datetime) -> int:
    """Answers (not misses) the subject gave on the dataset since ``since`` (server-local time)."""
    with ws.connect() as con:
        return scalar(
            con,
            "SELECT count(*) FROM labels WHERE subject = ? AND dataset = ? AND NOT timed_out AND created_at >= ?",
            [subject, dataset, since],
        )


_EXPORT = """
    SELECT l.dataset, i.key, l.preferred, l.rt_ms, l.deadline_ms, l.timed_out, l.session, l.block, l.trial,
           l.shown_at, l.region, l.repeat_of, l.source, l.id AS label_id, l.input, l.orientation_changed,
           l.strategy
    FROM labels l JOIN items i ON i.dataset = l.dataset AND i.idx = l.item_idx
    WHERE l.subject = ? {dataset_filter}
    ORDER BY l.dataset, l.id
"""


def _export_query(subject: str, dataset: str | None) -> tuple[str, list[str]]:
    query = _EXPORT.format(dataset_filter="AND l.dataset = ?" if dataset else "")
    return query, [subject, dataset] if dataset else [subject]


def export_rows(ws: Workspace, subject: str, dataset: str | None = None) -> tuple[list[str], list[tuple]]:
    """(columns, rows) of every label of the subject (on one dataset, if given), items by key."""
    query, params = _export_query(subject, dataset)
    with ws.connect() as con:
        relation = con.execute(query, params)
        columns = [d[0] for d in relation.description]
        return columns, relation.fetchall()


def copy_export(ws: Workspace, subject: str, dataset: str | None, path: Path, fmt: str) -> None:
    """Write the same rows as :func:`export_rows` to ``path`` with DuckDB's COPY (csv or parquet)."""
    query, params = _export_query(subject, dataset)
    options = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER"
    with ws.connect() as con:
        con.execute(f"COPY ({query}) TO '{sql_path(path)}' ({options})", params)


@dataclass(frozen=True)
class TrialSummary:
    """How one subject answered one dataset: the paper's Table 1, misses, ties and response times."""

    subject: str
    dataset: str
    trials: int  # every trial, repeats and misses included
    preferred: int  # latest answers per item, repeats aside
    not_preferred: int
    ties: int
    timed_out: int  # trials
    rt_n: int  # trials with a response time
    rt_median_ms: float | None
    rt_q1_ms: float | None
    rt_q3_ms: float | None
    repeats: int  # repeated trials answered both times
    repeats_agreeing: int  # of those, the same answer as the first time


def trial_times(ws: Workspace, dataset: str) -> dict[str, tuple[datetime, datetime]]:
    """subject -> when their first and last trial on ``dataset`` were stored."""
    with ws.connect() as con:
        rows = con.execute(
            "SELECT subject, min(created_at), max(created_at) FROM labels WHERE dataset = ? GROUP BY subject", [dataset]
        ).fetchall()
    return {subject: (first, last) for subject, first, last in rows}


def trial_summaries(ws: Workspace, dataset: str | None = None) -> list[TrialSummary]:
    """Per subject and dataset (one dataset, if given): answers, misses, response times and test-retest."""
    where, params = ("WHERE dataset = ?", [dataset]) if dataset else ("", [])
    with ws.connect() as con:
        rows = con.execute(
            f"""
            WITH chosen AS (SELECT * FROM labels {where}),
            latest AS (
                SELECT subject, dataset, count(*) FILTER (preferred) AS preferred,
                       count(*) FILTER (NOT preferred) AS not_preferred, count(*) FILTER (tie) AS ties
                FROM (SELECT subject, dataset, item_idx, arg_max_null(preferred, id) AS preferred,
                             arg_max(tie, id) AS tie
                      FROM chosen WHERE NOT timed_out AND repeat_of IS NULL GROUP BY subject, dataset, item_idx)
                GROUP BY subject, dataset),
            trials AS (
                SELECT subject, dataset, count(*) AS trials, count(*) FILTER (timed_out) AS timed_out,
                       count(rt_ms) FILTER (NOT timed_out) AS rt_n,
                       quantile_cont(rt_ms, [0.5, 0.25, 0.75]) FILTER (NOT timed_out) AS rt
                FROM chosen GROUP BY subject, dataset),
            retest AS (
                SELECT r.subject, r.dataset, count(*) AS repeats,
                       count(*) FILTER (r.preferred = o.preferred) AS agreeing
                FROM chosen r JOIN labels o ON o.id = r.repeat_of
                WHERE r.preferred IS NOT NULL AND o.preferred IS NOT NULL GROUP BY r.subject, r.dataset)
            SELECT t.subject, t.dataset, t.trials, coalesce(l.preferred, 0), coalesce(l.not_preferred, 0),
                   coalesce(l.ties, 0), t.timed_out, t.rt_n, t.rt[1], t.rt[2], t.rt[3],
                   coalesce(r.repeats, 0), coalesce(r.agreeing, 0)
            FROM trials t LEFT JOIN latest l USING (subject, dataset) LEFT JOIN retest r USING (subject, dataset)
            ORDER BY t.dataset, t.subject
            """,
            params,
        ).fetchall()
    return [TrialSummary(*row) for row in rows]
