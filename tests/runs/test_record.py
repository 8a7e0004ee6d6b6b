"""`runs/record.py` on hand-made run directories and a hand-filled DuckDB: no model, no torch."""

from __future__ import annotations

import json
import os
import socket
import subprocess

import numpy as np
import pytest

from prefstudy.errors import PrefstudyError
from prefstudy.metrics import Confusion
from prefstudy.runs.record import (
    FAILED,
    FINISHED,
    INTERRUPTED,
    RUNNING,
    RunDir,
    begin_run,
    claim_run,
    finished_runs,
    get_run,
    list_runs,
    mark_run,
    predictions,
    predictions_by_run,
    record_runs,
    result_object,
    run_dir,
    run_ids,
    run_metrics,
    run_result,
)
from prefstudy.runs.status import STATUSES, UNFINISHED, Owner, check_statuses, owner_alive, this_process

pytestmark = pytest.mark.usefixtures("shared_instance")  # each test's study stays open: see tests/conftest.py


def _config(run_id: str, subject: str = "alice", transfer: dict | None = None, **settings) -> dict:
    return {
        "run_id": run_id,
        "subject": subject,
        "dataset": "fm",
        "settings": {"backbone": "paper-vgg", "protocol": "model2", "epochs": 3, "seed": 0, **settings},
        "device": "auto",
        "precision": "bf16",
        "processes": 1,
        "input": {"images": [1, 28, 28], "model": [1, 28, 28]},
        "transfer": transfer,
        "split_sizes": {"train": 4, "validation": 2, "test": 4},
        "labels_digest": "d1g35t",
        "n_labels": 10,
        "versions": {"prefstudy": "0.1.0", "torch": "x"},
    }


LABEL = np.array([1, 0, 1, 0, 1, 0, 1, 1, 0, 0], dtype=bool)
P = np.array([0.9, 0.2, 0.8, 0.6, 0.7, 0.1, 0.4, 0.9, 0.3, 0.2])
SPLIT = np.array(["train"] * 4 + ["validation"] * 2 + ["test"] * 4, dtype=object)
TEST = Confusion(tp=1, fp=0, fn=1, tn=2)  # items 6..9: labels 1,1,0,0; p .4,.9,.3,.2


def _write_run(ws, run_id: str, **config_changes) -> RunDir:
    """A finished run directory as execute() writes it, by hand."""
    directory = run_dir(ws, run_id)
    directory.path.mkdir(parents=True)
    config = _config(run_id, **config_changes)
    directory.write_config(config)
    directory.write_predictions(np.arange(10), [f"test-{i:05d}" for i in range(10)], SPLIT, LABEL, P)
    directory.model.write_bytes(b"weights")
    metrics = {"train": Confusion(2, 1, 0, 1), "validation": Confusion(0, 0, 1, 1), "test": TEST}
    history = [
        {
            "epoch": e,
            "train_loss": 1 / e,
            "train_accuracy": 0.5 + e / 10,
            "val_loss": 0.5,
            "val_accuracy": 0.7,
            "seconds": 1.5,
            "images": 4,
        }
        for e in (1, 2, 3)
    ]
    directory.write_result(
        result_object(
            config,
            status=FINISHED,
            device="cpu",
            precision="bf16",
            best_epoch=2,
            duration_s=4.5,
            train_images_per_s=123.0,
            metrics=metrics,
            history=history,
        )
    )
    return directory


def test_a_recorded_run_reads_back_exactly_as_its_result_file(ws):
    directory = _write_run(ws, "alice-fm-model2-aaaaaa")
    begin_run(ws, directory, "cpu")
    assert get_run(ws, "alice-fm-model2-aaaaaa").status == RUNNING
    assert record_runs(ws, [directory]) == ["alice-fm-model2-aaaaaa"]
    result = run_result(ws, "alice-fm-model2-aaaaaa")
    assert result == directory.read_result()
    assert result["metrics"]["test"] == {"tp": 1, "fp": 0, "fn": 1, "tn": 2, "n": 4, "accuracy": 0.75}
    assert [h["epoch"] for h in result["history"]] == [1, 2, 3] and "images" not in result["history"][0]
    row = get_run(ws, "alice-fm-model2-aaaaaa")
    assert (row.status, row.best_epoch, row.device, row.precision, row.parent_run) == (FINISHED, 2, "cpu", "bf16", None)
    assert "versions" not in row.config and row.labels_digest == "d1g35t"
    with ws.connect() as con:
        versions = json.loads(con.execute("SELECT versions FROM runs").fetchone()[0])
    assert versions == {"prefstudy": "0.1.0", "torch": "x"}


def test_predictions_and_metrics_are_read_per_run_and_split(ws):
    record_runs(ws, [_write_run(ws, "a-fm-model2-000001"), _write_run(ws, "b-fm-model2-000002", subject="bob")])
    got = predictions(ws, "a-fm-model2-000001")
    assert [p.item_idx for p in got] == list(range(10))
    assert [p.label for p in got] == LABEL.tolist() and [p.p_preferred for p in got] == P.tolist()
    tests = predictions_by_run(ws, ["a-fm-model2-000001", "b-fm-model2-000002"], split="test")
    assert {k: [p.item_idx for p in v] for k, v in tests.items()} == {
        "a-fm-model2-000001": [6, 7, 8, 9],
        "b-fm-model2-000002": [6, 7, 8, 9],
    }
    assert run_metrics(ws, ["b-fm-model2-000002"]) == {
        "b-fm-model2-000002": {"train": Confusion(2, 1, 0, 1), "validation": Confusion(0, 0, 1, 1), "test": TEST}
    }
    assert predictions_by_run(ws, []) == {}


def test_finished_runs_are_filtered_and_oldest_first(ws):
    for run_id, subject in (("r1", "alice"), ("r2", "bob"), ("r3", "alice")):
        record_runs(ws, [_write_run(ws, run_id, subject=subject)])
    begin_run(ws, _write_run(ws, "r4"), "cpu")  # still running
    assert [r.id for r in finished_runs(ws)] == ["r1", "r2", "r3"]
    assert [r.id for r in finished_runs(ws, subject="alice")] == ["r1", "r3"]
    assert finished_runs(ws, dataset="faces") == []
    assert run_ids(ws) == {"r1", "r2", "r3", "r4"}


def test_a_transfer_run_records_its_parent_and_a_zero_shot_run_no_epochs(ws):
    transfer = {"source_run": "r1", "source_dataset": "fm", "mode": "zero-shot", "adapt": "keep-size"}
    record_runs(ws, [_write_run(ws, "r1"), _write_run(ws, "r2", transfer=transfer)])
    row = get_run(ws, "r2")
    assert (row.parent_run, row.epochs, row.transfer["mode"]) == ("r1", 0, "zero-shot")
    assert run_result(ws, "r2")["epochs"] == 0


def test_recording_again_replaces_a_runs_results_and_marks_keep_the_error(ws):
    directory = _write_run(ws, "r1")
    begin_run(ws, directory, "cpu")
    mark_run(ws, "r1", FAILED, "RuntimeError: out of memory")
    assert (get_run(ws, "r1").status, get_run(ws, "r1").error) == (FAILED, "RuntimeError: out of memory")
    record_runs(ws, [directory])
    record_runs(ws, [directory])  # a resumed run is recorded again: rows are replaced, not doubled
    assert (get_run(ws, "r1").status, get_run(ws, "r1").error) == (FINISHED, None)
    with ws.connect() as con:
        counts = [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("metrics", "predictions", "epochs")]
    assert counts == [3, 10, 3]


def test_a_failing_recording_writes_nothing(ws):
    good, bad = _write_run(ws, "r1"), _write_run(ws, "r2")
    bad.predictions.write_bytes(b"not parquet")
    with pytest.raises(Exception, match=r"(?i)parquet|magic|invalid"):
        record_runs(ws, [good, bad])
    assert run_ids(ws) == set()


def test_the_run_directory_names_its_files_and_what_a_finished_one_lacks(ws):
    directory = run_dir(ws, "r1")
    directory.path.mkdir(parents=True)
    assert directory.missing() == ["config.json", "result.json", "predictions.parquet", "model.pt"]
    assert not RunDir.holds_a_run(directory.path)
    directory.write_config(_config("r1"))
    assert RunDir.holds_a_run(directory.path) and directory.read_config()["run_id"] == "r1"
    (directory.path / "result.json").write_text("{broken")
    with pytest.raises(PrefstudyError, match=r"unreadable run file result\.json"):
        directory.read_result()
    with pytest.raises(PrefstudyError, match="no run 'nope' in this study"):
        get_run(ws, "nope")


# --- runs whose process died ----------------------------------------------------------------------


def _dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def begin(ws, run_id: str, owner: Owner | None = None, **config_changes) -> None:
    """A run as `prefstudy run` begins it: its config, and its row as running in ``owner``."""
    directory = run_dir(ws, run_id)
    directory.path.mkdir(parents=True)
    directory.write_config(_config(run_id, **config_changes))
    begin_run(ws, directory, "cpu", owner)


def test_a_run_whose_process_is_gone_is_listed_and_marked_interrupted(ws):
    here = socket.gethostname()
    owners = {
        "live": this_process(),
        "dead": Owner(_dead_pid(), here, "gone"),
        "reused": Owner(os.getpid(), here, "another-boot:1"),  # this pid, but not the process that began the run
        "elsewhere": Owner(4242, "node-7"),  # another host: its executor tracks it
    }
    with ws.connect():  # one connection for the whole test: opening one costs more than the test
        for run_id, owner in owners.items():
            begin(ws, run_id, owner)
        record_runs(ws, [_write_run(ws, "done")])
        assert get_run(ws, "dead").status == RUNNING  # until something lists the runs
        listed = {r.id: r for r in list_runs(ws, UNFINISHED)}
        assert {k: r.status for k, r in listed.items()} == {
            "live": RUNNING,
            "dead": INTERRUPTED,
            "reused": INTERRUPTED,
            "elsewhere": RUNNING,
        }
        assert listed["dead"].error == (
            f"its process (pid {owners['dead'].pid} on {here}) ended before the run finished; "
            "continue with `prefstudy run --resume dead`"
        )
        assert (listed["elsewhere"].owner.host, listed["elsewhere"].owner.pid) == ("node-7", 4242)
        assert get_run(ws, "dead").status == INTERRUPTED  # written, not only shown
        assert [r.id for r in list_runs(ws, [INTERRUPTED])] == ["dead", "reused"]
        assert len(list_runs(ws)) == 5 and [r.id for r in list_runs(ws, [FINISHED])] == ["done"]


def test_only_a_run_whose_process_is_gone_can_be_claimed_to_resume(ws):
    with ws.connect():
        begin(ws, "live")
        begin(ws, "far", Owner(4242, "node-7"))
        begin(ws, "dead", Owner(_dead_pid(), socket.gethostname(), "gone"))
        record_runs(ws, [_write_run(ws, "done")])
        for run_id, message in (
            ("live", rf"run live is still running \(pid {os.getpid()} on "),
            ("far", r"run far is still running \(pid 4242 on node-7\); let it finish"),
            ("done", "run done is already finished; start a new run instead"),
        ):
            with pytest.raises(PrefstudyError, match=message):
                claim_run(ws, run_id)
        assert [get_run(ws, r).status for r in ("live", "far", "done")] == [RUNNING, RUNNING, FINISHED]
        claim_run(ws, "dead")
        row = get_run(ws, "dead")
        assert (row.status, row.owner) == (RUNNING, this_process())


def test_run_statuses_are_one_checked_vocabulary():
    assert check_statuses(["failed", "interrupted"]) == (FAILED, INTERRUPTED)
    assert set(UNFINISHED) == set(STATUSES) - {FINISHED}
    message = "unknown run status 'done'; choose from queued, running, finished, failed"
    with pytest.raises(PrefstudyError, match=message):
        check_statuses(["running", "done"])
    assert owner_alive(this_process()) is True and owner_alive(Owner(1, "node-7")) is None
