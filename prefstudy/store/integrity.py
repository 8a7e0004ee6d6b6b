"""Is a study database whole enough to use? The checks every open makes, and how damage is named.

Every open pays for these, so they stay cheap (well under a millisecond but for the one
``pragma_database_size`` query): the file's header is DuckDB's, the file holds every block
DuckDB's metadata counts (a truncated file fails here), and the catalog opened. Damage inside a
table's data blocks shows only when that table is read: a command that reads it stops with one
line (see :func:`is_damage`), and `prefstudy study check` reads every table through.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from prefstudy.errors import PrefstudyError

# prefstudy never reaches the network except in `data fetch`: DuckDB must not fetch an extension
# (opening an SQLite file makes it reach for sqlite_scanner).
DUCKDB_CONFIG = {"autoload_known_extensions": False, "autoinstall_known_extensions": False}

_MAGIC, _MAGIC_AT = b"DUCK", 8
_SQLITE_MAGIC = b"SQLite format 3\x00"
HEADER_BYTES = 3 * 4096  # the file header and DuckDB's two database headers come before block 0
CHECK_HINT = "run `prefstudy study check` to diagnose it and see how to recover"

# What DuckDB says when a file's bytes are not what it wrote (matched on the message: the checksum
# failure is a bare duckdb.Error, truncation an IOException like a missing Parquet file's).
_DAMAGE_WORDS = ("corrupt database file", "checksum", "could not read enough bytes", "not a valid duckdb database")


class DamagedDatabase(PrefstudyError):
    """The study database does not open cleanly, or a read of it failed: nothing more is written to it."""

    def __init__(self, path: Path, problem: str):
        self.path, self.problem = Path(path), problem
        super().__init__(f"the study database {path} {problem}; {CHECK_HINT}")


def first_line(error: BaseException, limit: int = 200) -> str:
    """An error's message on one line, without DuckDB's 'IO Error: ' style prefix."""
    text = " ".join(str(error).split())
    for prefix in ("IO Error: ", "Serialization Error: ", "INTERNAL Error: ", "FATAL Error: "):
        text = text.removeprefix(prefix)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_damage(error: BaseException) -> bool:
    """Whether a DuckDB error says the file's bytes are damaged, rather than our SQL or the data being wrong."""
    if isinstance(error, (duckdb.FatalException, duckdb.InternalException, duckdb.SerializationException)):
        return True
    return isinstance(error, duckdb.Error) and any(word in str(error).lower() for word in _DAMAGE_WORDS)


def header_problem(path: Path) -> str | None:
    """What is wrong with the file before DuckDB sees it, or None (a missing file becomes a new database)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(_SQLITE_MAGIC))
            size = handle.seek(0, 2)
    except FileNotFoundError:
        return None
    except OSError as error:
        return f"cannot be read ({error.strerror})"
    if size == 0:
        return "is an empty file"
    if head == _SQLITE_MAGIC:
        return "is an SQLite file, not a DuckDB database"
    if head[_MAGIC_AT : _MAGIC_AT + len(_MAGIC)] != _MAGIC:
        return "is not a DuckDB database file (its header is not DuckDB's)"
    if size < HEADER_BYTES:
        return f"is truncated ({size} bytes, shorter than DuckDB's header)"
    return None


def truncation_problem(con: duckdb.DuckDBPyConnection, path: Path) -> str | None:
    """Whether the file is shorter than the blocks in use need; only right after the file was opened."""
    # DuckDB cuts free blocks off the end of the file, so only the blocks in use are sure to be there.
    used, block_size = con.execute("SELECT used_blocks, block_size FROM pragma_database_size()").fetchone()
    needed = HEADER_BYTES + used * block_size
    size = Path(path).stat().st_size
    return f"is truncated ({size} of {needed} bytes)" if size < needed else None


def table_names(con: duckdb.DuckDBPyConnection, database: str | None = None) -> list[str]:
    """Every table of a database (the main one by default), by name."""
    sql = "SELECT table_name FROM duckdb_tables() WHERE database_name = coalesce(?, current_database()) ORDER BY 1"
    return [name for (name,) in con.execute(sql, [database]).fetchall()]


def read_through(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Read every value of a table (hashing whole rows, so no column is skipped); return its row count."""
    quoted = '"' + table.replace('"', '""') + '"'
    return con.execute(f"SELECT count(*), max(hash(t)) FROM {quoted} t").fetchone()[0]


def unreadable_tables(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Table -> why it does not read through, for every table that does not."""
    problems = {}
    for table in table_names(con):
        try:
            read_through(con, table)
        except duckdb.Error as error:
            if not is_damage(error):
                raise
            problems[table] = first_line(error)
    return problems
