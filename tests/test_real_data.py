"""End to end on real images: LFW faces and indoor rooms from the shared data, full Fashion-MNIST.

Small slices keep these fast; the full-size runs are in benchmarks/ and the closing notes.
"""

import pytest

from prefstudy.workspace import open_workspace

pytestmark = pytest.mark.slow  # trains on real photos and the full Fashion-MNIST


def cli_workspace(cli):
    return open_workspace(cli.study)


SMALL_RUN = ("--protocol", "model2", "--epochs", "4", "--batch-size", "32", "--seed", "0")


@pytest.mark.parametrize(
    ("kind", "fixture", "rule"),
    [("lfw", "lfw_dir", "feature:brightness@center"), ("indoor67", "indoor_dir", "feature:colourfulness")],
)
def test_photos_feature_subject_learns_above_chance(cli, request, kind, fixture, rule):
    path = request.getfixturevalue(fixture)
    added = cli.json(
        "data", "add", "photos", "--kind", kind, "--path", path, "--limit", "900", "--seed", "0", "--size", "32"
    )
    assert added["n_items"] == 900
    sim = cli.json("subject", "simulate", "ann", "--dataset", "photos", "--rule", rule, "--noise", "0.05")
    assert 0.45 < sim["preferred_share"] < 0.55  # a median split
    out = cli.json("run", "--subject", "ann", "--dataset", "photos", *SMALL_RUN)
    test = out["metrics"]["test"]
    with cli_workspace(cli).connect() as con:
        officially_test = con.execute("SELECT count(*) FROM items WHERE split = 'test'").fetchone()[0]
    # LFW has no split: 20 % are drawn; the indoor rooms keep their official TestImages.txt items.
    assert test["tp"] + test["fp"] + test["fn"] + test["tn"] == (officially_test if kind == "indoor67" else 180)
    assert test["accuracy"] > 0.65  # chance is 0.5


def test_full_fashion_mnist_keeps_the_papers_split_for_a_class_subject(cli, fashion_mnist_dir):
    cli("data", "add", "fm", "--kind", "fashion-mnist")
    cli(
        "subject",
        "simulate",
        "tbs",
        "--dataset",
        "fm",
        "--rule",
        "classes:Trouser,Bag,Sneaker",
        "--noise",
        "0.05",
        "--limit",
        "6000",
    )
    out = cli.json(
        "run", "--subject", "tbs", "--dataset", "fm", "--protocol", "model2", "--epochs", "2", "--batch-size", "32"
    )
    m = out["metrics"]
    test_n = sum(m["test"][k] for k in ("tp", "fp", "fn", "tn"))
    val_n = sum(m["validation"][k] for k in ("tp", "fp", "fn", "tn"))
    train_n = sum(m["train"][k] for k in ("tp", "fp", "fn", "tn"))
    assert 700 < test_n < 1000  # the labelled items of the official 10k test split (about 1/7 of 6,000)
    assert val_n == pytest.approx((train_n + val_n) / 6, abs=2)
    assert m["test"]["accuracy"] > 0.88  # ceiling 0.95 with 5 % noise; the full 60k run reaches it (see notes)
