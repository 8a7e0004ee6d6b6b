"""Short-lived DuckDB connections that wait for a lock held by another process.

DuckDB lets one process at a time open a database file for writing. prefstudy opens a
connection per unit of work and closes it, so a labelling server and a training run can share
a workspace: whoever finds the file locked waits and retries instead of failing.

A unit of work may span several functions: while a thread holds a connection to a database,
:func:`connect` there hands out the same one (opening a DuckDB database costs ~30 ms), and a
:func:`transaction` inside a transaction joins it. Nothing that takes long (training, feature
computation) may run while a connection is held.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from prefstudy.env import LOCK_TIMEOUT_ENV
from prefstudy.errors import PrefstudyError
from prefstudy.store.migrations import migrate

DEFAULT_LOCK_TIMEOUT_S = 120.0


def _is_lock_conflict(error: duckdb.Error) -> bool:
    text = str(error).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


def _open(path: Path, timeout_s: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + timeout_s
    delay = 0.02
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException as error:
            if not _is_lock_conflict(error) or time.monotonic() >= deadline:
                if _is_lock_conflict(error):
                    raise PrefstudyError(
                        f"{path} stayed locked by another prefstudy process for {timeout_s:.0f} s; "
                        f"retry when it finishes (or raise ${LOCK_TIMEOUT_ENV})"
                    ) from error
                raise
            # Jitter keeps two waiting processes from retrying in lock-step.
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.5)


class _Held(threading.local):
    """This thread's open connections, by database path, and whether each is inside a transaction."""

    def __init__(self) -> None:
        self.connections: dict[Path, duckdb.DuckDBPyConnection] = {}
        self.in_transaction: set[Path] = set()


_held = _Held()


@contextmanager
def connect(path: Path, timeout_s: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the workspace database for one unit of work, migrating it on first use.

    Waits (with backoff) while another process holds the file, up to ``timeout_s`` seconds
    (default ``$PREFSTUDY_LOCK_TIMEOUT`` or 120). Inside another ``connect`` to the same
    database in this thread, it is that connection.
    """
    path = Path(path).resolve()
    if path in _held.connections:
        yield _held.connections[path]
        return
    if timeout_s is None:
        timeout_s = float(os.environ.get(LOCK_TIMEOUT_ENV, DEFAULT_LOCK_TIMEOUT_S))
    con = _open(path, timeout_s)
    try:
        migrate(con)
        _held.connections[path] = con
        yield con
    finally:
        _held.connections.pop(path, None)
        _held.in_transaction.discard(path)
        con.close()


@contextmanager
def transaction(path: Path, timeout_s: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection inside one transaction: everything in the block lands, or nothing does.

    Inside another transaction on the same database in this thread, it joins that one.
    """
    path = Path(path).resolve()
    with connect(path, timeout_s) as con:
        if path in _held.in_transaction:
            yield con
            return
        con.execute("BEGIN TRANSACTION")
        _held.in_transaction.add(path)
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        else:
            con.execute("COMMIT")
        finally:
            _held.in_transaction.discard(path)


def first_row(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> tuple | None:
    """The first row of a query, or None. Fetches the whole result, so the connection is free afterwards."""
    rows = con.execute(sql, params).fetchall()
    return rows[0] if rows else None


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> Any:
    """The first value of the first row of a query, or None."""
    row = first_row(con, sql, params)
    return row[0] if row else None


def sql_path(path: Path) -> str:
    """A file path as the body of a single-quoted SQL string (DuckDB's COPY takes no parameter there)."""
    return str(path).replace("'", "''")
