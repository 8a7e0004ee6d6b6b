"""How many labels are enough: learning curves of every order (random, uncertainty, diverse) from scratch and
from a start model, on real data, 3 seeds with the spread (`prefstudy curve`, through its library calls).

- ``test_fashion_mnist_curves``: simulated subjects on the real Fashion-MNIST (``classes:Shirt,Coat,Sandal``
  and ``feature:edges``, 5 % of answers flipped), each labelling ``CURVE_LIMIT`` seeded items; the transfer
  start is a third subject's model on Fashion-MNIST (``feature:brightness``; its features, a new head),
  trained with the same dataset-level item split, so it never saw a test item.
- ``test_lfw_curves``: a ``feature:edges`` subject (5 % noise) labelling ``CURVE_LIMIT`` seeded faces of the
  shared LFW (grey, ``CURVE_SIZE``);
  the transfer start is the same subject's model on Fashion-MNIST (the paper's transfer).
- ``test_london_population_vs_scratch``: 20 London raters (a seeded draw of those with 90+ usable answers;
  real people's ratings), from scratch and from the population's model (the consensus of every rater, trained
  on the non-test faces of the same item split), with Spearman's ρ.

Each prints a table and merges its numbers into ``CURVE_OUT`` (default ``.benchmarks/label_curves.json``).
CPU-heavy; the defaults suit a 2-core machine (about 20 min each for the simulated subjects, 15 for London):

    .venv/bin/python -m pytest benchmarks/test_label_curves.py --benchmark-only -s [-k lfw]
    CURVE_BUDGETS=25,50,100,200,400 CURVE_SEEDS=3 CURVE_EPOCHS=10 CURVE_LIMIT=1000 CURVE_THREADS=2 ...
    CURVE_BACKBONE=paper-vgg:small CURVE_SIZE=32 CURVE_RATERS=20 CURVE_LONDON_BUDGETS=10,20,40 ...
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from prefstudy.active.curve import measure_curves
from prefstudy.active.curve_plan import CurveRequest, plan_curves, subject_json, summary_json
from prefstudy.active.selection import ORDERS
from prefstudy.config import TrainSettings
from prefstudy.datasets.catalog import add_dataset
from prefstudy.executors.runner import make_run
from prefstudy.progress import SilentReporter
from prefstudy.runs.orders import RunOrder
from prefstudy.studyfile import DatasetSpec
from prefstudy.subjects.labels import usable_labels_by_subject
from prefstudy.subjects.simulate import simulate_subject
from prefstudy.workspace import Workspace, init_workspace

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PREFSTUDY_SHARED_DATA", REPO.parent / "shared" / "data"))
BUDGETS = tuple(int(b) for b in os.environ.get("CURVE_BUDGETS", "25,50,100,200,400").split(","))
LONDON_BUDGETS = tuple(int(b) for b in os.environ.get("CURVE_LONDON_BUDGETS", "10,20,40").split(","))
SEEDS = int(os.environ.get("CURVE_SEEDS", "3"))
EPOCHS = int(os.environ.get("CURVE_EPOCHS", "10"))
LIMIT = int(os.environ.get("CURVE_LIMIT", "1000"))
THREADS = int(os.environ.get("CURVE_THREADS", "2"))
BACKBONE = os.environ.get("CURVE_BACKBONE", "paper-vgg:small")
SIZE = int(os.environ.get("CURVE_SIZE", "32"))
RATERS = int(os.environ.get("CURVE_RATERS", "20"))
OUT = Path(os.environ.get("CURVE_OUT", REPO / ".benchmarks" / "label_curves.json"))
SPLIT = {"split_by": "item", "seed": 0, "test_fraction": 0.2}  # the curves' test items: the same item split


@pytest.fixture(autouse=True)
def _threads():
    before = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    yield
    torch.set_num_threads(before)


def _source_run(ws: Workspace, subject: str, dataset: str, epochs: int = EPOCHS) -> str:
    settings = TrainSettings(backbone=BACKBONE, protocol="model1", epochs=epochs, **SPLIT)
    return make_run(ws, RunOrder(subject, dataset, settings), SilentReporter())["run_id"]


def _curves(ws: Workspace, subject: str, dataset: str, starts: tuple[str, ...], orders=ORDERS, budgets=BUDGETS):
    request = CurveRequest(subject, dataset, orders, starts, budgets, seeds=SEEDS, backbone=BACKBONE, epochs=EPOCHS)
    plan, notes = plan_curves(ws, request)
    for note in notes:
        print(f"note: {subject}: {note}")
    return subject_json(measure_curves(ws, plan, SilentReporter()))


def _pct(value: float | None) -> str:
    return "    —" if value is None else f"{100 * value:5.1f}"


def _rho(value: float | None) -> str:
    return "  —  " if value is None else f"{value:+.2f}"


def _print_subject(result: dict, title: str) -> None:
    print(
        f"\n{title}: {result['test_items']} test items, pool {result['pool']}, chance {_pct(result['chance'])} %, "
        f"{result['seeds']} seeds, step {result['step']}"
    )
    budgets = result["budgets"]
    print("order × start".ljust(44) + "".join(f"{b:>14}" for b in budgets) + "      all | to 95 %")
    for c in result["curves"]:
        cells = "".join(
            f"{_pct(p['accuracy'])}±{0 if p['sd'] is None else 100 * p['sd']:4.1f}".rjust(14) for p in c["points"]
        )
        rho = ""
        if c["points"] and "spearman" in c["points"][-1]:
            rho = "  ρ " + ", ".join("—" if p["spearman"] is None else f"{p['spearman']:+.2f}" for p in c["points"])
        print(
            f"{c['order']} × {c['start']}"[:44].ljust(44) + cells + f"  {_pct(c['all_labels_accuracy'])} | "
            f"{c['labels_to_95pct'] if c['labels_to_95pct'] is not None else 'not reached'}{rho}"
        )


def _save(key: str, value: dict) -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    found = json.loads(OUT.read_text()) if OUT.is_file() else {}
    found[key] = value
    OUT.write_text(json.dumps(found, indent=2))
    print(f"\nnumbers written to {OUT} [{key}]")


def _settings() -> dict:
    return {
        "budgets": BUDGETS,
        "seeds": SEEDS,
        "epochs": EPOCHS,
        "backbone": BACKBONE,
        "limit": LIMIT,
        "threads": THREADS,
        "size": SIZE,
    }


@pytest.fixture(scope="module")
def fm_study(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    fashion = Path("/usr/share/datasets/fashion-mnist")
    if not (fashion / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real Fashion-MNIST not found in {fashion}: apt-get install dataset-fashion-mnist")
    ws = init_workspace(tmp_path_factory.mktemp("curves") / "study")
    add_dataset(ws, DatasetSpec("fm", "fashion-mnist", path=str(fashion)))
    simulate_subject(ws, "cls", "fm", "classes:Shirt,Coat,Sandal", noise=0.05, seed=0, limit=LIMIT)
    simulate_subject(ws, "edges", "fm", "feature:edges", noise=0.05, seed=1, limit=LIMIT)
    simulate_subject(ws, "src", "fm", "feature:brightness", noise=0.05, seed=2, limit=LIMIT)
    return ws


@pytest.fixture(scope="module")
def fm_source(fm_study: Workspace) -> str:
    """The transfer start of the Fashion-MNIST curves: another subject's model on the same item split."""
    return f"transfer:{_source_run(fm_study, 'src', 'fm')}"


@pytest.mark.parametrize("subject", ["cls", "edges"])
def test_fashion_mnist_curves(fm_study: Workspace, fm_source: str, subject: str, benchmark) -> None:
    """Orders × (scratch, transfer from another subject's Fashion-MNIST model) on the real Fashion-MNIST."""
    source = fm_source
    began = time.perf_counter()
    result = benchmark.pedantic(lambda: _curves(fm_study, subject, "fm", ("scratch", source)), rounds=1, iterations=1)
    rule = {"cls": "classes:Shirt,Coat,Sandal", "edges": "feature:edges"}[subject]
    _print_subject(result, f"Fashion-MNIST, {rule} (5 % noise), {BACKBONE}")
    _save(f"fashion-mnist {rule}", {**result, "settings": _settings(), "wall_s": time.perf_counter() - began})
    for c in result["curves"]:
        assert len(c["points"]) == len(BUDGETS)
    assert max(c["all_labels_accuracy"] for c in result["curves"]) > result["chance"]


def test_lfw_curves(tmp_path: Path, benchmark) -> None:
    """Orders × (scratch, transfer from the subject's Fashion-MNIST model) on every shared LFW face."""
    fashion = Path("/usr/share/datasets/fashion-mnist")
    if not (SHARED_DATA / "lfw").is_dir() or not (fashion / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"LFW ({SHARED_DATA / 'lfw'}) or Fashion-MNIST ({fashion}) not found")
    ws = init_workspace(tmp_path / "study")
    add_dataset(ws, DatasetSpec("fm", "fashion-mnist", path=str(fashion)))
    add_dataset(ws, DatasetSpec("faces", "lfw", path=str(SHARED_DATA / "lfw"), size=SIZE, channels=1))
    simulate_subject(ws, "edges", "fm", "feature:edges", noise=0.05, seed=1, limit=LIMIT)
    simulate_subject(ws, "edges", "faces", "feature:edges", noise=0.05, seed=1, limit=LIMIT)
    source = f"transfer:{_source_run(ws, 'edges', 'fm')}"
    began = time.perf_counter()
    result = benchmark.pedantic(lambda: _curves(ws, "edges", "faces", ("scratch", source)), rounds=1, iterations=1)
    _print_subject(result, f"LFW {SIZE}x{SIZE} grey, feature:edges (5 % noise), {BACKBONE}")
    _save("lfw feature:edges", {**result, "settings": _settings(), "wall_s": time.perf_counter() - began})
    assert max(c["all_labels_accuracy"] for c in result["curves"]) > result["chance"]


def test_london_population_vs_scratch(tmp_path: Path, benchmark) -> None:
    """20 London raters: random order from scratch and from the population's model, accuracy and ρ."""
    from prefstudy.subjects.consensus import make_consensus
    from prefstudy.subjects.rating_files import RatingTable, import_ratings

    london = SHARED_DATA / "london-faces"
    if not (london / "ratings.csv").is_file():
        pytest.skip(f"the London faces are not in {london} (see ../shared/README.md)")
    ws = init_workspace(tmp_path / "study")
    add_dataset(ws, DatasetSpec("london", "folder", path=str(london / "images"), size=SIZE, channels=3))
    import_ratings(ws, london / "ratings.csv", "london", RatingTable(item="face", prefix="lon-"))
    make_consensus(ws, "crowd", "london", raters="lon-*")
    crowd = _source_run(ws, "crowd", "london", epochs=15)
    usable = usable_labels_by_subject(ws, "london")
    eligible = sorted(s for s, labels in usable.items() if s.startswith("lon-") and len(labels.item_idx) >= 90)
    raters = sorted(np.random.default_rng(0).choice(eligible, size=min(RATERS, len(eligible)), replace=False))
    starts = ("scratch", f"population:{crowd}")
    began = time.perf_counter()

    def measure() -> list[dict]:
        return [_curves(ws, r, "london", starts, orders=("random",), budgets=LONDON_BUDGETS) for r in raters]

    results = benchmark.pedantic(measure, rounds=1, iterations=1)
    print(f"\nLondon faces, {len(raters)} raters, {BACKBONE} {SIZE}x{SIZE}, random order, budgets {LONDON_BUDGETS}")
    print("rater      | start      | " + " | ".join(f"{b:>3} labels acc / ρ" for b in LONDON_BUDGETS) + " | all acc")
    for r in results:
        for c in r["curves"]:
            cells = " | ".join(f"{_pct(p['accuracy'])} / {_rho(p.get('spearman'))}".rjust(17) for p in c["points"])
            print(f"{r['subject']:<10} | {c['start'].split(':')[0]:<10} | {cells} | {_pct(c['all_labels_accuracy'])}")
    means = {}
    for start in ("scratch", "population"):
        chosen = [c for r in results for c in r["curves"] if c["start"].startswith(start)]
        for i, budget in enumerate(LONDON_BUDGETS):
            acc = [c["points"][i]["accuracy"] for c in chosen]
            rho = [c["points"][i].get("spearman") for c in chosen if c["points"][i].get("spearman") is not None]
            means[f"{start} {budget}"] = {
                "accuracy_mean": float(np.mean(acc)),
                "accuracy_sd_across_raters": float(np.std(acc, ddof=1)) if len(acc) > 1 else None,
                "spearman_mean": float(np.mean(rho)) if rho else None,
            }
        means[f"{start} all"] = {"accuracy_mean": float(np.mean([c["all_labels_accuracy"] for c in chosen]))}
    print("\nmean across raters:")
    for key, value in means.items():
        rho = value.get("spearman_mean")
        print(f"  {key:<16} accuracy {_pct(value['accuracy_mean'])} %" + (f", ρ {rho:+.3f}" if rho is not None else ""))
    curves_summary = summary_json_from(results)
    _save(
        "london population vs scratch",
        {
            "raters": list(map(str, raters)),
            "subjects": results,
            "means": means,
            "summary": curves_summary,
            "settings": {**_settings(), "budgets": LONDON_BUDGETS, "crowd_run": crowd},
            "wall_s": time.perf_counter() - began,
        },
    )
    assert len(results) == len(raters)


def summary_json_from(results: list[dict]) -> list[dict]:
    """The --all-subjects summary (median labels_to_95pct per order × start) from per-subject JSON."""
    from prefstudy.active.curve_store import StoredCurve

    curves = [
        StoredCurve(
            r["subject"],
            r["dataset"],
            c["order"],
            c["start"],
            r["seeds"],
            r["step"],
            {},
            r["chance"],
            c["all_labels_accuracy"],
            c["labels_to_95pct"],
        )
        for r in results
        for c in r["curves"]
    ]
    return summary_json(curves)
