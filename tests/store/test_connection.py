import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from prefstudy.errors import PrefstudyError
from prefstudy.store import connect, transaction
from prefstudy.store.migrations import MIGRATIONS


def _hold_lock(db: Path, seconds: float) -> subprocess.Popen:
    """Another process that opens the database for writing and keeps it open."""
    code = textwrap.dedent(f"""
        import sys, time, duckdb
        con = duckdb.connect({str(db)!r})
        con.execute("INSERT INTO subjects (name, kind) VALUES ('other-process', 'human')")
        print("locked", flush=True)
        time.sleep({seconds})
        con.close()
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_every_migration_is_applied_once(tmp_path: Path):
    db = tmp_path / "x.duckdb"
    with connect(db):
        pass
    with connect(db) as con:
        versions = [v for (v,) in con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()]
        tables = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert versions == [v for v, _ in MIGRATIONS]
    assert {"datasets", "items", "subjects", "labels", "runs", "metrics", "predictions"} <= tables


@pytest.mark.slow  # another process holds the lock for seconds
def test_a_second_process_holding_the_lock_is_waited_for(tmp_path: Path):
    db = tmp_path / "x.duckdb"
    with connect(db):
        pass
    holder = _hold_lock(db, 1.5)
    began = time.monotonic()
    with transaction(db, timeout_s=30) as con:
        con.execute("INSERT INTO subjects (name, kind) VALUES ('this-process', 'human')")
    waited = time.monotonic() - began
    holder.wait(timeout=30)
    assert waited > 0.5  # it really had to wait for the other process
    with connect(db) as con:
        names = {n for (n,) in con.execute("SELECT name FROM subjects").fetchall()}
    assert names == {"other-process", "this-process"}


@pytest.mark.slow  # another process holds the lock for seconds
def test_a_lock_held_too_long_is_one_clear_error(tmp_path: Path):
    db = tmp_path / "x.duckdb"
    with connect(db):
        pass
    holder = _hold_lock(db, 3)
    try:
        with (
            pytest.raises(PrefstudyError, match="stayed locked by another prefstudy process"),
            connect(db, timeout_s=0.5),
        ):
            pass
    finally:
        holder.wait(timeout=30)


def test_a_failed_transaction_writes_nothing(tmp_path: Path):
    db = tmp_path / "x.duckdb"
    with pytest.raises(RuntimeError), transaction(db) as con:
        con.execute("INSERT INTO subjects (name, kind) VALUES ('half', 'human')")
        raise RuntimeError("boom")
    with connect(db) as con:
        assert con.execute("SELECT count(*) FROM subjects").fetchone()[0] == 0


def test_a_unit_of_work_shares_one_connection_and_one_transaction(tmp_path: Path):
    import threading

    db = tmp_path / "s.duckdb"
    with connect(db) as outer:
        outer.execute("CREATE TABLE t (x INTEGER)")
        with connect(db) as inner:
            assert inner is outer  # no second open of the database
        seen_elsewhere = []
        worker = threading.Thread(target=lambda: seen_elsewhere.append(_open_in_thread(db)))
        worker.start()
        worker.join()
        assert seen_elsewhere and seen_elsewhere[0] is not outer  # another thread gets its own
    with pytest.raises(RuntimeError), transaction(db) as con:
        con.execute("INSERT INTO t VALUES (1)")
        with transaction(db) as joined:  # joins: rolled back with the outer transaction
            assert joined is con
            joined.execute("INSERT INTO t VALUES (2)")
        raise RuntimeError("the unit of work fails")
    with connect(db) as con:
        assert con.execute("SELECT count(*) FROM t").fetchone() == (0,)
        with transaction(db) as inner:
            inner.execute("INSERT INTO t VALUES (3)")
        assert con.execute("SELECT count(*) FROM t").fetchone() == (1,)  # committed by the inner transaction


def _open_in_thread(db: Path):
    with connect(db) as con:
        return con
