"""Rated subjects: a shared item split and k-fold, the population's consensus, transfer from it without
leaking test items, and Spearman's rho recorded beside the confusion table."""

import numpy as np
import pytest
from conftest import RATED_ITEMS, Cli

from prefstudy.config import TrainSettings, TransferRequest
from prefstudy.errors import PrefstudyError
from prefstudy.executors.runner import make_run
from prefstudy.metrics import spearman
from prefstudy.runs.orders import RunOrder
from prefstudy.runs.record import predictions
from prefstudy.runs.transfer_sources import check_no_leak, resolve_source
from prefstudy.splits import TEST, item_test_mask
from prefstudy.subjects.consensus import consensus_of, make_consensus
from prefstudy.subjects.labels import ratings_of, usable_labels

pytestmark = pytest.mark.usefixtures("shared_instance")  # each test's study stays open: see tests/conftest.py

QUICK = dict(backbone="paper-vgg:small", protocol="model1", epochs=1, batch_size=16)


def test_the_item_split_is_the_datasets_and_k_folds_test_every_item_once():
    folds = [item_test_mask(50, seed=3, test_fraction=0.2, folds=5, fold=k) for k in range(5)]
    assert np.array_equal(np.sum(folds, axis=0), np.ones(50))  # every item tested exactly once
    assert [int(f.sum()) for f in folds] == [10] * 5
    again = item_test_mask(50, seed=3, test_fraction=0.2, folds=5, fold=2)
    assert np.array_equal(again, folds[2])  # from the seed alone, whoever asks
    other = item_test_mask(50, seed=4, test_fraction=0.2, folds=5, fold=2)
    assert not np.array_equal(other, folds[2])
    single = item_test_mask(50, seed=3, test_fraction=0.2, folds=None, fold=None)
    assert int(single.sum()) == 10


def test_settings_refuse_folds_without_the_item_split():
    with pytest.raises(PrefstudyError, match="folds go with split_by = item"):
        TrainSettings(folds=5)
    with pytest.raises(PrefstudyError, match="fold 5 needs folds greater"):
        TrainSettings(split_by="item", folds=5, fold=5)
    assert [s.fold for s in TrainSettings(split_by="item", folds=3).per_fold()] == [0, 1, 2]


def test_the_consensus_is_the_raters_mean_and_making_it_again_changes_nothing(rated_ws):
    ws = rated_ws
    crowd = ratings_of(ws, "crowd", "fm")
    assert len(crowd.item_idx) == RATED_ITEMS
    raters = [ratings_of(ws, f"r{i}", "fm").rating for i in range(1, 7)]
    assert np.allclose(crowd.rating, np.mean(raters, axis=0))
    assert consensus_of(ws, "crowd", "fm") == ["r1", "r2", "r3", "r4", "r5", "r6"]  # 'flat' does not match r*
    again = make_consensus(ws, "crowd", "fm", raters="r*")
    assert not again.changed
    with pytest.raises(PrefstudyError, match="exists with other raters or ratings; give --replace"):
        make_consensus(ws, "crowd", "fm", raters="r*", exclude=["r6"])
    remade = make_consensus(ws, "crowd", "fm", raters="r*", exclude=["r6"], replace=True)
    assert remade.changed and (remade.raters, remade.excluded) == (5, 1)
    # The median rule splits the means: above it preferred, below not, on it a tie.
    means = np.mean(raters[:5], axis=0)
    median = np.median(means)
    assert (remade.preferred, remade.not_preferred) == (int((means > median).sum()), int((means < median).sum()))
    assert remade.preferred + remade.not_preferred + remade.ties == RATED_ITEMS


def test_a_rated_subject_below_the_minimums_is_refused_in_one_line(rated_ws):
    with pytest.raises(PrefstudyError, match=r"rated subject 'flat' has 0 usable label\(s\), fewer than 20"):
        make_run(rated_ws, RunOrder("flat", "fm", TrainSettings(**QUICK)))


def test_a_rated_run_records_spearman_over_its_test_items_ties_included(rated_ws):
    ws = rated_ws
    result = make_run(ws, RunOrder("r1", "fm", TrainSettings(**QUICK, split_by="item")))
    rows = predictions(ws, result["run_id"])
    ratings = ratings_of(ws, "r1", "fm")
    assert len(rows) == RATED_ITEMS  # every rated item: answered ones and ties
    ties = [p for p in rows if p.label is None]
    assert len(ties) == int(ratings.tie.sum()) > 0
    test = [p for p in rows if p.split == TEST]
    expected = spearman([p.p_preferred for p in test], [p.rating for p in test])
    assert result["metrics"]["test"]["n_rated"] == len(test)
    assert result["metrics"]["test"]["spearman"] == pytest.approx(expected)
    answered = [p for p in test if p.label is not None]
    assert result["metrics"]["test"]["n"] == len(answered)  # ties are not in the confusion table
    # The test items are the dataset's item split, whoever the subject.
    mask = item_test_mask(10_000, seed=0, test_fraction=0.2, folds=None, fold=None)
    assert {p.item_idx for p in test} == {i for i in range(RATED_ITEMS) if mask[i]}


@pytest.mark.slow
def test_personal_folds_start_from_the_populations_and_never_test_what_it_learned(rated_ws):
    ws, cli = rated_ws, Cli(rated_ws.root)
    common = ("--dataset", "fm", "--backbone", "paper-vgg:small", "--protocol", "model2", "--epochs", "1")
    common += ("--batch-size", "16", "--split-by", "item", "--folds", "3", "--seed", "7")
    crowd = cli.json("run", "--subject", "crowd", *common)["runs"]
    personal = cli.json("run", "--subject", "r6", *common, "--transfer-from", "subject:crowd", "--freeze-features")
    personal = personal["runs"]
    assert len(crowd) == len(personal) == 3
    tested: list[int] = []
    for own, population in zip(personal, crowd, strict=True):
        own_rows, population_rows = predictions(ws, own["run_id"]), predictions(ws, population["run_id"])
        own_test = {p.item_idx for p in own_rows if p.split == TEST}
        learned = {p.item_idx for p in population_rows if p.split != TEST and p.label is not None}
        assert own_test and not own_test & learned  # no test item of r6 was a training item of its source
        with ws.connect() as con:
            (parent,) = con.execute("SELECT parent_run FROM runs WHERE id = ?", [own["run_id"]]).fetchone()
        assert parent == population["run_id"]  # fold k starts from the population's fold k
        tested += sorted(own_test)
    assert sorted(tested) == list(range(RATED_ITEMS))  # over the folds every rated item is tested once


@pytest.mark.slow
def test_a_source_that_trained_on_the_test_items_is_refused(rated_ws):
    ws = rated_ws
    per_subject = TrainSettings(**QUICK)  # each subject's own split: the crowd's training items are r1's test items
    crowd = make_run(ws, RunOrder("crowd", "fm", per_subject))
    with pytest.raises(PrefstudyError, match=r"learned from \d+ of this run's test items"):
        make_run(ws, RunOrder("r1", "fm", per_subject, transfer=TransferRequest(crowd["run_id"])))
    with pytest.raises(PrefstudyError, match="on the same dataset needs --split-by item"):
        resolve_source(ws, "subject:crowd", "fm", per_subject)
    item_split = TrainSettings(**QUICK, split_by="item")
    with pytest.raises(PrefstudyError, match="no finished run on 'fm' with this item split"):
        resolve_source(ws, "subject:crowd", "fm", item_split)
    shared = make_run(ws, RunOrder("crowd", "fm", item_split))
    assert resolve_source(ws, "subject:crowd", "fm", item_split) == shared["run_id"]
    r1_test = {p.item_idx for p in predictions(ws, shared["run_id"]) if p.split == TEST}
    check_no_leak(ws, shared["run_id"], "fm", r1_test)  # the same split: nothing learned from them


def test_ratings_turn_into_answers_by_the_raters_own_median(rated_ws):
    ratings = ratings_of(rated_ws, "r2", "fm")
    labels = usable_labels(rated_ws, "r2", "fm")
    median = float(np.median(ratings.rating))
    by_item = dict(zip(ratings.item_idx.tolist(), ratings.rating.tolist(), strict=True))
    assert all((by_item[i] > median) == bool(p) for i, p in zip(labels.item_idx, labels.preferred, strict=True))
    assert set(ratings.item_idx[ratings.tie].tolist()) == {i for i, r in by_item.items() if r == median}


@pytest.mark.slow
def test_warm_runs_share_images_sources_and_frozen_features_without_changing_results(rated_ws, monkeypatch):
    from prefstudy.executors import worker
    from prefstudy.runs.warm import WarmCache

    ws = rated_ws
    settings = TrainSettings(**{**QUICK, "epochs": 2}, split_by="item")
    crowd = make_run(ws, RunOrder("crowd", "fm", settings))
    frozen = TransferRequest(crowd["run_id"], "frozen")
    warm = WarmCache()
    monkeypatch.setattr(worker, "WARM", warm)  # what the process's runs share
    hot = [make_run(ws, RunOrder(r, "fm", settings, transfer=frozen)) for r in ("r1", "r6")]
    cold = []
    for r in ("r1", "r6"):
        monkeypatch.setattr(worker, "WARM", WarmCache())  # a process of its own
        cold.append(make_run(ws, RunOrder(r, "fm", settings, transfer=frozen)))
    assert len(warm.images_loaded) == len(warm.sources_loaded) == len(warm.features_kept) == 1
    (kept,) = warm.features_kept.values()
    assert kept.done.sum() == RATED_ITEMS  # each rated item's features computed once, for both raters
    for a, b in zip(hot, cold, strict=True):
        for split, scores in a["metrics"].items():
            assert scores == pytest.approx(b["metrics"][split], rel=1e-5)
        assert [h["train_loss"] for h in a["history"]] == pytest.approx([h["train_loss"] for h in b["history"]])
        pa, pb = predictions(ws, a["run_id"]), predictions(ws, b["run_id"])
        assert np.allclose([p.p_preferred for p in pa], [p.p_preferred for p in pb], atol=1e-5)


@pytest.mark.slow  # a second import; the fast lane has the digest's other uses
def test_a_changed_rating_that_keeps_its_answer_still_changes_what_runs_are_scored_against(rated_ws, tmp_path):
    from prefstudy.datasets.catalog import load_images
    from prefstudy.runs.prepare import prepare
    from prefstudy.subjects.rating_files import RatingTable, import_ratings

    ws, settings = rated_ws, TrainSettings(**QUICK, split_by="item")
    before = prepare(ws, "r1", "fm", settings)
    ratings = ratings_of(ws, "r1", "fm")
    assert np.median(ratings.rating) < 6
    top = int(ratings.item_idx[np.argmax(ratings.rating)])  # rated 7: still preferred when rated 6
    key = load_images(ws, "fm").keys[top]
    changed = tmp_path / "changed.csv"
    changed.write_text(f"rater,item,rating\nr1,{key},6\n", encoding="utf-8")
    import_ratings(ws, changed, "fm", RatingTable(item="item"), replace=True)
    after = prepare(ws, "r1", "fm", settings)
    assert after.labels.digest == before.labels.digest  # the same answers ...
    assert after.digest != before.digest  # ... but not the same ground truth: `study plan` makes the run again
