import numpy as np

from prefstudy.splits import assign_splits


def _split(official, preferred, protocol="model2", seed=0, test=0.2, validation=1 / 6):
    return assign_splits(
        np.array(official, dtype=object),
        np.array(preferred),
        protocol=protocol,
        seed=seed,
        test_fraction=test,
        validation_fraction=validation,
    )


def test_the_official_split_gives_the_papers_50k_10k_10k():
    official = ["train"] * 60_000 + ["test"] * 10_000
    preferred = np.random.default_rng(0).random(70_000) < 0.3
    split = _split(official, preferred)
    assert (split == "train").sum() == 50_000
    assert (split == "validation").sum() == 10_000
    assert (split[60_000:] == "test").all()


def test_model1_keeps_train_and_test_only():
    split = _split(["train"] * 80 + ["test"] * 20, [True, False] * 50, protocol="model1")
    assert set(split) == {"train", "test"} and (split[80:] == "test").all()


def test_without_an_official_split_it_is_drawn_stratified_by_answer():
    preferred = np.array([True] * 300 + [False] * 700)
    split = _split([None] * 1000, preferred, protocol="model1", test=0.2)
    assert (split[:300] == "test").sum() == 60 and (split[300:] == "test").sum() == 140


def test_items_outside_an_official_split_are_drawn_while_listed_ones_stay():
    official = ["train"] * 40 + ["test"] * 10 + [None] * 50
    split = _split(official, [True, False] * 50, protocol="model1", test=0.2)
    assert (split[40:50] == "test").all() and (split[:40] == "train").all()
    assert (split[50:] == "test").sum() == 10


def test_an_official_split_with_one_side_only_is_ignored():
    split = _split(["test"] * 100, [True, False] * 50, protocol="model1", test=0.2)
    assert (split == "test").sum() == 20


def test_the_seed_decides_the_split():
    preferred = [True, False] * 100
    a, b, c = (_split([None] * 200, preferred, seed=s) for s in (1, 1, 2))
    assert (a == b).all() and not (a == c).all()
