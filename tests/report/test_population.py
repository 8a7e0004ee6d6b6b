"""`prefstudy report`: personal vs population per rater (pooled over folds) and across raters."""

import json

import numpy as np
import pytest
from conftest import Cli

from prefstudy.metrics import spearman
from prefstudy.runs.record import predictions
from prefstudy.splits import TEST
from prefstudy.stats import spread, wilcoxon
from prefstudy.subjects.labels import ratings_of

COMMON = ("--dataset", "fm", "--backbone", "paper-vgg:small", "--protocol", "model1", "--epochs", "1")
COMMON += ("--batch-size", "16", "--split-by", "item", "--folds", "2")


def test_wilcoxon_and_spread_match_known_values():
    exact = wilcoxon([1, 2, 3, 4, 5, 6, 7, 8, -9, 10])  # W- = 9 of n = 10: p = 2 * 33 / 1024
    assert (exact.n, exact.positive, exact.w_plus, exact.method) == (10, 9, 46.0, "exact")
    assert exact.p_value == pytest.approx(66 / 1024)
    assert wilcoxon([0, 0]).p_value is None  # no non-zero difference: no test
    tied = wilcoxon([1.0] * 30 + [-1.0] * 5)  # ties: the normal approximation
    assert tied.method.startswith("normal") and tied.p_value < 0.001
    s = spread([1, 2, 3, 4, float("nan")])
    assert (s.n, s.median, s.q1, s.q3) == (4, 2.5, 1.75, 3.25)


@pytest.mark.slow
def test_the_report_compares_each_rater_with_the_population_on_their_own_test_items(rated_ws):
    ws, cli = rated_ws, Cli(rated_ws.root)
    cli.json("run", "--subject", "crowd", *COMMON)
    for rater in ("r1", "r6"):
        cli.json("run", "--subject", rater, *COMMON, "--transfer-from", "subject:crowd", "--freeze-features")
    report = json.loads(cli("report", "--format", "json").stdout)
    rows = {c["subject"]: c for c in report["personal_vs_population"]}
    assert set(rows) == {"r1", "r6"}  # the crowd is the population, not a rater
    r6 = rows["r6"]
    assert (r6["variant"], r6["population"], r6["folds"], r6["n_rated"]) == ("frozen", "crowd", 2, 80)

    # Recompute r6's row from the predictions: its own test items, pooled over the two folds.
    own_runs = [r for r in report["runs"] if r["subject"] == "r6"]
    truth, mine, theirs, rating = [], [], [], []
    for run in own_runs:
        parent = run["parent_run"]
        population = {p.item_idx: p.p_preferred for p in predictions(ws, parent)}
        for p in predictions(ws, run["run_id"]):
            if p.split == TEST:
                truth.append(p.label)
                mine.append(p.p_preferred)
                theirs.append(population[p.item_idx])
                rating.append(p.rating)
    answered = [t is not None for t in truth]

    def accuracy(p):
        return np.mean([(q > 0.5) == t for q, t, a in zip(p, truth, answered, strict=True) if a])

    assert r6["personal_accuracy"] == pytest.approx(accuracy(mine))
    assert r6["population_accuracy"] == pytest.approx(accuracy(theirs))
    assert r6["personal_rho"] == pytest.approx(spearman(mine, rating))
    assert r6["population_rho"] == pytest.approx(spearman(theirs, rating))
    assert r6["n_test"] == sum(answered)
    # The ceiling: the other raters' mean rating of each test item, as r6's predictor.
    others = np.mean([ratings_of(ws, f"r{i}", "fm").rating for i in range(1, 6)], axis=0)
    r6_items = sorted(p.item_idx for run in own_runs for p in predictions(ws, run["run_id"]) if p.split == TEST)
    by_item = dict(zip(ratings_of(ws, "r6", "fm").item_idx.tolist(), ratings_of(ws, "r6", "fm").rating, strict=True))
    assert r6["ceiling_rho"] == pytest.approx(spearman(others[r6_items], [by_item[i] for i in r6_items]))
    assert r6["ceiling_rho"] < 0  # r6 likes what the others do not

    (summary,) = report["personal_vs_population_summary"]
    assert (summary["variant"], summary["raters"]) == ("frozen", 2)
    gains = [rows[r]["personal_accuracy"] - rows[r]["population_accuracy"] for r in ("r1", "r6")]
    assert summary["accuracy_wins"] == sum(g > 0 for g in gains)
    assert summary["accuracy_test"]["n"] == sum(g != 0 for g in gains)

    markdown = cli("report", "--format", "markdown").stdout
    assert "## Personal vs population per rater, on the rater's own test items (pooled over folds)" in markdown
    assert "| r6 | fm | frozen | crowd | 2 |" in markdown
