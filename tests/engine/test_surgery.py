"""Transfer between domains on real images: Fashion-MNIST (embedded test split) to LFW faces.

The simulated subject prefers images with many edges — a feature both domains have — so what
the Fashion-MNIST model learned can carry over. Full-size numbers: benchmarks/test_transfer_gain.py.
"""

import json
import shutil

import pytest
import torch
from conftest import SHARED_DATA, Cli, copy_study

from prefstudy.errors import PrefstudyError
from prefstudy.studyfile import DatasetSpec
from prefstudy.workspace import Workspace

pytestmark = pytest.mark.slow  # trains source and target models on real images

SOURCE = ("--backbone", "paper-vgg:small", "--epochs", "2", "--batch-size", "32")
TARGET = ("--epochs", "5", "--batch-size", "32", "--train-size", "100", "--json")


@pytest.fixture(scope="module")
def lfw_dir_once():
    path = SHARED_DATA / "lfw"
    if not path.is_dir():
        pytest.skip(f"real LFW faces not found in {path} (the shared data folder)")
    return path


@pytest.fixture(scope="module")
def _built(_sample_study, tmp_path_factory, lfw_dir_once):
    """Built once per module: real Fashion-MNIST and LFW, a subject with edge-density labels on both, a source run."""
    ws = copy_study(_sample_study, tmp_path_factory.mktemp("transfer") / "study")  # as `data add fm` leaves it
    ws.declare_dataset(DatasetSpec(name="fm", kind="fashion-mnist-sample"))
    cli = Cli(ws.root)
    cli(
        "data",
        "add",
        "faces",
        "--kind",
        "lfw",
        "--path",
        lfw_dir_once,
        "--limit",
        "800",
        "--size",
        "32",
        "--channels",
        "1",
    )
    cli("subject", "simulate", "ann", "--dataset", "fm", "--rule", "feature:edges", "--limit", "4000")
    cli("subject", "simulate", "ann", "--dataset", "faces", "--rule", "feature:edges")
    # The paper network at half its width; the transfer runs take the source's backbone.
    source = cli.json("run", "--subject", "ann", "--dataset", "fm", *SOURCE)
    assert source["metrics"]["test"]["accuracy"] > 0.85
    return ws.root, source["run_id"]


@pytest.fixture
def study(_built, tmp_path):
    """A private copy of the built study, so each test may add runs freely."""
    root, _ = _built
    shutil.copytree(root, tmp_path / "study")
    return Workspace((tmp_path / "study").resolve())


@pytest.fixture
def cli(study):
    return Cli(study.root)


@pytest.fixture
def sample_ws(study):
    return study


@pytest.fixture
def two_domains(_built):
    return _built[1]


def _test_items(ws, run_id):
    with ws.connect() as con:
        return {
            i
            for (i,) in con.execute(
                "SELECT item_idx FROM predictions WHERE run_id = ? AND split = 'test'", [run_id]
            ).fetchall()
        }


def test_fine_tuning_from_fashion_mnist_beats_training_from_scratch_on_faces(cli, sample_ws, two_domains):
    scratch = cli.json("run", "--subject", "ann", "--dataset", "faces", "--backbone", SOURCE[1], *TARGET)  # same net
    transfer = cli.json("run", "--subject", "ann", "--dataset", "faces", "--transfer-from", two_domains, *TARGET)
    assert _test_items(sample_ws, scratch["run_id"]) == _test_items(sample_ws, transfer["run_id"])
    assert scratch["metrics"]["train"]["n"] == transfer["metrics"]["train"]["n"] == 100
    gain = transfer["metrics"]["test"]["accuracy"] - scratch["metrics"]["test"]["accuracy"]
    assert gain > 0.1, (scratch["metrics"]["test"], transfer["metrics"]["test"])
    with sample_ws.connect() as con:
        parent, config = con.execute(
            "SELECT parent_run, config FROM runs WHERE id = ?", [transfer["run_id"]]
        ).fetchall()[0]
    recorded = json.loads(config)
    assert parent == two_domains
    assert recorded["transfer"] == {
        "source_run": two_domains,
        "source_dataset": "fm",
        "mode": "finetune",
        "adapt": "keep-size",
        "source_input": [1, 28, 28],
    }
    assert recorded["input"] == {"images": [1, 32, 32], "model": [1, 32, 32], "channels": "same", "resized": False}
    report = json.loads(cli("report", "--format", "json").stdout)
    (pair,) = report["transfer_pairs"]
    assert (pair["baseline_run"], pair["transfer_run"], pair["n_train"]) == (scratch["run_id"], transfer["run_id"], 100)
    assert pair["gain_points"] == pytest.approx(100 * gain)
    assert report["transfer_gains"][0]["largest"] is True


def test_frozen_features_keep_the_source_weights(cli, sample_ws, two_domains):
    frozen = cli.json(
        "run", "--subject", "ann", "--dataset", "faces", "--transfer-from", two_domains, "--freeze-features", *TARGET
    )
    source = torch.load(sample_ws.run_dir(two_domains) / "model.pt", weights_only=True)["state_dict"]
    tuned = torch.load(sample_ws.run_dir(frozen["run_id"]) / "model.pt", weights_only=True)["state_dict"]
    features = [k for k in source if k.startswith("features.")]
    assert features and all(torch.equal(source[k], tuned[k]) for k in features)  # BN statistics included
    assert not torch.equal(source["head.7.weight"], tuned["head.7.weight"])


def test_zero_shot_applies_the_source_model_untouched(cli, sample_ws, two_domains):
    out = cli.json("run", "--subject", "ann", "--dataset", "faces", "--transfer-from", two_domains, "--zero-shot")
    assert (out["epochs"], out["best_epoch"], out["history"]) == (0, None, [])
    source = torch.load(sample_ws.run_dir(two_domains) / "model.pt", weights_only=True)["state_dict"]
    applied = torch.load(sample_ws.run_dir(out["run_id"]) / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(source[k], applied[k]) for k in source)
    assert 0.3 < out["metrics"]["test"]["accuracy"] < 1.0


def test_rgb_targets_are_adapted_explicitly_and_recorded(cli, sample_ws, indoor_dir, two_domains):
    cli("data", "add", "rooms", "--kind", "indoor67", "--path", indoor_dir, "--limit", "200", "--size", "32")
    cli("subject", "simulate", "ann", "--dataset", "rooms", "--rule", "feature:edges")
    for adapt, model in (("keep-size", [1, 32, 32]), ("resize", [1, 28, 28]), ("conv", [3, 32, 32])):
        result = cli(
            "run",
            "--subject",
            "ann",
            "--dataset",
            "rooms",
            "--transfer-from",
            two_domains,
            "--adapt",
            adapt,
            "--epochs",
            "1",
            "--json",
        )
        run_id = json.loads(result.stdout)["run_id"]
        assert f"input images 3x32x32 -> model {'x'.join(map(str, model))}" in result.stderr
        config = json.loads((sample_ws.run_dir(run_id) / "config.json").read_text())
        assert config["input"]["model"] == model and config["transfer"]["adapt"] == adapt
        assert config["input"]["channels"] == ("same" if adapt == "conv" else "rgb->luminance")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--transfer-from", "nope"], "no run 'nope'"),
        (["--zero-shot"], "go with --transfer-from"),
        (["--transfer-from", "{src}", "--zero-shot", "--freeze-features"], "not both"),
        (["--transfer-from", "{src}", "--adapt", "stretch"], "unknown input adaptation 'stretch'"),
        (["--train-size", "5000"], "more than the"),
    ],
)
def test_bad_transfer_requests_are_one_clear_error(cli, two_domains, args, message):
    args = [a.replace("{src}", two_domains) for a in args]
    result = cli("run", "--subject", "ann", "--dataset", "faces", *args, ok=False)
    assert result.exit_code == 1 and message in result.stderr and "Traceback" not in result.stderr


def test_a_source_run_must_be_finished(sample_ws, two_domains):
    from prefstudy.runs.trained import read_saved_model

    with sample_ws.transaction() as con:
        con.execute("UPDATE runs SET status = 'failed' WHERE id = ?", [two_domains])
    with pytest.raises(PrefstudyError, match="is failed, not finished"):
        read_saved_model(sample_ws, two_domains)


class _InterruptAfterFirstEpoch:
    def start(self, total, description):
        pass

    def advance(self, n=1):
        pass

    def note(self, message):
        if message.startswith("epoch 1:"):
            raise KeyboardInterrupt


def test_an_interrupted_transfer_run_resumes_from_its_source(cli, sample_ws, two_domains):
    from prefstudy.config import TrainSettings, TransferRequest
    from prefstudy.executors.runner import make_run
    from prefstudy.runs.orders import RunOrder, resume_order

    request = RunOrder(
        "ann",
        "faces",
        TrainSettings(epochs=2, batch_size=32, train_size=100),
        transfer=TransferRequest(two_domains, "frozen"),
    )
    with pytest.raises(KeyboardInterrupt):
        make_run(sample_ws, request, _InterruptAfterFirstEpoch())
    with sample_ws.connect() as con:
        run_id, parent = con.execute("SELECT id, parent_run FROM runs WHERE status = 'interrupted'").fetchall()[0]
    assert parent == two_domains
    resumed = make_run(sample_ws, resume_order(sample_ws, run_id))
    assert resumed["status"] == "finished" and [h["epoch"] for h in resumed["history"]] == [1, 2]
    source = torch.load(sample_ws.run_dir(two_domains) / "model.pt", weights_only=True)["state_dict"]
    tuned = torch.load(sample_ws.run_dir(run_id) / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(source[k], tuned[k]) for k in source if k.startswith("features."))  # still frozen
