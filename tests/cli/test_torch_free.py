"""Commands that only read or write the study run, for real, in a process where importing torch fails."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

# Run the real command after making torch, torchvision, timm and Captum unimportable.
NO_TORCH = """
import sys
from importlib.abc import MetaPathFinder


class NoTorch(MetaPathFinder):  # `import torch` raises ImportError, as where torch is not installed
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "torchvision", "timm", "captum"):
            raise ImportError(f"{name} is blocked: this command must not need it")


sys.meta_path.insert(0, NoTorch())  # not sys.modules[name] = None: libraries that look for a loaded torch see none
from prefstudy.cli import main
sys.argv[0] = "prefstudy"
main()
"""


def _command(study: Path, *args: str) -> list[str]:
    return [sys.executable, "-c", NO_TORCH, *args, "--study", str(study)]


def prefstudy_without_torch(study: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(_command(study, *args), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"prefstudy {' '.join(args)}: {result.stderr[-2000:]}"
    return result


@pytest.mark.slow  # a subprocess
def test_the_blocker_really_blocks_torch(trained_study):
    args = ("run", "--subject", "bob", "--dataset", "fm", "--epochs", "1", "--again")  # bob has this run: make anew
    result = subprocess.run(_command(trained_study.root, *args), capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "torch is blocked" in result.stderr  # training needs torch


@pytest.mark.slow  # a subprocess; tests/test_architecture.py checks the same imports in the fast lane
def test_report_and_subject_list_read_finished_runs_without_torch(trained_study):
    report = json.loads(prefstudy_without_torch(trained_study.root, "report", "--format", "json").stdout)
    assert sorted(r["subject"] for r in report["runs"]) == ["alice", "bob"]
    assert all(sum(r["metrics"]["test"][k] for k in ("tp", "fp", "fn", "tn")) > 0 for r in report["runs"])
    subjects = json.loads(prefstudy_without_torch(trained_study.root, "subject", "list", "--json").stdout)
    assert {s["name"]: s["labels"] for s in subjects["subjects"]} == {"alice": {"fm": 1200}, "bob": {"fm": 400}}


@pytest.mark.slow  # a subprocess; tests/test_architecture.py checks the same imports in the fast lane
def test_the_labelling_server_answers_and_stores_a_trial_without_torch(trained_copy):
    process = subprocess.Popen(
        _command(trained_copy.root, "label", "--dataset", "fm", "--subject", "ann", "--port", "0", "--no-browser"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()  # "ann: http://localhost:PORT/s/TOKEN", once it listens
        found = re.search(r"(http://\S+)/s/(\S+)", line)
        assert found, line + process.stderr.read()
        base, token = found.groups()
        state = _get(f"{base}/api/{token}/state", tries=50)
        assert state["subject"] == "ann" and state["progress"]["labelled"] == 0
        (item,) = _get(f"{base}/api/{token}/queue?n=1")["items"]
        image = urllib.request.urlopen(base + item["image"], timeout=10)
        assert image.headers["Content-Type"] == "image/png" and image.read(8) == b"\x89PNG\r\n\x1a\n"
        trial = {"session": state["session"], "trial": 1, "block": 1, "item": item["item"], "answer": "preferred",
                 "rt_ms": 512.0}  # fmt: skip
        request = urllib.request.Request(
            f"{base}/api/{token}/trial", json.dumps(trial).encode(), {"Content-Type": "application/json"}
        )
        assert json.loads(urllib.request.urlopen(request, timeout=10).read())["new"] is True
    finally:
        process.terminate()
        process.wait(timeout=30)
    with trained_copy.connect() as con:
        stored = con.execute("SELECT item_idx, preferred, rt_ms, source FROM labels WHERE subject = 'ann'").fetchall()
    assert stored == [(item["item"], True, 512.0, "labeler")]


def _get(url: str, tries: int = 1) -> dict:
    for attempt in range(tries):
        try:
            return json.loads(urllib.request.urlopen(url, timeout=10).read())
        except OSError:
            if attempt == tries - 1:
                raise
            time.sleep(0.1)
    raise AssertionError("unreachable")


def _runs_in_report(ws, out: str) -> None:
    with ws.connect() as con:
        run_ids = [r for (r,) in con.execute("SELECT id FROM runs").fetchall()]
    assert len(run_ids) == 2 and all(run_id in out for run_id in run_ids)


def _plan_statuses(ws, out: str) -> None:
    statuses = sorted((r["subject"], r["batch_size"], r["status"]) for r in json.loads(out)["runs"])
    assert statuses == [("alice", 16, "done"), ("alice", 128, "todo"), ("bob", 16, "todo"), ("bob", 128, "done")]


def _dataset_listed(ws, out: str) -> None:
    (fm,) = json.loads(out)["datasets"]
    assert (fm["name"], fm["n_items"], fm["image_size"]) == ("fm", 10000, [28, 28, 1])


def _labels_exported(ws, out: str) -> None:
    assert out.startswith("dataset,key,preferred") and out.count("\n") == 1201  # a header and 1200 labels


def _link_printed(ws, out: str) -> None:
    assert re.fullmatch(r"erin: http://localhost:8765/s/[\w-]{24}\n", out)


def _subject_added(ws, out: str) -> None:
    with ws.connect() as con:
        assert con.execute("SELECT kind FROM subjects WHERE name = 'dora'").fetchall() == [("human",)]


@pytest.mark.slow  # many subprocesses
@pytest.mark.parametrize(
    ("args", "check"),
    [
        (("report",), _runs_in_report),
        (("report", "--format", "markdown"), _runs_in_report),
        (("study", "plan", "--json"), _plan_statuses),
        (("data", "list", "--json"), _dataset_listed),
        (("label", "export", "--subject", "alice"), _labels_exported),
        (("label", "links"), _link_printed),
        (("subject", "add", "dora"), _subject_added),
    ],
    ids=["report", "report-markdown", "study-plan", "data-list", "label-export", "label-links", "subject-add"],
)
def test_every_command_that_only_reads_or_writes_records_runs_without_torch(trained_copy, args, check):
    if args[:2] == ("label", "links"):
        prefstudy_without_torch(trained_copy.root, "subject", "add", "erin")
    check(trained_copy, prefstudy_without_torch(trained_copy.root, *args).stdout)


@pytest.mark.slow  # subprocesses
def test_help_study_init_and_label_import_run_without_torch(trained_copy, tmp_path):
    shown = subprocess.run([sys.executable, "-c", NO_TORCH, "--help"], capture_output=True, text=True, check=True)
    assert "Usage: prefstudy" in shown.stdout and "study" in shown.stdout
    env = {**os.environ, "PREFSTUDY_STUDY": ""}
    study = tmp_path / "s"
    made = subprocess.run([sys.executable, "-c", NO_TORCH, "study", "init", str(study)], env=env, capture_output=True)
    assert made.returncode == 0 and (study / "study.toml").is_file() and (study / "prefstudy.duckdb").is_file()
    labels = tmp_path / "labels.csv"
    labels.write_text("key,preferred\ntest-00000,1\ntest-00001,0\ntest-00002,yes\n")
    prefstudy_without_torch(trained_copy.root, "label", "import", str(labels), "--subject", "carl", "--dataset", "fm")
    with trained_copy.connect() as con:
        stored = con.execute("SELECT item_idx, preferred FROM labels WHERE subject = 'carl' ORDER BY item_idx")
        assert stored.fetchall() == [(0, True), (1, False), (2, True)]
    refused = subprocess.run(
        _command(study, "label", "import", str(labels), "--subject", "ann", "--dataset", "fm"),
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 1 and "no dataset 'fm'" in refused.stderr and "Traceback" not in refused.stderr
