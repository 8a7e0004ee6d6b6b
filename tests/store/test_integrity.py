"""A damaged study database is refused with one line pointing at `study check`, and never written into."""

import hashlib
import random
import sqlite3
from pathlib import Path

import duckdb
import pytest
from conftest import Cli

from prefstudy.errors import PrefstudyError
from prefstudy.store import DamagedDatabase, connect, memory_connection, transaction
from prefstudy.store import connection as connection_module
from prefstudy.store import migrations as migrations_module
from prefstudy.store.integrity import HEADER_BYTES


def _state(db: Path) -> dict[str, str]:
    """The hash of every file of the database (the file and any write-ahead log beside it)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in db.parent.glob(db.name + "*")}


def _sqlite_bytes(tmp_path: Path) -> bytes:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE t (x)")
    return path.read_bytes()


def _block_of(db: Path, table: str) -> int:
    """Where in the file the first data block of ``table`` lies."""
    with duckdb.connect(str(db), read_only=True) as con:
        block = con.execute(f"SELECT min(block_id) FROM pragma_storage_info('{table}') WHERE block_id >= 0").fetchone()
        block_size = con.execute("SELECT block_size FROM pragma_database_size()").fetchone()[0]
    return HEADER_BYTES + block[0] * block_size


def flip_table_block(db: Path, table: str) -> None:
    """Flip one byte in the middle of ``table``'s first data block: DuckDB notices only when it reads it."""
    data = bytearray(db.read_bytes())
    data[_block_of(db, table) + 1000] ^= 0xFF
    db.write_bytes(bytes(data))


DAMAGE = {
    "truncated": (lambda data, tmp: data[: len(data) // 2], "is truncated"),
    "zeroed": (lambda data, tmp: bytes(len(data)), "is not a DuckDB database file"),
    "random bytes": (lambda data, tmp: random.Random(0).randbytes(len(data)), "is not a DuckDB database file"),
    "empty": (lambda data, tmp: b"", "is an empty file"),
    "sqlite": (lambda data, tmp: _sqlite_bytes(tmp), "is an SQLite file"),
    "bit-flipped catalog": (
        lambda data, tmp: data[:HEADER_BYTES] + bytes([data[HEADER_BYTES] ^ 1]) + data[HEADER_BYTES + 1 :],
        "does not open (Corrupt database file",
    ),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_a_damaged_file_is_one_line_exit_1_and_left_untouched(kind: str, ws, tmp_path: Path):
    damage, says = DAMAGE[kind]
    db = ws.db_path
    db.write_bytes(damage(db.read_bytes(), tmp_path))
    before = _state(db)
    result = Cli(ws.root)("subject", "add", "ann", ok=False)  # a command that would write
    message = result.stderr.strip()
    assert result.exit_code == 1
    assert len(message.splitlines()) == 1 and "Traceback" not in result.output
    assert message.startswith(f"error: the study database {db} {says}")
    assert message.endswith("run `prefstudy study check` to diagnose it and see how to recover")
    assert _state(db) == before  # not a byte written, no write-ahead log begun


def test_damage_met_mid_command_stops_it_and_nothing_lands(sample_ws):
    flip_table_block(sample_ws.db_path, "items")  # the catalog opens; only reading the items fails
    before = _state(sample_ws.db_path)
    with (
        pytest.raises(DamagedDatabase, match=r"could not be read \(Corrupt database file"),
        transaction(sample_ws.db_path) as con,
    ):
        con.execute("INSERT INTO subjects (name, kind) VALUES ('ann', 'human')")
        con.execute("SELECT * FROM items").fetchall()
    assert _state(sample_ws.db_path) == before


def test_our_own_sql_errors_are_not_taken_for_damage(ws):
    with pytest.raises(duckdb.BinderException), connect(ws.db_path) as con:
        con.execute("SELECT no_such_column FROM subjects")


def test_a_foreign_duckdb_file_is_refused_not_migrated(tmp_path: Path):
    db = tmp_path / "other.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE mine (x INTEGER)")
    before = _state(db)
    with pytest.raises(DamagedDatabase, match="is not a prefstudy database"), connect(db):
        pass
    assert _state(db) == before


def test_no_connection_may_fetch_an_extension(ws):
    settings = "SELECT current_setting('autoload_known_extensions'), current_setting('autoinstall_known_extensions')"
    with connect(ws.db_path) as con:
        assert con.execute(settings).fetchone() == (False, False)
    with memory_connection() as con:
        assert con.execute(settings).fetchone() == (False, False)


def test_a_migration_keeps_a_copy_of_the_database_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    db = tmp_path / "x.duckdb"
    older = migrations_module.MIGRATIONS[:-1]
    with monkeypatch.context() as patch:  # a database made by the prefstudy before the last migration
        patch.setattr(migrations_module, "MIGRATIONS", older)
        patch.setattr(connection_module, "MIGRATIONS", older)
        with connect(db) as con:
            con.execute("INSERT INTO subjects (name, kind) VALUES ('ann', 'human')")
    last = migrations_module.MIGRATIONS[-1][0]
    with connect(db) as con:
        assert con.execute("SELECT max(version) FROM schema_migrations").fetchone() == (last,)
    backup = tmp_path / f"x.duckdb.pre-migration-{last}"
    with duckdb.connect(str(backup), read_only=True) as con:
        assert con.execute("SELECT max(version) FROM schema_migrations").fetchone() == (last - 1,)
        assert con.execute("SELECT name FROM subjects").fetchall() == [("ann",)]
    assert not (tmp_path / f"x.duckdb.pre-migration-{older[0][0]}").exists()  # the new database had none


def test_a_newer_schema_is_refused_with_what_to_do(ws):
    db = ws.db_path
    with connect(db) as con:
        con.execute("INSERT INTO schema_migrations (version) VALUES (999)")
    with pytest.raises(PrefstudyError, match=r"made by a newer prefstudy .*upgrade prefstudy"), connect(db):
        pass
