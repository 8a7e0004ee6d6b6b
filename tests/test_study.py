"""Study files and `prefstudy study init|plan|run`: the study's main job, re-runnable as labels come in."""

from pathlib import Path

import pytest

from prefstudy.demo import study_file
from prefstudy.errors import PrefstudyError
from prefstudy.studyfile import load_study, parse_study
from prefstudy.workspace import init_workspace

SMALL_STUDY = """
[study]
name = "small"

[datasets.fm]
kind = "fashion-mnist-sample"

[datasets.faces]
kind = "lfw"
path = "/nowhere/lfw"

[[subjects]]
name = "alice"
dataset = "fm"
rule = "classes:Sneaker,Bag,Dress"
limit = 400

[[subjects]]
name = "bob"
dataset = "fm"
rule = "feature:brightness"
noise = 0.1
limit = 400

[[runs]]
dataset = "fm"
protocol = "model1"
epochs = 1

[[runs]]
dataset = "faces"
epochs = 1
"""


@pytest.fixture
def small_study(tmp_path: Path):
    source = tmp_path / "small.toml"
    source.write_text(SMALL_STUDY)
    return source


def test_paper_study_encodes_the_papers_protocol():
    spec = load_study(study_file("paper.toml"))
    assert spec.datasets["fm"].kind == "fashion-mnist" and spec.datasets["fm"].limit is None
    assert (spec.datasets["faces"].kind, spec.datasets["faces"].limit) == ("lfw", 9000)
    assert (spec.datasets["rooms"].kind, spec.datasets["rooms"].limit) == ("indoor67", 15000)
    planned = {(r.dataset, r.settings.protocol) for r in spec.runs}
    assert planned == {(d, p) for d in ("fm", "faces", "rooms") for p in ("model1", "model2")}
    fm_model2 = next(r for r in spec.runs if (r.dataset, r.settings.protocol) == ("fm", "model2"))
    assert round(60_000 * fm_model2.settings.validation_fraction) == 10_000  # 50k / 10k / 10k


def test_demo_study_has_three_simulated_subjects_with_different_rules():
    spec = load_study(study_file("demo.toml"))
    assert len({s.rule for s in spec.subjects}) == 3
    assert [r.settings.protocol for r in spec.runs] == ["model2"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[datasets.fm]\nkind = "fashion-mnist"\n[[runs]]\ndataset = "rooms"\n', "dataset 'rooms' is not declared"),
        ('[datasets.fm]\npath = "x"\n', "missing required key 'kind'"),
        ('[[subjects]]\nname = "a"\n', "missing required key 'dataset'"),
        ('[datasets.fm]\nkind = "fashion-mnist"\n[[runs]]\ndataset = "fm"\nprotocol = "m3"\n', "unknown protocol"),
        ("[study\n", "not valid TOML"),
    ],
)
def test_bad_study_files_are_one_clear_error(text, message):
    with pytest.raises(PrefstudyError, match=message):
        parse_study(text)


def test_init_from_a_study_file_sets_up_what_it_can(cli, tmp_path: Path, small_study: Path):
    result = cli("study", "init", tmp_path / "s", "--from", small_study)
    assert "dataset 'faces' not added: /nowhere/lfw does not exist" in result.stderr
    ws_root = tmp_path / "s"
    result = cli("subject", "list", "--json", "--study", ws_root)
    subjects = {s["name"]: s for s in __import__("json").loads(result.stdout)["subjects"]}
    assert subjects["alice"]["labels"] == {"fm": 400} and subjects["bob"]["rules"] == {"fm": "feature:brightness"}


def test_study_run_makes_each_run_once_and_again_when_labels_change(cli, tmp_path: Path, small_study: Path):
    ws = init_workspace(tmp_path / "s", small_study)
    first = cli.json("study", "run", "--study", ws.root)
    assert sorted(r["subject"] for r in first["made"]) == ["alice", "bob"]
    assert all(r["protocol"] == "model1" and r["epochs"] == 1 for r in first["made"])
    again = cli.json("study", "run", "--study", ws.root)
    assert again == {"made": [], "already_done": 2}
    labels = tmp_path / "dave.csv"
    labels.write_text("key,preferred\n" + "".join(f"test-{i:05d},{i % 3 == 0:d}\n" for i in range(40)))
    cli("label", "import", labels, "--subject", "dave", "--dataset", "fm", "--study", ws.root)
    plan = cli.json("study", "plan", "--study", ws.root)["runs"]
    assert {(p["subject"], p["status"]) for p in plan if p["dataset"] == "fm"} == {
        ("alice", "done"),
        ("bob", "done"),
        ("dave", "todo"),
    }
    assert [r["subject"] for r in cli.json("study", "run", "--study", ws.root)["made"]] == ["dave"]
    labels.write_text("key,preferred\ntest-09999,1\n")  # one more answer from dave: his model is due again
    cli("label", "import", labels, "--subject", "dave", "--dataset", "fm", "--study", ws.root)
    made = cli.json("study", "run", "--study", ws.root)["made"]
    assert [(r["subject"], r["n_labels"]) for r in made] == [("dave", 41)]


def test_init_from_a_shipped_study_by_name(cli, tmp_path: Path):
    result = cli("study", "init", tmp_path / "p", "--from", "paper")
    assert "dataset 'faces' not added" in result.stderr and "dataset 'rooms' not added" in result.stderr
    assert load_study(tmp_path / "p" / "study.toml").name == "paper"
    missing = cli("study", "init", tmp_path / "q", "--from", "nonesuch.toml", ok=False)
    assert missing.exit_code == 1 and "shipped studies: demo, paper" in missing.stderr
    assert not (tmp_path / "q").exists()
