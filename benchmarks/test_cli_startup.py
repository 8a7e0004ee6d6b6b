"""How long the commands that compute nothing take to start, against `python -c pass`.

`prefstudy --help`, `subject list` and `report --format json` run as real subprocesses on a study
with finished runs; each is timed over several rounds, and its peak memory (max RSS) is read from
the child's own resource usage. The baseline, an interpreter that does nothing, runs in the same test.

.venv/bin/python -m pytest benchmarks/test_cli_startup.py --benchmark-only -s
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from prefstudy.config import TrainSettings
from prefstudy.datasets.catalog import add_dataset
from prefstudy.executors.runner import make_run
from prefstudy.runs.orders import RunOrder
from prefstudy.studyfile import DatasetSpec
from prefstudy.subjects.simulate import simulate_subject
from prefstudy.workspace import init_workspace

PREFSTUDY = str(Path(sys.executable).with_name("prefstudy"))
ROUNDS = 5


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """The demo's subjects on the embedded Fashion-MNIST, with a finished run each."""
    ws = init_workspace(tmp_path_factory.mktemp("startup") / "study")
    add_dataset(ws, DatasetSpec(name="fm", kind="fashion-mnist-sample"))
    for name, rule in (
        ("alice", "classes:Sneaker,Bag,Dress"),
        ("bob", "feature:brightness"),
        ("carol", "feature:edges@top"),
    ):
        simulate_subject(ws, name, "fm", rule, noise=0.05, limit=1000)
        make_run(ws, RunOrder(name, "fm", TrainSettings(epochs=1)))
    return ws.root


# A small interpreter starts each command and reads its peak memory: a child forked from this test
# process (torch loaded) would inherit its memory in ru_maxrss.
LAUNCHER = """
import resource, subprocess, sys, time
began = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
print(time.perf_counter() - began, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)
"""


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (kB) of one run of ``argv``."""
    out = subprocess.run([sys.executable, "-c", LAUNCHER, *argv], env=env, capture_output=True, text=True, check=True)
    seconds, peak_kb, code = out.stdout.split()
    assert code == "0", argv
    return float(seconds), int(peak_kb)


def _measure(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    _run(argv, env)  # warm the file cache
    runs = [_run(argv, env) for _ in range(ROUNDS)]
    return min(t for t, _ in runs), max(m for _, m in runs)


@pytest.mark.parametrize(
    "args", [("--help",), ("subject", "list"), ("report", "--format", "json")], ids=["help", "subject-list", "report"]
)
def test_command_startup_against_an_empty_interpreter(benchmark, study, args):
    env = {**os.environ, "PREFSTUDY_STUDY": str(study)}
    base_s, base_kb = _measure([sys.executable, "-c", "pass"], env)
    argv = [PREFSTUDY, *args]
    seconds, peak_kb = _measure(argv, env)
    benchmark.pedantic(_run, args=(argv, env), rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(
        best_s=seconds, peak_rss_kb=peak_kb, baseline_s=base_s, baseline_rss_kb=base_kb, ratio=seconds / base_s
    )
    print(
        f"\nprefstudy {' '.join(args)}: best {seconds:.3f} s, peak RSS {peak_kb / 1024:.0f} MiB; "
        f"python -c pass: {base_s:.3f} s, {base_kb / 1024:.0f} MiB; x{seconds / base_s:.1f}"
    )
