"""`prefstudy report`: the paper's confusion tables per subject and run, in three formats."""

import json

import pytest

from prefstudy.subjects.simulate import simulate_subject


@pytest.fixture
def reported(cli, sample_ws):
    simulate_subject(sample_ws, "alice", "fm", "classes:Trouser,Bag", seed=0, limit=400)
    simulate_subject(sample_ws, "bob", "fm", "feature:brightness", seed=1, limit=400)
    runs = cli.json("run", "--all-subjects", "--dataset", "fm", "--protocol", "model2", "--epochs", "1")["runs"]
    return {r["subject"]: r for r in runs}


def test_json_report_matches_the_runs(cli, reported):
    report = json.loads(cli("report", "--format", "json").stdout)
    by_subject = {r["subject"]: r for r in report["runs"]}
    assert set(by_subject) == {"alice", "bob"}
    for subject, run in reported.items():
        got = by_subject[subject]
        assert got["run_id"] == run["run_id"] and got["n_labels"] == 400
        for split in ("train", "validation", "test"):
            assert {k: got["metrics"][split][k] for k in ("tp", "fp", "fn", "tn")} == {
                k: run["metrics"][split][k] for k in ("tp", "fp", "fn", "tn")
            }
    (group,) = report["groups"]
    accs = [r["metrics"]["test"]["accuracy"] for r in reported.values()]
    assert group["n_subjects"] == 2 and group["mean_test_accuracy"] == pytest.approx(sum(accs) / 2)


def test_markdown_report_has_a_paper_style_confusion_table_per_split(cli, reported, tmp_path):
    out = tmp_path / "report.md"
    cli("report", "--format", "markdown", "--out", out)
    text = out.read_text()
    run = reported["alice"]
    test = run["metrics"]["test"]
    assert f"### {run['run_id']} — alice, fm, model2" in text
    assert f"| preferred | {test['tp']} (TP) | {test['fn']} (FN) |" in text
    assert f"| not preferred | {test['fp']} (FP) | {test['tn']} (TN) |" in text
    assert f"{100 * test['accuracy']:.2f} %" in text


def test_table_report_lists_every_run_and_split(cli, reported):
    text = cli("report").stdout
    for run in reported.values():
        assert run["run_id"] in text
    assert text.count("validation") == 2
    only_bob = cli("report", "--subject", "bob", "--format", "json").stdout
    assert [r["subject"] for r in json.loads(only_bob)["runs"]] == ["bob"]


def test_an_empty_study_reports_that_there_is_nothing_yet(cli):
    assert "No finished runs yet" in cli("report").stdout
    assert json.loads(cli("report", "--format", "json").stdout)["runs"] == []
    result = cli("report", "--format", "pdf", ok=False)
    assert result.exit_code == 1 and "unknown report format 'pdf'" in result.stderr
