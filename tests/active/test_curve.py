"""`prefstudy curve`: learning curves replayed from a subject's labels on the embedded real Fashion-MNIST."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import pytest
from conftest import Cli, copy_study

from prefstudy.active.curve_plan import REACH, labels_to_reach, parse_budgets
from prefstudy.active.curve_store import stored_curves
from prefstudy.config import TrainSettings
from prefstudy.splits import item_test_mask
from prefstudy.subjects.labels import usable_labels
from prefstudy.workspace import Workspace

pytestmark = pytest.mark.usefixtures("shared_instance")

FAST = ("--backbone", "paper-vgg:small", "--epochs", "4", "--batch-size", "8")
CURVE = ("curve", "-s", "ann", "-d", "fm", "--budgets", "20,40", "--seeds", "2", *FAST)


@pytest.fixture(scope="module")
def _curved(_sample_study: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """Built once: 'ann' (classes:Trouser,Bag,Sneaker on 200 items) with the three orders from scratch, 2 seeds."""
    from prefstudy.subjects.simulate import simulate_subject

    ws = copy_study(_sample_study, tmp_path_factory.mktemp("curved") / "study")
    simulate_subject(ws, "ann", "fm", "classes:Trouser,Bag,Sneaker", noise=0.0, seed=0, limit=200)
    result = Cli(ws.root).json(*CURVE)
    return ws.root, result


@pytest.fixture
def curved(_curved: tuple[Path, dict], tmp_path: Path) -> tuple[Workspace, dict]:
    """A private copy of the curved study, and the JSON its curves printed."""
    return copy_study(_curved[0], tmp_path / "curved"), _curved[1]


def _test_and_pool(ws: Workspace) -> tuple[set[int], set[int]]:
    labels = usable_labels(ws, "ann", "fm")
    defaults = TrainSettings()
    mask = item_test_mask(10_000, seed=defaults.seed, test_fraction=defaults.test_fraction, folds=None, fold=None)
    test = set(labels.item_idx[mask[labels.item_idx]].tolist())
    return test, set(labels.item_idx.tolist()) - test


@pytest.mark.slow  # trains the curves of a small study (~30 s for the module)
def test_curves_are_stored_with_a_point_per_budget_and_seed_on_the_same_test_items(curved):
    ws, result = curved
    curves = stored_curves(ws)
    assert [c.order for c in curves] == ["random", "uncertainty", "diverse"]
    assert {c.start for c in curves} == {"scratch"}
    test, pool = _test_and_pool(ws)
    for c in curves:
        assert [(p.labels, p.seed) for p in c.points] == [(20, 0), (20, 1), (40, 0), (40, 1)]
        assert {p.n_test for p in c.points} == {len(test)}
        assert c.settings["test_items"] == len(test) and c.settings["pool"] == len(pool)
        assert c.step == "20, +20" and c.seeds == 2
        for seed, chosen in enumerate(c.settings["chosen"]):
            assert len(chosen["20"]) == 20 and len(chosen["40"]) == 20  # each step adds up to the next budget
            picked = set(chosen["20"]) | set(chosen["40"])
            assert len(picked) == 40 and picked <= pool and not picked & test, (c.order, seed)
    labels = usable_labels(ws, "ann", "fm")
    answers = dict(zip(labels.item_idx.tolist(), labels.preferred.tolist(), strict=True))
    majority = statistics.mean(answers[i] for i in pool) >= 0.5
    assert curves[0].chance == pytest.approx(statistics.mean(answers[i] == majority for i in test))
    assert result["test_items"] == len(test) and result["pool"] == len(pool)


@pytest.mark.slow  # trains the curves of a small study (~30 s for the module)
def test_uncertainty_chooses_like_random_first_then_by_the_model(curved):
    ws, _ = curved
    by_order = {c.order: c.settings["chosen"] for c in stored_curves(ws)}
    for seed in range(2):
        # From scratch there is no model to ask: the first step is the same seeded random draw.
        assert by_order["uncertainty"][seed]["20"] == by_order["random"][seed]["20"]
        assert set(by_order["uncertainty"][seed]["40"]) != set(by_order["random"][seed]["40"])
        assert set(by_order["diverse"][seed]["20"]) != set(by_order["random"][seed]["20"])
    assert by_order["random"][0]["20"] != by_order["random"][1]["20"]  # seeds change the random choices


@pytest.mark.slow  # trains the curves of a small study (~30 s for the module)
def test_labels_to_95pct_follows_the_formula_from_the_stored_points(curved):
    ws, result = curved
    for c in stored_curves(ws):
        all_labels = statistics.mean(c.settings["all_labels_by_seed"])
        assert c.all_labels_accuracy == pytest.approx(all_labels)
        means = {n: statistics.mean(p.accuracy for p in c.points if p.labels == n) for n in (20, 40)}
        gain = all_labels - c.chance
        reached = [n for n in (20, 40) if means[n] - c.chance >= REACH * gain - 1e-12]
        expected = min(reached) if reached and gain > 0 else None
        assert c.labels_to_95pct == expected
        shown = next(x for x in result["curves"] if x["order"] == c.order)
        assert shown["labels_to_95pct"] == expected == result["labels_to_95pct"][f"{c.order} × scratch"]
        assert [p["accuracy"] for p in shown["points"]] == pytest.approx([means[20], means[40]])
        sd = statistics.stdev(p.accuracy for p in c.points if p.labels == 20)
        assert shown["points"][0]["sd"] == pytest.approx(sd)
    # A class rule is learnable: the all-labels model beats always saying the majority answer.
    assert max(c.all_labels_accuracy for c in stored_curves(ws)) > stored_curves(ws)[0].chance


def test_labels_to_reach_95pct_of_the_gain_over_chance_by_hand():
    means = {20: 0.70, 40: 0.87, 80: 0.90}
    # chance 0.5, all labels 0.9: the gain is 0.4, 95 % of it 0.38, first reached at 40 (0.87 - 0.5 = 0.37 < 0.38
    # fails; 0.90 - 0.5 = 0.40 passes), so 80; with 0.88 at 40 (0.38, exactly the target) 40.
    assert labels_to_reach(means, 0.9, 0.5) == 80
    assert labels_to_reach({**means, 40: 0.88}, 0.9, 0.5) == 40
    assert labels_to_reach({20: 0.6, 40: 0.7}, 0.9, 0.5) is None  # no budget reaches it
    assert labels_to_reach(means, 0.5, 0.5) is None and labels_to_reach(means, 0.45, 0.5) is None  # no gain
    assert parse_budgets("80, 20,40,20") == (20, 40, 80)


@pytest.mark.slow  # trains the curves of a small study (~30 s for the module)
def test_json_has_one_object_per_curve(curved):
    _, result = curved
    assert set(result) >= {"subject", "dataset", "chance", "step", "test_items", "pool", "curves", "labels_to_95pct"}
    assert "each step adds the labels up to the next budget" in result["step"]
    for c in result["curves"]:
        assert set(c) >= {"order", "start", "points", "all_labels_accuracy", "labels_to_95pct"}
        assert [p["labels"] for p in c["points"]] == [20, 40]
        assert all(set(p) >= {"labels", "accuracy", "sd"} and "spearman" not in p for p in c["points"])


@pytest.mark.slow  # trains the curves of a small study (~30 s for the module)
def test_a_rerun_replaces_the_same_curve_and_keeps_the_others(curved):
    ws, _ = curved
    before = {c.order: c for c in stored_curves(ws)}
    Cli(ws.root)("curve", "-s", "ann", "-d", "fm", "--order", "random", "--budgets", "30", "--seeds", "1", *FAST)
    after = {c.order: c for c in stored_curves(ws)}
    assert after["random"].id != before["random"].id
    assert [(p.labels, p.seed) for p in after["random"].points] == [(30, 0)]
    assert after["uncertainty"] == before["uncertainty"] and after["diverse"] == before["diverse"]


@pytest.mark.slow  # trains the curves of a small study (~30 s for the module)
def test_an_error_mid_curve_leaves_the_stored_curves_as_they_were(curved, monkeypatch):
    from prefstudy.active import fitting

    ws, _ = curved
    before = stored_curves(ws)
    made = []
    real = fitting.LabelFitter.fit

    def failing(self, items, preferred, seed):
        if made:
            raise KeyboardInterrupt  # Ctrl-C after the first fit
        made.append(len(items))
        return real(self, items, preferred, seed)

    monkeypatch.setattr(fitting.LabelFitter, "fit", failing)
    result = Cli(ws.root)("curve", "-s", "ann", "-d", "fm", "--budgets", "20,40", "--seeds", "1", *FAST, ok=False)
    assert result.exit_code != 0 and made == [20]
    assert stored_curves(ws) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-s", "ann", "--order", "random,sideways", "--budgets", "20"), "unknown order 'sideways'"),
        (("-s", "ann", "--start", "transfer:nope", "--budgets", "20"), "no run 'nope'"),
        (("-s", "ann", "--start", "population", "--budgets", "20"), "a start is scratch, transfer:RUN"),
        (("-s", "ann", "--budgets", "20,0"), "a budget must be at least 2"),
        (("-s", "ann", "--budgets", "-5"), "a budget must be at least 2"),
        (("-s", "ann", "--budgets", "ten"), "whole numbers"),
        (("-s", "ann", "--budgets", "100000"), "every budget is larger than the"),
        (("-s", "ann"), "give --budgets"),
        (("-s", "nobody", "--budgets", "20"), "'nobody' has no usable labels"),
        (("-s", "ann", "--all-subjects", "--budgets", "20"), "either --subject NAME or --all-subjects"),
    ],
)  # fmt: skip
@pytest.mark.slow  # trains the curves of a small study (~30 s for the module)
def test_bad_input_is_one_line_and_writes_nothing(curved, args, message):
    ws, _ = curved
    before = stored_curves(ws)
    result = Cli(ws.root)("curve", "-d", "fm", *args, ok=False)
    assert result.exit_code == 1
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert stored_curves(ws) == before


@pytest.mark.slow  # trains the curves of a small study (~30 s for the module)
def test_curves_are_not_runs_and_the_report_shows_them(curved):
    ws, _ = curved
    cli = Cli(ws.root)
    report = json.loads(cli("report", "--format", "json").stdout)
    assert report["runs"] == [] and report["groups"] == []
    [needed] = [s for s in report["labels_needed"] if s["order"] == "random"]
    assert needed["dataset"] == "fm" and needed["start"] == "scratch" and needed["subjects"] == 1
    assert {c["order"] for c in report["curves"]} == {"random", "uncertainty", "diverse"}
    assert json.loads(cli("study", "plan", "--json").stdout)["runs"] == []
    html = ws.root / "report.html"
    cli("report", "--format", "html", "--out", html)
    page = html.read_text()
    start = page.index('<section id="labels_needed">')
    section = page[start : page.index("</section>", start)]
    assert "Labels needed" in section and "data:image/png;base64," in section and "random" in section


@pytest.mark.slow  # trains the curves of a small study (~30 s for the module)
def test_rated_subjects_get_spearman_and_all_subjects_leave_out_the_consensus(rated_ws):
    cli = Cli(rated_ws.root)
    args = ("--order", "random", "--budgets", "10", "--seeds", "1", *FAST, "--epochs", "1")
    result = cli.json("curve", "--all-subjects", "-d", "fm", *args)
    subjects = {s["subject"] for s in result["subjects"]}
    assert subjects == {"r1", "r2", "r3", "r4", "r5", "r6"}  # not the crowd (a consensus) nor flat (all ties)
    for s in result["subjects"]:
        [c] = s["curves"]
        assert c["points"][0]["labels"] == 10 and np.isfinite(c["points"][0]["spearman"])
    [summary] = result["summary"]
    assert summary["subjects"] == 6 and summary["order"] == "random" and summary["start"] == "scratch"
    reaching = [s["curves"][0]["labels_to_95pct"] for s in result["subjects"]]
    assert summary["subjects_reaching"] == sum(n is not None for n in reaching)
    stored = stored_curves(rated_ws)
    assert {c.subject for c in stored} == subjects and all(p.spearman is not None for c in stored for p in c.points)


@pytest.mark.slow
def test_a_population_start_chooses_its_first_uncertain_items_and_must_not_have_seen_the_test_items(rated_ws):
    cli = Cli(rated_ws.root)
    train = ("-s", "crowd", "-d", "fm", "--protocol", "model1", "--backbone", "paper-vgg:small", "--epochs", "2")
    leaky = cli.json("run", *train)["run_id"]  # its own split: it trained on some of r1's test items
    args = ("-s", "r1", "-d", "fm", "--order", "random,uncertainty", "--budgets", "10,20", "--seeds", "1", *FAST)
    refused = cli("curve", *args, "--start", f"population:{leaky}", ok=False)
    assert "learned from" in refused.stderr and stored_curves(rated_ws) == []
    crowd = cli.json("run", *train, "--split-by", "item")["run_id"]  # the same item split as the curves
    result = cli.json("curve", *args, "--start", f"scratch,population:{crowd}")
    assert [(c["order"], c["start"]) for c in result["curves"]] == [
        ("random", "scratch"), ("uncertainty", "scratch"), ("random", f"population:{crowd}"),
        ("uncertainty", f"population:{crowd}"),
    ]  # fmt: skip
    chosen = {(c.order, c.start.split(":")[0]): c.settings["chosen"][0] for c in stored_curves(rated_ws)}
    assert chosen[("uncertainty", "scratch")]["10"] == chosen[("random", "scratch")]["10"]
    # The population's model ranks the pool from the first step: 8 of 10 nearest 0.5, 2 at random.
    assert set(chosen[("uncertainty", "population")]["10"]) != set(chosen[("random", "population")]["10"])
    assert chosen[("random", "population")] == chosen[("random", "scratch")]  # random ignores the start
    assert all("spearman" in p for c in result["curves"] for p in c["points"])
