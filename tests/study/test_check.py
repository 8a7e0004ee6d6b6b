"""`prefstudy study check`: the database read through, runs and caches against their records, and --repair."""

import hashlib
import json
from pathlib import Path

import duckdb
import pytest
from conftest import Cli
from store.test_integrity import flip_table_block

from prefstudy.runs.record import finished_runs, run_metrics
from prefstudy.subjects.roster import list_subjects


def _hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_whole_study_is_healthy(trained_copy):
    cli = Cli(trained_copy.root)
    result = cli("study", "check")
    assert f"study {trained_copy.root} is healthy: 20 tables read through" in result.stderr
    verdict = cli.json("study", "check")
    assert verdict["healthy"] is True and verdict["problems"] == [] and verdict["repairs"] == []
    assert {t["name"]: t["rows"] for t in verdict["tables"]}["runs"] == 2


@pytest.mark.slow  # several checks and a rebuild of a trained study: ~3 s
def test_a_damaged_table_is_found_and_repair_rebuilds_the_runs_from_their_directories(trained_copy):
    db = trained_copy.db_path
    flip_table_block(db, "runs")
    before = _hash(db)
    cli = Cli(trained_copy.root)

    result = cli("study", "check", "--json", ok=False)
    assert result.exit_code == 1
    assert _hash(db) == before  # checking writes nothing
    verdict = json.loads(result.stdout)
    assert verdict["healthy"] is False
    assert {t["name"] for t in verdict["tables"] if not t["readable"]} == {"runs"}
    kinds = sorted((p["kind"], p["repairable"]) for p in verdict["problems"])
    assert kinds == [("database", True), ("run directory", True), ("run directory", True)]

    result = cli("study", "check", "--repair")
    assert "repaired: built a new database with 18 of 19 tables copied" in result.stderr
    assert "repaired: table runs could not be read" in result.stderr
    assert "is healthy" in result.stderr
    aside = [p for p in db.parent.iterdir() if p.name.startswith("prefstudy.duckdb.damaged-")]
    assert len(aside) == 1 and _hash(aside[0]) == before  # the damaged file, kept as it was
    runs = finished_runs(trained_copy)
    assert sorted(r.subject for r in runs) == ["alice", "bob"]  # recorded again from runs/
    assert set(run_metrics(trained_copy, [r.id for r in runs])) == {r.id for r in runs}
    assert {s.name for s in list_subjects(trained_copy)} == {"alice", "bob"}  # copied from the readable tables


@pytest.mark.slow  # several checks and a rebuild of a trained study: ~3 s
def test_runs_and_caches_are_checked_against_their_records(trained_copy):
    alice = next(r for r in finished_runs(trained_copy) if r.subject == "alice")
    bob = next(r for r in finished_runs(trained_copy) if r.subject == "bob")
    (trained_copy.run_dir(alice.id) / "predictions.parquet").unlink()
    with duckdb.connect(str(trained_copy.db_path)) as con:  # bob's rows lost, his run directory kept
        for table, column in (("runs", "id"), ("metrics", "run_id"), ("predictions", "run_id"), ("epochs", "run_id")):
            con.execute(f"DELETE FROM {table} WHERE {column} = ?", [bob.id])
    cache = next((trained_copy.root / "cache" / "fm").glob("*.npy"))
    cache.write_bytes(cache.read_bytes()[:-100])
    cli = Cli(trained_copy.root)

    result = cli("study", "check", ok=False)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"run: finished run {alice.id}: its run directory lacks ['predictions.parquet'] (--repair cannot mend this)",
        f"run directory: run directory {bob.id} (a finished run) has no row (--repair mends this)",
        f"dataset: dataset fm: its image cache {cache.relative_to(trained_copy.root).as_posix()} is 7840028 bytes, "
        "a whole array is 7840128 (--repair cannot mend this)",
    ]
    assert "has 3 problem(s); run `prefstudy study check --repair`" in result.stderr

    result = cli("study", "check", "--repair", ok=False)
    assert f"repaired: recorded 1 finished run(s) from their run directories: {bob.id}" in result.stderr
    assert result.exit_code == 1 and len(result.stdout.splitlines()) == 2  # what it cannot mend remains
    assert bob.id in {r.id for r in finished_runs(trained_copy)}
