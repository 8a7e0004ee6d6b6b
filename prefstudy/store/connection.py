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

import contextlib
import os
import random
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from prefstudy.bounds import SECONDS
from prefstudy.env import LOCK_TIMEOUT_ENV
from prefstudy.errors import PrefstudyError
from prefstudy.files import atomic_path
from prefstudy.store.integrity import (
    DUCKDB_CONFIG,
    DamagedDatabase,
    first_line,
    header_problem,
    is_damage,
    truncation_problem,
    unreadable_tables,
)
from prefstudy.store.migrations import MIGRATIONS, applied_versions, migrate

DEFAULT_LOCK_TIMEOUT_S = 120.0


def _is_lock_conflict(error: duckdb.Error) -> bool:
    text = str(error).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


_forbidden: list[str] = []  # why this process may not open a study database now (a worker, a label refit)


def forbid_databases(why: str) -> None:
    """From now on, opening a study database in this process is a bug: it raises, saying ``why``."""
    _forbidden[:] = [why]


@contextmanager
def forbidding_databases(why: str) -> Iterator[None]:
    """Within the block, opening a study database is a bug (e.g. while a worker makes a run, which the
    driver, the database's one writer, lands): it raises, saying ``why``."""
    before = list(_forbidden)
    _forbidden[:] = [why]
    try:
        yield
    finally:
        _forbidden[:] = before


def _open(path: Path, timeout_s: float, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the file as DuckDB, waiting out another process's lock; a file that is not whole is refused untouched."""
    if _forbidden:
        raise RuntimeError(f"{path} opened where no study database may be: {_forbidden[0]}")
    if problem := header_problem(path):
        raise DamagedDatabase(path, problem)
    deadline = time.monotonic() + timeout_s
    delay = 0.02
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=DUCKDB_CONFIG)
        except duckdb.Error as error:
            if not _is_lock_conflict(error) or time.monotonic() >= deadline:
                if _is_lock_conflict(error):
                    raise PrefstudyError(
                        f"{path} stayed locked by another prefstudy process for {timeout_s:.0f} s; "
                        f"retry when it finishes (or raise ${LOCK_TIMEOUT_ENV})"
                    ) from error
                raise DamagedDatabase(path, f"does not open ({first_line(error)})") from error
            # Jitter keeps two waiting processes from retrying in lock-step.
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.5)


def lock_timeout_s() -> float:
    """How long to wait for a database another process holds: ``$PREFSTUDY_LOCK_TIMEOUT`` or 120 s."""
    text = os.environ.get(LOCK_TIMEOUT_ENV)
    return DEFAULT_LOCK_TIMEOUT_S if text is None else float(SECONDS.parse(f"${LOCK_TIMEOUT_ENV}", text))


class _Held(threading.local):
    """This thread's open connections, by database path, and whether each is inside a transaction."""

    def __init__(self) -> None:
        self.connections: dict[Path, duckdb.DuckDBPyConnection] = {}
        self.in_transaction: set[Path] = set()


_held = _Held()

# Connections this process has open, by database: threads share one DuckDB instance per file, so
# only an open that finds none sees the file as the last process left it (and checks it).
_opened: dict[Path, int] = {}
_opened_lock = threading.Lock()


def _open_checked(path: Path, timeout_s: float) -> duckdb.DuckDBPyConnection:
    with _opened_lock:
        fresh = not _opened.get(path)
        _opened[path] = _opened.get(path, 0) + 1
    try:
        con = _open(path, timeout_s)
    except BaseException:
        _closed(path)
        raise
    try:
        if fresh and (problem := truncation_problem(con, path)):
            raise DamagedDatabase(path, problem)
        _migrate(con, path)
    except BaseException:
        _close(con, path)
        raise
    return con


def _closed(path: Path) -> None:
    with _opened_lock:
        _opened[path] -= 1
        if not _opened[path]:
            del _opened[path]


def _close(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    try:
        con.close()
    finally:
        _closed(path)


def _migrate(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Apply pending migrations, keeping a copy of a database that had some already as ``<db>.pre-migration-<N>``."""
    applied = applied_versions(con)
    if applied is None and con.execute("SELECT count(*) FROM duckdb_tables()").fetchone()[0]:
        raise DamagedDatabase(path, "is not a prefstudy database (it has tables but no schema_migrations)")
    known = {version for version, _ in MIGRATIONS}
    if applied and not applied <= known:
        raise PrefstudyError(
            f"{path} was made by a newer prefstudy (schema version {max(applied)}; this one knows up to "
            f"{max(known)}): upgrade prefstudy"
        )
    pending = sorted(known - (applied or set()))
    if not pending:
        return
    if applied:
        # A migration rewrites the file: first read it all, so a damaged one is never migrated.
        if unreadable := unreadable_tables(con):
            table, why = next(iter(unreadable.items()))
            raise DamagedDatabase(path, f"could not be read before migrating it (table {table}: {why})")
        backup = path.with_name(f"{path.name}.pre-migration-{pending[0]}")
        if not backup.exists():  # a first, failed attempt already kept the original
            con.execute("CHECKPOINT")  # the file alone then holds everything (no write-ahead log)
            with atomic_path(backup) as tmp:
                shutil.copyfile(path, tmp)
    migrate(con)


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
        timeout_s = lock_timeout_s()
    con = _open_checked(path, timeout_s)
    try:
        _held.connections[path] = con
        yield con
    except duckdb.Error as error:
        # Damage met mid-command is one line pointing at `study check`; our own SQL errors stay as they are.
        if is_damage(error):
            raise DamagedDatabase(path, f"could not be read ({first_line(error)})") from error
        raise
    finally:
        _held.connections.pop(path, None)
        _held.in_transaction.discard(path)
        _close(con, path)


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
            # A database DuckDB invalidated has nothing to roll back; the first error is the one to show.
            with suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        else:
            con.execute("COMMIT")
        finally:
            _held.in_transaction.discard(path)


@contextmanager
def read_only(path: Path, timeout_s: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection that checks and migrates nothing, for diagnosing a database (`study check`)."""
    con = _open(Path(path).resolve(), lock_timeout_s() if timeout_s is None else timeout_s, read_only=True)
    try:
        yield con
    finally:
        con.close()


def memory_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB of its own (e.g. to build tables from a file), which fetches no extension either."""
    return duckdb.connect(config=DUCKDB_CONFIG)


_memory = threading.local()  # this thread's shared in-memory database, and the process it was opened in


def memory_cursor() -> duckdb.DuckDBPyConnection:
    """A fresh cursor on this thread's one in-memory DuckDB, for a query that creates no table (e.g. reading or
    writing one Parquet file; what it registers is its own and goes when it is closed). Opening a database
    costs ~30 ms, a cursor nothing."""
    if getattr(_memory, "pid", None) != os.getpid():
        _memory.database, _memory.pid = duckdb.connect(config=DUCKDB_CONFIG), os.getpid()
    return _memory.database.cursor()


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


@contextmanager
def registered_columns(con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, Any]) -> Iterator[None]:
    """Named numpy columns visible to ``con``'s queries as the view ``name`` within the block (set-based writes)."""
    con.register(name, columns)
    try:
        yield
    finally:
        con.unregister(name)


def registered_rows(
    con: duckdb.DuckDBPyConnection, name: str, rows: Sequence[Sequence[Any]], names: Sequence[str]
) -> contextlib.AbstractContextManager[None]:
    """``rows`` (``names`` their columns) as the view ``name`` within the block; None stays NULL."""
    columns = {column: np.array([row[i] for row in rows], dtype=object) for i, column in enumerate(names)}
    return registered_columns(con, name, columns)
