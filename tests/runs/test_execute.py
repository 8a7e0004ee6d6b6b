"""`prefstudy run`: per-subject models on real Fashion-MNIST, results in DuckDB, reproducible, resumable."""

import json

import duckdb
import numpy as np
import pytest
from conftest import TRAINED_RUNS, Cli

from prefstudy.config import TrainSettings, TransferRequest
from prefstudy.errors import PrefstudyError
from prefstudy.executors.runner import make_run
from prefstudy.progress import SilentReporter
from prefstudy.runs.orders import RunOrder, resume_order
from prefstudy.runs.record import run_result
from prefstudy.subjects.simulate import simulate_subject

pytestmark = pytest.mark.usefixtures("shared_instance")  # each test's study stays open: see tests/conftest.py

FAST = ("--epochs", "3", "--batch-size", "32")


@pytest.fixture
def alice_ws(sample_ws):
    simulate_subject(sample_ws, "alice", "fm", "classes:Trouser,Bag,Sneaker", noise=0.0, seed=0, limit=1200)
    return sample_ws


def _predictions(ws, run_id):
    with ws.connect() as con:
        return con.execute(
            "SELECT item_idx, split, label, p_preferred FROM predictions WHERE run_id = ? ORDER BY item_idx", [run_id]
        ).fetchall()


def test_model2_run_records_the_papers_tables_and_predictions(trained_study):
    ws = trained_study  # alice's run, made by start_run as `prefstudy run` makes it
    with ws.connect() as con:
        (run_id,) = con.execute("SELECT id FROM runs WHERE subject = 'alice'").fetchone()
    out = run_result(ws, run_id)
    settings = TRAINED_RUNS["alice"]
    assert (out["subject"], out["dataset"], out["backbone"], out["protocol"], out["seed"], out["epochs"]) == (
        "alice",
        "fm",
        settings.backbone,
        "model2",
        0,
        settings.epochs,
    )
    assert list(out["metrics"]) == ["train", "validation", "test"]
    sizes = {split: m["tp"] + m["fp"] + m["fn"] + m["tn"] for split, m in out["metrics"].items()}
    assert sizes == {"train": 800, "validation": 160, "test": 240}
    for m in out["metrics"].values():
        assert m["accuracy"] == pytest.approx((m["tp"] + m["tn"]) / (m["tp"] + m["fp"] + m["fn"] + m["tn"]))
    assert out["metrics"]["test"]["accuracy"] > 0.85  # three easy classes vs seven, real images
    assert out["best_epoch"] in (1, 2) and len(out["history"]) == settings.epochs
    predictions = _predictions(ws, run_id)
    assert len(predictions) == 1200
    test_rows = [p for p in predictions if p[1] == "test"]
    tp = sum(1 for _, _, label, p in test_rows if label and p > 0.5)
    assert tp == out["metrics"]["test"]["tp"]
    run_dir = ws.run_dir(run_id)
    # Checkpoints live while a run trains; a finished run keeps its selected weights only.
    assert {p.name for p in run_dir.iterdir()} == {
        "config.json",
        "worker.json",
        "model.pt",
        "result.json",
        "predictions.parquet",
    }
    assert json.loads((run_dir / "result.json").read_text()) == out  # the run directory holds what DuckDB holds
    exported = duckdb.sql(f"SELECT item_idx, key, split, label, p_preferred FROM '{run_dir / 'predictions.parquet'}'")
    rows = sorted(exported.fetchall())
    assert [(i, s, lab, p) for i, _, s, lab, p in rows] == predictions
    assert all(key == f"test-{i:05d}" for i, key, *_ in rows)  # the sample's item i is the official test image i
    with ws.connect() as con:
        status, versions = con.execute("SELECT status, versions FROM runs WHERE id = ?", [run_id]).fetchall()[0]
    assert status == "finished" and "torch" in json.loads(versions)


@pytest.mark.slow
def test_the_same_seed_gives_the_same_split_and_metrics(alice_ws):
    settings = TrainSettings(epochs=1, batch_size=64, seed=5)
    a = make_run(alice_ws, RunOrder("alice", "fm", settings))
    b = make_run(alice_ws, RunOrder("alice", "fm", settings))
    c = make_run(alice_ws, RunOrder("alice", "fm", settings.replace(seed=6)))
    assert a["metrics"] == b["metrics"]
    assert _predictions(alice_ws, a["run_id"]) == _predictions(alice_ws, b["run_id"])
    split_a = [p[1] for p in _predictions(alice_ws, a["run_id"])]
    split_c = [p[1] for p in _predictions(alice_ws, c["run_id"])]
    assert split_a != split_c


class _InterruptAfter:
    """A progress reporter that stops the run like Ctrl-C once the given epoch is checkpointed."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def start(self, total, description):
        pass

    def advance(self, n=1):
        pass

    def note(self, message):
        if message.startswith(f"epoch {self.epoch}:"):
            raise KeyboardInterrupt


@pytest.mark.slow
def test_resume_continues_from_the_checkpoint_to_the_same_result(alice_ws):
    settings = TrainSettings(epochs=2, batch_size=32, seed=2)
    whole = make_run(alice_ws, RunOrder("alice", "fm", settings))
    with pytest.raises(KeyboardInterrupt):
        make_run(alice_ws, RunOrder("alice", "fm", settings), _InterruptAfter(epoch=1))
    with alice_ws.connect() as con:
        run_id, status = con.execute("SELECT id, status FROM runs WHERE status != 'finished'").fetchall()[0]
    assert status == "interrupted"
    resumed = make_run(alice_ws, resume_order(alice_ws, run_id), SilentReporter())
    assert resumed["status"] == "finished" and [h["epoch"] for h in resumed["history"]] == [1, 2]
    assert resumed["metrics"] == whole["metrics"]
    p_whole = np.array([p[3] for p in _predictions(alice_ws, whole["run_id"])])
    p_resumed = np.array([p[3] for p in _predictions(alice_ws, run_id)])
    np.testing.assert_allclose(p_resumed, p_whole, atol=1e-6)
    with pytest.raises(PrefstudyError, match="already finished"):
        make_run(alice_ws, resume_order(alice_ws, run_id))


@pytest.mark.slow
def test_all_subjects_makes_one_run_each(cli, alice_ws):
    simulate_subject(alice_ws, "bob", "fm", "feature:brightness", seed=1, limit=600)
    out = cli.json("run", "--all-subjects", "--dataset", "fm", "--protocol", "model1", "--epochs", "1")
    assert [r["subject"] for r in out["runs"]] == ["alice", "bob"]


def _write_labels(tmp_path, rows):
    path = tmp_path / "labels.csv"
    path.write_text("key,preferred\n" + "".join(f"test-{i:05d},{int(p)}\n" for i, p in rows))
    return path


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([(i, i % 2) for i in range(12)], "has 12 usable label(s) on 'fm'; a run needs at least 20"),
        ([(i, 1) for i in range(50)], "all 50 labels of subject 'bob' on 'fm' are 'preferred'"),
        ([(i, i < 2) for i in range(50)], "only 2 label(s) of one answer"),
    ],
)
def test_unusable_labels_are_one_clear_error_and_no_run_is_recorded(cli, sample_ws, tmp_path, rows, message):
    cli("label", "import", _write_labels(tmp_path, rows), "--subject", "bob", "--dataset", "fm")
    result = cli("run", "--subject", "bob", "--dataset", "fm", ok=False)
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    with sample_ws.connect() as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    assert not any(sample_ws.runs_dir.iterdir())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--subject", "nobody", "--dataset", "fm"], "no subject 'nobody'"),
        (["--subject", "alice", "--dataset", "nope"], "no dataset 'nope'"),
        (["--subject", "alice", "--dataset", "fm", "--protocol", "model3"], "unknown protocol 'model3'"),
        (["--subject", "alice", "--dataset", "fm", "--backbone", "vgg99"], "unknown backbone 'vgg99'"),
        (["--dataset", "fm"], "give either --subject NAME or --all-subjects"),
        (["--subject", "alice", "--dataset", "fm", "--device", "cuda:0"], None),
    ],
)
def test_bad_run_requests_are_one_clear_error(trained_study, args, message):
    if message is None:  # CUDA: an error here, a run on a machine with a GPU
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has a GPU")
        message = "no CUDA GPU"
    result = Cli(trained_study.root)("run", *args, ok=False)  # refused before anything is written
    assert result.exit_code == 1 and message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow  # the fast lane keeps one test per behaviour; this one widens it
def test_a_run_builds_its_model_once_and_a_transfer_loads_its_source_once(trained_copy, monkeypatch):
    import prefstudy.engine.build as build
    import prefstudy.engine.surgery as surgery
    from prefstudy.executors import worker
    from prefstudy.runs.warm import WarmCache

    calls = {"build": 0, "source": 0}

    def counted(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(build, "create_backbone", counted("build", build.create_backbone))
    monkeypatch.setattr(surgery, "create_backbone", counted("build", surgery.create_backbone))
    monkeypatch.setattr(worker, "load_saved_model", counted("source", worker.load_saved_model))
    monkeypatch.setattr(worker, "WARM", WarmCache())  # nothing loaded by earlier tests
    cli = Cli(trained_copy.root)
    out = cli.json(
        "run",
        "--subject",
        "bob",
        "--dataset",
        "fm",
        "--protocol",
        "model1",
        "--epochs",
        "1",
        "--backbone",
        "paper-vgg:small",
    )
    assert calls == {"build": 1, "source": 0}
    assert out == run_result(trained_copy, out["run_id"]) and list(out["metrics"]) == ["train", "test"]
    assert out["metrics"]["train"]["n"] + out["metrics"]["test"]["n"] == 400
    source = out["run_id"]
    same_split = TrainSettings(protocol="model1")  # as the source's: the same seed and fractions
    zero_shot = make_run(trained_copy, RunOrder("bob", "fm", same_split, transfer=TransferRequest(source, "zero-shot")))
    assert calls == {"build": 2, "source": 1}
    assert zero_shot["epochs"] == 0 and zero_shot["best_epoch"] is None
    assert zero_shot["backbone"] == "paper-vgg:small"  # a transfer keeps its source's backbone
    # The source model, applied as it is to the same items: the same answers.
    assert zero_shot["metrics"]["test"] == run_result(trained_copy, source)["metrics"]["test"]
