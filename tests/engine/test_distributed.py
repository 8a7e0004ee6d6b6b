"""Data-parallel training with torchrun: two CPU processes (gloo) learn what one process learns."""

import json
import os
import subprocess
import sys

import pytest

from prefstudy.subjects.simulate import simulate_subject

pytestmark = pytest.mark.slow  # starts torchrun and trains twice

RULE = "classes:Trouser,Bag,Sneaker"
TORCHRUN = (sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "prefstudy")
# The paper network at half its width: what is tested is the data-parallel path, not the network.
RUN = ("run", "--subject", "alice", "--dataset", "fm", "--backbone", "paper-vgg:small", "--epochs", "3", "--seed", "1")


def accuracy(result: dict) -> float:
    return result["metrics"]["test"]["accuracy"]


@pytest.fixture
def alice_ws(sample_ws):
    simulate_subject(sample_ws, "alice", "fm", RULE, noise=0.0, seed=0, limit=2000)
    return sample_ws


def test_two_processes_with_torchrun_learn_what_one_process_learns(cli, alice_ws):
    one = cli.json(*RUN, "--precision", "fp32")
    env = {**os.environ, "PREFSTUDY_STUDY": str(alice_ws.root), "OMP_NUM_THREADS": "1", "PYTHONFAULTHANDLER": "1"}
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
