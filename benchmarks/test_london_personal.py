"""Real people: personal vs population models of London raters, and what it costs at 2,513 subjects.

    .venv/bin/pytest benchmarks/test_london_personal.py -s --benchmark-only
    LONDON_RATERS=100 LONDON_EPOCHS=15 LONDON_SIZE=32 LONDON_BACKBONE=paper-vgg:small ...  (the defaults)
    LONDON_STUDY=DIR ...  (measure a study it built before, whose runs are made)

``test_personal_vs_population``: the study of ``studies/london.toml`` (5 item folds; the crowd's
model per fold; every rater fine-tuned from it and head-only on its frozen features) for a seeded
``LONDON_RATERS`` raters, made by `study run` in one process; prints the report's summary and
per-rater tables, the wall time and the time per run. A warm/cold pair of head-only runs shows
what the warm cache saves. ``test_scale_of_2513_subjects``: time and peak memory of `study plan`,
`subject list` and `report` on all 2,513 raters (subprocesses, as a user runs them).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prefstudy.config import TrainSettings, TransferRequest
from prefstudy.executors import worker
from prefstudy.executors.runner import make_run
from prefstudy.runs.orders import RunOrder
from prefstudy.runs.transfer_sources import resolve_source
from prefstudy.runs.warm import WarmCache
from prefstudy.workspace import Workspace, init_workspace

REPO = Path(__file__).resolve().parents[1]
LONDON = Path(os.environ.get("PREFSTUDY_SHARED_DATA", REPO.parent / "shared" / "data")) / "london-faces"
RATERS = int(os.environ.get("LONDON_RATERS", "100"))
EPOCHS = int(os.environ.get("LONDON_EPOCHS", "15"))
SIZE = int(os.environ.get("LONDON_SIZE", "32"))
BACKBONE = os.environ.get("LONDON_BACKBONE", "paper-vgg:small")


def _cli(study: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PREFSTUDY_STUDY": str(study)}
    return subprocess.run(
        [str(Path(sys.executable).with_name("prefstudy")), *args], env=env, capture_output=True, text=True, check=True
    )


@pytest.fixture(scope="module")
def london_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (LONDON / "ratings.csv").is_file():
        pytest.skip(f"the London faces are not in {LONDON} (see ../shared/README.md)")
    if os.environ.get("LONDON_STUDY"):  # a study this benchmark built before: its runs are done
        return Path(os.environ["LONDON_STUDY"])
    root = tmp_path_factory.mktemp("london") / "study"
    init_workspace(root)
    study_file = root / "study.toml"
    # Every setting that makes a model is pinned (the report keeps runs made with other settings apart).
    entry = (
        f'dataset = "london"\nbackbone = "{BACKBONE}"\nprotocol = "model1"\nepochs = {EPOCHS}\nbatch_size = 32\n'
        'schedule = "onecycle"\nlr = 0.002\nbudget = 40000\npatience = 3\nseed = 0\ntest_fraction = 0.2\n'
        'validation_fraction = 0.16666666666666666\nsplit_by = "item"\nfolds = 5\n'
    )
    study_file.write_text(
        study_file.read_text()
        + f'\n[datasets.london]\nkind = "folder"\npath = "{LONDON / "images"}"\nsize = {SIZE}\nchannels = 3\n'
        + f'\n[[ratings]]\nfile = "{LONDON / "ratings.csv"}"\ndataset = "london"\nitem = "face"\nprefix = "lon-"\n'
        + f'subject_table = "{LONDON / "raters.csv"}"\n'
        + '\n[[consensus]]\nname = "crowd"\ndataset = "london"\nraters = "lon-*"\n'
        + f'\n[[runs]]\nsubjects = ["crowd"]\n{entry}'
        + f'\n[[runs]]\n{entry}transfer_from = "subject:crowd"\n'
        + f'\n[[runs]]\n{entry}transfer_from = "subject:crowd"\ntransfer = "frozen"\n'
    )
    began = time.perf_counter()
    _cli(root, "study", "plan")  # `study plan` syncs nothing; `study run` below adds data, ratings, consensus
    print(f"\nstudy file written; plan on an empty study {time.perf_counter() - began:.1f} s")
    return root


def test_personal_vs_population(london_study: Path, benchmark) -> None:
    """The 100-rater study: made by `study run`, reported by `report`."""
    outcome = {}

    def make() -> None:
        began = time.perf_counter()
        made = _cli(london_study, "study", "run", "--limit-subjects", str(RATERS), "--seed", "0", "--json")
        outcome["wall_s"] = time.perf_counter() - began
        outcome["made"] = json.loads(made.stdout)["made"]

    benchmark.pedantic(make, rounds=1, iterations=1)
    made = outcome["made"]
    report = json.loads(_cli(london_study, "report", "--format", "json").stdout)
    variant = {r["run_id"]: r["transfer"] or "from scratch" for r in report["runs"]}
    by_kind: dict[str, list[float]] = {}
    for run in made:
        kind = f"{run['subject'] if run['subject'] == 'crowd' else 'rater'}, {variant[run['run_id']]}"
        by_kind.setdefault(kind, []).append(run["duration_s"])
    markdown = _cli(london_study, "report", "--format", "markdown").stdout
    summary = report["personal_vs_population_summary"]
    raters = {c["subject"] for c in report["personal_vs_population"]}
    print(f"\n{len(made)} runs for the crowd and {len(raters)} raters in {outcome['wall_s']:.0f} s wall")
    print(f"{BACKBONE}, {SIZE}x{SIZE}, {EPOCHS} epochs, 5 item folds")
    for kind, seconds in by_kind.items():
        print(f"  {kind}: {len(seconds)} runs, median {statistics.median(seconds):.2f} s of training and predicting")
    start = markdown.index("## Personal vs population across raters")
    print(markdown[start : markdown.index("\n## ", start + 1)])
    assert len(raters) >= min(20, RATERS // 2)
    assert {s["variant"] for s in summary} == {f"{BACKBONE}, finetune", f"{BACKBONE}, frozen"}
    for c in report["personal_vs_population"]:
        assert c["folds"] == 5 and c["n_rated"] == 102  # every face tested once, over the folds


def test_warm_cache_saves_per_run_work(london_study: Path, benchmark) -> None:
    """Head-only runs from the crowd's model: cold (each loads images and source, computes features) vs warm."""
    ws = Workspace(london_study)
    settings = TrainSettings(
        backbone=BACKBONE, protocol="model1", epochs=EPOCHS, batch_size=32, split_by="item", folds=5, fold=0
    )
    source = resolve_source(ws, "subject:crowd", "london", settings)
    raters = [r["subject"] for r in json.loads(_cli(london_study, "report", "--format", "json").stdout)["runs"]]
    raters = sorted({r for r in raters if r != "crowd"})[:8]
    request = [RunOrder(r, "london", settings, transfer=TransferRequest(source, "frozen")) for r in raters]
    make_run(ws, request[0])  # torch's one-time start-up, paid by neither
    began = time.perf_counter()
    for r in request:
        worker.WARM = WarmCache()  # as if each run were made in a process of its own
        make_run(ws, r)
    cold = (time.perf_counter() - began) / len(request)
    worker.WARM = WarmCache()

    def warm() -> None:
        for r in request:
            make_run(ws, r)  # the runs of one process share its cache

    began = time.perf_counter()
    benchmark.pedantic(warm, rounds=1, iterations=1)
    hot = (time.perf_counter() - began) / len(request)
    print(f"\nhead-only run: cold {cold:.2f} s, warm {hot:.2f} s per run; warm/cold = {hot / cold:.2f}")


_MEASURE = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)"
)


def _peak(study: Path, *args: str) -> tuple[float, float]:
    """(seconds, peak resident MB) of one prefstudy command, in a process of its own (its peak alone)."""
    command = [sys.executable, "-c", _MEASURE, str(Path(sys.executable).with_name("prefstudy")), *args]
    out = subprocess.run(
        command, env={**os.environ, "PREFSTUDY_STUDY": str(study)}, capture_output=True, text=True, check=True
    )
    seconds, mb = out.stdout.split()
    return float(seconds), float(mb)


def test_scale_of_2513_subjects(london_study: Path, benchmark) -> None:
    """Plan, list and report with every London rater a subject (runs of the raters made above)."""
    rows = {}

    def measure() -> None:
        for name, args in {
            "study plan (every rater)": ("study", "plan", "--json"),
            "study run (nothing left to make)": ("study", "run", "--limit-subjects", str(RATERS), "--seed", "0"),
            "subject list --dataset london": ("subject", "list", "--dataset", "london", "--json"),
            "report --format json": ("report", "--format", "json"),
        }.items():
            rows[name] = _peak(london_study, *args)

    benchmark.pedantic(measure, rounds=1, iterations=1)
    print("\ncommand, seconds, peak resident memory (MB)")
    for name, (seconds, mb) in rows.items():
        print(f"  {name}: {seconds:.1f} s, {mb:.0f} MB")
