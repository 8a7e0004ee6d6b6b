"""Every real photo of the shared data at the default 64x64 RGB, model2, 10 epochs, for a feature subject.

The test suite runs the same path on 900 images at 32x32; this is the full-size check
(about three minutes per dataset on a 2-core CPU):

    .venv/bin/python -m pytest benchmarks/test_photos_full.py --benchmark-only -s
"""

import os
from pathlib import Path

import pytest

from prefstudy.config import TrainSettings
from prefstudy.datasets.catalog import add_dataset
from prefstudy.executors.runner import make_run
from prefstudy.progress import SilentReporter
from prefstudy.runs.orders import RunOrder
from prefstudy.studyfile import DatasetSpec
from prefstudy.subjects.simulate import simulate_subject
from prefstudy.workspace import init_workspace

SHARED_DATA = Path(os.environ.get("PREFSTUDY_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.mark.parametrize(
    ("kind", "folder", "rule"),
    [("lfw", "lfw", "feature:contrast@top-left"), ("indoor67", "indoor-rooms", "feature:edges")],
)
def test_full_photo_dataset_model2(benchmark, tmp_path: Path, kind: str, folder: str, rule: str):
    path = SHARED_DATA / folder
    if not path.is_dir():
        pytest.skip(f"real photos not found in {path} (the shared data folder)")
    ws = init_workspace(tmp_path / "study")
    added = add_dataset(ws, DatasetSpec(name="photos", kind=kind, path=str(path)))
    simulate_subject(ws, "ann", "photos", rule, noise=0.05, seed=0)
    settings = TrainSettings(protocol="model2", epochs=10, seed=0)

    result = benchmark.pedantic(
        lambda: make_run(ws, RunOrder("ann", "photos", settings), SilentReporter()), rounds=1, iterations=1
    )
    test = result["metrics"]["test"]
    benchmark.extra_info.update(images=added.info.n_items, test_accuracy=test["accuracy"])
    print(
        f"\n{kind} ({added.info.n_items} images, {rule}): test accuracy {test['accuracy']:.4f} "
        f"(n = {sum(test[k] for k in ('tp', 'fp', 'fn', 'tn'))}, epoch {result['best_epoch']}), "
        f"{result['duration_s']:.0f} s"
    )
    assert test["accuracy"] > 0.6  # chance is 0.5; the 5 % noise caps it at 0.95
