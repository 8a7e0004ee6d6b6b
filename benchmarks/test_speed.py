"""Training, inference and cache speed of prefstudy's paths against what a user writes by hand.

Each benchmark runs both in the same process, since absolute times drift on shared machines:

- prefstudy: the whole dataset held as a uint8 tensor, batches taken by index and converted on
  the device, the run's precision (``auto``: bf16 autocast + channels_last where the device has
  native bf16), no per-sample Python;
- the baseline: fp32, eager, a torch DataLoader over decoded PIL images with torchvision's
  ToTensor + Normalize per sample.

The ratio (prefstudy images/s over baseline images/s) is printed and kept in ``extra_info``.
``PREFSTUDY_BENCH_DEVICE=cuda`` runs the same on a GPU (see ``gpu_check.sh``)::

    .venv/bin/python -m pytest benchmarks/test_speed.py --benchmark-only -s
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from prefstudy.backbones import create_backbone
from prefstudy.config import TrainSettings
from prefstudy.datasets.catalog import add_dataset, load_images
from prefstudy.engine.inputs import InputAdapter, InputPlan
from prefstudy.engine.precision import resolve_precision
from prefstudy.engine.predict import predict_proba
from prefstudy.engine.train import Checkpoints, Compute, FitSetup, as_train_data, fit
from prefstudy.progress import SilentReporter
from prefstudy.studyfile import DatasetSpec
from prefstudy.workspace import init_workspace

SHARED_DATA = Path(os.environ.get("PREFSTUDY_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
DEVICE = torch.device(os.environ.get("PREFSTUDY_BENCH_DEVICE", "cuda" if torch.cuda.is_available() else "cpu"))
BATCH = 128


def sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


class DecodedImages(Dataset):
    """The hand-written way: decoded PIL images, transformed one by one."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, mean, std):
        self.images = [Image.fromarray(a[..., 0] if a.shape[2] == 1 else a) for a in images]
        self.labels = labels
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize(mean, std)])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.transform(self.images[i]), int(self.labels[i])


def baseline_train_epoch(backbone_name: str, images: np.ndarray, labels: np.ndarray) -> float:
    """Images/s of one fp32 eager epoch over a DataLoader."""
    torch.manual_seed(0)
    backbone = create_backbone(backbone_name, in_chans=images.shape[3], input_size=images.shape[1:3])
    model = backbone.module.to(DEVICE).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(DecodedImages(images, labels, backbone.mean, backbone.std), batch_size=BATCH, shuffle=True)
    began = time.perf_counter()
    for x, y in loader:
        x, y = x.to(DEVICE), y.to(DEVICE)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    sync()
    return len(images) / (time.perf_counter() - began)


def prefstudy_train_epoch(backbone_name: str, images: np.ndarray, labels: np.ndarray, checkpoint: Path) -> float:
    """Images/s of one epoch of prefstudy's training loop (the run's own ``fit``)."""
    torch.manual_seed(0)
    shape = (images.shape[3], images.shape[1], images.shape[2])
    backbone = create_backbone(backbone_name, in_chans=shape[0], input_size=shape[1:])
    adapter = InputAdapter(InputPlan(shape, shape), backbone)
    data = as_train_data(images, labels, np.full(len(images), "train", dtype=object))  # fit moves it to a GPU
    settings = TrainSettings(backbone=backbone_name, protocol="model1", epochs=1, batch_size=BATCH)
    precision = resolve_precision("auto", DEVICE)
    result = fit(
        backbone,
        adapter,
        data,
        FitSetup(settings, Compute(DEVICE, precision), Checkpoints(checkpoint)),
        SilentReporter(),
    )
    return result.train_images_per_s


def photos(tmp_path: Path, kind: str, folder: str, size: int, limit: int) -> np.ndarray:
    path = SHARED_DATA / folder
    if not path.is_dir():
        pytest.skip(f"real photos not found in {path} (the shared data folder)")
    ws = init_workspace(tmp_path / "study")
    add_dataset(ws, DatasetSpec(name="photos", kind=kind, path=str(path), size=size, limit=limit))
    return load_images(ws, "photos").images


def fashion(tmp_path: Path, limit: int) -> np.ndarray:
    ws = init_workspace(tmp_path / "study")
    add_dataset(ws, DatasetSpec(name="fm", kind="fashion-mnist-sample"))
    return load_images(ws, "fm").images[:limit]


def report(benchmark, name: str, fast: float, base: float) -> None:
    ratio = fast / base
    benchmark.extra_info.update(prefstudy_images_per_s=fast, baseline_images_per_s=base, ratio=ratio)
    benchmark.extra_info["precision"] = resolve_precision("auto", DEVICE).name
    print(f"\n{name} on {DEVICE}: prefstudy {fast:.0f} images/s, baseline {base:.0f} images/s, ratio x{ratio:.2f}")


@pytest.mark.parametrize(
    ("case", "backbone_name", "n"),
    [
        ("paper-vgg 28x28x1", "paper-vgg", 6400),
        ("paper-vgg 96x96x3", "paper-vgg", 1024),
        ("timm:resnet18 64x64x3", "timm:resnet18", 1024),
    ],
)
def test_training_throughput(benchmark, tmp_path, case, backbone_name, n):
    if case.endswith("28x28x1"):
        images = fashion(tmp_path, n)
    elif case.startswith("paper-vgg"):
        images = photos(tmp_path, "lfw", "lfw", 96, n)
    else:
        images = photos(tmp_path, "indoor67", "indoor-rooms", 64, n)
    labels = np.random.default_rng(0).integers(0, 2, len(images))
    checkpoint = tmp_path / "checkpoint.pt"
    baseline_train_epoch(backbone_name, images[: 2 * BATCH], labels[: 2 * BATCH])  # warm up both paths
    prefstudy_train_epoch(backbone_name, images[: 2 * BATCH], labels[: 2 * BATCH], checkpoint)
    base = max(baseline_train_epoch(backbone_name, images, labels) for _ in range(2))
    speeds: list[float] = []
    benchmark.pedantic(
        lambda: speeds.append(prefstudy_train_epoch(backbone_name, images, labels, checkpoint)), rounds=2, iterations=1
    )
    report(benchmark, f"training {case}", max(speeds), base)


def test_inference_throughput(benchmark, tmp_path):
    images = fashion(tmp_path, 10_000)
    torch.manual_seed(0)
    backbone = create_backbone("paper-vgg", in_chans=1, input_size=(28, 28))
    model = backbone.module.to(DEVICE).eval()
    loader = DataLoader(DecodedImages(images, np.zeros(len(images)), backbone.mean, backbone.std), batch_size=512)

    @torch.inference_mode()
    def baseline() -> float:
        began = time.perf_counter()
        for x, _ in loader:
            torch.softmax(model(x.to(DEVICE)), dim=1)
        sync()
        return len(images) / (time.perf_counter() - began)

    adapter = InputAdapter(InputPlan((1, 28, 28), (1, 28, 28)), backbone).to(DEVICE)
    tensor = as_train_data(images, np.zeros(len(images)), np.full(len(images), "test", dtype=object)).images.to(DEVICE)
    precision = resolve_precision("auto", DEVICE)
    fast_model = create_backbone("paper-vgg", in_chans=1, input_size=(28, 28)).module
    fast_model.load_state_dict(model.state_dict())
    fast_model = fast_model.to(DEVICE, memory_format=precision.memory_format)

    def prefstudy_path() -> float:
        began = time.perf_counter()
        predict_proba(fast_model, adapter, tensor, torch.arange(len(images)), precision=precision)
        sync()
        return len(images) / (time.perf_counter() - began)

    baseline(), prefstudy_path()  # warm up
    base = max(baseline() for _ in range(3))
    speeds: list[float] = []
    benchmark.pedantic(lambda: speeds.append(prefstudy_path()), rounds=3, iterations=1)
    report(benchmark, "inference paper-vgg 28x28x1", max(speeds), base)


@pytest.mark.parametrize(("kind", "folder"), [("lfw", "lfw"), ("indoor67", "indoor-rooms")])
def test_cache_build_and_load(benchmark, tmp_path, kind, folder):
    path = SHARED_DATA / folder
    if not path.is_dir():
        pytest.skip(f"real photos not found in {path} (the shared data folder)")
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))

    def decode_by_hand() -> np.ndarray:
        """What a script does on every start: open, convert, resize each file."""
        out = np.empty((len(files), 64, 64, 3), np.uint8)
        for i, file in enumerate(files):
            with Image.open(file) as image:
                out[i] = np.asarray(image.convert("RGB").resize((64, 64), Image.Resampling.BILINEAR))
        return out

    began = time.perf_counter()
    decode_by_hand()
    by_hand = time.perf_counter() - began
    ws = init_workspace(tmp_path / "study")
    began = time.perf_counter()
    add_dataset(ws, DatasetSpec(name="photos", kind=kind, path=str(path), size=64))
    build = time.perf_counter() - began
    loaded = benchmark.pedantic(lambda: load_images(ws, "photos"), rounds=5, iterations=1)
    load = benchmark.stats.stats.min
    benchmark.extra_info.update(images=len(loaded.images), decode_s=by_hand, build_s=build, load_s=load)
    print(
        f"\n{kind} cache, {len(loaded.images)} images at 64x64x3: build {build:.2f} s (decoding by hand "
        f"{by_hand:.2f} s, ratio x{by_hand / build:.2f}), load {1000 * load:.1f} ms (x{by_hand / load:.0f} "
        f"faster than decoding again)"
    )
    assert len(loaded.images) == len(files)
