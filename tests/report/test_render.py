"""Rendering a hand-built report: every number where the paper puts it, in each format. No database, no model."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest
from rich.console import Console

from prefstudy.metrics import Confusion
from prefstudy.report.explanations import AgreementRow
from prefstudy.report.groups import summarize_groups
from prefstudy.report.model import Report, RunSummary
from prefstudy.report.render import render_json, render_markdown, render_table
from prefstudy.report.scores import score_of
from prefstudy.report.sections import sections
from prefstudy.report.transfer import TransferPair, summarize_gains


def _run(run_id: str, subject: str, test: Confusion, transfer: str | None = None, train_size=None) -> RunSummary:
    return RunSummary(
        run_id=run_id,
        subject=subject,
        dataset="faces",
        backbone="paper-vgg",
        protocol="model2",
        seed=0,
        epochs=5,
        best_epoch=3,
        parent_run="src" if transfer else None,
        n_labels=500,
        n_train=train_size or 330,
        train_size=train_size,
        transfer=transfer,
        duration_s=12.0,
        metrics={"train": Confusion(150, 10, 20, 150), "validation": Confusion(30, 5, 5, 30), "test": test},
        score=score_of(test),
    )


def _pair(subject: str, n_train: int, base: float, transfer: float, curve: bool = True) -> TransferPair:
    """A transfer pair: a label curve's point (``curve``), or a run on all of the subject's ``n_train`` labels."""
    return TransferPair(subject, "faces", "fm", "finetune", n_train, f"t-{subject}", f"b-{subject}", 100, base,
                        transfer, 100 * (transfer - base), train_size=n_train if curve else None)  # fmt: skip


REPORT = Report(
    study="unit",
    runs=[
        _run("alice-1", "alice", Confusion(tp=40, fp=10, fn=5, tn=45)),  # 85 %
        _run("bob-1", "bob", Confusion(tp=30, fp=20, fn=20, tn=30)),  # 60 %
        _run("alice-2", "alice", Confusion(tp=45, fp=5, fn=5, tn=45), transfer="finetune from fm", train_size=100),
    ],
    transfer_pairs=[_pair("alice", 100, 0.70, 0.90), _pair("bob", 100, 0.60, 0.65), _pair("alice", 400, 0.80, 0.82)],
    agreement=[AgreementRow("alice-1", "features.4", "preferred", 40, 0.675, 0.5, 0.25, 0.25, 0.25, 0.1428)],
)
REPORT.groups, REPORT.runs = summarize_groups(REPORT.runs)


def test_groups_summarise_each_subjects_latest_run_per_variant():
    scratch, transferred = REPORT.groups
    assert (scratch.transfer, scratch.n_subjects) == (None, 2)
    assert (scratch.mean_test_accuracy, scratch.min_test_accuracy, scratch.max_test_accuracy) == (0.725, 0.6, 0.85)
    assert round(scratch.sd_test_accuracy, 4) == 0.1768  # sd of 85 % and 60 %
    assert (transferred.transfer, transferred.train_size, transferred.n_subjects) == ("finetune from fm", 100, 1)
    assert transferred.sd_test_accuracy is None


def test_gains_are_averaged_per_number_of_labels_and_the_largest_is_marked():
    at_100, at_400 = summarize_gains(REPORT.transfer_pairs)
    assert (at_100.n_train, at_100.n_subjects, round(at_100.mean_gain_points, 6)) == (100, 2, 12.5)
    assert (round(at_100.min_gain_points, 6), round(at_100.max_gain_points, 6)) == (5.0, 20.0)
    assert at_100.largest and not at_400.largest


def test_runs_on_all_of_each_subjects_labels_are_one_group_however_many_labels_each_had():
    pairs = [_pair("alice", 31, 0.6, 0.7, curve=False), _pair("bob", 77, 0.6, 0.6, curve=False)]
    (everything,) = summarize_gains(pairs)
    assert (everything.n_train, everything.n_subjects, round(everything.mean_gain_points, 6)) == (None, 2, 5.0)


def test_markdown_has_every_section_and_a_paper_style_confusion_table():
    text = render_markdown(REPORT)
    assert text.startswith("# Study report: unit\n")
    for section in sections(REPORT):
        assert f"## {section.title}" in text
    run_row = "| alice-1 | alice | faces | paper-vgg | model2 | from scratch | 3/5 | test | 100 | 40 | 10 | 5 | 45 |"
    assert run_row + " 85.00 % |" in text
    # Two subjects: a mean with no t-interval (a t-interval of two values, [-86 %, 231 %], says nothing)
    group = "| faces | paper-vgg | model2 | from scratch | 2 | 72.50 % [66.25 %, 78.75 %] | 72.50 % |"
    assert group + " 17.68 % | 60.00 % | 85.00 % | 52.50 % | 2 / 2 | 20.00 % | 0.3 | 0.5 |" in text
    assert (
        "| alice-1 | alice | faces | from scratch | 100 | 85.00 % | [76.72 %, 90.69 %] | 55.00 % | 1.7e-10 | yes |"
        in text
    )
    assert "| fm | faces | finetune | 100 | 2 | +12.5 | 0.5 | 0.5 | 0 / 0 | +5.0 | +20.0 | ◀ |" in text
    assert (
        "| alice-1 | grad-cam | features.4 | preferred | 40 | 67.50 % — (25.00 %) | 50.00 % — (25.00 %) "
        "| 25.00 % — (14.28 %) |" in text
    )
    assert "### alice-2 — alice, faces, model2" in text
    assert "| preferred | 45 (TP) | 5 (FN) |\n| not preferred | 5 (FP) | 45 (TN) |" in text


def test_json_holds_the_same_numbers():
    data = json.loads(render_json(REPORT))
    assert [r["run_id"] for r in data["runs"]] == ["alice-1", "bob-1", "alice-2"]
    assert data["runs"][1]["metrics"]["test"] == {"tp": 30, "fp": 20, "fn": 20, "tn": 30, "accuracy": 0.6}
    assert [g["n_subjects"] for g in data["groups"]] == [2, 1]
    assert [round(g["mean_gain_points"], 6) for g in data["transfer_gains"]] == [12.5, 2.0]


def test_the_terminal_tables_show_each_run_once_per_block():
    out = io.StringIO()
    render_table(REPORT, Console(file=out, width=250))
    text = out.getvalue()
    assert text.count("alice-1") == 3  # its run block, its score and the agreement table
    assert text.count("validation") == 3 and "85.00 %" in text and "+12.5" in text


def test_an_empty_report_says_there_is_nothing_yet():
    empty = Report(study="unit")
    assert "No finished runs yet" in render_markdown(empty)
    out = io.StringIO()
    render_table(empty, Console(file=out))
    assert "No finished runs yet" in out.getvalue()
    assert json.loads(render_json(empty))["runs"] == []


def test_runs_made_under_different_schedules_are_two_groups_named_by_what_differs():
    def made(run_id: str, subject: str, schedule: str, test: Confusion) -> RunSummary:
        settings = (
            ("backbone", "paper-vgg"),
            ("lr", 0.002 if schedule == "onecycle" else 0.001),
            ("schedule", schedule),
        )
        return replace(_run(run_id, subject, test), identity=settings)

    runs = [
        made("a-paper", "alice", "paper", Confusion(tp=30, fp=20, fn=20, tn=30)),  # 60 %
        made("a-one", "alice", "onecycle", Confusion(tp=40, fp=10, fn=5, tn=45)),  # 85 %: the latest of alice's runs
        made("b-paper", "bob", "paper", Confusion(tp=35, fp=15, fn=15, tn=35)),  # 70 %
    ]
    groups, _ = summarize_groups(runs)
    by_variant = {g.variant: g for g in groups}
    assert set(by_variant) == {"from scratch, lr=0.001, schedule=paper", "from scratch, lr=0.002, schedule=onecycle"}
    paper = by_variant["from scratch, lr=0.001, schedule=paper"]
    assert paper.n_subjects == 2 and paper.mean_test_accuracy == pytest.approx(
        0.65
    )  # alice's onecycle run did not replace hers
    assert by_variant["from scratch, lr=0.002, schedule=onecycle"].n_subjects == 1
    assert paper.settings["schedule"] == "paper"
