"""Rebuilding a damaged study database: a fresh one with every table of the old that still reads through.

Used by `prefstudy study check --repair`. The damaged file is only attached read-only, so it stays
as it was; the caller keeps it aside.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from prefstudy.store.connection import sql_path
from prefstudy.store.integrity import DUCKDB_CONFIG, header_problem, table_names
from prefstudy.store.migrations import migrate


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(con: duckdb.DuckDBPyConnection, database: str | None, table: str) -> list[str]:
    return [
        c
        for (c,) in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = coalesce(?, current_database()) "
            "AND table_name = ? ORDER BY column_index",
            [database, table],
        ).fetchall()
    ]


def _copy_table(con: duckdb.DuckDBPyConnection, table: str) -> int | None:
    """Copy one table's rows (the columns both schemas have); None, and nothing copied, when it does not read."""
    old = set(_columns(con, "old", table))
    columns = ", ".join(_quoted(c) for c in _columns(con, None, table) if c in old)
    con.execute("BEGIN TRANSACTION")
    try:
        (rows,) = con.execute(
            f"INSERT INTO main.{_quoted(table)} ({columns}) SELECT {columns} FROM old.{_quoted(table)}"
        ).fetchone()
    except duckdb.Error:
        con.execute("ROLLBACK")
        return None
    con.execute("COMMIT")
    return rows


def _advance_sequences(con: duckdb.DuckDBPyConnection) -> None:
    """Start each sequence past the values the old database handed out (copied rows keep their ids)."""
    used = con.execute(
        "SELECT sequence_name, last_value FROM duckdb_sequences() "
        "WHERE database_name = 'old' AND last_value IS NOT NULL"
    ).fetchall()
    for name, last_value in used:
        con.execute("SELECT max(nextval(?)) FROM range(?)", [name, last_value])


def salvage(damaged: Path, fresh: Path) -> dict[str, int | None]:
    """Create ``fresh`` with the current schema and copy into it every table of ``damaged`` that reads.

    Returns table -> rows copied, or None where the table did not read (every table, when the
    damaged file does not open at all). A table the damaged file lacks (an older schema) is empty.
    """
    con = duckdb.connect(str(fresh), config=DUCKDB_CONFIG)
    try:
        migrate(con)
        copied: dict[str, int | None] = {t: None for t in table_names(con) if t != "schema_migrations"}
        if not Path(damaged).exists() or header_problem(Path(damaged)):
            return copied
        try:
            con.execute(f"ATTACH '{sql_path(Path(damaged))}' AS old (READ_ONLY)")
            readable = set(table_names(con, "old"))
        except duckdb.Error:
            return copied
        for table in copied:
            copied[table] = _copy_table(con, table) if table in readable else 0
        try:
            _advance_sequences(con)
        finally:
            con.execute("DETACH old")
        return copied
    finally:
        con.close()
