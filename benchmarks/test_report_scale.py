"""`prefstudy report` over every London rater: 2,513 real subjects with their real answers, and for each
a model's run written through ``runs/record.py`` with generated predictions (trained runs are in
``test_london_personal.py``). Time and peak memory of each format, beside a light command on the same study.

    .venv/bin/pytest benchmarks/test_report_scale.py -s --benchmark-only
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from prefstudy.runs.record import record_runs
from prefstudy.subjects.labels import usable_labels_by_subject
from prefstudy.workspace import Workspace

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "report"))
from scored_runs import scored_run
from test_london_personal import LONDON, _cli, _peak

TEST_ITEMS = 20  # of the 102 faces: one dataset-level item split, as `--split-by item` makes


@pytest.fixture(scope="module")
def scored_london(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (LONDON / "ratings.csv").is_file():
        pytest.skip(f"the London faces are not in {LONDON} (see ../shared/README.md)")
    root = tmp_path_factory.mktemp("report-scale") / "study"
    _cli(root.parent, "study", "init", str(root))
    _cli(root, "data", "add", "london", "--kind", "folder", "--path", str(LONDON / "images"), "--size", "32")
    _cli(root, "label", "import-ratings", str(LONDON / "ratings.csv"), "--dataset", "london", "--item", "face")
    ws = Workspace(root)
    answers = usable_labels_by_subject(ws, "london")
    rng = np.random.default_rng(0)
    test_items = set(rng.choice(102, size=TEST_ITEMS, replace=False).tolist())
    began, directories = time.perf_counter(), []
    for i, (subject, labels) in enumerate(sorted(answers.items())):
        split = np.array(["test" if int(x) in test_items else "train" for x in labels.item_idx], dtype=object)
        skill = rng.normal(0.8, 0.6)  # the model's log-odds towards the rater's answer, varying by rater
        truth = np.where(labels.preferred, 1.0, -1.0)
        for kind, boost in (("scratch", 0.0), ("transfer", 0.3)):
            logit = truth * (skill + boost) + rng.normal(0, 1.5, len(truth))
            transfer = {"source_run": "crowd", "source_dataset": "london", "mode": "finetune"} if boost else None
            directories.append(
                scored_run(ws, f"{subject}-{kind}", subject, "london", labels.preferred, 1 / (1 + np.exp(-logit)),
                           split, item_idx=labels.item_idx, transfer=transfer)
            )  # fmt: skip
        if len(directories) >= 500 or i == len(answers) - 1:
            record_runs(ws, directories)
            directories = []
    print(
        f"\n{len(answers)} raters, {2 * len(answers)} runs written and recorded in {time.perf_counter() - began:.0f} s"
    )
    return root


def test_report_at_2513_subjects(scored_london: Path, benchmark, tmp_path: Path) -> None:
    rows = {}
    html = tmp_path / "report.html"

    def measure() -> None:
        for name, args in {
            "subject list --json (baseline)": ("subject", "list", "--json"),
            "report (terminal tables)": ("report",),
            "report --format json": ("report", "--format", "json"),
            "report --format markdown": ("report", "--format", "markdown"),
            "report --format html": ("report", "--format", "html", "--out", str(html)),
        }.items():
            rows[name] = _peak(scored_london, *args)

    benchmark.pedantic(measure, rounds=1, iterations=1)
    base_s, base_mb = rows["subject list --json (baseline)"]
    print("\ncommand, seconds, peak resident memory (MB), ratio to the baseline (time, memory)")
    for name, (seconds, mb) in rows.items():
        print(f"  {name}: {seconds:.1f} s, {mb:.0f} MB  (x{seconds / base_s:.1f}, x{mb / base_mb:.1f})")
    size = html.stat().st_size
    page = html.read_text()
    print(f"HTML page: {size / 1e6:.1f} MB, {page.count('<img ')} figures, {page.count('<tr>')} table rows")
    assert size < 10e6  # a row per subject with runs, up to 2,500 rows a table; figures summarise
    assert os.path.getsize(html) > 0
