"""Runs that did not finish: `prefstudy runs list` shows them, `study run` and `run --resume` continue them,
and a weights file that is not a checkpoint is one clear line."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch
from conftest import Cli
from test_record import _dead_pid, _write_run, begin

from prefstudy.runs.record import get_run, list_runs, record_runs
from prefstudy.runs.status import INTERRUPTED, RUNNING, Owner
from prefstudy.studyfile import DatasetSpec
from prefstudy.subjects.simulate import simulate_subject


@pytest.fixture
def four_runs(ws):
    """A study with a finished run, a live one, one whose process died and one on another host."""
    with ws.connect():
        record_runs(ws, [_write_run(ws, "r1-done")])
        begin(ws, "r2-live")
        begin(ws, "r3-dead", Owner(_dead_pid(), socket.gethostname(), "gone"))
        begin(ws, "r4-far", Owner(4242, "node-7"), subject="bob")
    return ws


@pytest.mark.usefixtures("shared_instance")  # the study stays open: see tests/conftest.py
def test_runs_list_shows_unfinished_runs_and_marks_the_dead_interrupted(cli, four_runs):
    text = cli("runs", "list").stdout.splitlines()
    assert [line.split()[:2] for line in text] == [
        ["r2-live", "running"],
        ["r3-dead", "interrupted"],
        ["r4-far", "running"],
    ]
    assert text[0].endswith(f"pid {os.getpid()} on {socket.gethostname()}")
    assert "alice on fm (paper-vgg, model2, 3 epochs)" in text[1] and "`prefstudy run --resume r3-dead`" in text[1]
    assert text[2].endswith("pid 4242 on node-7")
    assert get_run(four_runs, "r3-dead").status == INTERRUPTED
    out = cli.json("runs", "list", "--status", "running,finished")
    assert [(r["run_id"], r["status"], r["host"]) for r in out["runs"]] == [
        ("r1-done", "finished", None),
        ("r2-live", "running", socket.gethostname()),
        ("r4-far", "running", "node-7"),
    ]
    assert set(out["runs"][0]) == {
        "run_id", "status", "subject", "dataset", "backbone", "protocol", "epochs", "parent_run", "created_at",
        "host", "pid", "executor", "job_id", "attempts", "error",
    }  # fmt: skip
    interrupted_or_failed = cli.json("runs", "list", "--status", "interrupted", "--status", "failed")["runs"]
    assert [r["run_id"] for r in interrupted_or_failed] == ["r3-dead"]
    assert len(cli.json("runs", "list", "--all")["runs"]) == 4


@pytest.mark.usefixtures("shared_instance")  # the study stays open: see tests/conftest.py
def test_bad_runs_list_options_are_one_clear_line_and_write_nothing(cli, ws):
    assert cli("runs", "list").stderr.strip() == "no unfinished runs; --all lists every run"
    begin(ws, "r1-dead", Owner(_dead_pid(), socket.gethostname(), "gone"))
    for args, message in (
        (["--status", "done"], "unknown run status 'done'; choose from queued, running, finished, failed, interrupted"),
        (["--status", "failed", "--all"], "give --status or --all, not both"),
    ):
        result = cli("runs", "list", *args, ok=False)
        assert result.exit_code == 1 and result.stdout == "" and "Traceback" not in result.stderr
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert get_run(ws, "r1-dead").status == RUNNING  # refused before the dead run was marked


@pytest.mark.usefixtures("shared_instance")  # the study stays open: see tests/conftest.py
def test_a_weights_file_that_is_not_a_checkpoint_is_one_clear_line_and_no_run(trained_copy, tmp_path):
    cli = Cli(trained_copy.root)
    before = sorted(p.name for p in trained_copy.runs_dir.iterdir())
    labels = tmp_path / "labels.csv"
    labels.write_text("key,preferred\ntest-00000,1\n")
    listing = tmp_path / "weights.pt"
    torch.save([1, 2, 3], listing)
    for path, message in (
        (labels, f"weights file {labels} is not a PyTorch checkpoint (a state dict saved with torch.save) or a "),
        (listing, f"weights file {listing} holds no weights; give a PyTorch checkpoint"),
        (tmp_path / "absent.pt", f"weights file {tmp_path / 'absent.pt'} not found"),
    ):
        result = cli("run", "--subject", "bob", "--dataset", "fm", "--epochs", "1", "--weights", path, ok=False)
        assert result.exit_code == 1 and "Traceback" not in result.stderr, result.stderr
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in trained_copy.runs_dir.iterdir()) == before
    assert len(list_runs(trained_copy)) == 2


@pytest.mark.slow  # trains in a subprocess, kills it with SIGKILL, resumes it
def test_a_killed_run_is_listed_interrupted_and_study_run_resumes_it(sample_ws, tmp_path):
    ws = sample_ws
    ws.declare_dataset(DatasetSpec(name="fm", kind="fashion-mnist-sample"))
    with ws.study_file.open("a", encoding="utf-8") as study_file:
        study_file.write('\n[[runs]]\ndataset = "fm"\nbackbone = "paper-vgg:small"\nprotocol = "model1"\nepochs = 3\n')
    simulate_subject(ws, "bob", "fm", "classes:Trouser,Bag,Sneaker", noise=0.0, seed=0, limit=300)
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-m", "prefstudy", "study", "run", "--study", str(ws.root)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        run_id = None
        deadline = time.monotonic() + 300  # a guard against a hang, not a measure
        while time.monotonic() < deadline and child.poll() is None:
            found = re.search(r"run (\S+) started", log.read_text())
            run_id = found[1] if found else None  # printed when the run starts, before any epoch
            if run_id and (ws.run_dir(run_id) / "checkpoint.pt").is_file():
                break
            time.sleep(0.05)
        assert run_id and child.poll() is None, log.read_text()
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    cli = Cli(ws.root)
    (listed,) = cli.json("runs", "list")["runs"]
    assert (listed["run_id"], listed["status"]) == (run_id, "interrupted")
    assert f"ended before the run finished; continue with `prefstudy run --resume {run_id}`" in listed["error"]
    (planned,) = cli.json("study", "plan")["runs"]
    assert (planned["status"], planned["resumes"]) == ("todo", run_id)
    result = cli("study", "run", "--json")
    assert f"resuming interrupted run {run_id}" in result.stderr and "resuming after epoch" in result.stderr
    (made,) = json.loads(result.stdout)["made"]
    assert (made["run_id"], made["status"], [h["epoch"] for h in made["history"]]) == (run_id, "finished", [1, 2, 3])
    assert cli.json("runs", "list") == {"runs": []}
    assert not (ws.run_dir(run_id) / "checkpoint.prev.pt").exists()  # a finished run keeps only its last checkpoint
