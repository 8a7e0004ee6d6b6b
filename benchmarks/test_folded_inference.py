"""BatchNorm folded into the convolutions: the same predictions on 10k test items, and how much faster.

A paper-vgg model trained for one epoch (onecycle, fp32) on the Fashion-MNIST training images
of a simulated subject predicts the 10k official test images twice in the same process, on the
same numeric path: as trained (eval mode, BatchNorm layers in place) and folded
(:func:`prefstudy.engine.folding.fold_batchnorm`). Predictions must agree on at least 99.9 % of the
items; the ratio of images/s (best of three passes each) is printed and kept in ``extra_info``:

    .venv/bin/python -m pytest benchmarks/test_folded_inference.py --benchmark-only -s
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from prefstudy.backbones import create_backbone
from prefstudy.config import train_settings
from prefstudy.datasets.catalog import add_dataset, load_images, official_splits
from prefstudy.engine.folding import fold_batchnorm
from prefstudy.engine.inputs import InputAdapter, InputPlan
from prefstudy.engine.precision import resolve_precision
from prefstudy.engine.train import Checkpoints, Compute, FitSetup, as_train_data, fit, image_tensor
from prefstudy.progress import SilentReporter
from prefstudy.studyfile import DatasetSpec
from prefstudy.subjects.labels import usable_labels
from prefstudy.subjects.simulate import simulate_subject
from prefstudy.workspace import init_workspace

DEVICE = torch.device(os.environ.get("PREFSTUDY_BENCH_DEVICE", "cuda" if torch.cuda.is_available() else "cpu"))
TRAIN_IMAGES = 20_000


@torch.inference_mode()
def probabilities(model, adapter, images: torch.Tensor, precision, batch_size: int = 512) -> tuple[torch.Tensor, float]:
    """P(preferred) of every image and the best images/s of three passes."""
    model.eval()
    best, out = 0.0, None
    for _ in range(3):
        began = time.perf_counter()
        chunks = []
        for batch in torch.split(images, batch_size):
            x = precision.batch(adapter(batch.to(DEVICE)))
            with precision.autocast():
                chunks.append(torch.softmax(model(x).float(), dim=1)[:, 1])
        out = torch.cat(chunks).cpu()  # .cpu() waits for the device
        best = max(best, len(images) / (time.perf_counter() - began))
    return out, best


def test_folded_batchnorm_predicts_the_same_and_faster(benchmark, fashion_mnist_dir: Path, tmp_path: Path):
    ws = init_workspace(tmp_path / "study")
    add_dataset(ws, DatasetSpec(name="fm", kind="fashion-mnist", path=str(fashion_mnist_dir)))
    simulate_subject(ws, "tbs", "fm", "classes:Trouser,Bag,Sneaker", noise=0.05, seed=0)
    labels = usable_labels(ws, "tbs", "fm")
    images = load_images(ws, "fm").images[labels.item_idx]
    split = official_splits(ws, "fm")[labels.item_idx]
    train = np.flatnonzero(split == "train")[:TRAIN_IMAGES]
    test = np.flatnonzero(split == "test")
    torch.manual_seed(0)
    backbone = create_backbone("paper-vgg", in_chans=1, input_size=(28, 28))
    adapter = InputAdapter(InputPlan((1, 28, 28), (1, 28, 28)), backbone)
    precision = resolve_precision("auto", DEVICE)
    data = as_train_data(images[train], labels.preferred[train], np.full(len(train), "train", dtype=object))
    settings = train_settings(protocol="model1", epochs=1)
    setup = FitSetup(settings, Compute(DEVICE, precision), Checkpoints(tmp_path / "checkpoint.pt"))
    result = fit(backbone, adapter, data, setup, SilentReporter())
    backbone.module.load_state_dict(result.state)
    model = backbone.module.to(DEVICE, memory_format=precision.memory_format)
    adapter = adapter.to(DEVICE)
    test_images = image_tensor(images[test])

    def compare() -> dict:
        folded = fold_batchnorm(model).to(memory_format=precision.memory_format)
        p_model, model_speed = probabilities(model, adapter, test_images, precision)
        p_folded, folded_speed = probabilities(folded, adapter, test_images, precision)
        return {"p": (p_model, p_folded), "speed": (model_speed, folded_speed)}

    found = benchmark.pedantic(compare, rounds=1, iterations=1)
    (p_model, p_folded), (model_speed, folded_speed) = found["p"], found["speed"]
    differ = int(((p_model > 0.5) != (p_folded > 0.5)).sum())
    answers = torch.from_numpy(labels.preferred[test])
    accuracy = ((p_model > 0.5) == answers).float().mean().item()
    ratio = folded_speed / model_speed
    benchmark.extra_info.update(
        items=len(test),
        predictions_differ=differ,
        max_probability_difference=(p_model - p_folded).abs().max().item(),
        model_images_per_s=model_speed,
        folded_images_per_s=folded_speed,
        ratio=ratio,
        precision=precision.name,
    )
    print(
        f"\nfolded BatchNorm on {DEVICE} ({precision.name}): {differ} of {len(test)} predictions differ, "
        f"max |dp| {(p_model - p_folded).abs().max().item():.2e}; test accuracy {accuracy:.4f}; "
        f"{model_speed:.0f} -> {folded_speed:.0f} images/s, x{ratio:.2f}"
    )
    assert accuracy > 0.85  # a trained model, whose BatchNorm statistics are real
    assert differ <= len(test) // 1000
