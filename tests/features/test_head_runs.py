"""Heads on cached features as runs like any other, with a third party's extractor installed for real: features
computed once and reused, population and personal heads on an item split, the leak check, one-line refusals."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import Cli, write_distribution

from prefstudy.features.store import file_sha256, list_features
from prefstudy.subjects.labels import insert_labels
from prefstudy.subjects.simulate import simulate_subject

ENTRY_POINTS = "[prefstudy.extractors]\npixels = pixel_features:make\n"
EXTRACTOR = '''
"""A third party's extractor: an image's brightness on a coarse grid (no torch), counting its calls."""
import os

import numpy as np

from prefstudy.extractors.contract import Extracted, ExtractorInfo

CALLS = []


class Pixels:
    info = ExtractorInfo(
        name="pixels", dim=16, image_size=28, channels=1, weights="none", licence="MIT", differentiable=False
    )

    def extract(self, images):
        CALLS.append(len(images))
        if os.environ.get("PIXELS_PIDS"):  # where the features are computed: a file each process appends to
            with open(os.environ["PIXELS_PIDS"], "a") as handle:
                handle.write(f"{os.getpid()}\\n")
        grid = images[..., 0].reshape(len(images), 4, 7, 4, 7).mean(axis=(2, 4)) / 255.0
        return Extracted(grid.reshape(len(images), 16).astype(np.float32))


def make(variant):
    return Pixels()
'''
HEAD_RUN = ("--dataset", "fm", "--backbone", "pixels", "--head", "linear", "--protocol", "model1")
FOLDS = ("--split-by", "item", "--folds", "3")


@pytest.fixture
def pixels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    site = write_distribution(tmp_path / "site", "pixel-features", ENTRY_POINTS, {"pixel_features.py": EXTRACTOR})
    monkeypatch.syspath_prepend(str(site))
    import pixel_features

    pixel_features.CALLS.clear()
    return pixel_features


@pytest.mark.slow  # features of 10,000 images and 13 head runs: the refusals below are the fast lane's
def test_population_and_personal_heads_on_one_item_split_with_features_computed_once(rated_ws, pixels):
    cli = Cli(rated_ws.root)
    crowd = cli.json("run", "--subject", "crowd", *HEAD_RUN, *FOLDS, "--target", "ratings")["runs"]
    assert len(crowd) == 3 and all(r["head"] == "linear" and r["target"] == "ratings" for r in crowd)
    computed = sum(pixels.CALLS)
    assert computed - 10_000 in (0, 2)  # every item of the dataset, once (and, once a process, the contract's two)
    personal = cli.json("run", "--subject", "r1", *HEAD_RUN, *FOLDS, "--target", "ratings", "--transfer-from",
                        "subject:crowd")["runs"]  # fmt: skip
    scratch = cli.json("run", "--subject", "r1", *HEAD_RUN, *FOLDS, "--target", "ratings")["runs"]
    assert sum(pixels.CALLS) == computed  # the second and third commands read the cache
    (stored,) = list_features(rated_ws)
    assert (stored.key.extractor, stored.dim, stored.n_items) == ("pixels", 16, 10_000)
    for result in personal + scratch:
        directory = rated_ws.run_dir(result["run_id"])
        assert (directory / "head.npz").is_file() and not (directory / "model.pt").exists()
        config = json.loads((directory / "config.json").read_text())
        assert config["features"]["file"] == stored.file and config["features"]["file_sha256"] == stored.file_sha256
        assert result["epochs"] == 0 and result["precision"] == "fp64" and result["history"] == []
        test = result["metrics"]["test"]
        assert test["n_rated"] > test["n"] - 1 and test["spearman"] is not None  # ρ over the rated test items
    assert [r["metrics"]["test"]["n"] for r in personal] == [r["metrics"]["test"]["n"] for r in scratch]
    # The ratings follow brightness, which the grid sees: the personal heads rank the unseen items well.
    assert np.median([r["metrics"]["test"]["spearman"] for r in personal]) > 0.5
    again = cli.json("run", "--subject", "r1", *HEAD_RUN, *FOLDS, "--target", "ratings", "--again")["runs"]
    assert again[0]["run_id"] != scratch[0]["run_id"] and "reused" not in again[0]
    with rated_ws.connect() as con:
        rows = [
            con.execute(
                "SELECT p_preferred FROM predictions WHERE run_id = ? ORDER BY item_idx", [r["run_id"]]
            ).fetchall()
            for r in (scratch[0], again[0])
        ]
    assert rows[0] == rows[1]  # a head is the same from the same seed


@pytest.mark.slow  # starts a pool of worker processes
def test_with_an_executor_a_worker_computes_the_features_and_the_driver_stores_them(rated_ws, pixels, tmp_path,
                                                                                     monkeypatch):  # fmt: skip
    pids = tmp_path / "pids.txt"
    monkeypatch.setenv("PIXELS_PIDS", str(pids))  # spawned workers inherit it, and the site on sys.path
    result = Cli(rated_ws.root).json("run", "--subject", "r1", *HEAD_RUN, "--executor", "local", "--workers", "1")
    assert result["status"] == "finished" and pixels.CALLS == []  # not one image was described in this process
    computed_in = set(pids.read_text().split())
    assert len(computed_in) == 1 and str(os.getpid()) not in computed_in
    (stored,) = list_features(rated_ws)
    assert (stored.dim, stored.n_items, stored.file_sha256) == (16, 10_000, file_sha256(rated_ws.root / stored.file))
    config = json.loads((rated_ws.run_dir(result["run_id"]) / "config.json").read_text())
    assert config["features"]["file_sha256"] == stored.file_sha256


def test_a_population_head_that_trained_on_the_test_items_is_refused(rated_ws, pixels):
    cli = Cli(rated_ws.root)
    other_split = cli.json("run", "--subject", "crowd", *HEAD_RUN, "--split-by", "item", "--seed", "1")
    result = cli("run", "--subject", "r1", *HEAD_RUN, "--split-by", "item", "--transfer-from",
                 other_split["run_id"], ok=False)  # fmt: skip
    assert result.exit_code == 1 and f"run {other_split['run_id']} learned from" in result.stderr
    with rated_ws.connect() as con:
        assert con.execute("SELECT count(*) FROM runs WHERE subject = 'r1'").fetchone() == (0,)


def test_run_reuses_an_identical_finished_run_unless_asked_again(rated_ws, pixels):
    cli = Cli(rated_ws.root)
    first = cli.json("run", "--subject", "r1", *HEAD_RUN)
    second = cli.json("run", "--subject", "r1", *HEAD_RUN)
    assert second["reused"] is True and second["run_id"] == first["run_id"] and "reused" not in first
    told = cli("run", "--subject", "r1", *HEAD_RUN)
    assert f"an identical finished run exists (same settings, start and labels): {first['run_id']}" in told.stderr
    other_seed = cli.json("run", "--subject", "r1", *HEAD_RUN, "--seed", "1")  # another setting: a new run
    third = cli.json("run", "--subject", "r1", *HEAD_RUN, "--again")
    assert "reused" not in other_seed and "reused" not in third and third["run_id"] != first["run_id"]
    with rated_ws.connect() as con:
        assert con.execute("SELECT count(*) FROM runs WHERE subject = 'r1'").fetchone() == (3,)
    # A new label changes the digest: the finished run no longer answers for the subject, and a new one is made.
    simulate_subject(rated_ws, "sim", "fm", "feature:brightness", seed=3, limit=200)
    made = cli.json("run", "--subject", "sim", *HEAD_RUN)
    assert cli.json("run", "--subject", "sim", *HEAD_RUN)["reused"] is True
    with rated_ws.transaction() as con:
        seen = {i for (i,) in con.execute("SELECT item_idx FROM labels WHERE subject = 'sim'").fetchall()}
        item = next(i for i in range(10_000) if i not in seen)
        insert_labels(con, {"subject": np.array(["sim"]), "dataset": np.array(["fm"]), "item_idx": np.array([item]),
                            "preferred": np.array([True]), "session": np.array(["extra"]),
                            "source": np.array(["import"])})  # fmt: skip
    after = cli.json("run", "--subject", "sim", *HEAD_RUN)
    assert "reused" not in after and after["run_id"] != made["run_id"]


def test_what_a_head_cannot_be_is_one_line(rated_ws, pixels):
    cli = Cli(rated_ws.root)
    for args, message in (
        (("--backbone", "nope", "--head", "linear"), "unknown extractor 'nope'; registered:"),
        (("--backbone", "pixels", "--head", "logistic", "--target", "ratings"), "--target ratings goes with"),
        (("--backbone", "pixels", "--head", "tree"), "unknown head 'tree'"),
    ):
        result = cli("run", "--subject", "r1", "--dataset", "fm", *args, ok=False)
        assert result.exit_code == 1 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert list_features(rated_ws) == []
