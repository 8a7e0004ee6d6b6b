import numpy as np
import pytest

from prefstudy.datasets.catalog import load_images
from prefstudy.errors import PrefstudyError
from prefstudy.subjects.labels import usable_labels
from prefstudy.subjects.rules import parse_rule
from prefstudy.subjects.simulate import simulate_labels, simulate_subject

pytestmark = pytest.mark.usefixtures("shared_instance")  # each test's study stays open: see tests/conftest.py


def test_noise_flips_about_that_share_and_the_seed_reproduces_it(sample_ws):
    images = load_images(sample_ws, "fm")
    rule = parse_rule("classes:Trouser,Bag,Sneaker", images.info.class_names)
    a = simulate_labels(images, rule, noise=0.1, seed=3)
    b = simulate_labels(images, rule, noise=0.1, seed=3)
    assert np.array_equal(a.item_idx, b.item_idx) and np.array_equal(a.preferred, b.preferred)
    assert sorted(a.item_idx.tolist()) == list(range(10_000))  # every item once, in a shuffled order
    assert a.truth.mean() == pytest.approx(0.3)  # three of ten balanced classes
    assert (a.preferred != a.truth).mean() == pytest.approx(0.1, abs=0.01)


def test_simulated_labels_are_stored_like_a_persons_with_region_and_repeats(sample_ws):
    result = simulate_subject(sample_ws, "carol", "fm", "feature:edges@top", noise=0.05, repeat=0.1, seed=1, limit=2000)
    assert (result.n_labels, result.n_repeats) == (2000, 200)
    with sample_ws.connect() as con:
        rows = con.execute(
            "SELECT count(*), count(DISTINCT session), min(region), max(region), count(repeat_of), "
            "count(DISTINCT trial), any_value(source) FROM labels WHERE subject = 'carol'"
        ).fetchone()
        repeats_match = con.execute(
            "SELECT count(*) FROM labels r JOIN labels o ON r.repeat_of = o.id "
            "WHERE r.item_idx = o.item_idx AND r.trial > o.trial"
        ).fetchone()[0]
        kind = con.execute("SELECT kind FROM subjects WHERE name = 'carol'").fetchone()[0]
    assert rows == (2200, 1, [0.0, 0.0, 1.0, 0.5], [0.0, 0.0, 1.0, 0.5], 200, 2200, "simulated")
    assert repeats_match == 200 and kind == "simulated"
    usable = usable_labels(sample_ws, "carol", "fm")
    assert len(usable.item_idx) == 2000  # repeats measure consistency; they are not extra training data


@pytest.mark.slow  # the fast lane keeps one test per behaviour; this one widens it
def test_one_subject_can_label_several_datasets_but_each_once(sample_ws, lfw_dir):
    from prefstudy.datasets.catalog import add_dataset
    from prefstudy.studyfile import DatasetSpec

    add_dataset(sample_ws, DatasetSpec("faces", "lfw", path=str(lfw_dir), limit=100, size=32))
    simulate_subject(sample_ws, "alice", "fm", "classes:Bag", limit=300)
    simulate_subject(sample_ws, "alice", "faces", "feature:contrast@top")
    with pytest.raises(PrefstudyError, match="already has labels on 'fm'"):
        simulate_subject(sample_ws, "alice", "fm", "classes:Coat")
    with sample_ws.connect() as con:
        per_dataset = dict(con.execute("SELECT dataset, count(*) FROM labels GROUP BY dataset").fetchall())
    assert per_dataset == {"fm": 300, "faces": 100}


def test_a_rule_giving_one_answer_is_refused_and_writes_nothing(sample_ws):
    with pytest.raises(PrefstudyError, match="same answer"):
        simulate_subject(sample_ws, "dan", "fm", "classes:Bag", limit=5, seed=0)
    with sample_ws.connect() as con:
        assert con.execute("SELECT count(*) FROM labels").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM subjects").fetchone()[0] == 0
