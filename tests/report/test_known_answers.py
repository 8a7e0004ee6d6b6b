"""Reports whose right answers are known: runs written with chosen predictions (no training), so the number
of subjects above chance, the transfer gains and their tests are fixed by construction."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import COMMAND, copy_study, one_duckdb
from scored_runs import answered_with, scored_run

from prefstudy.report import collect, render_json, render_markdown
from prefstudy.runs.record import record_runs
from prefstudy.stats import binomial_greater, mcnemar_exact

pytestmark = pytest.mark.usefixtures("shared_instance")  # each test's study stays open: see tests/conftest.py

N_TEST = 40
# subject -> test items right out of 40 (balanced answers, so chance is 50 %)
CORRECT = {**{f"good{i}": 40 for i in range(4)}, **{f"fair{i}": 31 for i in range(2)}}
CORRECT |= {"weak0": 25} | {f"none{i:02d}": 20 for i in range(5)}
ABOVE_CHANCE = 6  # the four perfect and the two at 31/40 pass Holm over 12 subjects; 25/40 (p = 0.077) does not


def _split(n_train: int = 20) -> np.ndarray:
    return np.array(["train"] * n_train + ["test"] * N_TEST, dtype=object)


@pytest.fixture(scope="module")
def known(_empty_study, tmp_path_factory):
    """Built once, read-only: 12 subjects on fm with fixed test scores; two also transferred from lfw (all right)."""
    ws = copy_study(_empty_study, tmp_path_factory.mktemp("known") / "study")
    rng = np.random.default_rng(0)
    label = np.array([True, False] * 30)  # 20 train + 40 test, balanced
    dirs = []
    for subject, correct in CORRECT.items():
        p = np.r_[np.where(label[:20], 0.9, 0.1), answered_with(label[20:], correct, rng)]
        dirs.append(scored_run(ws, f"{subject}-scratch", subject, "fm", label, p, _split()))
    for subject in ("fair0", "fair1"):  # 31/40 alone, all 40 with transfer: 9 discordant items, all gained
        transfer = {"source_run": "src", "source_dataset": "lfw", "mode": "finetune"}
        p = np.where(label, 0.9, 0.1)
        dirs.append(scored_run(ws, f"{subject}-transfer", subject, "fm", label, p, _split(), transfer=transfer))
    with one_duckdb(ws):
        record_runs(ws, dirs)
        yield ws


def test_the_report_finds_exactly_the_subjects_above_chance(known):
    report = collect(known)
    (group,) = [g for g in report.groups if g.transfer is None]
    assert (group.n_subjects, group.above_chance, group.reach.reachable) == (12, ABOVE_CHANCE, True)
    assert group.mean_chance == 0.5
    scores = {r.subject: r.score for r in report.runs if r.transfer is None}
    assert scores["fair0"].p_above_chance == pytest.approx(binomial_greater(31, 40, 0.5))
    assert scores["fair0"].above_chance and not scores["weak0"].above_chance
    assert scores["good0"].accuracy_low == pytest.approx(0.9124, abs=1e-4)  # Wilson for 40/40
    excess = [c / 40 - 0.5 for c in CORRECT.values()]
    assert group.excess_interval.mean == pytest.approx(np.mean(excess))


def test_transfer_gains_are_tested_per_subject_and_across_subjects(known):
    report = collect(known)
    pairs = {p.subject: p for p in report.transfer_pairs}
    assert set(pairs) == {"fair0", "fair1"}
    for pair in pairs.values():
        assert (pair.baseline_only, pair.transfer_only, pair.n_test) == (0, 9, 40)
        assert pair.mcnemar_p == pytest.approx(mcnemar_exact(0, 9).p_value) == pytest.approx(2 * 0.5**9)
    (gain,) = report.transfer_gains
    assert gain.paired.significant_gains == 2 and gain.paired.significant_losses == 0  # 0.0039 < 0.05 / 2
    assert gain.paired.gain.mean == pytest.approx(22.5) and gain.paired.sign.positive == 2
    assert gain.paired.sign.p_value == pytest.approx(0.5)


def test_too_few_test_items_are_reported_as_unreachable_not_as_none_significant(ws):
    """Four balanced test items each: the best p is 0.5^4 = 0.0625, above Holm's first cut 0.05 / 3."""
    label = np.array([True, False] * 4)
    split = np.array(["train"] * 4 + ["test"] * 4, dtype=object)
    record_runs(
        ws, [scored_run(ws, f"s{i}", f"s{i:02d}", "fm", label, np.where(label, 0.8, 0.2), split) for i in range(3)]
    )
    report = collect(ws)
    (group,) = report.groups
    assert group.reach.reachable is False and group.reach.smallest_attainable_p == pytest.approx(0.5**4)
    markdown = render_markdown(report)
    assert "| unreachable |" in markdown and "cannot reach significance" in markdown
    assert json.loads(render_json(report))["groups"][0]["reach"]["reachable"] is False


def test_subjects_filter_by_glob_in_every_format(known, tmp_path):
    runner = CliRunner()
    out = runner.invoke(COMMAND, ["report", "--format", "json", "--subjects", "fair*", "--study", str(known.root)])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert {r["subject"] for r in data["runs"]} == {"fair0", "fair1"}
    assert data["filters"] == {"subjects": ["fair*"], "dataset": None}
    page = tmp_path / "r.html"
    out = runner.invoke(
        COMMAND, ["report", "--format", "html", "--out", str(page), "--subjects", "good1", "--study", str(known.root)]
    )
    assert out.exit_code == 0, out.output
    text = page.read_text()
    assert "good1-scratch" in text and "good2-scratch" not in text


def test_html_needs_an_output_file(known):
    out = CliRunner().invoke(COMMAND, ["report", "--format", "html", "--study", str(known.root)])
    assert out.exit_code == 1 and "--format html needs --out FILE" in out.stderr


def test_a_subjects_item_folds_are_pooled_into_one_score(ws):
    """Two folds of 10 test items each, 9 and 6 right: one subject at 15 / 20, tested over all 20 items."""
    rng = np.random.default_rng(1)
    label = np.array([True, False] * 10)
    split = np.array(["test"] * 20, dtype=object)
    runs = []
    for fold, correct in ((0, 9), (1, 6)):
        items = np.arange(20) + 20 * fold
        p = np.r_[answered_with(label[:10], correct, rng), np.where(label[10:], 0.9, 0.1)]
        folds = {"split_by": "item", "folds": 2, "fold": fold}
        runs.append(scored_run(ws, f"f{fold}", "kim", "fm", label, p, np.r_[split[:10], ["train"] * 10],
                               item_idx=items, settings=folds))  # fmt: skip
    record_runs(ws, runs)
    (group,) = collect(ws).groups
    assert (group.n_subjects, group.folds, group.mean_test_accuracy) == (1, 2, 0.75)
    assert group.subject_scores["kim"].p_above_chance == pytest.approx(binomial_greater(15, 20, 0.5))


def test_recommend_refuses_a_subject_the_study_does_not_have(known, tmp_path):
    """The command's error path without a model (tests/test_recommend.py trains one, in the slow lane)."""
    (tmp_path / "pool").mkdir()
    args = ["recommend", "--subject", "nobody", "--images", str(tmp_path / "pool"), "--dataset", "fm"]
    out = CliRunner().invoke(COMMAND, [*args, "--study", str(known.root)])
    (line,) = out.stderr.strip().splitlines()
    assert out.exit_code == 1 and line.startswith("error: no subject 'nobody' in this study") and not out.stdout
