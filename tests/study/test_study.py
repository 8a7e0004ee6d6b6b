"""Study files and `prefstudy study init|plan|run`: the study's main job, re-runnable as labels come in."""

import json
from pathlib import Path

import pytest

from prefstudy.errors import PrefstudyError
from prefstudy.studyfile import load_study, parse_study, shipped_study
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
    spec = load_study(shipped_study("paper"))
    assert spec.datasets["fm"].kind == "fashion-mnist" and spec.datasets["fm"].limit is None
    assert (spec.datasets["faces"].kind, spec.datasets["faces"].limit) == ("lfw", 9000)
    assert (spec.datasets["rooms"].kind, spec.datasets["rooms"].limit) == ("indoor67", 15000)
    planned = {(r.dataset, r.settings.protocol) for r in spec.runs}
    assert planned == {(d, p) for d in ("fm", "faces", "rooms") for p in ("model1", "model2")}
    fm_model2 = next(r for r in spec.runs if (r.dataset, r.settings.protocol) == ("fm", "model2"))
    assert round(60_000 * fm_model2.settings.validation_fraction) == 10_000  # 50k / 10k / 10k


def test_demo_study_has_three_simulated_subjects_with_different_rules():
    spec = load_study(shipped_study("demo"))
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


@pytest.mark.slow  # simulates subjects with feature rules
def test_init_from_a_study_file_sets_up_what_it_can(cli, tmp_path: Path, small_study: Path):
    result = cli("study", "init", tmp_path / "s", "--from", small_study)
    assert "dataset 'faces' not added: /nowhere/lfw does not exist" in result.stderr
    ws_root = tmp_path / "s"
    result = cli("subject", "list", "--json", "--study", ws_root)
    subjects = {s["name"]: s for s in json.loads(result.stdout)["subjects"]}
    assert subjects["alice"]["labels"] == {"fm": 400} and subjects["bob"]["rules"] == {"fm": "feature:brightness"}


@pytest.mark.slow  # trains five models
def test_study_run_makes_each_run_once_and_again_when_labels_change(cli, tmp_path: Path, small_study: Path):
    ws = init_workspace(tmp_path / "s", small_study)
    first = cli.json("study", "run", "--study", ws.root)
    assert sorted(r["subject"] for r in first["made"]) == ["alice", "bob"]
    assert all(r["protocol"] == "model1" and r["epochs"] == 1 for r in first["made"])
    again = cli.json("study", "run", "--study", ws.root)
    assert again == {"made": [], "failed": [], "already_done": 2, "driver": {}}  # nothing made: no driver ran
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


@pytest.mark.slow  # decodes the full Fashion-MNIST
def test_init_from_a_shipped_study_by_name(cli, tmp_path: Path):
    result = cli("study", "init", tmp_path / "p", "--from", "paper")
    assert "dataset 'faces' not added" in result.stderr and "dataset 'rooms' not added" in result.stderr
    assert load_study(tmp_path / "p" / "study.toml").name == "paper"
    missing = cli("study", "init", tmp_path / "q", "--from", "nonesuch.toml", ok=False)
    assert missing.exit_code == 1 and "shipped studies: demo, paper" in missing.stderr
    assert not (tmp_path / "q").exists()


TRANSFER_STUDY = """
[study]
name = "transfer"

[datasets.fm]
kind = "fashion-mnist-sample"

[datasets.faces]
kind = "lfw"
path = "{lfw}"
limit = 300
size = 32
channels = 1

[[subjects]]
name = "ann"
dataset = "fm"
rule = "feature:edges"
limit = 600

[[subjects]]
name = "ann"
dataset = "faces"
rule = "feature:edges"

[[runs]]
dataset = "fm"
epochs = 1

[[runs]]
dataset = "faces"
epochs = 1
train_size = [40, 80]

[[runs]]
dataset = "faces"
epochs = 1
train_size = [40, 80]
transfer_from = "fm"
"""


@pytest.mark.slow  # trains six models on real images
def test_study_run_makes_transfer_runs_after_their_source(cli, tmp_path: Path, lfw_dir: Path):
    source = tmp_path / "transfer.toml"
    source.write_text(TRANSFER_STUDY.format(lfw=lfw_dir))
    ws = init_workspace(tmp_path / "s", source)
    from prefstudy.study.plan import plan
    from prefstudy.study.sync import sync

    sync(ws)
    statuses = sorted((p.dataset, p.settings.train_size, p.run.transfer is not None, p.status) for p in plan(ws))
    assert statuses == [
        ("faces", 40, False, "todo"),
        ("faces", 40, True, "waiting"),
        ("faces", 80, False, "todo"),
        ("faces", 80, True, "waiting"),
        ("fm", None, False, "todo"),
    ]
    made = cli.json("study", "run", "--study", ws.root)["made"]
    assert len(made) == 5
    (source_run,) = [r["run_id"] for r in made if r["dataset"] == "fm"]
    with ws.connect() as con:
        parents = dict(con.execute("SELECT id, parent_run FROM runs").fetchall())
    transfers = [r for r in made if parents[r["run_id"]] is not None]
    assert len(transfers) == 2 and {parents[r["run_id"]] for r in transfers} == {source_run}
    assert cli.json("study", "run", "--study", ws.root)["made"] == []
    report = json.loads(cli("report", "--format", "json", "--study", ws.root).stdout)
    assert sorted(p["n_train"] for p in report["transfer_pairs"]) == [40, 80]
    assert all(p["baseline_run"] is not None for p in report["transfer_pairs"])


def test_paper_study_declares_tables_3_and_4():
    spec = load_study(shipped_study("paper"))
    transfers = {(r.dataset, r.settings.protocol, r.transfer.mode) for r in spec.runs if r.transfer}
    assert transfers == {
        ("faces", "model1", "zero-shot"),
        ("rooms", "model1", "zero-shot"),
        ("faces", "model1", "finetune"),
        ("faces", "model2", "finetune"),
        ("rooms", "model1", "finetune"),
        ("rooms", "model2", "finetune"),
    }
    assert all(r.transfer.source_dataset == "fm" for r in spec.runs if r.transfer)
