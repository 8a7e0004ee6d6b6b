"""The training loop: each step on the path it is given, batches shared among processes, bf16 against fp32."""

import numpy as np
import pytest
import torch

from prefstudy.backbones import create_backbone
from prefstudy.config import TrainSettings
from prefstudy.datasets import load_images
from prefstudy.distributed import World
from prefstudy.errors import PrefstudyError
from prefstudy.inputs import InputAdapter, InputPlan
from prefstudy.precision import BF16, FP32, Precision
from prefstudy.progress import SilentReporter
from prefstudy.subjects.simulate import simulate_subject
from prefstudy.train import _batches, as_train_data, fit

RULE = "classes:Trouser,Bag,Sneaker"
RUN = ("run", "--subject", "alice", "--dataset", "fm", "--epochs", "2", "--batch-size", "32", "--seed", "1")


def accuracy(result: dict) -> float:
    return result["metrics"]["test"]["accuracy"]


@pytest.fixture
def alice_ws(sample_ws):
    simulate_subject(sample_ws, "alice", "fm", RULE, noise=0.0, seed=0, limit=1500)
    return sample_ws


@pytest.mark.parametrize(
    ("name", "dtype", "channels_last"),
    # bf16 is emulated (slowly) on CPUs without AVX-512 BF16 / AMX: the slow lane has it
    [pytest.param(BF16, torch.bfloat16, True, marks=pytest.mark.slow), (FP32, torch.float32, False)],
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
    result = fit(
        backbone, adapter, data, settings, torch.device("cpu"), tmp_path / "c.pt", SilentReporter(), precision=precision
    )
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
        return fit(
            backbone, adapter, data, settings, device, checkpoint, report, resume=resume, previous_checkpoint=previous
        )

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
