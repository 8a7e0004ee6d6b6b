"""Transfer gain against the number of target labels, at full size (the paper's Table 4 question).

A simulated subject prefers images with many edges (a feature both domains have; 5 % of answers
flipped). Their model2 on the full Fashion-MNIST (2 epochs) is the source. On every LFW face and
every indoor room of the shared data (64x64, grayscale as the source), the same backbone is
trained from scratch and fine-tuned from the source, on the same N target labels and scored on
the same test items, for several N and two seeds; zero-shot is the source model as it is.
About an hour on a 2-core CPU:

    .venv/bin/python -m pytest benchmarks/test_transfer_gain.py --benchmark-only -s
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path

import pytest

from prefstudy.config import TrainSettings, TransferRequest
from prefstudy.datasets.catalog import add_dataset
from prefstudy.executors.runner import make_run
from prefstudy.progress import SilentReporter
from prefstudy.report import collect
from prefstudy.runs.orders import RunOrder
from prefstudy.studyfile import DatasetSpec
from prefstudy.subjects.simulate import simulate_subject
from prefstudy.workspace import init_workspace

SHARED_DATA = Path(os.environ.get("PREFSTUDY_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
TRAIN_SIZES = (50, 100, 200, 400, 1000, 2000)
SEEDS = (0, 1)
RULE = "feature:edges"


def _study(tmp_path: Path, fashion_mnist_dir: Path):
    ws = init_workspace(tmp_path / "study")
    add_dataset(ws, DatasetSpec("fm", "fashion-mnist", path=str(fashion_mnist_dir)))
    add_dataset(ws, DatasetSpec("faces", "lfw", path=str(SHARED_DATA / "lfw"), size=64, channels=1))
    add_dataset(ws, DatasetSpec("rooms", "indoor67", path=str(SHARED_DATA / "indoor-rooms"), size=64, channels=1))
    for dataset in ("fm", "faces", "rooms"):
        simulate_subject(ws, "ann", dataset, RULE, noise=0.05, seed=0)
    return ws


def test_transfer_gain_by_number_of_labels(benchmark, tmp_path: Path, fashion_mnist_dir: Path):
    if not (SHARED_DATA / "lfw").is_dir() or not (SHARED_DATA / "indoor-rooms").is_dir():
        pytest.skip(f"real LFW and indoor photos not found in {SHARED_DATA}")
    ws = _study(tmp_path, fashion_mnist_dir)
    quiet = SilentReporter()

    def experiment() -> dict:
        source = make_run(ws, RunOrder("ann", "fm", TrainSettings(epochs=2, seed=0)), quiet)
        results = {"source_test_accuracy": source["metrics"]["test"]["accuracy"]}
        for target in ("faces", "rooms"):
            zero = make_run(
                ws,
                RunOrder("ann", target, TrainSettings(), transfer=TransferRequest(source["run_id"], "zero-shot")),
                quiet,
            )
            results[f"{target}_zero_shot"] = zero["metrics"]["test"]["accuracy"]
            for seed in SEEDS:
                for size in TRAIN_SIZES:
                    settings = TrainSettings(epochs=10, batch_size=32, seed=seed, train_size=size)
                    make_run(ws, RunOrder("ann", target, settings), quiet)
                    make_run(ws, RunOrder("ann", target, settings, transfer=TransferRequest(source["run_id"])), quiet)
        return results

    results = benchmark.pedantic(experiment, rounds=1, iterations=1)
    pairs = collect(ws).transfer_pairs
    print(f"\nsource: Fashion-MNIST model2, {RULE}, test accuracy {results['source_test_accuracy']:.4f}")
    best = {}
    for target in ("faces", "rooms"):
        print(f"\n{target}: zero-shot {100 * results[f'{target}_zero_shot']:.1f} %")
        print("labels | scratch (mean) | fine-tuned (mean) | gain per seed | mean gain")
        for size in TRAIN_SIZES:
            these = [p for p in pairs if p.dataset == target and p.mode == "finetune" and p.n_train == size]
            gains = [p.gain_points for p in these]
            mean_gain = statistics.fmean(gains)
            best[target] = max(best.get(target, (size, mean_gain)), (size, mean_gain), key=lambda b: b[1])
            print(
                f"{size:6d} | {100 * statistics.fmean(p.baseline_accuracy for p in these):13.1f} % | "
                f"{100 * statistics.fmean(p.transfer_accuracy for p in these):16.1f} % | "
                f"{', '.join(f'{g:+.1f}' for g in gains):>13} | {mean_gain:+.1f}"
            )
            benchmark.extra_info[f"{target}_{size}_gain"] = mean_gain
        print(f"largest mean gain on {target}: {best[target][1]:+.1f} points with {best[target][0]} labels")
    assert best["faces"][1] > 0 and best["rooms"][1] > 0
