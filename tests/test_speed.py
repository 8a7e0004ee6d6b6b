"""Fast paths: bf16 autocast + channels_last against fp32 on the same seed, throughput in the run
result, data-parallel training with torchrun (2 CPU processes, gloo), and `runs import`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from prefstudy.backbones import create_backbone
from prefstudy.config import TrainSettings
from prefstudy.datasets import load_images
from prefstudy.distributed import World
from prefstudy.errors import PrefstudyError
from prefstudy.inputs import InputAdapter, InputPlan
from prefstudy.precision import BF16, FP32, Precision, cpu_has_native_bf16, resolve_precision
from prefstudy.progress import SilentReporter
from prefstudy.subjects.simulate import simulate_subject
from prefstudy.train import _batches, as_train_data, fit
from prefstudy.workspace import Workspace

RULE = "classes:Trouser,Bag,Sneaker"
TORCHRUN = (sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "prefstudy")
RUN = ("run", "--subject", "alice", "--dataset", "fm", "--epochs", "3", "--seed", "1")


def accuracy(result: dict) -> float:
    return result["metrics"]["test"]["accuracy"]


@pytest.fixture
def alice_ws(sample_ws):
    simulate_subject(sample_ws, "alice", "fm", RULE, noise=0.0, seed=0, limit=2000)
    return sample_ws


def test_auto_takes_bf16_only_where_the_cpu_computes_it_natively(monkeypatch):
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu).name == (BF16 if cpu_has_native_bf16() else FP32)
    monkeypatch.setattr("prefstudy.precision.fast_path_available", lambda device: False)
    assert resolve_precision("auto", cpu).name == FP32
    assert resolve_precision(BF16, cpu).name == BF16  # asked for, taken
    with pytest.raises(PrefstudyError, match="unknown precision 'fp16'"):
        resolve_precision("fp16", cpu)


def test_the_fast_path_is_bf16_in_channels_last():
    x = torch.zeros(4, 3, 8, 8)
    fast, plain = Precision(BF16, "cpu"), Precision(FP32, "cpu")
    assert fast.batch(x).is_contiguous(memory_format=torch.channels_last)
    assert not plain.batch(x).is_contiguous(memory_format=torch.channels_last)
    conv = torch.nn.Conv2d(3, 2, 3)
    with fast.autocast():
        assert conv(fast.batch(x)).dtype == torch.bfloat16
    with plain.autocast():
        assert conv(x).dtype == torch.float32


@pytest.mark.parametrize(
    ("name", "dtype", "channels_last"), [(BF16, torch.bfloat16, True), (FP32, torch.float32, False)]
)
def test_fit_trains_on_the_path_it_is_given(sample_ws, tmp_path, name, dtype, channels_last):
    images = load_images(sample_ws, "fm").images[:96]
    data = as_train_data(images, np.arange(96) % 2, np.full(96, "train", dtype=object))
    backbone = create_backbone("paper-vgg", in_chans=1, input_size=(28, 28))
    seen = []
    backbone.cam_layer.register_forward_hook(
        lambda module, inputs, output: seen.append(
            (output.dtype, inputs[0].is_contiguous(memory_format=torch.channels_last))
        )
    )
    settings = TrainSettings(protocol="model1", epochs=1, batch_size=32)
    adapter = InputAdapter(InputPlan((1, 28, 28), (1, 28, 28)), backbone)
    precision = Precision(name, "cpu")
    result = fit(
        backbone, adapter, data, settings, torch.device("cpu"), tmp_path / "c.pt", SilentReporter(), precision=precision
    )
    assert set(seen) == {(dtype, channels_last)} and len(seen) == 3  # every training step on that path
    assert result.history[0].images == 96 and result.train_images_per_s > 0


def test_every_process_gets_a_disjoint_share_of_each_batch_of_at_least_two():
    batches = _batches(torch.arange(259), 128, processes=2)  # 128 + 128 + 3
    assert [len(b) for b in batches] == [128, 131]  # 3 cannot give two processes two each: folded in
    for batch in batches:
        shares = [World(rank, 2).shard(batch) for rank in (0, 1)]
        assert sorted(torch.cat(shares).tolist()) == sorted(batch.tolist())
        assert min(len(s) for s in shares) >= 2
    assert [len(b) for b in _batches(torch.arange(129), 128)] == [129]  # one process: only a lone sample is folded


def test_bf16_learns_as_well_as_fp32_on_the_same_seed(cli, alice_ws):
    fp32 = cli.json(*RUN, "--precision", "fp32")
    bf16 = cli.json(*RUN, "--precision", "bf16")
    assert (fp32["precision"], bf16["precision"]) == ("fp32", "bf16")
    for result in (fp32, bf16):
        assert result["train_images_per_s"] > 0
        assert result["metrics"]["test"]["accuracy"] > 0.9
    # Same split, same initial weights, same batches: only the arithmetic differs.
    assert fp32["metrics"]["test"]["n"] == bf16["metrics"]["test"]["n"]
    assert abs(fp32["metrics"]["test"]["accuracy"] - bf16["metrics"]["test"]["accuracy"]) <= 0.03
    print(f"\ntest accuracy fp32 {accuracy(fp32):.4f}, bf16 {accuracy(bf16):.4f}")
    with alice_ws.connect() as con:
        stored = con.execute("SELECT precision, train_images_per_s FROM runs ORDER BY created_at").fetchall()
    assert [p for p, _ in stored] == ["fp32", "bf16"] and all(s > 0 for _, s in stored)


def test_two_processes_with_torchrun_learn_what_one_process_learns(cli, alice_ws):
    one = cli.json(*RUN, "--precision", "fp32")
    env = {**os.environ, "PREFSTUDY_STUDY": str(alice_ws.root), "OMP_NUM_THREADS": "1"}
    launched = subprocess.run(
        [*TORCHRUN, *RUN, "--precision", "fp32", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert launched.returncode == 0, launched.stderr[-3000:]
    two = json.loads(launched.stdout)  # one JSON object: only the main process reports
    assert two["processes"] == 2 and one["processes"] == 1
    assert two["metrics"]["test"]["n"] == one["metrics"]["test"]["n"]
    assert [h["epoch"] for h in two["history"]] == [1, 2, 3]
    assert abs(two["metrics"]["test"]["accuracy"] - one["metrics"]["test"]["accuracy"]) <= 0.03
    print(f"\ntest accuracy 1 process {accuracy(one):.4f}, 2 processes {accuracy(two):.4f}")
    with alice_ws.connect() as con:
        assert con.execute("SELECT count(*) FROM runs WHERE status = 'finished'").fetchall() == [(2,)]


def _copy_of(ws: Workspace, target) -> Workspace:
    shutil.copytree(ws.root, target)
    return Workspace(target)


def test_runs_made_in_a_copy_of_the_study_merge_back(cli, alice_ws, tmp_path):
    job = _copy_of(alice_ws, tmp_path / "job")  # e.g. a cluster node's copy
    made = cli.json(*RUN, "--epochs", "1", "--study", job.root)
    assert made["run_id"] not in cli("report", "--format", "json").stdout
    merged = cli.json("runs", "import", job.root)
    assert merged == {"imported": [made["run_id"]], "skipped": []}
    assert (alice_ws.run_dir(made["run_id"]) / "model.pt").is_file()
    with alice_ws.connect() as con, job.connect() as other:
        query = "SELECT item_idx, split, label, p_preferred FROM predictions WHERE run_id = ? ORDER BY item_idx"
        assert con.execute(query, [made["run_id"]]).fetchall() == other.execute(query, [made["run_id"]]).fetchall()
        metrics = "SELECT split, tp, fp, fn, tn FROM metrics WHERE run_id = ? ORDER BY split"
        assert con.execute(metrics, [made["run_id"]]).fetchall() == other.execute(metrics, [made["run_id"]]).fetchall()
    assert made["run_id"] in cli("report", "--format", "json").stdout
    assert cli.json("runs", "import", job.root / "runs" / made["run_id"]) == {
        "imported": [],
        "skipped": [made["run_id"]],
    }


def test_a_run_of_other_items_is_refused_and_nothing_is_written(cli, alice_ws, tmp_path):
    job = _copy_of(alice_ws, tmp_path / "job")
    made = cli.json(*RUN, "--epochs", "1", "--study", job.root)
    with job.connect() as con:  # pretend the job's dataset was another one with the same name
        con.execute("UPDATE items SET key = key || '-other' WHERE dataset = 'fm'")
    run_dir = job.run_dir(made["run_id"])
    (run_dir / "predictions.parquet").unlink()
    with job.connect() as con:
        con.execute(
            f"COPY (SELECT p.item_idx, i.key, p.split, p.label, p.p_preferred FROM predictions p JOIN items i "
            f"ON i.dataset = p.dataset AND i.idx = p.item_idx) TO '{run_dir / 'predictions.parquet'}' (FORMAT parquet)"
        )
    result = cli("runs", "import", job.root, ok=False)
    assert result.exit_code == 1 and "are not the same items of 'fm'" in result.stderr
    assert not alice_ws.run_dir(made["run_id"]).exists()
    with alice_ws.connect() as con:
        assert con.execute("SELECT count(*) FROM runs").fetchall() == [(0,)]
