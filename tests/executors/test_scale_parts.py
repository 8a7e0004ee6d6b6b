"""The parts of scale-out that need no worker: packing a run directory, a worker's warm cache, the
executor options, `study status`, and `runs import` of a failed run."""

from __future__ import annotations

import io
import json
import tarfile

import pytest
from conftest import Cli

from prefstudy.errors import PrefstudyError
from prefstudy.executors.packing import pack, unpack
from prefstudy.executors.registry import ExecutorOptions, check_options
from prefstudy.runs.record import FAILED, QUEUED, RUNNING, list_runs, mark_runs, mark_submitted, queue_runs
from prefstudy.runs.status import this_process


def test_a_packed_run_directory_unpacks_to_its_files_without_checkpoints(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for name, data in {"config.json": b"{}", "model.pt": b"\x00weights", "checkpoint.pt": b"big"}.items():
        (run / name).write_bytes(data)
    back = unpack(pack(run), tmp_path / "back")
    assert sorted(p.name for p in back.iterdir()) == ["config.json", "model.pt"]
    assert (back / "model.pt").read_bytes() == b"\x00weights"


def test_a_packed_run_directory_with_anything_but_plain_files_is_refused(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("../escape.json")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
    with pytest.raises(PrefstudyError, match="holds more than plain files"):
        unpack(buffer.getvalue(), tmp_path / "target")
    assert not (tmp_path / "escape.json").exists()


def test_a_worker_loads_each_dataset_and_source_once_for_every_run_it_is_given():
    from prefstudy.runs.warm import WarmCache

    loads = []
    warm = WarmCache()
    for _ in range(3):
        warm.images("fm-abc123.npy", lambda: loads.append("images") or "pixels")
        warm.source("crowd-run", lambda: loads.append("source") or "model")
    warm.images("faces-def456.npy", lambda: loads.append("images") or "faces")
    assert loads == ["images", "source", "images"]


@pytest.mark.parametrize(
    ("executor", "options", "message"),
    [
        ("nope", ExecutorOptions(), "unknown executor 'nope'; registered: inline, local, ray, slurm"),
        ("local", ExecutorOptions(partition="gpu"), "--partition is for --executor slurm, not local"),
        ("ray", ExecutorOptions(workers=2), "--workers is for --executor local, not ray"),
        ("inline", ExecutorOptions(storage="/x"), "--storage is for --executor ray or slurm, not inline"),
        ("slurm", ExecutorOptions(cluster="pbs"), "--cluster must be slurm or local, not 'pbs'"),
    ],
)
def test_executor_options_that_do_not_belong_are_one_line_errors(executor, options, message):
    with pytest.raises(PrefstudyError) as error:
        check_options(executor, options)
    assert str(error.value) == message


def test_study_run_refuses_a_wrong_executor_option_before_reading_the_study(cli, tmp_path):
    result = cli("study", "run", "--study", tmp_path / "none", "--executor", "local", "--address", "auto", ok=False)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.strip() == "error: --address is for --executor ray, not local"


def _queued(ws, run_id, subject="alice"):
    config = {
        "run_id": run_id,
        "subject": subject,
        "dataset": "fm",
        "settings": {"backbone": "paper-vgg", "protocol": "model1", "epochs": 2, "seed": 0},
        "device": "auto",
        "precision": "auto",
        "labels_digest": "d",
        "n_labels": 10,
    }
    return config


def test_study_status_counts_every_status_and_lists_unfinished_runs_with_their_jobs(trained_copy):
    ws = trained_copy
    cli = Cli(ws.root)
    queue_runs(ws, [_queued(ws, "q1"), _queued(ws, "q2")], "slurm", owner=None)
    mark_submitted(ws, {"q1": "4242_0", "q2": "4242_1"})
    mark_runs(ws, ["q2"], RUNNING)
    queue_runs(ws, [_queued(ws, "q3", "bob")], "local", owner=this_process())
    status = cli.json("study", "status")
    assert status["counts"] == {"queued": 2, "running": 1, "finished": 2, "failed": 0, "interrupted": 0}
    runs = {r["run_id"]: r for r in status["runs"]}
    assert (runs["q1"]["status"], runs["q1"]["executor"], runs["q1"]["job_id"], runs["q1"]["attempts"]) == (
        QUEUED,
        "slurm",
        "4242_0",
        1,
    )
    assert runs["q3"]["pid"] is not None and runs["q3"]["job_id"] is None
    text = cli("study", "status").stdout.splitlines()
    assert text[0] == "5 runs: 2 queued, 1 running, 2 finished, 0 failed, 0 interrupted"
    assert any(line.startswith("running     q2  alice on fm (model1)  slurm job 4242_1") for line in text)


def test_runs_import_records_a_failed_run_and_moves_a_queued_row_to_it(trained_copy, tmp_path):
    from prefstudy.runs.record import RunDir, result_object

    ws = trained_copy
    cli = Cli(ws.root)
    config = _queued(ws, "lost-1")
    queue_runs(ws, [config], "ray", owner=None)
    elsewhere = RunDir(tmp_path / "made-elsewhere" / "lost-1")
    elsewhere.path.mkdir(parents=True)
    elsewhere.write_config(config)
    failed = result_object(
        config,
        status=FAILED,
        device=None,
        precision=None,
        best_epoch=None,
        duration_s=3.0,
        train_images_per_s=None,
        metrics={},
        history=[],
        error="RuntimeError: CUDA out of memory",
    )
    elsewhere.write_result(failed)
    assert cli.json("runs", "import", str(elsewhere.path)) == {"imported": ["lost-1"], "skipped": []}
    row = next(r for r in list_runs(ws) if r.id == "lost-1")
    assert (row.status, row.error) == (FAILED, "RuntimeError: CUDA out of memory")
    assert json.loads((ws.run_dir("lost-1") / "result.json").read_text())["error"].startswith("RuntimeError")


def test_under_torchrun_run_makes_its_runs_inline_only(sample_ws):
    from click.testing import CliRunner
    from conftest import COMMAND

    env = {"PREFSTUDY_STUDY": str(sample_ws.root), "WORLD_SIZE": "2", "RANK": "0"}
    args = ["run", "--subject", "alice", "--dataset", "fm", "--executor", "local"]
    result = CliRunner().invoke(COMMAND, args, env=env)
    assert result.exit_code == 1 and result.stdout == ""
    assert (
        result.stderr.strip() == "error: under torchrun, runs are made inline by every process together, not on local"
    )
