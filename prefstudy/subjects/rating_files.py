"""Rating files: many raters' ratings of a dataset's items, imported as one human subject per rater.

A ratings table is CSV (comma-separated, with a header) or Parquet, by its suffix, laid out ``long``
(one row per rating: rater, item and rating columns; others are ignored) or ``wide`` (one row per rater,
one column per item, picked by a pattern; raters are named by a column or by row, ``r0001``, ...; named
columns may carry the rater's attributes, and any other column is an error, so a typo is caught).

An item is named by its key or its file stem (``001`` for ``001.jpg``). In either layout an empty cell,
``NA`` or ``NaN`` (any case, spaces around) is a missing rating, not an error. An in-memory DuckDB reads
the file a whole column at a time; every bad row is reported with its line (Parquet: its row), and then
nothing is written. Ratings are stored as given; each rater's rule (:mod:`prefstudy.subjects.ratings`)
makes them answers. Importing again is safe: a grown file adds only its new ratings, and a changed one
is refused unless replaced.
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import duckdb
import numpy as np

from prefstudy.datasets.catalog import get_dataset, key_index
from prefstudy.errors import LabelFileError, PrefstudyError
from prefstudy.store import memory_connection, sql_path
from prefstudy.subjects.labels import answer_counts, insert_labels, new_session, rated_labels, update_ratings
from prefstudy.subjects.rating_report import RatingImport, RefusedRater
from prefstudy.subjects.ratings import RatingRule, apply_rule, check_rated_counts, record_rules, recorded_rules
from prefstudy.subjects.roster import ensure_raters
from prefstudy.workspace import NAME_PATTERN, Workspace

LONG, WIDE = "long", "wide"
ALL_COLUMNS = r"(.+)"
MISSING = ("", "na", "nan")
"""Cells that are a missing rating (trimmed, in lower case)."""
SOURCE = "ratings"
_PREFIX = re.compile(r"[A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class RatingTable:
    """How a ratings file is laid out; columns are named as in its header."""

    layout: str = LONG
    rater: str | None = None  # long: default "rater"; wide: None names the raters by row
    item: str | None = None  # long only; default "item"
    rating: str | None = None  # long only; default "rating"
    item_columns: str = ALL_COLUMNS  # wide only: a full-match pattern; group 1, if any, names the item
    subject_columns: tuple[str, ...] = ()  # each rater's attributes, from their first row
    subject_table: Path | None = None  # CSV or Parquet, one row per rater: attributes in its other columns
    prefix: str = ""  # subject name = prefix + rater

    def __post_init__(self) -> None:
        if self.layout not in (LONG, WIDE):
            raise PrefstudyError(f"unknown layout {self.layout!r}; use long or wide")
        if self.layout == WIDE and (self.item or self.rating):
            raise PrefstudyError("--item and --rating name columns of --layout long; a wide file has --item-columns")
        if self.layout == LONG and self.item_columns != ALL_COLUMNS:
            raise PrefstudyError("--item-columns picks the item columns of --layout wide; a long file has --item")
        if not _PREFIX.fullmatch(self.prefix):
            raise PrefstudyError(f"invalid --prefix {self.prefix!r}: use letters, digits, '-', '_' or '.'")

    @property
    def rater_column(self) -> str | None:
        return self.rater or ("rater" if self.layout == LONG else None)


@dataclass(frozen=True)
class _File:
    """The file imported; a data row (counted from 1; 0 is the header) is shown as a CSV line or a Parquet row."""

    path: Path
    unit: str  # "line" or "row"

    def at(self, row: int) -> int:
        return row + 1 if self.unit == "line" else row

    def error(self, problems: list[tuple[int, str]] | set[tuple[int, str]]) -> LabelFileError:
        """Every problem, by line; a Parquet file has no lines, so its message names rows (0: the header)."""
        error = LabelFileError(str(self.path), sorted(problems))
        if self.unit == "row":
            shown = "; ".join(f"row {n}: {msg}" if n else f"header: {msg}" for n, msg in error.problems[:5])
            more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
            error.args = (f"{self.path}: {len(problems)} bad row(s), nothing imported — {shown}{more}",)
        return error


def import_ratings(
    ws: Workspace,
    path: Path,
    dataset: str,
    table: RatingTable,
    threshold: float | None = None,
    replace: bool = False,
    skip_unknown: bool = False,
) -> RatingImport:
    """Import every rater of a ratings file as a human subject, all or nothing, in one transaction.

    Ratings of items the dataset lacks are an error unless ``skip_unknown`` (then they are left out).
    A stored rating the file changes, or a rater's recorded rule that ``threshold`` changes, is refused
    unless ``replace``. Then the rule is applied again to all the file's raters (a grown file moves medians).
    """
    path = Path(path)
    file = _File(path, "row" if path.suffix.lower() == ".parquet" else "line")
    rule = RatingRule.from_threshold(threshold)
    if not path.is_file():
        raise PrefstudyError(f"ratings file {path} not found")
    with memory_connection() as mem:
        columns = _load(mem, file.path, "raw")
        rater_expr, item_columns = _cells(mem, file.path, columns, table)
        with ws.connect():  # one connection to the study from here on, which the transaction joins
            get_dataset(ws, dataset)
            unknown = _match_items(mem, key_index(ws, dataset), dataset, skip_unknown)
            raters = _parse(mem, file, table, item_columns, unknown)
            attributes = _attributes(mem, rater_expr, table, raters)
            counts, answers = _merge(ws, mem, file, dataset, attributes, rule, replace)
        n_cells, n_rated, n_kept, n_good = (_count(mem, t) for t in ("cells", "parsed", "rated", "good"))
    refused = [
        RefusedRater(name, reason)
        for name in attributes
        if (reason := check_rated_counts(*answers.get(name, (0, 0, 0))[:2])) is not None
    ]
    return RatingImport(
        file=str(path),
        dataset=dataset,
        layout=table.layout,
        raters=len(attributes),
        ratings_in_file=n_rated,
        skipped_unknown=n_rated - n_kept,
        missing_cells=n_cells - n_rated,
        duplicates=n_kept - n_good,
        rule=rule.describe(),
        ties=sum(a[2] for a in answers.values()),
        refused=refused,
        **counts,
    )


# --- reading the file ------------------------------------------------------------------------------------------------


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _count(mem: duckdb.DuckDBPyConnection, table: str) -> int:
    return mem.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _load(mem: duckdb.DuckDBPyConnection, path: Path, table: str) -> list[str]:
    """Load a CSV or Parquet file into ``table``, every value as text, in file order; returns its columns."""
    kind = "Parquet" if path.suffix.lower() == ".parquet" else "CSV"
    if kind == "Parquet":
        source = f"(SELECT COLUMNS(*)::VARCHAR FROM read_parquet('{sql_path(path)}'))"
    else:
        # DuckDB is told the dialect and the columns, so it guesses nothing: a short row is an error at its line.
        types = ", ".join(f"{_text(name)}: 'VARCHAR'" for name in _csv_header(path))
        source = (
            f"read_csv('{sql_path(path)}', auto_detect=false, header=true, delim=',', quote='\"', escape='\"', "
            f"columns={{{types}}})"
        )
    try:
        mem.execute(f"CREATE TABLE {table} AS SELECT * FROM {source}")
    except duckdb.Error as error:
        raise PrefstudyError(f"{path}: not a readable {kind} file ({_reason(error)})") from None
    if _count(mem, table) == 0:
        raise PrefstudyError(f"{path} has no ratings: it has a header and no rows")
    return [d[0] for d in mem.execute(f"SELECT * FROM {table} LIMIT 0").description]


def _csv_header(path: Path) -> list[str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            header = [name.strip() for name in next(csv.reader(f), [])]
    except UnicodeDecodeError:
        raise PrefstudyError(f"{path} is not a UTF-8 text file; save it as CSV (UTF-8)") from None
    except csv.Error as error:
        raise PrefstudyError(f"{path}: line 1 is not a readable CSV header ({error})") from None
    if not any(header):
        raise PrefstudyError(f"{path} has no ratings: it is empty")
    folded = [name.casefold() for name in header]
    twice = [name for name, f in zip(header, folded, strict=True) if folded.count(f) > 1]
    if twice:
        raise PrefstudyError(f"{path}: column {twice[0]!r} appears twice in the header (case aside)")
    return header


def _reason(error: duckdb.Error) -> str:
    """DuckDB's message without its hints, e.g. 'CSV Error on Line: 3; Expected Number of Columns: 3 Found: 2'."""
    lines = str(error).split("Possible fixes")[0].strip().splitlines()
    kept = [line.split("Error: ", 1)[-1].strip() for line in lines if not line.startswith("Original Line")]
    return "; ".join(line for line in kept if line)


def _listed(names: list[str], n: int = 10) -> str:
    return ", ".join(map(repr, names[:n])) + (f", ... ({len(names)} in all)" if len(names) > n else "")


def _require(path: Path, columns: list[str], wanted: list[str | None]) -> None:
    for name in wanted:
        if name is not None and name not in columns:
            raise PrefstudyError(f"{path} has no column {name!r} (its columns: {_listed(columns)})")


def _cells(mem: duckdb.DuckDBPyConnection, path: Path, columns: list[str], table: RatingTable) -> tuple[str, dict]:
    """Make the table ``cells`` (row, rater, item, cell), one row per rating cell.

    Returns the SQL expression of a row's rater in ``raw``, and (wide) item column -> the item it names.
    """
    if table.layout == LONG:
        item, rating = table.item or "item", table.rating or "rating"
        _require(path, columns, [table.rater_column, item, rating, *table.subject_columns])
        rater_expr = f"trim({_ident(table.rater_column)})"
        mem.execute(
            f"CREATE TABLE cells AS SELECT rowid + 1 AS row, {rater_expr} AS rater, trim({_ident(item)}) AS item, "
            f"{_ident(rating)} AS cell FROM raw"
        )
        return rater_expr, {}
    _require(path, columns, [table.rater, *table.subject_columns])
    items = _item_columns(path, columns, table)
    if table.rater:
        rater_expr = f"trim({_ident(table.rater)})"
    else:
        width = max(4, len(str(_count(mem, "raw"))))
        rater_expr = f"'r' || lpad(CAST(rowid + 1 AS VARCHAR), {width}, '0')"
    mem.execute(  # unnest zips the two lists: each item column's cell, with the item it names
        f"CREATE TABLE cells AS SELECT rowid + 1 AS row, {rater_expr} AS rater, "
        f"unnest([{', '.join(map(_ident, items))}]) AS cell, unnest([{', '.join(map(_text, items.values()))}]) AS item "
        "FROM raw"
    )
    return rater_expr, items


def _item_columns(path: Path, columns: list[str], table: RatingTable) -> dict[str, str]:
    """Wide layout: item column -> the item it names."""
    try:
        pattern = re.compile(table.item_columns)
    except re.error as error:
        raise PrefstudyError(f"--item-columns '{table.item_columns}' is not a regular expression ({error})") from None
    others = {table.rater, *table.subject_columns}
    items, stray = {}, []
    for name in columns:
        if name in others:
            continue
        if match := pattern.fullmatch(name):
            items[name] = match.group(1) if pattern.groups else match.group(0)
        else:
            stray.append(name)
    if stray:
        raise PrefstudyError(
            f"{path}: column(s) {_listed(stray)} are not items (--item-columns '{table.item_columns}'), --rater or "
            "--subject-columns; name them there or change the pattern"
        )
    if not items:
        raise PrefstudyError(f"{path}: no column is an item (--item-columns '{table.item_columns}')")
    return items


def _match_items(mem: duckdb.DuckDBPyConnection, keys: dict[str, int], dataset: str, skip: bool) -> dict[str, str]:
    """Make the table ``item_map`` (item, idx) of the file's items; returns the problem of each item to report.

    An item is a key, else a key's file stem; a stem shared by several keys names none of them. An item
    that is neither is unknown: reported, unless ``skip`` leaves it out.
    """
    stems: dict[str, list[str]] = {}
    for key in keys:
        stems.setdefault(PurePosixPath(key).stem, []).append(key)
    found = [v for (v,) in mem.execute("SELECT DISTINCT item FROM cells WHERE coalesce(item, '') <> ''").fetchall()]
    idx: list[int | None] = [None] * len(found)
    problems = {}
    for i, item in enumerate(found):
        same = [item] if item in keys else stems.get(item, [])
        if len(same) == 1:
            idx[i] = keys[same[0]]
        elif same:
            problems[item] = f"item {item!r} is the file stem of {', '.join(sorted(same))}; name it by its key"
        elif not skip:
            problems[item] = f"unknown item {item!r} (dataset {dataset!r} has no such key or file stem)"
    mem.execute(
        "CREATE TABLE item_map AS SELECT unnest(?::VARCHAR[]) AS item, unnest(?::INTEGER[]) AS idx", [found, idx]
    )
    return problems


def _parse(
    mem: duckdb.DuckDBPyConnection, file: _File, table: RatingTable, item_columns: dict[str, str], bad: dict[str, str]
) -> dict[str, int]:
    """Make the tables ``parsed`` (cells with a rating), ``rated`` (those kept) and ``good`` (one per rater and
    item), or raise every problem together. Returns rater -> their first row."""
    mem.execute(
        f"""
        CREATE TABLE parsed AS
        SELECT c.row, c.rater, c.item, trim(c.cell) AS cell, TRY_CAST(trim(c.cell) AS DOUBLE) AS rating, m.idx
        FROM cells c LEFT JOIN item_map m USING (item)
        WHERE lower(trim(coalesce(c.cell, ''))) NOT IN ({", ".join(map(_text, MISSING))})
        """
    )
    if _count(mem, "parsed") == 0:
        raise PrefstudyError(f"{file.path} has no ratings: every rating cell is empty or NA")
    # A wide file's items are its columns, reported once at the header; a long file's at each row.
    problems = {(file.at(0), f"column {c!r}: {bad[item]}") for c, item in item_columns.items() if item in bad}
    rows = mem.execute(  # the cells of a wide file's bad columns are not checked: the column is the problem
        "SELECT row, rater, item, cell, rating FROM parsed WHERE (coalesce(rater, '') = '' OR coalesce(item, '') = '' "
        "OR NOT coalesce(isfinite(rating), false) OR item IN (SELECT unnest(?::VARCHAR[]))) "
        "AND coalesce(item, '') NOT IN (SELECT unnest(?::VARCHAR[]))",
        [[], list(bad)] if item_columns else [list(bad), []],
    ).fetchall()
    for row, rater, item, cell, rating in rows:
        if not rater:
            problems.add((file.at(row), "the rater is empty"))
        if not item:
            problems.add((file.at(row), "the item is empty"))
        elif item in bad and not item_columns:
            problems.add((file.at(row), bad[item]))
        if rating is None or not math.isfinite(rating):
            what = "a number" if rating is None else "a finite number"
            problems.add((file.at(row), f"the rating {cell!r} of item {item!r} is not {what}"))
    first_rows = "SELECT rater, min(row) FROM cells WHERE coalesce(rater, '') <> '' GROUP BY rater ORDER BY min(row)"
    raters = dict(mem.execute(first_rows).fetchall())
    problems |= {
        (file.at(row), f"rater {rater!r} cannot be part of a subject name: use letters, digits, '-', '_', '.'")
        for rater, row in raters.items()
        if not NAME_PATTERN.fullmatch(table.prefix + rater)
    }
    mem.execute(
        "CREATE TABLE rated AS SELECT row, rater, item, idx, rating FROM parsed "
        "WHERE idx IS NOT NULL AND isfinite(rating) AND coalesce(rater, '') <> ''"
    )
    conflicts = mem.execute(
        "SELECT rater, arg_min(item, row), list(row ORDER BY row), list(rating ORDER BY row) FROM rated "
        "GROUP BY rater, idx HAVING min(rating) <> max(rating)"
    ).fetchall()
    for rater, item, rows, ratings in conflicts:
        given = ", ".join(f"{r:g} on {file.unit} {file.at(n)}" for n, r in zip(rows, ratings, strict=True))
        problems.add((file.at(rows[0]), f"rater {rater!r} rated item {item!r} differently: {given}"))
    if problems:
        raise file.error(problems)
    mem.execute(  # the same rating given twice is kept once
        "CREATE TABLE good AS SELECT ? || rater AS subject, idx, arg_min(item, row) AS item, min(row) AS row, "
        "min(rating) AS rating FROM rated GROUP BY rater, idx",
        [table.prefix],
    )
    return raters


def _attributes(
    mem: duckdb.DuckDBPyConnection, rater_expr: str, table: RatingTable, raters: dict[str, int]
) -> dict[str, dict[str, Any]]:
    """subject name -> the rater's attributes: their first row's --subject-columns, then --subject-table's columns."""
    found: dict[str, dict[str, Any]] = {rater: {} for rater in raters}
    if table.subject_columns:
        rows = mem.execute(
            f"SELECT DISTINCT ON (_rater) * EXCLUDE (_row) FROM (SELECT {rater_expr} AS _rater, rowid AS _row, "
            f"{', '.join(map(_ident, table.subject_columns))} FROM raw) ORDER BY _rater, _row"
        ).fetchall()
        _add_attributes(found, table.subject_columns, rows)
    if table.subject_table is not None:
        path = Path(table.subject_table)
        if not path.is_file():
            raise PrefstudyError(f"subject table {path} not found")
        columns = _load(mem, path, "subject_raw")
        rater = table.rater_column if table.rater_column in columns else columns[0]
        others = [c for c in columns if c != rater]
        selected = ", ".join([f"trim({_ident(rater)})", *map(_ident, others)])
        rows = mem.execute(f"SELECT {selected} FROM subject_raw").fetchall()
        twice = [r for r, n in Counter(row[0] for row in rows).items() if n > 1]
        if twice:
            raise PrefstudyError(f"{path}: rater {twice[0]!r} has more than one row; give each rater one")
        if not any(row[0] in found for row in rows):
            raise PrefstudyError(f"{path}: no rater of the ratings file is in its column {rater!r}")
        _add_attributes(found, others, rows)
    return {table.prefix + rater: values for rater, values in found.items()}


def _add_attributes(found: dict[str, dict[str, Any]], names: list[str] | tuple[str, ...], rows: list[tuple]) -> None:
    """Add the columns of (rater, value, ...) rows to the raters in ``found``, each column typed as a whole."""
    rows = [row for row in rows if row[0] in found]
    for j, name in enumerate(names, start=1):
        for row, value in zip(rows, _typed([row[j] for row in rows]), strict=True):
            found[row[0]][name] = value


def _typed(values: list[str | None]) -> list[Any]:
    """Text cells as integers if all are, else as numbers if all are, else as text; missing ones as None."""
    cells = [None if v is None or v.strip().lower() in MISSING else v.strip() for v in values]
    for convert in (int, float):
        with suppress(ValueError):
            typed = [None if v is None else convert(v) for v in cells]
            if all(v is None or math.isfinite(v) for v in typed):
                return typed
    return cells


# --- merging with what is stored -------------------------------------------------------------------------------------


def _merge(
    ws: Workspace,
    mem: duckdb.DuckDBPyConnection,
    file: _File,
    dataset: str,
    attributes: dict[str, dict[str, Any]],
    rule: RatingRule,
    replace: bool,
) -> tuple[dict[str, int], dict[str, tuple[int, int, int]]]:
    """Store the ``good`` ratings that are new (and the changed ones, if ``replace``), and apply the rule again.

    Returns the counts of the summary, and subject -> (preferred, not preferred, ties) after the rule.
    """
    names = list(attributes)
    with ws.transaction() as con:
        other = {s: r for s, r in recorded_rules(con, dataset, names).items() if r != rule}
        if other and not replace:
            first = min(other)
            raise PrefstudyError(
                f"{len(other)} rater(s) split their ratings on {dataset!r} by another rule ({first}: "
                f"{other[first].describe()}); import with that rule, or give --replace to use {rule.describe()}"
            )
        mem.execute("CREATE TABLE stored (subject VARCHAR, idx INTEGER, id BIGINT, rating DOUBLE)")
        mem.register("stored_in", rated_labels(con, dataset, names))
        mem.execute(
            "INSERT INTO stored SELECT subject, item_idx, max(id), arg_max(rating, id) FROM stored_in "
            "GROUP BY subject, item_idx"
        )
        mem.unregister("stored_in")
        changed = mem.execute(
            "SELECT g.row, g.subject, g.item, g.rating, s.rating, s.id FROM good g JOIN stored s USING (subject, idx) "
            "WHERE g.rating <> s.rating ORDER BY g.row, g.idx"
        ).fetchall()
        if changed and not replace:
            raise file.error(
                [
                    (file.at(row), f"{subject} has {old:g} stored for item {item!r}; --replace stores this {new:g}")
                    for row, subject, item, new, old, _ in changed
                ]
            )
        new = mem.execute(
            "SELECT subject, idx, rating FROM good ANTI JOIN stored USING (subject, idx) ORDER BY row, idx"
        ).fetchnumpy()
        new_raters = ensure_raters(con, attributes)
        if changed:
            update_ratings(con, np.array([c[5] for c in changed]), np.array([c[3] for c in changed]))
        n = len(new["idx"])
        if n:
            insert_labels(
                con,
                {
                    "subject": new["subject"],
                    "dataset": np.full(n, dataset, dtype=object),
                    "item_idx": new["idx"],
                    "rating": new["rating"],
                    "timed_out": np.zeros(n, dtype=bool),
                    "session": np.full(n, new_session(SOURCE), dtype=object),
                    "trial": np.arange(1, n + 1, dtype=np.int32),
                    "source": np.full(n, SOURCE, dtype=object),
                },
            )
        record_rules(con, dataset, names, rule, str(file.path.resolve()))
        apply_rule(con, dataset, names, rule)
        answers = answer_counts(con, dataset, names)
    both = _count(mem, "good JOIN stored USING (subject, idx)")
    return {"new_raters": new_raters, "added": n, "unchanged": both - len(changed), "replaced": len(changed)}, answers
