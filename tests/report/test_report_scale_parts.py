"""`prefstudy report` at the scale of real people: 2,001 imported raters of whom 3 have runs (the per-subject
tables of runs are there, the answers summarised), several `--subjects` globs, filters that match nothing, the
per-subject export, long tables cut or folded, pairs with an undefined κ, and `study plan` beyond 50 rows."""

from __future__ import annotations

import io
import json

import duckdb
import numpy as np
import pytest
from conftest import Cli, copy_study, one_duckdb
from rich.console import Console
from scored_runs import answered_with, scored_run

from prefstudy.metrics import Confusion
from prefstudy.report import collect, render_json, render_markdown, render_table
from prefstudy.report.groups import summarize_groups
from prefstudy.report.html import render_html
from prefstudy.report.interrater import KAPPA_BINS, rater_agreement
from prefstudy.report.model import Report
from prefstudy.report.run_summary import RunSummary
from prefstudy.report.scores import score_of
from prefstudy.report.sections import sections
from prefstudy.report.sections.scale import HTML_ROWS_UP_TO, MARKDOWN_ROWS_UP_TO, TERMINAL_ROWS_UP_TO
from prefstudy.runs.record import record_runs
from prefstudy.studyfile import DatasetSpec
from prefstudy.subjects.labels import UsableLabels, usable_labels_by_subject

pytestmark = pytest.mark.usefixtures("shared_instance")

RATERS = 2_001
ITEMS = 24
WITH_RUNS = {"r0001": 22, "r0002": 12, "r0003": 18}  # of 24 test items right
N_TEST = 24


@pytest.fixture(scope="module")
def crowd(_sample_study, tmp_path_factory):
    """Built once, read-only: 2,001 raters of the first 24 Fashion-MNIST items (1-7, seeded), a [[runs]] entry
    planned for each, and a scored run for three of them, on every one of their usable items."""
    from prefstudy.datasets.catalog import load_item_keys
    from prefstudy.subjects.rating_files import RatingTable, import_ratings

    ws = copy_study(_sample_study, tmp_path_factory.mktemp("crowd") / "study")
    keys = load_item_keys(ws, "fm")[:ITEMS]
    rng = np.random.default_rng(0)
    ratings = rng.integers(1, 8, size=(RATERS, ITEMS))
    lines = ["rater,item,rating"] + [
        f"r{r + 1:04d},{key},{ratings[r, i]}" for r in range(RATERS) for i, key in enumerate(keys)
    ]
    path = ws.root.parent / "ratings.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ws.declare_dataset(DatasetSpec(name="fm", kind="fashion-mnist-sample"))
    with ws.study_file.open("a", encoding="utf-8") as study_file:
        study_file.write('\n[[runs]]\ndataset = "fm"\nbackbone = "paper-vgg:small"\nepochs = 1\n')
    with one_duckdb(ws):
        import_ratings(ws, path, "fm", RatingTable(item="item"))
        answers = usable_labels_by_subject(ws, "fm")
        dirs = []
        for subject, correct in WITH_RUNS.items():
            labels = answers[subject]
            right = round(correct * len(labels.preferred) / N_TEST)
            p = answered_with(labels.preferred, right, rng)
            split = np.array(["test"] * len(p), dtype=object)
            dirs.append(scored_run(ws, f"{subject}-run", subject, "fm", labels.preferred, p, split,
                                   item_idx=labels.item_idx))  # fmt: skip
        record_runs(ws, dirs)
    return ws


@pytest.fixture(scope="module")
def crowd_report(crowd):
    return collect(crowd)


def test_the_tables_of_runs_list_every_subject_with_runs_however_many_subjects_answered(crowd_report):
    report = crowd_report
    assert (report.n_subjects, report.n_subjects_with_runs) == (RATERS, 3)
    built = {s.key: s for s in sections(report)}
    assert [row[1] for row in built["scores"].rows] == list(WITH_RUNS)  # each run's score, by subject
    assert {row[1] for row in built["runs"].rows} == set(WITH_RUNS)
    # The answers of 2,001 subjects are summarised, and the report says so.
    assert "preferences" not in built and "consistency" not in built
    assert built["subjects_summary"].rows[0][1] == str(RATERS)
    markdown = render_markdown(report)
    assert (
        "2,001 subjects answered: their answers (preferences, consistency, response times) are summarised" in markdown
    )
    assert "the tables of runs list all 3 subjects with runs" in markdown
    assert "| r0002-run | r0002 | fm | from scratch |" in markdown
    assert "### r0003-run — r0003, fm, model2" in markdown  # the paper's confusion tables too
    assert len(json.loads(render_json(report))["subjects"]) == RATERS


def test_several_subjects_globs_keep_a_subject_matching_any(crowd):
    cli = Cli(crowd.root)
    out = cli("report", "--format", "json", "--subjects", "r0001", "--subject", "r000[3-9]")
    data = json.loads(out.stdout)
    assert sorted(r["subject"] for r in data["runs"]) == ["r0001", "r0003"]
    assert data["filters"] == {"subjects": ["r0001", "r000[3-9]"], "dataset": None}
    assert sorted(s["subject"] for s in data["subjects"]) == ["r0001", "r0003", "r0004", "r0005", "r0006", "r0007",
                                                               "r0008", "r0009"]  # fmt: skip
    assert json.loads(cli("report", "--format", "json").stdout)["filters"] == {"subjects": [], "dataset": None}


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("--subjects", "r0001", "--subjects", "lon-*"), "error: no subject of this study matches 'lon-*'; "
                                                         "see `prefstudy subject list`"),
        (("--dataset", "faces"), "error: no dataset 'faces' in this study (known: fm)"),
    ],
)  # fmt: skip
def test_a_filter_that_matches_nothing_is_a_one_line_error(crowd, args, error):
    out = Cli(crowd.root)("report", "--format", "json", *args, ok=False)
    assert out.exit_code == 1 and not out.stdout
    assert out.stderr.strip().splitlines() == [error]


def test_the_per_subject_export_holds_each_subjects_score_in_csv_and_parquet(crowd, tmp_path):
    cli = Cli(crowd.root)
    csv, parquet = tmp_path / "scores.csv", tmp_path / "scores.parquet"
    out = cli("report", "--format", "markdown", "--out", tmp_path / "r.md", "--per-subject", csv)
    assert out.stderr.splitlines() == [f"wrote {csv} (3 rows: a subject's score per group)",
                                       f"wrote {tmp_path / 'r.md'} (markdown)"]  # fmt: skip
    cli("report", "--format", "json", "--per-subject", parquet)
    runs = {r["subject"]: r["score"] for r in json.loads(cli("report", "--format", "json").stdout)["runs"]}
    for path in (csv, parquet):
        read = duckdb.read_csv(str(path)) if path.suffix == ".csv" else duckdb.read_parquet(str(path))
        rows = [dict(zip(read.columns, row, strict=True)) for row in read.fetchall()]
        assert [r["subject"] for r in rows] == list(WITH_RUNS)
        for row in rows:
            score = runs[row["subject"]]
            assert (row["dataset"], row["backbone"], row["protocol"], row["folds"]) == ("fm", "paper-vgg", "model2", 1)
            assert (row["transfer"], row["train_size"], row["runs"]) == (None, None, f"{row['subject']}-run")
            assert (row["n_test"], row["correct"]) == (score["n"], score["correct"])
            assert row["accuracy"] == pytest.approx(score["accuracy"])
            assert row["p_above_chance"] == pytest.approx(score["p_above_chance"])
            assert row["above_chance_holm"] is score["above_chance"]
    assert duckdb.read_parquet(str(parquet)).types[read.columns.index("accuracy")] == "DOUBLE"
    bad = cli("report", "--per-subject", tmp_path / "scores.xlsx", ok=False)
    assert bad.exit_code == 1 and "--per-subject writes a .csv or .parquet file, not 'scores.xlsx'" in bad.stderr


def _run(i: int) -> RunSummary:
    test = Confusion(tp=10 + i % 7, fp=3, fn=2, tn=10)
    return RunSummary(f"run{i:04d}", f"s{i:04d}", "faces", "paper-vgg", "model2", 0, 5, 3, None, 60, 30, None, None,
                      1.0, {"train": Confusion(15, 0, 0, 15), "test": test}, score_of(test))  # fmt: skip


def test_long_tables_are_cut_in_text_folded_in_html_and_whole_in_json(ws):
    many = MARKDOWN_ROWS_UP_TO + 50
    report = Report(study="unit", runs=[_run(i) for i in range(many)])
    report.groups, report.runs = summarize_groups(report.runs)
    markdown = render_markdown(report)
    assert "answered" not in markdown  # no answers to summarise, and no note saying so
    assert "| run0499 | s0499 |" in markdown and "| run0500 | s0500 |" not in markdown
    assert f"> The first {MARKDOWN_ROWS_UP_TO} of {many} rows are shown: `--format json` holds every row" in markdown
    assert f"> The first {MARKDOWN_ROWS_UP_TO} of {2 * many:,} rows are shown" in markdown  # the runs table: 2 splits
    out = io.StringIO()
    render_table(report, Console(file=out, width=250))
    terminal = out.getvalue()
    assert "s0099" in terminal and "s0100" not in terminal and f"The first {TERMINAL_ROWS_UP_TO} of {many}" in terminal
    page = render_html(report, ws)
    assert f"<details><summary>{2 * many:,} rows: show the table</summary>" in page and "s0549" in page
    assert len(json.loads(render_json(report))["runs"]) == many
    huge = Report(study="unit", runs=[_run(i) for i in range(HTML_ROWS_UP_TO + 1)])
    assert f"The first {HTML_ROWS_UP_TO:,} of {HTML_ROWS_UP_TO + 1:,} rows are shown" in render_html(huge, ws)


def _answers(preferred: list[bool], items: list[int]) -> UsableLabels:
    return UsableLabels(np.asarray(items, dtype=np.int64), np.asarray(preferred, dtype=bool), "digest")


def test_pairs_with_an_undefined_kappa_are_counted_and_named_not_dropped():
    items = list(range(12))
    mixed = [i % 2 == 0 for i in items]
    answers = {
        "a": _answers([True] * 12, items),  # a and b said "preferred" to everything: their kappa is 0/0
        "b": _answers([True] * 12, items),
        "c": _answers(mixed, items),
        "d": _answers([not m for m in mixed], items),
    }
    found = rater_agreement("fm", answers)
    assert (found.pairs, found.undefined_pairs, found.pairwise_kappa.n) == (6, 1, 5)
    assert found.kappa_histogram.sum() == 5 and len(found.kappa_histogram) == len(KAPPA_BINS) - 1
    assert found.kappa_histogram[-1] == 0 and found.kappa_histogram[0] == 1  # c and d: -1; a or b with c, d: 0
    assert found.to_dict()["undefined_pairs"] == 1
    (section,) = [s for s in sections(Report(study="unit", interrater=[found])) if s.key == "interrater"]
    assert section.rows[0][6] == "6" and any(
        n.startswith("fm: 1 of the 6 pairs have no κ (both subjects gave one and the same answer")
        for n in section.notes
    )


def test_study_plan_summarises_beyond_50_runs_and_prints_every_one_with_all(crowd):
    cli = Cli(crowd.root)
    summary = cli("study", "plan").stdout.splitlines()
    assert summary[0].startswith(f"{RATERS:,} planned runs for {RATERS:,} subjects: ")
    assert summary[1] == "by [[runs]] entry:"
    assert summary[2].startswith(f"  fm (paper-vgg:small, model2, 1 epochs): {RATERS:,} (")
    assert "why runs wait or are blocked:" in summary
    assert summary[-1] == f"... and {RATERS - 20:,} more: `--all` prints every planned run, `--json` as JSON"
    assert len(summary) < 40
    every = cli("study", "plan", "--all").stdout.splitlines()
    assert len(every) == RATERS and every[0].startswith("r0001 on fm (paper-vgg:small, model2, 1 epochs): ")
    assert len(cli.json("study", "plan")["runs"]) == RATERS
