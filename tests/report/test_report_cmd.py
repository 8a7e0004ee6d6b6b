"""`prefstudy report` on a study with finished runs: the paper's confusion tables per run, in three formats."""

import json

import pytest
from conftest import TRAINED_RUNS, Cli

from prefstudy.runs.record import run_result

pytestmark = pytest.mark.usefixtures("shared_instance")  # each test's study stays open: see tests/conftest.py


@pytest.fixture
def reported(trained_study):
    """The trained study's runs, by subject, as `prefstudy run --json` gave them."""
    with trained_study.connect() as con:
        ids = dict(con.execute("SELECT subject, id FROM runs").fetchall())
    return {subject: run_result(trained_study, run_id) for subject, run_id in ids.items()}


@pytest.fixture
def cli(trained_study):
    return Cli(trained_study.root)  # reports only read the study


def test_json_report_matches_the_runs(cli, reported):
    report = json.loads(cli("report", "--format", "json").stdout)
    by_subject = {r["subject"]: r for r in report["runs"]}
    assert set(by_subject) == {"alice", "bob"}
    assert (by_subject["alice"]["n_labels"], by_subject["bob"]["n_labels"]) == (1200, 400)
    for subject, run in reported.items():
        got = by_subject[subject]
        assert got["run_id"] == run["run_id"]
        for split in ("train", "validation", "test"):
            assert {k: got["metrics"][split][k] for k in ("tp", "fp", "fn", "tn")} == {
                k: run["metrics"][split][k] for k in ("tp", "fp", "fn", "tn")
            }
    # alice's runs trained in batches of 16, bob's of 128: different models, two groups, never pooled into one
    groups = {g["settings"]["batch_size"]: g for g in report["groups"]}
    assert len(report["groups"]) == 2 and set(groups) == {16, 128}
    for subject, run in reported.items():
        group = groups[TRAINED_RUNS[subject].batch_size]
        assert (group["backbone"], group["n_subjects"]) == ("paper-vgg:small", 1)
        assert group["mean_test_accuracy"] == pytest.approx(run["metrics"]["test"]["accuracy"])
        assert group["variant"] == f"from scratch, batch_size={TRAINED_RUNS[subject].batch_size}"


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
    unknown = cli("report", "--dataset", "faces", "--format", "json", ok=False)  # not an empty report: a mistake
    assert unknown.exit_code == 1 and not unknown.stdout
    assert unknown.stderr.strip() == "error: no dataset 'faces' in this study (known: fm)"


def test_an_empty_study_reports_that_there_is_nothing_yet(ws):
    cli = Cli(ws.root)
    assert "No finished runs yet" in cli("report").stdout
    assert json.loads(cli("report", "--format", "json").stdout)["runs"] == []
    result = cli("report", "--format", "pdf", ok=False)
    assert result.exit_code == 1 and "unknown report format 'pdf'" in result.stderr
