"""Study files for real people: ratings and consensus entries, subject-sourced transfer over folds,
`[[runs]]` limited to some subjects, and `study plan/run --subjects/--limit-subjects`."""

import pytest
from conftest import Cli, write_ratings

from prefstudy.errors import PrefstudyError
from prefstudy.study.plan import BLOCKED, TODO, WAITING, SubjectFilter, plan
from prefstudy.studyfile import parse_study

_ENTRY = 'dataset = "fm"\nbackbone = "paper-vgg:small"\nprotocol = "model1"\nepochs = 1\nbatch_size = 16\n'
_ENTRY += 'split_by = "item"\nfolds = 2\n'
RUNS = (  # the crowd's model per fold; every rater head-only from it
    '\n[datasets.fm]\nkind = "fashion-mnist-sample"\n'
    f'\n[[runs]]\nsubjects = ["crowd"]\n{_ENTRY}'
    f'\n[[runs]]\n{_ENTRY}transfer_from = "subject:crowd"\ntransfer = "frozen"\n'
)


def test_a_study_file_declares_ratings_consensus_folds_and_subject_sources():
    spec = parse_study(
        RUNS
        + '\n[[ratings]]\nfile = "r.csv"\ndataset = "fm"\nitem = "face"\nprefix = "lon-"\n'
        + '\n[[consensus]]\nname = "crowd"\ndataset = "fm"\nexclude = ["lon-r9*"]\nmin_raters = 3\n'
    )
    assert [(r.subjects, r.settings.fold, r.transfer) for r in spec.runs[:2]] == [
        (("crowd",), 0, None),
        (("crowd",), 1, None),
    ]
    transfer = spec.runs[2].transfer
    assert (transfer.source_subject, transfer.source_dataset, transfer.mode) == ("crowd", "fm", "frozen")
    assert [r.settings.fold for r in spec.runs[2:]] == [0, 1] and spec.runs[2].covers("anyone")
    assert not spec.runs[0].covers("lon-r0001")
    (ratings,) = spec.ratings
    assert (ratings.file, ratings.item, ratings.prefix, ratings.layout) == ("r.csv", "face", "lon-", "long")
    (consensus,) = spec.consensus
    assert (consensus.name, consensus.exclude, consensus.min_raters) == ("crowd", ("lon-r9*",), 3)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[[ratings]]\nfile = "r.csv"\n', r"\[\[ratings\]\] #1: missing required key 'dataset'"),
        ('[[ratings]]\nfile = "r.csv"\ndataset = "nope"\n', "dataset 'nope' is not declared"),
        ('[[ratings]]\nfile = "r.csv"\ndataset = "fm"\nthreshold = "high"\n', "threshold has the wrong type"),
        (
            '[[consensus]]\nname = "c"\ndataset = "fm"\nmin_raters = 0\n',
            r"\[\[consensus\]\] #1: min_raters must be an integer from 1",
        ),
        ('[[consensus]]\nname = "c"\ndataset = "fm"\nraterz = "*"\n', "unknown key 'raterz'"),
        ('[[runs]]\ndataset = "fm"\nsubjects = "crowd"\n', "subjects must be a list of name patterns"),
        ('[[runs]]\ndataset = "fm"\nfolds = 5\n', "folds go with split_by = item"),
        ('[[runs]]\ndataset = "fm"\ntransfer_from = "subject:"\n', 'transfer_from = "subject:NAME"'),
        ('[[runs]]\ndataset = "fm"\ntransfer_from = "subject:crowd@nope"\n', "dataset 'nope' is not declared"),
    ],
)
def test_a_wrong_entry_is_one_line_naming_it(extra, message):
    with pytest.raises(PrefstudyError, match=message):
        parse_study('[datasets.fm]\nkind = "fashion-mnist-sample"\n' + extra)


@pytest.mark.slow
def test_the_plan_waits_for_the_crowd_fold_by_fold_and_blocks_raters_below_the_minimums(rated_ws):
    ws = rated_ws
    ws.study_file.write_text(ws.study_file.read_text() + RUNS)
    items = plan(ws)
    crowd = [p for p in items if p.subject == "crowd"]
    assert [(p.status, p.settings.fold, p.run.transfer) for p in crowd] == [(TODO, 0, None), (TODO, 1, None)]
    raters = {(p.subject, p.settings.fold): p for p in items if p.subject != "crowd"}
    assert set(raters) == {(r, k) for r in ("flat", "r1", "r2", "r3", "r4", "r5", "r6") for k in (0, 1)}
    assert raters[("r1", 0)].status == WAITING and "crowd's finished model1 run" in raters[("r1", 0)].reason
    assert raters[("flat", 1)].status == BLOCKED and "fewer than 20" in raters[("flat", 1)].reason

    chosen = plan(ws, subjects=SubjectFilter(("r1", "r2*"), None, 0))
    assert {p.subject for p in chosen} == {"crowd", "r1", "r2"}  # the crowd is always kept
    drawn = {p.subject for p in plan(ws, subjects=SubjectFilter((), 3, seed=5))}
    assert len(drawn - {"crowd"}) == 3 and drawn == {p.subject for p in plan(ws, subjects=SubjectFilter((), 3, 5))}

    cli = Cli(ws.root)
    made = cli.json("study", "run", "--subjects", "r6")["made"]
    assert sorted((r["subject"], r["epochs"]) for r in made) == [("crowd", 1)] * 2 + [("r6", 1)] * 2
    again = plan(ws, subjects=SubjectFilter(("r6",)))
    assert [p.status for p in again] == ["done"] * 4
    assert all(p.source_run for p in again if p.subject == "r6")


@pytest.mark.slow  # the fast lane keeps one test per behaviour; this one widens it
def test_study_run_imports_ratings_and_makes_the_consensus_from_the_study_file(ws, sample_ws, tmp_path):
    ratings = write_ratings(tmp_path / "ratings.csv", sample_ws, n_items=30, flat=False)
    ws = sample_ws
    ws.study_file.write_text(
        ws.study_file.read_text()
        + '\n[datasets.fm]\nkind = "fashion-mnist-sample"\n'
        + f'\n[[ratings]]\nfile = "{ratings}"\ndataset = "fm"\nitem = "item"\nprefix = "p-"\n'
        + '\n[[consensus]]\nname = "crowd"\ndataset = "fm"\nraters = "p-*"\n'
    )
    cli = Cli(ws.root)
    first = cli("study", "run", ok=False)
    assert (
        "imported 180 ratings of 6 raters" in first.stderr
        and "made consensus subject crowd@fm (6 raters)" in first.stderr
    )
    second = cli("study", "run", ok=False)
    assert "imported" not in second.stderr and "made consensus" not in second.stderr  # nothing changed
    listed = cli.json("subject", "list", "--dataset", "fm")["subjects"]
    assert {s["name"]: (s["kind"], s["ratings"]) for s in listed}["crowd"] == ("consensus", {"fm": 30})
    refused = cli("label", "links", ok=False)  # imported raters do not label here
    assert refused.exit_code == 1 and "no people in this study yet" in refused.stderr


@pytest.mark.usefixtures("shared_instance")  # the study stays open: see tests/conftest.py
def test_label_links_leave_imported_raters_out_unless_named(rated_ws):
    cli = Cli(rated_ws.root)
    cli("subject", "add", "bob")
    assert set(cli.json("label", "links")["links"]) == {"bob"}
    assert set(cli.json("label", "links", "--subject", "r1")["links"]) == {"r1"}
