"""The training loop: each step on the path it is given, batches shared among processes, bf16 against fp32."""

import numpy as np
import pytest
import torch

from prefstudy.backbones import create_backbone
from prefstudy.config import TrainSettings, train_settings
from prefstudy.datasets.catalog import load_images
from prefstudy.engine.distributed import World
from prefstudy.engine.inputs import InputAdapter, InputPlan
from prefstudy.engine.precision import BF16, FP32, Precision
from prefstudy.engine.schedule import learning_rate
from prefstudy.engine.train import Checkpoints, Compute, FitSetup, _batches, as_train_data, fit
from prefstudy.errors import PrefstudyError
from prefstudy.progress import SilentReporter
from prefstudy.subjects.simulate import simulate_subject

RULE = "classes:Trouser,Bag,Sneaker"
# The paper network at half its width: bf16 is emulated, slowly, on CPUs without native units, and the
# question is the arithmetic, not the network.
RUN = ("run", "--subject", "alice", "--dataset", "fm", "--backbone", "paper-vgg:small")
RUN += ("--epochs", "2", "--batch-size", "32", "--seed", "1")


def accuracy(result: dict) -> float:
    return result["metrics"]["test"]["accuracy"]


@pytest.fixture
def alice_ws(sample_ws):
    simulate_subject(sample_ws, "alice", "fm", RULE, noise=0.0, seed=0, limit=1500)
    return sample_ws


@pytest.mark.parametrize(
    ("name", "dtype", "channels_last"),
    # bf16 is emulated (slowly) on CPUs without AVX-512 BF16 / AMX: the slow lane has it
    [pytest.param(BF16, torch.bfloat16, True, marks=pytest.mark.slow), (FP32, torch.float32, True)],
)
def test_fit_trains_on_the_path_it_is_given(sample_ws, tmp_path, name, dtype, channels_last):
    images = load_images(sample_ws, "fm").images[:48]
    data = as_train_data(images, np.arange(48) % 2, np.full(48, "train", dtype=object))
    backbone = create_backbone("paper-vgg", in_chans=1, input_size=(28, 28))
    seen = []
    backbone.cam_layer.register_forward_hook(
        lambda module, inputs, output: seen.append(
            (output.dtype, inputs[0].is_contiguous(memory_format=torch.channels_last))
        )
    )
    settings = TrainSettings(protocol="model1", epochs=1, batch_size=16)
    adapter = InputAdapter(InputPlan((1, 28, 28), (1, 28, 28)), backbone)
    precision = Precision(name, "cpu")
    setup = FitSetup(settings, Compute(torch.device("cpu"), precision), Checkpoints(tmp_path / "c.pt"))
    result = fit(backbone, adapter, data, setup, SilentReporter())
    assert set(seen) == {(dtype, channels_last)} and len(seen) == 3  # every training step on that path
    assert result.history[0].images == 48 and result.train_images_per_s > 0


def test_every_process_gets_a_disjoint_share_of_each_batch_of_at_least_two():
    batches = _batches(torch.arange(259), 128, processes=2)  # 128 + 128 + 3
    assert [len(b) for b in batches] == [128, 131]  # 3 cannot give two processes two each: folded in
    for batch in batches:
        shares = [World(rank, 2).shard(batch) for rank in (0, 1)]
        assert sorted(torch.cat(shares).tolist()) == sorted(batch.tolist())
        assert min(len(s) for s in shares) >= 2
    assert [len(b) for b in _batches(torch.arange(129), 128)] == [129]  # one process: only a lone sample is folded


@pytest.mark.slow
def test_bf16_learns_as_well_as_fp32_on_the_same_seed(cli, alice_ws):
    fp32 = cli.json(*RUN, "--precision", "fp32")
    bf16 = cli.json(*RUN, "--precision", "bf16")
    assert (fp32["precision"], bf16["precision"]) == ("fp32", "bf16")
    for result in (fp32, bf16):
        assert result["train_images_per_s"] > 0
        assert result["metrics"]["test"]["accuracy"] > 0.9
    # Same split, same initial weights, same batches: only the arithmetic differs.
    assert fp32["metrics"]["test"]["n"] == bf16["metrics"]["test"]["n"]
    assert abs(fp32["metrics"]["test"]["accuracy"] - bf16["metrics"]["test"]["accuracy"]) <= 0.03
    print(f"\ntest accuracy fp32 {accuracy(fp32):.4f}, bf16 {accuracy(bf16):.4f}")
    with alice_ws.connect() as con:
        stored = con.execute("SELECT precision, train_images_per_s FROM runs ORDER BY created_at").fetchall()
    assert [p for p, _ in stored] == ["fp32", "bf16"] and all(s > 0 for _, s in stored)


class _Notes(SilentReporter):
    def __init__(self):
        self.notes = []

    def note(self, message):
        self.notes.append(message)


def test_resume_falls_back_to_the_previous_checkpoint_when_the_last_is_truncated(sample_ws, tmp_path):
    images = load_images(sample_ws, "fm").images[:32]
    data = as_train_data(images, np.arange(32) % 2, np.full(32, "train", dtype=object))
    settings = TrainSettings(backbone="paper-vgg:small", protocol="model1", epochs=3, batch_size=16)
    checkpoint, previous = tmp_path / "checkpoint.pt", tmp_path / "checkpoint.prev.pt"

    def run(resume: bool, report=None):
        torch.manual_seed(0)
        backbone = create_backbone(settings.backbone, in_chans=1, input_size=(28, 28))
        adapter = InputAdapter(InputPlan((1, 28, 28), (1, 28, 28)), backbone)
        device = torch.device("cpu")
        report = report or SilentReporter()
        setup = FitSetup(settings, Compute(device, Precision("fp32", "cpu")), Checkpoints(checkpoint, previous, resume))
        return fit(backbone, adapter, data, setup, report)

    whole = run(resume=False)
    # The last epoch is not checkpointed (the run's model follows it): epoch 2's is the newest, epoch 1's kept.
    assert [torch.load(p, weights_only=False)["epoch"] for p in (checkpoint, previous)] == [2, 1]
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])  # epoch 2's, cut short
    notes = _Notes()
    resumed = run(resume=True, report=notes)
    assert notes.notes[0] == (
        "warning: checkpoint.pt (RuntimeError) does not load; resuming from checkpoint.prev.pt, one epoch earlier"
    )
    assert [h.epoch for h in resumed.history] == [1, 2, 3]
    for epoch in (1, 2):
        assert resumed.history[epoch].train_loss == pytest.approx(whole.history[epoch].train_loss, abs=1e-6)
    torch.testing.assert_close(resumed.state, whole.state)  # the same weights as without the interruption
    assert torch.load(checkpoint, weights_only=False)["epoch"] == 2  # the unreadable file was replaced
    assert torch.load(previous, weights_only=False)["epoch"] == 1  # and the good previous one kept
    for path in (checkpoint, previous):
        path.write_bytes(b"")
    with pytest.raises(PrefstudyError, match=r"no checkpoint loads \(checkpoint\.pt \(EOFError\), checkpoint\.prev"):
        run(resume=True)


def _fit_small(sample_ws, tmp_path, settings: TrainSettings, split: np.ndarray, answers: np.ndarray):
    images = load_images(sample_ws, "fm").images[: len(split)]
    data = as_train_data(images, answers, split)
    torch.manual_seed(settings.seed)
    backbone = create_backbone(settings.backbone, in_chans=1, input_size=(28, 28))
    adapter = InputAdapter(InputPlan((1, 28, 28), (1, 28, 28)), backbone)
    setup = FitSetup(settings, Compute(torch.device("cpu"), Precision("fp32", "cpu")), Checkpoints(tmp_path / "c.pt"))
    return fit(backbone, adapter, data, setup, SilentReporter())


def test_a_budget_ends_the_run_mid_epoch_with_the_rate_nearly_zero(sample_ws, tmp_path):
    settings = train_settings(backbone="paper-vgg:small", protocol="model1", epochs=5, batch_size=16, budget=120)
    result = _fit_small(sample_ws, tmp_path, settings, np.full(100, "train", dtype=object), np.arange(100) % 2)
    # ceil(120 / 16) = 8 steps: a whole first epoch (7 batches, 100 images), then one batch of the second.
    assert [(h.epoch, h.images) for h in result.history] == [(1, 100), (2, 16)]
    assert result.history[-1].lr == pytest.approx(0.01 * settings.lr)  # the cosine's end
    assert result.history[0].lr == pytest.approx(learning_rate("onecycle", settings.lr, 6, 8))  # step 7 of 8
    # The last epoch is not checkpointed (the run writes its model next): the checkpoint is epoch 1's.
    assert torch.load(tmp_path / "c.pt", weights_only=False)["epoch"] == 1


def test_model2_stops_once_validation_has_not_improved_for_patience_epochs(sample_ws, tmp_path):
    split = np.array(["train"] * 48 + ["validation"] * 24, dtype=object)
    answers = np.random.default_rng(0).integers(0, 2, len(split))  # nothing to learn: validation wanders
    settings = train_settings(backbone="paper-vgg:small", epochs=12, batch_size=16, budget=0, patience=2, seed=3)
    stopped = _fit_small(sample_ws, tmp_path, settings, split, answers)
    assert len(stopped.history) < 12
    assert stopped.history[-1].epoch - stopped.best_epoch == 2
    best = max(stopped.history, key=lambda h: (h.val_accuracy, -h.val_loss))
    assert best.epoch == stopped.best_epoch  # the kept epoch is the best validated one
    unlimited = train_settings(backbone="paper-vgg:small", epochs=12, batch_size=16, budget=0, patience=0, seed=3)
    whole = _fit_small(sample_ws, tmp_path, unlimited, split, answers)
    assert len(whole.history) == 12  # patience 0: every epoch
