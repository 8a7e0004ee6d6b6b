"""`prefstudy report`: personal vs population per rater (pooled over folds) and across raters."""

import json

import numpy as np
import pytest
from conftest import Cli
from sklearn.linear_model import LogisticRegression

from prefstudy.metrics import spearman
from prefstudy.runs.record import predictions
from prefstudy.splits import TEST, TRAIN
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
    assert (r6["variant"], r6["population"], r6["folds"], r6["n_rated"]) == ("paper-vgg:small, frozen", "crowd", 2, 80)

    # Recompute r6's row from the predictions: its own test items, pooled over the two folds.
    own_runs = [r for r in report["runs"] if r["subject"] == "r6"]
    others = np.mean([ratings_of(ws, f"r{i}", "fm").rating for i in range(1, 6)], axis=0)
    everyone = np.mean([ratings_of(ws, f"r{i}", "fm").rating for i in range(1, 7)], axis=0)
    by_item = dict(zip(ratings_of(ws, "r6", "fm").item_idx.tolist(), ratings_of(ws, "r6", "fm").rating, strict=True))
    truth, mine, theirs, rating, majority, deviation, fold_rho = [], [], [], [], [], [], []
    for run in own_runs:
        population = {p.item_idx: p.p_preferred for p in predictions(ws, run["parent_run"])}
        test = [p for p in predictions(ws, run["run_id"]) if p.split == TEST]
        train = [p for p in predictions(ws, run["run_id"]) if p.split == TRAIN and p.label is not None]
        truth += [p.label for p in test]
        mine += [p.p_preferred for p in test]
        theirs += [population[p.item_idx] for p in test]
        rating += [p.rating for p in test]
        preferred = sum(p.label for p in train)
        majority += [1.0 if 2 * preferred >= len(train) else 0.0] * len(test)
        # The consensus plus r6's deviation: scikit-learn's logistic regression on the standardised consensus score.
        x = others[[p.item_idx for p in train]]
        scaler = (x.mean(), x.std())
        fitted = LogisticRegression(C=1.0).fit(((x - scaler[0]) / scaler[1])[:, None], [p.label for p in train])
        deviation += fitted.predict_proba(((others[[p.item_idx for p in test]] - scaler[0]) / scaler[1])[:, None])[
            :, 1
        ].tolist()
        fold_rho.append(
            (
                spearman([p.p_preferred for p in test], [p.rating for p in test]),
                spearman([population[p.item_idx] for p in test], [p.rating for p in test]),
            )
        )
    answered = [t is not None for t in truth]
    items = [p.item_idx for run in own_runs for p in predictions(ws, run["run_id"]) if p.split == TEST]

    def accuracy(p):
        return np.mean([(q > 0.5) == t for q, t, a in zip(p, truth, answered, strict=True) if a])

    assert r6["personal_accuracy"] == pytest.approx(accuracy(mine))
    assert r6["population_accuracy"] == pytest.approx(accuracy(theirs))
    assert r6["majority_accuracy"] == pytest.approx(accuracy(majority))  # the honest chance: training majority
    assert r6["deviation_accuracy"] == pytest.approx(accuracy(deviation))
    # ρ within each fold, then the mean over the two folds (never across fold models)
    assert r6["personal_rho"] == pytest.approx(np.mean([f[0] for f in fold_rho]))
    assert r6["population_rho"] == pytest.approx(np.mean([f[1] for f in fold_rho]))
    assert r6["personal_rho"] != pytest.approx(spearman(mine, rating))  # what pooling across fold models gives
    assert r6["n_test"] == sum(answered)
    # The consensus: the other raters' mean rating of each test item, as r6's predictor, split at the median of
    # everyone's mean rating; its ρ is r6's within each fold, averaged.
    cut = np.median(everyone)
    assert r6["consensus_accuracy"] == pytest.approx(accuracy([float(others[i] > cut) for i in items]))
    folds = [[p.item_idx for p in predictions(ws, run["run_id"]) if p.split == TEST] for run in own_runs]
    expected = np.mean([spearman(others[f], [by_item[i] for i in f]) for f in folds])
    assert r6["consensus_rho"] == pytest.approx(expected) and r6["consensus_rho"] < 0  # r6 likes what others do not
    versus = {v["baseline"]: v for v in r6["versus"]}
    assert set(versus) == {"population", "majority", "consensus", "deviation"}
    assert (versus["population"]["personal_only"], versus["population"]["mcnemar_p"]) == (
        r6["personal_only"],
        r6["mcnemar_p"],
    )

    (summary,) = report["personal_vs_population_summary"]
    assert (summary["variant"], summary["raters"]) == ("paper-vgg:small, frozen", 2)
    gains = [rows[r]["personal_accuracy"] - rows[r]["population_accuracy"] for r in ("r1", "r6")]
    assert summary["accuracy_wins"] == sum(g > 0 for g in gains)
    assert summary["accuracy_test"]["n"] == sum(g != 0 for g in gains)
    baselines = {b["baseline"]: b for b in summary["baselines"]}
    assert baselines["majority"]["accuracy_gain"]["mean"] == pytest.approx(
        np.mean([rows[r]["personal_accuracy"] - rows[r]["majority_accuracy"] for r in ("r1", "r6")])
    )
    assert baselines["population"]["bootstrap"]["replicates"] == 2000

    markdown = cli("report", "--format", "markdown").stdout
    assert "## Every predictor per rater, on the rater's own test items (pooled over folds)" in markdown
    assert "| r6 | fm | paper-vgg:small, frozen | crowd | 2 |" in markdown
    assert "## The personal model against each baseline, across raters" in markdown
    chosen = json.loads(
        cli("report", "--format", "json", "--equivalence-margin", "5", "--bootstrap", "500", "--seed", "3").stdout
    )
    assert chosen["inference"] == {"accuracy_margin": 0.05, "rho_margin": 0.05, "bootstrap_b": 500, "seed": 3}
    (summary,) = chosen["personal_vs_population_summary"]
    assert {b["bootstrap"]["replicates"] for b in summary["baselines"] if b["bootstrap"]} == {500}
    assert all(b["accuracy_equivalence"]["margin"] == 0.05 for b in summary["baselines"] if b["accuracy_equivalence"])


def test_a_raters_test_retest_consistency_gives_the_accuracy_their_answers_allow():
    from prefstudy.report.population import RaterComparison, _with_reliability

    scores = (0.70, 0.60, None, None, None, None)  # accuracy personal, population; ρ; consensus accuracy, ρ
    base = RaterComparison("r", "fm", "v", "crowd", 1, 40, 40, *scores, majority_accuracy=0.55)
    # Answers that flip with probability e on each showing agree with themselves on c = 1 - 2e(1 - e) of repeats;
    # a model can be right on at most 1 - e of them: (1 + sqrt(2c - 1)) / 2.
    e = 0.1
    c = 1 - 2 * e * (1 - e)
    reliable = (1 + np.sqrt(2 * c - 1)) / 2
    assert reliable == pytest.approx(1 - e)
    rated = _with_reliability(base, c, reliable)
    assert rated.share_recovered == pytest.approx((0.70 - 0.55) / (0.90 - 0.55))
    assert base.share_recovered is None and rated.to_dict()["share_recovered"] == rated.share_recovered
