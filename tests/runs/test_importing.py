"""`prefstudy runs import`: runs made in another copy of the study are recorded here exactly as they were there."""

from __future__ import annotations

import shutil

import duckdb
import pytest
from conftest import Cli, copy_study, one_duckdb

from prefstudy.runs.record import RunDir, get_run, run_ids, run_result

QUERIES = {
    "predictions": "SELECT item_idx, split, label, p_preferred FROM predictions WHERE run_id = ? ORDER BY item_idx",
    "metrics": "SELECT split, tp, fp, fn, tn, n, accuracy FROM metrics WHERE run_id = ? ORDER BY split",
    "epochs": "SELECT * FROM epochs WHERE run_id = ? ORDER BY epoch",
}


def _forget(ws, run_id: str) -> None:
    """Make ``ws`` a study that never had the run (as if it had been made elsewhere)."""
    with ws.transaction() as con:
        for table in ("predictions", "metrics", "epochs"):
            con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
        con.execute("DELETE FROM runs WHERE id = ?", [run_id])
    shutil.rmtree(ws.run_dir(run_id))


@pytest.fixture
def here_and_job(trained_copy, tmp_path):
    """This study, which lacks alice's run, and a copy of it (a cluster job's) that made the run."""
    job = copy_study(trained_copy.root, tmp_path / "job")
    with one_duckdb(trained_copy, job):
        with job.connect() as con:
            (run_id,) = con.execute("SELECT id FROM runs WHERE subject = 'alice'").fetchone()
        _forget(trained_copy, run_id)
        yield trained_copy, job, run_id


def test_runs_made_in_a_copy_of_the_study_merge_back(here_and_job):
    here, job, run_id = here_and_job
    cli = Cli(here.root)
    assert run_id not in run_ids(here)
    merged = cli.json("runs", "import", job.root)
    assert merged["imported"] == [run_id] and len(merged["skipped"]) == 1  # bob's run is here already
    assert (here.run_dir(run_id) / "model.pt").is_file()
    assert run_result(here, run_id) == run_result(job, run_id)
    with here.connect() as con, job.connect() as other:
        for query in QUERIES.values():
            assert con.execute(query, [run_id]).fetchall() == other.execute(query, [run_id]).fetchall()
    assert get_run(here, run_id).config == get_run(job, run_id).config
    assert run_id in cli("report", "--format", "json").stdout
    again = cli.json("runs", "import", job.root / "runs" / run_id)
    assert again == {"imported": [], "skipped": [run_id]}


def test_a_run_of_other_items_is_refused_and_nothing_is_written(here_and_job):
    here, job, run_id = here_and_job
    predictions = RunDir(job.run_dir(run_id)).predictions
    renamed = predictions.with_name("renamed.parquet")
    with duckdb.connect() as con:  # the job's dataset was another one with the same name
        con.execute(
            f"COPY (SELECT item_idx, key || '-other' AS key, split, label, p_preferred FROM '{predictions}') "
            f"TO '{renamed}' (FORMAT parquet)"
        )
    renamed.replace(predictions)
    result = Cli(here.root)("runs", "import", job.root, ok=False)
    assert (
        result.exit_code == 1
        and f"run {run_id}: 1200 predicted item(s) are not the same items of 'fm'" in result.stderr
    )
    assert not here.run_dir(run_id).exists() and run_id not in run_ids(here)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "model.pt").unlink(), "not a finished run (missing model.pt)"),
        (lambda d: (d / "result.json").write_text("{"), "unreadable run file result.json"),
    ],
)
def test_an_unfinished_or_damaged_run_directory_is_one_clear_error(here_and_job, damage, message):
    here, job, run_id = here_and_job
    damage(job.run_dir(run_id))
    result = Cli(here.root)("runs", "import", job.root / "runs" / run_id, ok=False)
    assert result.exit_code == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert run_id not in run_ids(here)
